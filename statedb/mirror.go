package statedb

import (
	"bytes"
	"sync"

	dbm "github.com/cometbft/cometbft-db"
)

// Mirror keeps the committed keys under a few prefixes in memory, so that
// lookups of them, on the hot path of every transaction (nonces,
// revocations), never touch the disk. Most such lookups are of absent keys,
// which cost the database a walk through its levels.
type Mirror struct {
	prefixes [][]byte
	mu       sync.RWMutex
	m        map[string][]byte
}

// NewMirror loads the committed keys under prefixes from db.
func NewMirror(db dbm.DB, prefixes ...[]byte) (*Mirror, error) {
	mr := &Mirror{prefixes: prefixes, m: map[string][]byte{}}
	for _, p := range prefixes {
		it, err := dbm.IteratePrefix(db, p)
		if err != nil {
			return nil, err
		}
		for ; it.Valid(); it.Next() {
			mr.m[string(it.Key())] = bytes.Clone(it.Value())
		}
		if err := it.Close(); err != nil {
			return nil, err
		}
	}
	return mr, nil
}

// covers reports whether key lies under a mirrored prefix.
func (mr *Mirror) covers(key []byte) bool {
	for _, p := range mr.prefixes {
		if bytes.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// Len is the number of mirrored keys.
func (mr *Mirror) Len() int {
	mr.mu.RLock()
	defer mr.mu.RUnlock()
	return len(mr.m)
}

// Apply copies an overlay's writes under the mirrored prefixes; call it
// when the overlay is committed to the database.
func (mr *Mirror) Apply(o *Overlay) {
	mr.mu.Lock()
	defer mr.mu.Unlock()
	for _, p := range mr.prefixes {
		ps := string(p)
		o.tree.AscendGreaterOrEqual(item{key: ps}, func(it item) bool {
			if len(it.key) < len(ps) || it.key[:len(ps)] != ps {
				return false
			}
			if it.deleted {
				delete(mr.m, it.key)
			} else {
				mr.m[it.key] = it.value
			}
			return true
		})
	}
}

// Base reads the committed database, answering mirrored keys from memory.
type Base struct {
	DB     dbm.DB
	Mirror *Mirror // may be nil
}

// Get returns the committed value or nil.
func (b Base) Get(key []byte) ([]byte, error) {
	if b.Mirror != nil && b.Mirror.covers(key) {
		b.Mirror.mu.RLock()
		v := b.Mirror.m[string(key)]
		b.Mirror.mu.RUnlock()
		return v, nil
	}
	return b.DB.Get(key)
}

// Iterator returns a prefix iterator over committed state.
func (b Base) Iterator(prefix []byte) (Iterator, error) {
	if len(prefix) == 0 {
		return b.DB.Iterator(nil, nil)
	}
	return b.DB.Iterator(prefix, prefixEnd(prefix))
}
