package dcmb

// This file holds Dir, the directory of batch files behind the sender's
// spool and archive and the receiver's inbox.

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sealnet/sealnet/durable"
)

// Dir is a directory of batch files of one stream, named by their first
// sequence number. The sender's spool (batches not yet acknowledged), its
// archive (acknowledged ones, kept for audits) and the receiver's inbox
// are Dirs. Writes are atomic and durable: a batch is in the directory
// after Put returns, even across a crash, or not at all.
type Dir struct {
	path string

	mu    sync.Mutex
	sizes map[uint64]int64
	total int64
}

// OpenDir opens (creating) a batch directory and indexes its files.
// Leftover temporary files of an interrupted write are removed.
func OpenDir(path string) (*Dir, error) {
	if err := durable.MkdirAll(path, 0o700); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	d := &Dir{path: path, sizes: map[uint64]int64{}}
	for _, e := range ents {
		name := e.Name()
		if durable.IsTemp(name) || strings.HasSuffix(name, ".tmp") {
			os.Remove(filepath.Join(path, name))
			continue
		}
		first, ok := parseBatchName(name)
		if !ok {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, err
		}
		d.sizes[first] = info.Size()
		d.total += info.Size()
	}
	return d, nil
}

func batchName(first uint64) string { return fmt.Sprintf("%020d.batch", first) }

func parseBatchName(name string) (uint64, bool) {
	s, ok := strings.CutSuffix(name, ".batch")
	if !ok || len(s) != 20 {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

// Put writes b durably, replacing a file of the same first sequence.
func (d *Dir) Put(b *Batch) error {
	raw, err := b.MarshalBinary()
	if err != nil {
		return err
	}
	if err := durable.WriteFile(filepath.Join(d.path, batchName(b.FirstSeq)), raw, 0o600); err != nil {
		return err
	}
	d.mu.Lock()
	d.total += int64(len(raw)) - d.sizes[b.FirstSeq]
	d.sizes[b.FirstSeq] = int64(len(raw))
	d.mu.Unlock()
	return nil
}

// Get reads the batch starting at first.
func (d *Dir) Get(first uint64) (*Batch, error) {
	raw, err := os.ReadFile(filepath.Join(d.path, batchName(first)))
	if err != nil {
		return nil, err
	}
	var b Batch
	if err := b.UnmarshalBinary(raw); err != nil {
		return nil, fmt.Errorf("%s: %w", batchName(first), err)
	}
	if b.FirstSeq != first {
		return nil, fmt.Errorf("%s holds the batch at %d", batchName(first), b.FirstSeq)
	}
	return &b, nil
}

// Find returns the first sequence of the batch holding seq.
func (d *Dir) Find(seq uint64) (uint64, bool) {
	firsts := d.List()
	i := sort.Search(len(firsts), func(i int) bool { return firsts[i] > seq })
	if i == 0 {
		return 0, false
	}
	return firsts[i-1], true
}

// Remove deletes the batch starting at first.
func (d *Dir) Remove(first uint64) error {
	if err := durable.Remove(filepath.Join(d.path, batchName(first))); err != nil {
		return err
	}
	d.mu.Lock()
	d.total -= d.sizes[first]
	delete(d.sizes, first)
	d.mu.Unlock()
	return nil
}

// MoveTo moves the batch starting at first into another Dir on the same
// file system.
func (d *Dir) MoveTo(first uint64, to *Dir) error {
	if err := os.Rename(filepath.Join(d.path, batchName(first)), filepath.Join(to.path, batchName(first))); err != nil {
		return err
	}
	if err := durable.SyncDir(to.path); err != nil {
		return err
	}
	if err := durable.SyncDir(d.path); err != nil {
		return err
	}
	d.mu.Lock()
	size := d.sizes[first]
	d.total -= size
	delete(d.sizes, first)
	d.mu.Unlock()
	to.mu.Lock()
	to.sizes[first] = size
	to.total += size
	to.mu.Unlock()
	return nil
}

// Prune removes the batches whose files were written before t, oldest
// first, and says how many. Batches are written in sequence order, so it
// stops at the first one that is recent enough.
func (d *Dir) Prune(before time.Time) (int, error) {
	n := 0
	for _, first := range d.List() {
		info, err := os.Stat(filepath.Join(d.path, batchName(first)))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return n, err
		}
		if !info.ModTime().Before(before) {
			break
		}
		if err := d.Remove(first); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// List returns the first sequence numbers of the batches, ascending.
func (d *Dir) List() []uint64 {
	d.mu.Lock()
	out := make([]uint64, 0, len(d.sizes))
	for f := range d.sizes {
		out = append(out, f)
	}
	d.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Size is the size of the batch file starting at first (0: none).
func (d *Dir) Size(first uint64) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sizes[first]
}

// Bytes is the directory's total size of batch files.
func (d *Dir) Bytes() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.total
}
