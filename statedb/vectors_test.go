package statedb

import (
	"crypto/sha256"
	"encoding/binary"
	"sort"
	"testing"

	"github.com/sealnet/sealnet/internal/golden"
)

// appHashVector is docs/vectors/apphash.json: the app hashes of three
// consecutive blocks.
type appHashVector struct {
	Comment string      `json:"comment"`
	Blocks  []blockCase `json:"blocks"`
}

type blockCase struct {
	Height  int64       `json:"height"`
	Prev    golden.Hex  `json:"prev"`
	Writes  []writeCase `json:"writes"`
	Input   golden.Hex  `json:"input"`
	AppHash golden.Hex  `json:"app_hash"`
}

// writeCase is one write in the order the block made it; a later write of
// the same key replaces an earlier one.
type writeCase struct {
	Key    golden.Hex `json:"key"`
	Value  golden.Hex `json:"value"`
	Delete bool       `json:"delete"`
}

const appHashFile = "apphash.json"

func (b blockCase) overlay() *Overlay {
	o := NewOverlay(nil) // Set, Delete and Hash never read the parent
	for _, w := range b.Writes {
		if w.Delete {
			o.Delete(w.Key)
		} else {
			o.Set(w.Key, w.Value)
		}
	}
	return o
}

// hashInput is the documented input of the app hash: what SHA-256 covers
// (nil when the block keeps the previous hash).
func (b blockCase) hashInput() []byte {
	final := map[string]writeCase{}
	var keys []string
	for _, w := range b.Writes {
		if _, ok := final[string(w.Key)]; !ok {
			keys = append(keys, string(w.Key))
		}
		final[string(w.Key)] = w
	}
	if len(keys) == 0 && b.Prev != nil {
		return nil
	}
	sort.Strings(keys)
	in := append([]byte{}, b.Prev...)
	in = binary.BigEndian.AppendUint64(in, uint64(b.Height))
	for _, k := range keys {
		in = binary.BigEndian.AppendUint32(in, uint32(len(k)))
		in = append(in, k...)
		if final[k].Delete {
			in = append(in, 0)
		} else {
			in = append(in, 1)
			in = binary.BigEndian.AppendUint32(in, uint32(len(final[k].Value)))
			in = append(in, final[k].Value...)
		}
	}
	return in
}

func makeAppHashVector() appHashVector {
	set := func(k, v string) writeCase { return writeCase{Key: []byte(k), Value: []byte(v)} }
	del := func(k string) writeCase { return writeCase{Key: []byte(k), Delete: true} }
	v := appHashVector{
		Comment: "app_hash = SHA-256(input), input = prev || u64be(height) || for each key the block wrote, in ascending byte order of the key, with its last write: " +
			"u32be(len(key)) || key || (0x00 if deleted, or 0x01 || u32be(len(value)) || value). A block that wrote nothing keeps prev as its app hash (input is empty). " +
			"The genesis state is hashed at height 0 with an empty prev.",
		Blocks: []blockCase{
			{Height: 0, Writes: []writeCase{
				set("s/registry/org/org1", "root certificate of org1"),
				set("s/registry/cert/0a", "admin"),
			}},
			{Height: 1, Writes: []writeCase{
				set("s/sys/n/\x00\x01", "nonce"),
				set("s/condition/c/press-7-maintenance", "first"),
				set("s/audit/s/press-7", ""),
				del("s/registry/cert/0a"),
				set("s/condition/c/press-7-maintenance", "second"),
				set("s/audit/s/press-7/x", "\x00\xff"),
				set("s/gone", "set and then deleted in the same block"),
				del("s/gone"),
			}},
			{Height: 2, Writes: []writeCase{}},
		},
	}
	for i := range v.Blocks {
		b := &v.Blocks[i]
		if i > 0 {
			b.Prev = v.Blocks[i-1].AppHash
		}
		b.Input = b.hashInput()
		b.AppHash = b.overlay().Hash(b.Prev, b.Height)
	}
	return v
}

func TestAppHashVectors(t *testing.T) {
	if golden.Updating() {
		golden.Save(t, appHashFile, makeAppHashVector())
	}
	var v appHashVector
	golden.Load(t, appHashFile, &v)
	if len(v.Blocks) == 0 {
		t.Fatal("no blocks")
	}
	for i, b := range v.Blocks {
		if i > 0 {
			golden.Equal(t, golden.Label("prev of block", b.Height), b.Prev, v.Blocks[i-1].AppHash)
		}
		golden.Equal(t, golden.Label("app hash of block", b.Height), b.overlay().Hash(b.Prev, b.Height), b.AppHash)
		golden.Equal(t, golden.Label("hashed input of block", b.Height), b.hashInput(), b.Input)
		if b.Input != nil {
			h := sha256.Sum256(b.Input)
			golden.Equal(t, golden.Label("SHA-256 of the input of block", b.Height), h[:], b.AppHash)
		} else if string(b.AppHash) != string(b.Prev) {
			t.Errorf("block %d wrote nothing but changed the app hash", b.Height)
		}
	}
}
