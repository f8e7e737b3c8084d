package payment

import (
	"context"
	"time"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract/compute"
	"github.com/sealnet/sealnet/contract/paych"
	"github.com/sealnet/sealnet/envelope"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/ledger"
	"github.com/sealnet/sealnet/txerr"
)

// Ledger is what the service reads from the chains the node hosts, as
// they committed, and what it submits to them.
type Ledger interface {
	// Channel returns payment channel id (64 hex digits) on chain.
	Channel(chain, id string) (*paych.Channel, error)
	// Channels lists an org's channels on chain (paych's "channels").
	Channels(chain string, a paych.ListArgs) (*paych.List, error)
	// Job returns compute job id on chain.
	Job(chain, id string) (*compute.Job, error)
	// Height returns chain's last committed height.
	Height(chain string) (int64, error)
	// Submit signs a call as the node, submits it and waits for its
	// block; a refusal is an error carrying its code.
	Submit(ctx context.Context, chain, contract, method string, args any) ([]byte, error)
}

// Chains are the channels (chains) a node hosts.
type Chains interface {
	Channel(name string) (*ledger.Channel, error)
}

// NodeLedger is the Ledger of a node's hosted chains, signing as id.
func NodeLedger(chains Chains, id *identity.Identity) Ledger {
	return &nodeLedger{chains: chains, id: id}
}

type nodeLedger struct {
	chains Chains
	id     *identity.Identity
}

func (l *nodeLedger) query(chain, contractName, method string, args, out any) error {
	ch, err := l.chains.Channel(chain)
	if err != nil {
		return err
	}
	raw, err := ch.App.QueryContract(contractName, method, canon.MustMarshal(args))
	if err != nil {
		return err
	}
	if err := canon.Unmarshal(raw, out); err != nil {
		return txerr.New(txerr.Internal, "%s.%s: %v", contractName, method, err)
	}
	return nil
}

func (l *nodeLedger) Channel(chain, id string) (*paych.Channel, error) {
	var c paych.Channel
	return &c, l.query(chain, paych.Name, "channel", paych.ChannelArgs{Channel: id}, &c)
}

func (l *nodeLedger) Channels(chain string, a paych.ListArgs) (*paych.List, error) {
	var out paych.List
	return &out, l.query(chain, paych.Name, "channels", a, &out)
}

func (l *nodeLedger) Job(chain, id string) (*compute.Job, error) {
	var j compute.Job
	return &j, l.query(chain, compute.Name, "job", compute.JobArgs{Job: id}, &j)
}

func (l *nodeLedger) Height(chain string) (int64, error) {
	ch, err := l.chains.Channel(chain)
	if err != nil {
		return 0, err
	}
	h, _ := ch.App.Height()
	return h, nil
}

func (l *nodeLedger) Submit(ctx context.Context, chain, contractName, method string, args any) ([]byte, error) {
	ch, err := l.chains.Channel(chain)
	if err != nil {
		return nil, err
	}
	raw, err := envelope.SignCall(l.id, chain, contractName, method, args, time.Now())
	if err != nil {
		return nil, err
	}
	r, err := ch.Submit(ctx, raw)
	if err != nil {
		return nil, err
	}
	if r.Code != txerr.OK {
		return nil, &txerr.Error{Code: r.Code, Msg: r.Log}
	}
	return r.Data, nil
}
