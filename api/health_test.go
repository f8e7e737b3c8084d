package api

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The storage check of /readyz probes at most once per ttl: a finding
// stands until then, and the next probe sees what changed.
func TestStorageCheckReusesFinding(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	c := newStorageCheck(dir, 5*time.Second)
	t0 := time.Now()
	if err := c.check(t0); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("the probe left %v", entries)
	}
	// the home goes away: the finding stands for ttl, then the probe fails
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := c.check(t0.Add(4 * time.Second)); err != nil {
		t.Fatalf("probed again within ttl: %v", err)
	}
	if err := c.check(t0.Add(5 * time.Second)); err == nil {
		t.Fatal("a home that is gone passed the storage check")
	}
	// and it comes back: the failure stands for ttl too
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := c.check(t0.Add(9 * time.Second)); err == nil {
		t.Fatal("probed again within ttl of the failure")
	}
	if err := c.check(t0.Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	// a clock that steps back probes again rather than trusting the finding
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := c.check(t0); err == nil {
		t.Fatal("a finding from the future was reused")
	}
}
