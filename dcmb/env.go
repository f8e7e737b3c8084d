package dcmb

// This file holds what the runtime needs of its node, as narrow
// interfaces (Deps), and the adapter that builds a Chain from a ledger
// channel. The daemon fills Deps from its node.

import (
	"context"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/contract/registry"
	"github.com/sealnet/sealnet/envelope"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/ledger"
	"github.com/sealnet/sealnet/p2p"
	"github.com/sealnet/sealnet/txerr"
)

// Chain is what the DCMB does on its channel.
type Chain interface {
	// Name is the channel's name.
	Name() string
	// Submit signs a contract call with the node's identity, submits it
	// and waits for its block; a committed but failed call is an error
	// with its code (txerr).
	Submit(ctx context.Context, contract, method string, args any) (*ledger.TxResult, error)
	// Stream reads a stream's record from the local replica (nil: never
	// anchored).
	Stream(name string) (*audit.Stream, error)
	// Batch reads the record of a stream's range starting at first, an
	// anchor or a drop (nil: none).
	Batch(stream string, first uint64) (*audit.Batch, error)
	// Orgs lists the channel's organizations.
	Orgs() ([]string, error)
	// Member resolves a certificate fingerprint in the channel's registry.
	Member(fp identity.Fingerprint) (m *identity.Member, revoked bool, err error)
	// CertRecord is a certificate's registry record (its bound libp2p
	// key among it).
	CertRecord(fp identity.Fingerprint) (*registry.Cert, error)
	// ProveTx proves a committed transaction and its result (audit
	// bundles).
	ProveTx(ctx context.Context, id envelope.ID) (*ledger.TxProof, error)
	// Subscribe delivers committed blocks until stop is called; a
	// subscriber that falls behind has its channel closed.
	Subscribe(buf int) (blocks <-chan *ledger.Block, stop func())
	// Height is the height of the last block the local replica committed.
	Height() int64
	// Query reads a contract's query into out from the local replica;
	// false if it found nothing (certified streams read certify).
	Query(contract, method string, args, out any) (bool, error)
	// BlockTxs returns the transactions of a committed block (audit
	// bundles of certified streams).
	BlockTxs(height int64) ([][]byte, error)
}

// Host is the part of the node's libp2p host the DCMB uses;
// host.Host satisfies it.
type Host interface {
	ID() peer.ID
	NewStream(ctx context.Context, p peer.ID, pids ...protocol.ID) (network.Stream, error)
	SetStreamHandler(pid protocol.ID, handler network.StreamHandler)
	RemoveStreamHandler(pid protocol.ID)
}

// Peers is the node's view of which peer is which member; *p2p.Gate
// satisfies it.
type Peers interface {
	// NodesOf returns the peers of an org's nodes.
	NodesOf(org string) []peer.ID
	// Lookup returns the enrolled member behind a peer.
	Lookup(id peer.ID) (p2p.Member, bool)
}

// Deps is what a Runtime runs on.
type Deps struct {
	Org   string       // this node's organization
	Dir   string       // state (spools, archives, inboxes, secrets) unless the configuration names a dir
	Log   *slog.Logger // default slog.Default()
	Chain Chain
	Host  Host
	Peers Peers
}

// ChannelChain is the Chain of a ledger channel, signing with id.
func ChannelChain(ch *ledger.Channel, id *identity.Identity) Chain {
	return &channelChain{ch: ch, id: id}
}

type channelChain struct {
	ch *ledger.Channel
	id *identity.Identity
}

func (c *channelChain) Name() string { return c.ch.Name }

func (c *channelChain) Submit(ctx context.Context, contractName, method string, args any) (*ledger.TxResult, error) {
	raw, err := envelope.SignCall(c.id, c.ch.Name, contractName, method, args, time.Now())
	if err != nil {
		return nil, err
	}
	res, err := c.ch.Submit(ctx, raw)
	if err == nil && res.Code != txerr.OK {
		err = &txerr.Error{Code: res.Code, Msg: res.Log}
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// query reads a contract query into out; false if it found nothing.
func (c *channelChain) query(contractName, method string, args, out any) (bool, error) {
	raw, err := c.ch.App.QueryContract(contractName, method, canon.MustMarshal(args))
	if txerr.CodeOf(err) == txerr.NotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, canon.Unmarshal(raw, out)
}

func (c *channelChain) Stream(name string) (*audit.Stream, error) {
	var s audit.Stream
	if ok, err := c.query(audit.Name, "stream", map[string]string{"stream": name}, &s); !ok || err != nil {
		return nil, err
	}
	return &s, nil
}

func (c *channelChain) Batch(stream string, first uint64) (*audit.Batch, error) {
	var b audit.Batch
	args := struct {
		Stream   string `cbor:"stream"`
		FirstSeq uint64 `cbor:"first_seq,omitempty"`
	}{stream, first}
	if ok, err := c.query(audit.Name, "batch", args, &b); !ok || err != nil {
		return nil, err
	}
	return &b, nil
}

func (c *channelChain) Orgs() ([]string, error) {
	raw, err := c.ch.App.QueryContract(registry.Name, "orgs", nil)
	if err != nil {
		return nil, err
	}
	var list []registry.Org
	if err := canon.Unmarshal(raw, &list); err != nil {
		return nil, err
	}
	var out []string
	for _, o := range list {
		out = append(out, o.Name)
	}
	return out, nil
}

func (c *channelChain) Member(fp identity.Fingerprint) (*identity.Member, bool, error) {
	return c.ch.App.Certificate(fp)
}

func (c *channelChain) CertRecord(fp identity.Fingerprint) (*registry.Cert, error) {
	return c.ch.App.CertRecord(fp)
}

func (c *channelChain) ProveTx(ctx context.Context, id envelope.ID) (*ledger.TxProof, error) {
	return c.ch.ProveTx(ctx, id)
}

func (c *channelChain) Subscribe(buf int) (<-chan *ledger.Block, func()) { return c.ch.Subscribe(buf) }

func (c *channelChain) Height() int64 {
	h, _ := c.ch.App.Height()
	return h
}

func (c *channelChain) Query(contractName, method string, args, out any) (bool, error) {
	return c.query(contractName, method, args, out)
}

func (c *channelChain) BlockTxs(height int64) ([][]byte, error) {
	b, err := c.ch.Block(height)
	if err != nil {
		return nil, err
	}
	txs := make([][]byte, len(b.Txs))
	for i, tx := range b.Txs {
		txs[i] = tx
	}
	return txs, nil
}
