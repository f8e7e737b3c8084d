package store

import (
	"context"
	"fmt"

	"github.com/ipfs/boxo/bitswap"
	"github.com/ipfs/boxo/bitswap/network/bsnet"
	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Exchange serves the store's blocks over bitswap on a libp2p host and
// fetches missing ones from connected peers. There is no content routing:
// consortium nodes connect to each other directly, through the host's
// membership gate. Fetched blocks are verified against their CIDs before
// they are stored.
type Exchange struct {
	bs  *bitswap.Bitswap
	dag ipld.DAGService
}

// Exchange starts bitswap for the store on h. allow, if not nil, decides
// which peer may receive which block.
func (s *Store) Exchange(ctx context.Context, h host.Host, allow func(peer.ID, cid.Cid) bool) *Exchange {
	var opts []bitswap.Option
	if allow != nil {
		opts = append(opts, bitswap.WithPeerBlockRequestFilter(allow))
	}
	bs := bitswap.New(ctx, bsnet.NewFromIpfsHost(h), nil, s.bs, opts...)
	return &Exchange{bs: bs, dag: merkledag.NewDAGService(blockservice.New(s.bs, bs))}
}

// Fetch retrieves every block of the DAG at c that the store lacks.
func (e *Exchange) Fetch(ctx context.Context, c cid.Cid) error {
	if err := merkledag.FetchGraph(ctx, c, e.dag); err != nil {
		return fmt.Errorf("fetch %s: %w", c, err)
	}
	return nil
}

// Close stops bitswap.
func (e *Exchange) Close() error { return e.bs.Close() }
