// Package statedb holds a channel's contract state: a committed key-value
// database (cometbft-db, goleveldb) under stacked in-memory overlays, one for
// the block being executed and one for each transaction in it. A failed
// transaction's overlay is dropped; a block's overlay is written in one
// atomic batch at Commit, together with the app hash it produced.
//
// The app hash chains the previous hash with the block's sorted write set,
// so it is deterministic and changes with every state change; it is not a
// Merkle commitment to the whole state (no state proofs are served).
package statedb

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"

	dbm "github.com/cometbft/cometbft-db"
	"github.com/google/btree"
)

type item struct {
	key     string
	value   []byte
	deleted bool
}

func less(a, b item) bool { return a.key < b.key }

// Reader is read access to a layer of state.
type Reader interface {
	Get(key []byte) ([]byte, error)
	Iterator(prefix []byte) (Iterator, error)
}

// Iterator walks keys in ascending order.
type Iterator interface {
	Valid() bool
	Key() []byte
	Value() []byte
	Next()
	Close() error
}

// Overlay buffers writes above a parent layer.
type Overlay struct {
	parent Reader
	tree   *btree.BTreeG[item]
}

// NewOverlay returns an empty overlay above parent.
func NewOverlay(parent Reader) *Overlay {
	return &Overlay{parent: parent, tree: btree.NewG(16, less)}
}

// Len is the number of buffered writes.
func (o *Overlay) Len() int { return o.tree.Len() }

// Get returns the newest value of key or nil.
func (o *Overlay) Get(key []byte) ([]byte, error) {
	if it, ok := o.tree.Get(item{key: string(key)}); ok {
		if it.deleted {
			return nil, nil
		}
		return it.value, nil
	}
	return o.parent.Get(key)
}

// Set buffers a write. The value is copied.
func (o *Overlay) Set(key, value []byte) {
	o.tree.ReplaceOrInsert(item{key: string(key), value: bytes.Clone(value)})
}

// Delete buffers a deletion.
func (o *Overlay) Delete(key []byte) {
	o.tree.ReplaceOrInsert(item{key: string(key), deleted: true})
}

// Flush moves the buffered writes into the parent overlay.
func (o *Overlay) Flush(into *Overlay) {
	o.tree.Ascend(func(it item) bool {
		into.tree.ReplaceOrInsert(it)
		return true
	})
	o.tree.Clear(false)
}

// Iterator merges the overlay's writes in prefix with the parent's keys.
func (o *Overlay) Iterator(prefix []byte) (Iterator, error) {
	var mine []item
	p := string(prefix)
	o.tree.AscendGreaterOrEqual(item{key: p}, func(it item) bool {
		if len(it.key) < len(p) || it.key[:len(p)] != p {
			return false
		}
		mine = append(mine, it)
		return true
	})
	under, err := o.parent.Iterator(prefix)
	if err != nil {
		return nil, err
	}
	m := &merged{mine: mine, under: under}
	m.settle()
	return m, nil
}

// Hash folds the overlay's sorted writes into prev for the given height. A
// block that changes nothing keeps the previous hash, which is what lets
// CometBFT stop making blocks while idle (a changed app hash asks for
// another block to carry it).
func (o *Overlay) Hash(prev []byte, height int64) []byte {
	if o.tree.Len() == 0 && prev != nil {
		return prev
	}
	h := sha256.New()
	h.Write(prev)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(height))
	h.Write(n[:])
	o.tree.Ascend(func(it item) bool {
		writeLenPrefixed(h, []byte(it.key))
		if it.deleted {
			h.Write([]byte{0})
		} else {
			h.Write([]byte{1})
			writeLenPrefixed(h, it.value)
		}
		return true
	})
	return h.Sum(nil)
}

// WriteTo adds the overlay's writes to a database batch.
func (o *Overlay) WriteTo(b dbm.Batch) error {
	var err error
	o.tree.Ascend(func(it item) bool {
		if it.deleted {
			err = b.Delete([]byte(it.key))
		} else {
			err = b.Set([]byte(it.key), it.value)
		}
		return err == nil
	})
	return err
}

// Reset drops all buffered writes.
func (o *Overlay) Reset() { o.tree.Clear(false) }

func writeLenPrefixed(h interface{ Write([]byte) (int, error) }, b []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(b)))
	h.Write(n[:])
	h.Write(b)
}

// merged yields the union of an overlay slice and a parent iterator, the
// overlay winning on equal keys and deletions hiding keys.
type merged struct {
	mine  []item
	under Iterator
	// advance is set when cur is the under iterator's item: the database
	// iterator's slices stay valid only until its Next, so it moves on
	// lazily, at the following settle.
	advance bool
	cur     struct {
		key, value []byte
		valid      bool
	}
}

func (m *merged) settle() {
	if m.advance {
		m.under.Next()
		m.advance = false
	}
	for {
		uv := m.under.Valid()
		if len(m.mine) == 0 && !uv {
			m.cur.valid = false
			return
		}
		var take item
		fromMine := false
		switch {
		case len(m.mine) == 0:
		case !uv:
			fromMine = true
		default:
			c := bytes.Compare([]byte(m.mine[0].key), m.under.Key())
			if c == 0 {
				m.under.Next() // shadowed
			}
			fromMine = c <= 0
		}
		if fromMine {
			take, m.mine = m.mine[0], m.mine[1:]
			if take.deleted {
				continue
			}
			m.cur.key, m.cur.value, m.cur.valid = []byte(take.key), take.value, true
			return
		}
		m.cur.key, m.cur.value, m.cur.valid = m.under.Key(), m.under.Value(), true
		m.advance = true
		return
	}
}

func (m *merged) Valid() bool   { return m.cur.valid }
func (m *merged) Key() []byte   { return m.cur.key }
func (m *merged) Value() []byte { return m.cur.value }
func (m *merged) Next()         { m.settle() }
func (m *merged) Close() error  { return m.under.Close() }

func prefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// View is a contract's prefixed window on a layer; it implements
// contract.State.
type View struct {
	Layer  *Overlay
	Prefix []byte
}

func (v View) key(k []byte) []byte {
	out := make([]byte, 0, len(v.Prefix)+len(k))
	return append(append(out, v.Prefix...), k...)
}

// Get reads key.
func (v View) Get(k []byte) ([]byte, error) { return v.Layer.Get(v.key(k)) }

// Set writes key.
func (v View) Set(k, val []byte) error { v.Layer.Set(v.key(k), val); return nil }

// Delete removes key.
func (v View) Delete(k []byte) error { v.Layer.Delete(v.key(k)); return nil }

// Iterate visits keys under prefix in order, with the view prefix removed.
func (v View) Iterate(prefix []byte, fn func(k, val []byte) bool) error {
	it, err := v.Layer.Iterator(v.key(prefix))
	if err != nil {
		return err
	}
	defer it.Close()
	for ; it.Valid(); it.Next() {
		if !fn(it.Key()[len(v.Prefix):], it.Value()) {
			break
		}
	}
	return nil
}
