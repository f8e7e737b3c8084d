package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Shared is a node's store as its channels use it: the blocks of an object
// put on a channel (or fetched for it) are tagged with that channel, and
// bitswap and the DAG stream hand a block only to a peer that admit lets
// have a block of those channels.
type Shared struct {
	*Store
	Tags *Tags

	host host.Host
	ex   *Exchange
	stop context.CancelFunc
}

// OpenShared opens the blocks and tags under dir and serves them on h.
func OpenShared(dir string, h host.Host, admit func(p peer.ID, channels []string) bool) (*Shared, error) {
	st, err := Open(filepath.Join(dir, "blocks"))
	if err != nil {
		return nil, err
	}
	tags, err := OpenTags(filepath.Join(dir, "tags"))
	if err != nil {
		st.Close()
		return nil, err
	}
	s := &Shared{Store: st, Tags: tags, host: h}
	allow := func(p peer.ID, c cid.Cid) bool {
		chs, err := tags.Channels(c)
		return err == nil && admit(p, chs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	s.ex = st.Exchange(ctx, h, allow)
	st.ServeDAG(h, allow)
	return s, nil
}

// Put stores ciphertext for channel and tags its blocks.
func (s *Shared) Put(ctx context.Context, channel string, r io.Reader) (cid.Cid, error) {
	c, written, err := s.add(ctx, r, AddOptions{})
	if err != nil {
		return cid.Undef, err
	}
	if err := s.syncBlocks(written); err != nil {
		return cid.Undef, err
	}
	return c, s.Tags.tag(written, channel)
}

// PutAll stores several objects for channel, each read from what next
// returns until it returns io.EOF, tags their blocks and makes them
// durable together: one sync for a batch of small objects instead of one
// each. Objects up to smallObject bytes are read whole and imported on
// every core while the next ones are read; larger ones stream in order.
// It returns the objects' CIDs in order, or the first error.
func (s *Shared) PutAll(ctx context.Context, channel string, next func() (io.Reader, error)) ([]cid.Cid, error) {
	var (
		mu      sync.Mutex
		roots   []cid.Cid
		written []cid.Cid
		failed  error
	)
	done := func(i int, c cid.Cid, w []cid.Cid, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil && failed == nil {
			failed = err
		}
		roots[i], written = c, append(written, w...)
	}
	type object struct {
		i    int
		data []byte
	}
	small := make(chan object)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range small {
				c, w, err := s.add(ctx, bytes.NewReader(o.data), AddOptions{})
				done(o.i, c, w, err)
			}
		}()
	}
	var err error
	for i := 0; ; i++ {
		var r io.Reader
		if r, err = next(); err != nil {
			break
		}
		mu.Lock()
		roots = append(roots, cid.Undef)
		mu.Unlock()
		var head []byte
		if head, err = io.ReadAll(io.LimitReader(r, smallObject+1)); err != nil {
			break
		}
		if len(head) <= smallObject {
			small <- object{i, head}
			continue
		}
		c, w, aerr := s.add(ctx, io.MultiReader(bytes.NewReader(head), r), AddOptions{})
		done(i, c, w, aerr)
	}
	close(small)
	wg.Wait()
	if err != io.EOF {
		return nil, err
	}
	if failed != nil {
		return nil, failed
	}
	if err := s.syncBlocks(written); err != nil {
		return nil, err
	}
	return roots, s.Tags.tag(written, channel)
}

// smallObject is the most PutAll reads into memory to import on another
// core.
const smallObject = 1 << 20

// Fetch makes sure the DAG at c is local, asking connected member nodes
// over bitswap.
func (s *Shared) Fetch(ctx context.Context, channel string, c cid.Cid) error {
	if err := s.ex.Fetch(ctx, c); err != nil {
		return err
	}
	if err := s.Sync(); err != nil {
		return err
	}
	return s.TagDAG(ctx, s.Tags, c, channel)
}

// StreamFrom fetches the DAG at c in one pass from the node p, storing
// and verifying every block, and writes the file's bytes to w as they
// arrive.
func (s *Shared) StreamFrom(ctx context.Context, channel string, c cid.Cid, p peer.ID, w io.Writer) error {
	written, err := s.fetchDAG(ctx, s.host, p, c, w)
	if err != nil {
		return err
	}
	return s.Tags.tag(written, channel)
}

// Forget removes the local blocks of the DAG at c and their tags.
func (s *Shared) Forget(ctx context.Context, c cid.Cid) error { return s.Remove(ctx, s.Tags, c) }

// Close stops serving and closes the blocks and tags.
func (s *Shared) Close() error {
	s.stop()
	s.host.RemoveStreamHandler(DAGProtocol)
	return errors.Join(s.ex.Close(), s.Tags.Close(), s.Store.Close())
}
