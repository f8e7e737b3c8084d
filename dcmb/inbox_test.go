package dcmb

import (
	"bufio"
	"encoding/json"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func batchOf(first uint64, n int) *Batch {
	b := &Batch{Stream: "press-7", FirstSeq: first, Count: uint64(n)}
	for i := range n {
		b.Msgs = append(b.Msgs, Message{Seq: first + uint64(i), Key: "counter", Value: []byte("53" + string(rune('0'+i))), Time: 1})
	}
	return b
}

func outputSeqs(t *testing.T, path string) []uint64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var seqs []uint64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l outputLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("output line %q: %v", sc.Text(), err)
		}
		seqs = append(seqs, l.Seq)
	}
	return seqs
}

// withFileLimit runs fn while writes past limit bytes per file fail (as a
// full disk would fail them).
func withFileLimit(t *testing.T, limit uint64, fn func()) {
	t.Helper()
	signal.Ignore(syscall.SIGXFSZ)
	defer signal.Reset(syscall.SIGXFSZ)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	small := lim
	small.Cur = limit
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &small); err != nil {
		t.Fatal(err)
	}
	defer syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim)
	fn()
}

// A batch is acknowledged only once it is in the output file: a write of
// the output that fails fails the store (so no ack), leaves the position
// where it was and the file in whole lines; the redelivered batch then
// lands once, and a batch whose ack was lost after it landed is not
// written twice.
func TestStoreFailsWhenTheOutputCannotBeWritten(t *testing.T) {
	dir := t.TempDir()
	d, err := OpenDir(filepath.Join(dir, "inbox"))
	if err != nil {
		t.Fatal(err)
	}
	outPath := filepath.Join(dir, "out.jsonl")
	out, err := openOutput(outPath)
	if err != nil {
		t.Fatal(err)
	}
	in := &inbox{cfg: ReceiveConfig{Stream: "press-7", Output: outPath}, dir: dir, inbox: d, out: out}
	if err := in.store(batchOf(0, 3), 3); err != nil {
		t.Fatal(err)
	}
	size := out.size
	withFileLimit(t, uint64(size)+40, func() {
		if err := in.store(batchOf(3, 3), 6); err == nil || !strings.Contains(err.Error(), "output file") {
			t.Fatalf("a store whose output write failed: %v", err)
		}
	})
	if next, _ := os.ReadFile(filepath.Join(dir, "next")); strings.TrimSpace(string(next)) != "3" {
		t.Fatalf("the position moved to %q past what the output holds", next)
	}
	if fi, _ := os.Stat(outPath); fi.Size() != size {
		t.Fatalf("the failed write left %d bytes, the file held %d", fi.Size(), size)
	}
	// the sender delivers it again; then the same batch once more, as
	// after an acknowledgement lost on the way
	for range 2 {
		if err := in.store(batchOf(3, 3), 6); err != nil {
			t.Fatal(err)
		}
	}
	if got := outputSeqs(t, outPath); len(got) != 6 || got[5] != 5 {
		t.Fatalf("output seqs %v, want 0-5 once each", got)
	}
}

// A line torn by a crash is cut when the output reopens, and the file
// knows where it is.
func TestOutputReopensAfterATornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	out, err := openOutput(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := out.write(batchOf(0, 2)); err != nil {
		t.Fatal(err)
	}
	out.f.Close()
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"stream":"press-7","seq":2,"ke`)
	f.Close()
	out, err = openOutput(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.f.Close()
	if out.next != 2 {
		t.Fatalf("next %d after reopening, want 2", out.next)
	}
	if err := out.write(batchOf(0, 4)); err != nil {
		t.Fatal(err)
	}
	if got := outputSeqs(t, path); len(got) != 4 || got[2] != 2 || got[3] != 3 {
		t.Fatalf("output seqs %v", got)
	}
}
