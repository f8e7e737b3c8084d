package source

// This file holds the simple sources: a file, standard input and HTTP push.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// MaxValue bounds one value of the simple sources.
const MaxValue = 64 << 10

// Lines reads one value per line from a reader (stdin in scripts) until it
// ends.
type Lines struct {
	Name   string
	Key    string
	Reader io.Reader
}

// Run implements Source.
func (l *Lines) Run(ctx context.Context, out chan<- Message) error {
	sc := bufio.NewScanner(l.Reader)
	sc.Buffer(make([]byte, 4096), MaxValue)
	for sc.Scan() {
		v := append([]byte(nil), sc.Bytes()...)
		select {
		case out <- Message{Source: l.Name, Key: l.Key, Value: v, Time: time.Now()}:
		case <-ctx.Done():
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w (a line is at most %d bytes)", l.Name, err, MaxValue)
	}
	return nil
}

// File reads one value per line from a file, then follows what is appended
// to it, as tail -f does.
type File struct {
	Name string
	Key  string
	Path string
	Poll time.Duration // how often to look for appended lines (default 200ms)
}

// Run implements Source.
func (f *File) Run(ctx context.Context, out chan<- Message) error {
	fh, err := os.Open(f.Path)
	if err != nil {
		return fmt.Errorf("file source %s: %w", f.Name, err)
	}
	defer fh.Close()
	poll := f.Poll
	if poll <= 0 {
		poll = 200 * time.Millisecond
	}
	r := bufio.NewReaderSize(fh, 64<<10)
	var partial []byte
	for {
		line, err := r.ReadSlice('\n')
		partial = append(partial, line...)
		if len(partial) > MaxValue {
			return fmt.Errorf("file source %s: a line is longer than %d bytes", f.Name, MaxValue)
		}
		switch {
		case err == nil:
			v := append([]byte(nil), partial[:len(partial)-1]...)
			partial = partial[:0]
			select {
			case out <- Message{Source: f.Name, Key: f.Key, Value: v, Time: time.Now()}:
			case <-ctx.Done():
				return nil
			}
		case errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			select {
			case <-time.After(poll):
			case <-ctx.Done():
				return nil
			}
		default:
			return fmt.Errorf("file source %s: %w", f.Name, err)
		}
	}
}

// HTTP accepts values pushed by POST: the body is one value. The response
// is 202 once the value is queued, so a script that sees 202 knows the
// value is in the pipeline; it is on disk when its interval ends (a crash
// before that loses it, see the DCMB's store-and-forward notes).
type HTTP struct {
	Name   string
	Key    string
	Listen string // host:port
}

// Run implements Source.
func (h *HTTP) Run(ctx context.Context, out chan<- Message) error {
	ln, err := net.Listen("tcp", h.Listen)
	if err != nil {
		return fmt.Errorf("http source %s: %w", h.Name, err)
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST one value as the body", http.StatusMethodNotAllowed)
			return
		}
		v, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxValue))
		if err != nil {
			http.Error(w, fmt.Sprintf("value larger than %d bytes", MaxValue), http.StatusRequestEntityTooLarge)
			return
		}
		select {
		case out <- Message{Source: h.Name, Key: h.Key, Value: v, Time: time.Now()}:
			w.WriteHeader(http.StatusAccepted)
		case <-r.Context().Done():
		case <-ctx.Done():
			http.Error(w, "source stopping", http.StatusServiceUnavailable)
		}
	})}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
