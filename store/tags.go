package store

import (
	"context"
	"fmt"
	"path/filepath"

	dbm "github.com/cometbft/cometbft-db"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
)

// Tags records which channels each stored block belongs to, so that the
// node serves a block only to members of those channels.
type Tags struct{ db dbm.DB }

// OpenTags opens the tag index in dir.
func OpenTags(dir string) (*Tags, error) {
	db, err := dbm.NewDB("tags", dbm.GoLevelDBBackend, filepath.Clean(dir))
	if err != nil {
		return nil, fmt.Errorf("open block tags: %w", err)
	}
	return &Tags{db: db}, nil
}

// Close closes the index.
func (t *Tags) Close() error { return t.db.Close() }

func tagKey(c cid.Cid, channel string) []byte {
	return append(append(c.Bytes(), 0), channel...)
}

// TagDAG tags every block of the DAG at root, which must be stored, with
// channel.
func (s *Store) TagDAG(ctx context.Context, t *Tags, root cid.Cid, channel string) error {
	b := t.db.NewBatch()
	defer b.Close()
	var err error
	walkErr := merkledag.Walk(ctx, merkledag.GetLinksWithDAG(s.dag), root, func(c cid.Cid) bool {
		if err == nil {
			err = b.Set(tagKey(c, channel), []byte{1})
		}
		return true
	})
	if walkErr != nil {
		return fmt.Errorf("tag %s: %w", root, walkErr)
	}
	if err != nil {
		return err
	}
	return b.Write()
}

// tag tags the given blocks with channel.
func (t *Tags) tag(cids []cid.Cid, channel string) error {
	b := t.db.NewBatch()
	defer b.Close()
	for _, c := range cids {
		if err := b.Set(tagKey(c, channel), []byte{1}); err != nil {
			return err
		}
	}
	return b.Write()
}

// Channels lists the channels a block is tagged with.
func (t *Tags) Channels(c cid.Cid) ([]string, error) {
	p := append(c.Bytes(), 0)
	it, err := dbm.IteratePrefix(t.db, p)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []string
	for ; it.Valid(); it.Next() {
		out = append(out, string(it.Key()[len(p):]))
	}
	return out, nil
}

// Remove deletes the blocks of the DAG at root from the store and their
// tags (crypto-shredding removes the local ciphertext as well).
func (s *Store) Remove(ctx context.Context, t *Tags, root cid.Cid) error {
	var all []cid.Cid
	if err := merkledag.Walk(ctx, merkledag.GetLinksWithDAG(s.dag), root, func(c cid.Cid) bool {
		all = append(all, c)
		return true
	}); err != nil && len(all) == 0 {
		return fmt.Errorf("remove %s: %w", root, err)
	}
	b := t.db.NewBatch()
	defer b.Close()
	for _, c := range all {
		if err := s.bs.DeleteBlock(ctx, c); err != nil {
			return fmt.Errorf("remove block %s: %w", c, err)
		}
		chs, _ := t.Channels(c)
		for _, ch := range chs {
			b.Delete(tagKey(c, ch))
		}
	}
	return b.Write()
}
