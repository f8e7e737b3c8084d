package statedb

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	dbm "github.com/cometbft/cometbft-db"
)

// Random writes through a block and a transaction overlay, committed in
// batches, always read back like a plain sorted map would.
func TestOverlaysMatchAMap(t *testing.T) {
	db := dbm.NewMemDB()
	mirror, err := NewMirror(db, []byte("m/"))
	if err != nil {
		t.Fatal(err)
	}
	base := Base{DB: db, Mirror: mirror}
	block := NewOverlay(base)
	ref := map[string]string{}
	rng := rand.New(rand.NewPCG(1, 2))
	key := func() []byte {
		return []byte(fmt.Sprintf("%s/%02d", []string{"a", "b", "m"}[rng.IntN(3)], rng.IntN(40)))
	}
	check := func(layer *Overlay, want map[string]string) {
		t.Helper()
		for _, p := range []string{"a/", "b/", "m/", ""} {
			var keys []string
			for k := range want {
				if len(k) >= len(p) && k[:len(p)] == p {
					keys = append(keys, k)
				}
			}
			sort.Strings(keys)
			it, err := layer.Iterator([]byte(p))
			if err != nil {
				t.Fatal(err)
			}
			i := 0
			for ; it.Valid(); it.Next() {
				if i >= len(keys) || string(it.Key()) != keys[i] || string(it.Value()) != want[keys[i]] {
					t.Fatalf("prefix %q item %d: %s=%s, want %v", p, i, it.Key(), it.Value(), keys)
				}
				i++
			}
			it.Close()
			if i != len(keys) {
				t.Fatalf("prefix %q: %d items, want %d", p, i, len(keys))
			}
		}
		for k, v := range want {
			got, _ := layer.Get([]byte(k))
			if string(got) != v {
				t.Fatalf("get %s = %q, want %q", k, got, v)
			}
		}
	}
	var prev []byte
	for round := range 30 {
		tx := NewOverlay(block)
		pending := map[string]string{}
		for k, v := range ref {
			pending[k] = v
		}
		for range 20 {
			k := key()
			if rng.IntN(3) == 0 {
				tx.Delete(k)
				delete(pending, string(k))
			} else {
				v := fmt.Sprintf("v%d", rng.IntN(1000))
				tx.Set(k, []byte(v))
				pending[string(k)] = v
			}
		}
		check(tx, pending)
		if rng.IntN(4) == 0 { // a failed transaction leaves nothing
			tx.Reset()
			check(block, ref)
			continue
		}
		tx.Flush(block)
		ref = pending
		check(block, ref)
		hash := block.Hash(prev, int64(round))
		if block.Len() > 0 && bytes.Equal(hash, prev) {
			t.Fatal("writes left the hash unchanged")
		}
		b := db.NewBatch()
		if err := block.WriteTo(b); err != nil {
			t.Fatal(err)
		}
		b.Write()
		b.Close()
		mirror.Apply(block)
		block.Reset()
		check(block, ref)
		prev = hash
	}
	if again := NewOverlay(base).Hash(prev, 99); !bytes.Equal(again, prev) {
		t.Fatal("an empty block changed the hash")
	}
}
