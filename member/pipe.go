package member

import (
	"io"
	"sync"
)

// pipe is an io.Pipe with a few chunks of buffer, so that encryption runs
// ahead of the upload instead of in lockstep with it.
type pipe struct {
	ch   chan []byte
	cur  []byte
	once sync.Once
	done chan struct{}
	mu   sync.Mutex
	werr error // set by the writer's CloseWithError
	rerr error // set by the reader's CloseWithError
}

func newPipe(chunks int) (*pipeReader, *pipeWriter) {
	p := &pipe{ch: make(chan []byte, chunks), done: make(chan struct{})}
	return &pipeReader{p}, &pipeWriter{p}
}

type pipeReader struct{ p *pipe }
type pipeWriter struct{ p *pipe }

func (w *pipeWriter) Write(b []byte) (int, error) {
	c := append([]byte(nil), b...)
	select {
	case w.p.ch <- c:
		return len(b), nil
	case <-w.p.done:
		w.p.mu.Lock()
		defer w.p.mu.Unlock()
		return 0, w.p.rerr
	}
}

// CloseWithError ends the stream; the reader sees err after the buffered
// chunks (io.EOF for nil).
func (w *pipeWriter) CloseWithError(err error) {
	if err == nil {
		err = io.EOF
	}
	w.p.mu.Lock()
	w.p.werr = err
	w.p.mu.Unlock()
	w.p.once.Do(func() { close(w.p.ch) })
}

func (r *pipeReader) Read(b []byte) (int, error) {
	for len(r.p.cur) == 0 {
		c, ok := <-r.p.ch
		if !ok {
			r.p.mu.Lock()
			defer r.p.mu.Unlock()
			return 0, r.p.werr
		}
		r.p.cur = c
	}
	n := copy(b, r.p.cur)
	r.p.cur = r.p.cur[n:]
	return n, nil
}

// CloseWithError stops the writer.
func (r *pipeReader) CloseWithError(err error) {
	r.p.mu.Lock()
	if r.p.rerr == nil {
		r.p.rerr = err
	}
	r.p.mu.Unlock()
	select {
	case <-r.p.done:
	default:
		close(r.p.done)
	}
}
