// Package store is sealnet's content-addressed storage: UnixFS DAGs with
// CIDv1, raw leaves and fixed-size chunks, in an on-disk flatfs blockstore,
// built with boxo the way Kubo builds them, so the same bytes and
// parameters give the same CID as `ipfs add --cid-version 1 --raw-leaves
// --chunker size-262144`. Every block read back is re-hashed against its
// CID.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	chunker "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/datastore/dshelp"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	ihelper "github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	flatfs "github.com/ipfs/go-ds-flatfs"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
	"golang.org/x/sys/unix"
)

// DefaultChunkSize is the size of a leaf block: 256 KiB, Kubo's default.
const DefaultChunkSize = 256 << 10

// Errors of reads.
var (
	ErrNotFound = errors.New("not in the store")
	// ErrTampered reports a stored block whose bytes no longer hash to its
	// CID; its content is never returned.
	ErrTampered = errors.New("block does not match its CID")
)

// Store is an on-disk blockstore with a UnixFS importer and reader.
type Store struct {
	dir   string
	ds    *flatfs.Datastore
	shard flatfs.ShardFunc
	bs    blockstore.Blockstore
	dag   ipld.DAGService
}

// Open opens (or creates) a store in dir.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// next-to-last/2 sharding, as Kubo's flatfs. Blocks are not fsynced as
	// they are written; an import ends by making its own blocks durable
	// (syncBlocks), and a block damaged by a crash before that fails its
	// hash check on read instead of being served.
	shard := flatfs.NextToLast(2)
	ds, err := flatfs.CreateOrOpen(dir, shard, false)
	if err != nil {
		return nil, fmt.Errorf("open blockstore %s: %w", dir, err)
	}
	bs := &blockstore.ValidatingBlockstore{Blockstore: blockstore.NewBlockstoreNoPrefix(ds)}
	return &Store{dir: dir, ds: ds, shard: shard.Func(), bs: bs, dag: merkledag.NewDAGService(blockservice.New(bs, nil))}, nil
}

// Sync makes everything written so far durable: one syncfs of the store's
// filesystem.
func (s *Store) Sync() error {
	f, err := os.Open(s.dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("sync blockstore: %w", err)
	}
	return nil
}

// Close closes the datastore.
func (s *Store) Close() error { return s.ds.Close() }

// Blockstore exposes the verified blockstore (for bitswap).
func (s *Store) Blockstore() blockstore.Blockstore { return s.bs }

// AddOptions are the importer's parameters.
type AddOptions struct {
	ChunkSize int64 // bytes per leaf; 0 for DefaultChunkSize
}

// Add imports r as a UnixFS file and returns its root CID once its blocks
// are durable. It reads r in chunks and keeps at most one batch of blocks
// in memory.
func (s *Store) Add(ctx context.Context, r io.Reader, o AddOptions) (cid.Cid, error) {
	root, written, err := s.add(ctx, r, o)
	if err != nil {
		return cid.Undef, err
	}
	return root, s.syncBlocks(written)
}

// add imports r and returns its root and the blocks it wrote, which are
// not durable yet.
func (s *Store) add(ctx context.Context, r io.Reader, o AddOptions) (cid.Cid, []cid.Cid, error) {
	size := o.ChunkSize
	if size == 0 {
		size = DefaultChunkSize
	}
	if size < 1 || size > int64(chunker.ChunkSizeLimit) {
		return cid.Undef, nil, fmt.Errorf("chunk size %d: want 1 to %d", size, chunker.ChunkSizeLimit)
	}
	rec := &recorder{Blockstore: s.bs}
	batch := ipld.NewBufferedDAG(ctx, merkledag.NewDAGService(blockservice.New(rec, nil)))
	params := ihelper.DagBuilderParams{
		Maxlinks:   ihelper.DefaultLinksPerBlock,
		RawLeaves:  true,
		CidBuilder: cid.V1Builder{Codec: cid.DagProtobuf, MhType: mh.SHA2_256},
		Dagserv:    batch,
	}
	db, err := params.New(chunker.NewSizeSplitter(r, size))
	if err != nil {
		return cid.Undef, nil, err
	}
	root, err := balanced.Layout(db)
	if err != nil {
		return cid.Undef, nil, fmt.Errorf("import: %w", err)
	}
	if err := batch.Commit(); err != nil {
		return cid.Undef, nil, fmt.Errorf("store blocks: %w", err)
	}
	return root.Cid(), rec.written(), nil
}

// recorder is a blockstore that remembers which blocks were written
// through it, so that exactly those are made durable.
type recorder struct {
	blockstore.Blockstore
	mu   sync.Mutex
	cids []cid.Cid
}

func (r *recorder) Put(ctx context.Context, b blocks.Block) error {
	r.note(b)
	return r.Blockstore.Put(ctx, b)
}

func (r *recorder) PutMany(ctx context.Context, bs []blocks.Block) error {
	r.note(bs...)
	return r.Blockstore.PutMany(ctx, bs)
}

func (r *recorder) note(bs ...blocks.Block) {
	r.mu.Lock()
	for _, b := range bs {
		r.cids = append(r.cids, b.Cid())
	}
	r.mu.Unlock()
}

func (r *recorder) written() []cid.Cid {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cids
}

// fsyncMax is the most blocks syncBlocks flushes one by one. Flushing a
// few files and their directories costs a millisecond or two where a
// syncfs also waits for everything else written to the filesystem (other
// processes' writes, CometBFT's); past a few dozen files the one syncfs is
// cheaper than the fsyncs.
const fsyncMax = 32

// syncBlocks makes the given blocks durable: each block's file, its shard
// directory and the store's directory (which holds new shard
// directories), flushed in parallel; or, for many blocks, one Sync.
func (s *Store) syncBlocks(cids []cid.Cid) error {
	if len(cids) == 0 {
		return nil
	}
	if len(cids) > fsyncMax {
		return s.Sync()
	}
	paths := map[string]bool{s.dir: true}
	for _, c := range cids {
		name := dshelp.MultihashToDsKey(c.Hash()).String()[1:]
		dir := filepath.Join(s.dir, s.shard(name))
		paths[dir], paths[filepath.Join(dir, name+".data")] = true, true
	}
	errs := make(chan error, len(paths))
	for p := range paths {
		go func() { errs <- fsync(p) }()
	}
	var err error
	for range paths {
		err = errors.Join(err, <-errs)
	}
	if err != nil {
		return fmt.Errorf("sync blockstore: %w", err)
	}
	return nil
}

func fsync(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// Has reports whether the root block of c is stored.
func (s *Store) Has(ctx context.Context, c cid.Cid) (bool, error) { return s.bs.Has(ctx, c) }

// Open returns a reader of the file at c; every block is verified against
// its CID as it is read, and a block that fails ends the read with
// ErrTampered naming it.
func (s *Store) Open(ctx context.Context, c cid.Cid) (io.ReadCloser, error) {
	w := &watchBlocks{Blockstore: s.bs}
	dag := merkledag.NewDAGService(blockservice.New(w, nil))
	n, err := dag.Get(ctx, c)
	if err != nil {
		return nil, w.explain(c, err)
	}
	r, err := uio.NewDagReader(ctx, n, dag)
	if err != nil {
		return nil, w.explain(c, err)
	}
	return &fileReader{r: r, w: w, root: c}, nil
}

// watchBlocks remembers which block failed verification, which the DAG
// reader's own error does not say.
type watchBlocks struct {
	blockstore.Blockstore
	mu  sync.Mutex
	bad cid.Cid
}

func (w *watchBlocks) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	b, err := w.Blockstore.Get(ctx, c)
	if errors.Is(err, blockstore.ErrHashMismatch) {
		w.mu.Lock()
		w.bad = c
		w.mu.Unlock()
	}
	return b, err
}

func (w *watchBlocks) explain(root cid.Cid, err error) error {
	w.mu.Lock()
	bad := w.bad
	w.mu.Unlock()
	switch {
	case bad.Defined():
		return fmt.Errorf("%s: block %s: %w", root, bad, ErrTampered)
	case ipld.IsNotFound(err):
		return fmt.Errorf("%s: %w", root, ErrNotFound)
	}
	return fmt.Errorf("%s: %w", root, err)
}

type fileReader struct {
	r    uio.DagReader
	w    *watchBlocks
	root cid.Cid
}

func (f *fileReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err != nil && err != io.EOF {
		err = f.w.explain(f.root, err)
	}
	return n, err
}

func (f *fileReader) Close() error { return f.r.Close() }
