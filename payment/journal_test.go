package payment

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestJournalReplaysAndCutsATornTail(t *testing.T) {
	dir := t.TempDir()
	j, recs, err := openJournal(dir, 1<<20, nil)
	if err != nil || len(recs) != 0 {
		t.Fatal(recs, err)
	}
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		j.append([]byte(fmt.Sprintf("voucher %d", i)), func(err error) {
			if err != nil {
				t.Error(err)
			}
			wg.Done()
		})
	}
	wg.Wait()
	if err := j.close(); err != nil {
		t.Fatal(err)
	}
	// a crash in the middle of the next write: half a record
	path := filepath.Join(dir, "vouchers.journal")
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.Write(appendRecord(nil, []byte("torn voucher"))[:10])
	f.Close()
	j, recs, err = openJournal(dir, 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	if len(recs) != 100 || string(recs[99]) != "voucher 99" {
		t.Fatalf("replayed %d records, the last %q", len(recs), recs[len(recs)-1])
	}
	st, _ := os.Stat(path)
	if st.Size() != j.size {
		t.Fatalf("the torn tail stayed: file %d bytes, good %d", st.Size(), j.size)
	}
	// a flipped byte ends the replay there
	raw, _ := os.ReadFile(path)
	raw[len(raw)/2] ^= 1
	os.WriteFile(path, raw, 0o600)
	recs, _, _ = readRecords(bytes.NewReader(raw))
	if len(recs) >= 100 {
		t.Fatal("a corrupt record was replayed")
	}
}

// Appends made while a flush runs share the next one: far fewer fsyncs
// than records.
func TestJournalGroupCommit(t *testing.T) {
	j, _, err := openJournal(t.TempDir(), 1<<30, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				done := make(chan error, 1)
				j.append([]byte(fmt.Sprintf("%d/%d", w, i)), func(err error) { done <- err })
				if err := <-done; err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	flushes, records := j.stats()
	if records != 3200 || flushes >= records/2 {
		t.Fatalf("%d records in %d flushes", records, flushes)
	}
	t.Logf("%d records in %d flushes", records, flushes)
}

// Past its limit the journal is rewritten as its owner's snapshot, and a
// reopened journal holds the snapshot, then what came after.
func TestJournalCompaction(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	latest := map[string][]byte{}
	snap := func() [][]byte {
		mu.Lock()
		defer mu.Unlock()
		var out [][]byte
		for _, v := range latest {
			out = append(out, v)
		}
		return out
	}
	j, _, err := openJournal(dir, 1000, snap)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		rec := []byte(fmt.Sprintf("lane %d nonce %03d", i%3, i))
		done := make(chan error, 1)
		j.append(rec, func(err error) {
			if err == nil {
				mu.Lock()
				latest[fmt.Sprint(i%3)] = rec
				mu.Unlock()
			}
			done <- err
		})
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	j.close()
	if j.size > 1000+recordHeader+64 {
		t.Fatalf("journal of %d bytes was not compacted", j.size)
	}
	_, recs, err := openJournal(dir, 1000, snap)
	if err != nil {
		t.Fatal(err)
	}
	last := map[byte]string{}
	for _, r := range recs {
		last[r[5]] = string(r)
	}
	for lane, want := range map[byte]string{'0': "lane 0 nonce 198", '1': "lane 1 nonce 199", '2': "lane 2 nonce 197"} {
		if last[lane] != want {
			t.Errorf("lane %c replays as %q, want %q", lane, last[lane], want)
		}
	}
}
