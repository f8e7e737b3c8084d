package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
)

// A block altered on disk is refused when read, never served.
func TestTamperedBlockRejected(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	data := bytes.Repeat([]byte("counter=5367;"), 100_000) // several chunks
	root, err := s.Add(context.Background(), bytes.NewReader(data), AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var leaf string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".data") && info.Size() == DefaultChunkSize {
			leaf = p
		}
		return nil
	})
	if leaf == "" {
		t.Fatal("no leaf block on disk")
	}
	b, _ := os.ReadFile(leaf)
	b[100] ^= 0xff
	os.WriteFile(leaf, b, 0o600)

	r, err := s.Open(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(io.Discard, r)
	if !errors.Is(err, ErrTampered) {
		t.Fatalf("reading a tampered file: %v", err)
	}
}

func TestUnknownCID(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, _ := cid.Decode("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy")
	if _, err := s.Open(context.Background(), c); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown CID: %v", err)
	}
}

func BenchmarkAdd(b *testing.B) {
	data := make([]byte, 64<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.SetBytes(int64(len(data)))
	for i := 0; b.Loop(); i++ {
		data[0] = byte(i) // a new DAG each time
		if _, err := s.Add(context.Background(), bytes.NewReader(data), AddOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
