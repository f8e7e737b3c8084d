package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ipfs/boxo/ipld/merkledag"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/sealnet/sealnet/internal/lpframe"
)

// DAGProtocol streams a whole DAG from a member node in one pass: the
// requester names a root, the holder sends every block depth-first, and the
// requester verifies each block against its CID and accepts only blocks
// linked from what it already has. Between consortium nodes it replaces
// bitswap's per-block round trips; bitswap stays for everything else.
const DAGProtocol = "/sealnet/dag/1"

// Limits of the DAG stream.
const (
	maxCIDLen   = 128
	maxBlockLen = 2 << 20 // the bitswap maximum
	putBatch    = 64
)

// Errors of FetchDAG.
var (
	ErrRefused    = errors.New("holder refused the DAG")
	ErrUnexpected = errors.New("block not linked from the DAG")
	ErrIncomplete = errors.New("DAG stream ended before every block arrived")
)

// ServeDAG answers DAG requests on h; allow decides per peer and root.
func (s *Store) ServeDAG(h host.Host, allow func(peer.ID, cid.Cid) bool) {
	h.SetStreamHandler(DAGProtocol, func(st network.Stream) {
		defer st.Close()
		br := bufio.NewReader(st)
		root, err := readCID(br)
		if err != nil {
			st.Reset()
			return
		}
		bw := bufio.NewWriterSize(st, 256<<10)
		if !allow(st.Conn().RemotePeer(), root) {
			bw.WriteByte(1)
			bw.Flush()
			return
		}
		bw.WriteByte(0)
		// every occurrence is sent, repeated blocks too, so that the
		// leaves arrive in file order and the receiver can stream them
		err = merkledag.Walk(context.Background(), s.sendLinks(bw), root, func(cid.Cid) bool { return true })
		if err == nil {
			err = lpframe.WriteVarint(bw, nil) // the end
		}
		if err == nil {
			err = bw.Flush()
		}
		if err != nil {
			st.Reset()
		}
	})
}

// sendLinks is a merkledag GetLinks that writes every block it visits.
func (s *Store) sendLinks(w *bufio.Writer) merkledag.GetLinks {
	return func(ctx context.Context, c cid.Cid) ([]*ipld.Link, error) {
		b, err := s.bs.Get(ctx, c)
		if err != nil {
			return nil, err
		}
		if err := lpframe.WriteVarint(w, c.Bytes()); err != nil {
			return nil, err
		}
		if err := lpframe.WriteVarint(w, b.RawData()); err != nil {
			return nil, err
		}
		return links(b)
	}
}

// links returns the links of a dag-pb block (raw leaves have none).
func links(b blocks.Block) ([]*ipld.Link, error) {
	if b.Cid().Prefix().Codec != cid.DagProtobuf {
		return nil, nil
	}
	n, err := merkledag.DecodeProtobufBlock(b)
	if err != nil {
		return nil, err
	}
	return n.Links(), nil
}

// FetchDAG pulls the DAG at root from peer p into the store. If leaves is
// not nil, the data of the raw leaves is written to it as they arrive, in
// file order: the file itself, streamed while it is fetched.
func (s *Store) FetchDAG(ctx context.Context, h host.Host, p peer.ID, root cid.Cid, leaves io.Writer) error {
	_, err := s.fetchDAG(ctx, h, p, root, leaves)
	return err
}

// fetchDAG is FetchDAG, returning the blocks it stored.
func (s *Store) fetchDAG(ctx context.Context, h host.Host, p peer.ID, root cid.Cid, leaves io.Writer) ([]cid.Cid, error) {
	st, err := h.NewStream(ctx, p, DAGProtocol)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if dl, ok := ctx.Deadline(); ok {
		st.SetDeadline(dl)
	}
	if _, err := st.Write(lpframe.AppendVarint(nil, root.Bytes())); err != nil {
		return nil, err
	}
	st.CloseWrite()
	br := bufio.NewReaderSize(st, 256<<10)
	status, err := br.ReadByte()
	if err != nil {
		return nil, fmt.Errorf("dag stream: %w", err)
	}
	if status != 0 {
		return nil, fmt.Errorf("%s: %w", root, ErrRefused)
	}
	// want counts the outstanding occurrences of each linked block
	want := map[cid.Cid]int{root: 1}
	pending := 1
	var batch []blocks.Block
	var written []cid.Cid
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.bs.PutMany(ctx, batch)
		batch = batch[:0]
		return err
	}
	for {
		cb, err := lpframe.ReadVarint(br, maxCIDLen)
		if err != nil {
			return nil, fmt.Errorf("dag stream: CID: %w", err)
		}
		if len(cb) == 0 {
			break
		}
		_, c, err := cid.CidFromBytes(cb)
		if err != nil {
			return nil, fmt.Errorf("dag stream: %w", err)
		}
		data, err := lpframe.ReadVarint(br, maxBlockLen)
		if err != nil {
			return nil, fmt.Errorf("dag stream: block: %w", err)
		}
		if want[c] == 0 {
			return nil, fmt.Errorf("%s: %w", c, ErrUnexpected)
		}
		sum, err := c.Prefix().Sum(data)
		if err != nil || !sum.Equals(c) {
			return nil, fmt.Errorf("block %s: %w", c, ErrTampered)
		}
		want[c]--
		pending--
		written = append(written, c)
		b, _ := blocks.NewBlockWithCid(data, c)
		ls, err := links(b)
		if err != nil {
			return nil, fmt.Errorf("block %s: %w", c, err)
		}
		for _, l := range ls {
			want[l.Cid]++
			pending++
		}
		if leaves != nil && c.Prefix().Codec == cid.Raw {
			if _, err := leaves.Write(data); err != nil {
				return nil, err
			}
		}
		if batch = append(batch, b); len(batch) == putBatch {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if pending > 0 {
		return nil, fmt.Errorf("%s: %d blocks missing: %w", root, pending, ErrIncomplete)
	}
	return written, s.syncBlocks(written)
}

func readCID(r *bufio.Reader) (cid.Cid, error) {
	b, err := lpframe.ReadVarint(r, maxCIDLen)
	if err != nil {
		return cid.Undef, err
	}
	if len(b) == 0 {
		return cid.Undef, fmt.Errorf("%w: empty CID", lpframe.ErrMalformed)
	}
	_, c, err := cid.CidFromBytes(b)
	return c, err
}
