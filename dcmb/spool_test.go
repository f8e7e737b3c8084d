package dcmb

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// A spool directory survives reopening: what Put returned for is there,
// and a torn temporary file is cleaned up.
func TestDirDurable(t *testing.T) {
	dir := t.TempDir()
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, first := range []uint64{0, 3, 7} {
		b := &Batch{Stream: "s", Mode: "sealed", FirstSeq: first, Count: 1, Root: make([]byte, 32), Msgs: []Message{{Seq: first, Value: []byte("x")}}}
		if err := d.Put(b); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, dir+"/00000000000000000009.batch.tmp", []byte("torn"))
	d2, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := d2.List(); !reflect.DeepEqual(got, []uint64{0, 3, 7}) || d2.Bytes() != d.Bytes() {
		t.Fatalf("reopened %v %d bytes, want [0 3 7] %d", got, d2.Bytes(), d.Bytes())
	}
	if first, ok := d2.Find(5); !ok || first != 3 {
		t.Fatalf("Find(5) = %d %v", first, ok)
	}
}

// Prune deletes the batches written before a time, oldest first, and
// keeps the size accounting right.
func TestDirPrune(t *testing.T) {
	dir := t.TempDir()
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	for _, first := range []uint64{0, 3, 7} {
		b := &Batch{Stream: "s", Mode: "sealed", FirstSeq: first, Count: 1, Root: make([]byte, 32), Msgs: []Message{{Seq: first, Value: []byte("x")}}}
		if err := d.Put(b); err != nil {
			t.Fatal(err)
		}
		if first < 7 {
			os.Chtimes(filepath.Join(dir, batchName(first)), old, old)
		}
	}
	one := d.Bytes() / 3
	n, err := d.Prune(time.Now().Add(-time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("pruned %d: %v", n, err)
	}
	if got := d.List(); !reflect.DeepEqual(got, []uint64{7}) || d.Bytes() != one {
		t.Fatalf("left %v, %d bytes", got, d.Bytes())
	}
	if _, err := d.Get(7); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
