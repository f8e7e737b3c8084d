package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// A disk that fills up mid-put fails the put with the system's error and
// leaves what was stored before intact and readable.
func TestDiskFullMidPut(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs (CI runs as root)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	defer exec.Command("umount", dir).Run()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	small := bytes.Repeat([]byte("keep me "), 100_000) // 800 kB
	kept, err := s.Add(ctx, bytes.NewReader(small), AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Add(ctx, io.LimitReader(rand.NewChaCha8([32]byte{9}), 10<<20), AddOptions{})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("put on a full disk: %v", err)
	}
	r, err := s.Open(ctx, kept)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, small) {
		t.Fatalf("earlier object damaged: %v", err)
	}
}
