package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	dbm "github.com/cometbft/cometbft-db"
	"github.com/cometbft/cometbft/types"

	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/envelope"
	"github.com/sealnet/sealnet/txerr"
)

// Channel is one running channel: its application, its CometBFT node and
// the subscribers to its committed blocks.
type Channel struct {
	Name string
	App  *App
	Host *Host
	db   dbm.DB

	mu   sync.Mutex
	subs map[chan *Block]struct{}
}

// OpenChannel opens the channel's database and starts its node, running
// contracts (see NewApp).
func OpenChannel(name string, c ChainConfig, contracts []contract.Contract, log *slog.Logger) (*Channel, error) {
	db, err := OpenAppDB(c.Home)
	if err != nil {
		return nil, fmt.Errorf("channel %s: %w", name, err)
	}
	app, err := NewApp(db, contracts, log.With("channel", name))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("channel %s: %w", name, err)
	}
	if tau := app.Params().Tau(); tau > 0 && (c.EmptyBlocks <= 0 || c.EmptyBlocks > tau/2) {
		// Block time is the previous commit's time: after a long idle
		// stretch it lags the clock, and fresh transactions would look
		// further than tau in the future.
		db.Close()
		return nil, fmt.Errorf("channel %s: empty blocks every %s do not fit the timestamp window %s: want 1s to %s", name, c.EmptyBlocks, tau, tau/2)
	}
	ch := &Channel{Name: name, App: app, Host: NewHost(), db: db, subs: map[chan *Block]struct{}{}}
	ch.Host.OnFailure = func(err error) { app.fail(err) }
	app.OnCommit(func(b *Block) {
		for _, r := range b.Txs {
			ch.Host.Committed(r)
		}
		ch.publish(b)
	})
	if err := ch.Host.Start(c, app, log.With("channel", name)); err != nil {
		ch.Host.Stop()
		db.Close()
		return nil, fmt.Errorf("channel %s: %w", name, err)
	}
	if p := app.Params(); p.Channel != "" && p.Channel != name {
		ch.Close()
		return nil, fmt.Errorf("channel %s: its database belongs to channel %q", name, p.Channel)
	}
	return ch, nil
}

// Close stops the node and closes the database.
func (c *Channel) Close() error {
	c.App.closing.Store(true)
	err := c.Host.Stop()
	c.mu.Lock()
	for s := range c.subs {
		close(s)
		delete(c.subs, s)
	}
	c.mu.Unlock()
	return errors.Join(err, c.db.Close())
}

// Submit verifies raw, submits it and waits for its block. A transaction
// already committed returns its recorded result.
func (c *Channel) Submit(ctx context.Context, raw []byte) (*TxResult, error) {
	if _, err := c.App.PreVerify(raw); err != nil {
		return nil, err
	}
	r, err := c.Host.Submit(ctx, raw)
	return c.committedDuplicate(raw, r, err)
}

// SubmitMany submits a batch (see Host.SubmitMany): every transaction is
// checked exactly as by Submit, the signatures on all cores at once, and
// each outcome is what Submit would have returned for it.
func (c *Channel) SubmitMany(ctx context.Context, txs [][]byte) []Submitted {
	out := c.Host.SubmitMany(ctx, txs, func(raw []byte) error {
		_, err := c.App.PreVerify(raw)
		return err
	})
	for i := range out {
		out[i].Result, out[i].Err = c.committedDuplicate(txs[i], out[i].Result, out[i].Err)
	}
	return out
}

// committedDuplicate turns the mempool's refusal of a transaction already
// committed into its recorded result.
func (c *Channel) committedDuplicate(raw []byte, r *TxResult, err error) (*TxResult, error) {
	if txerr.CodeOf(err) == txerr.Duplicate {
		if done, lerr := c.App.TxResult(envelope.IDOf(raw)); lerr == nil {
			return done, nil
		}
	}
	return r, err
}

// Subscribe returns a channel of committed blocks. A subscriber that falls
// behind by more than buf blocks is dropped (its channel closed) rather than
// stalling consensus; it can resume from the tx index with App.Results.
func (c *Channel) Subscribe(buf int) (<-chan *Block, func()) {
	s := make(chan *Block, buf)
	c.mu.Lock()
	c.subs[s] = struct{}{}
	c.mu.Unlock()
	return s, func() {
		c.mu.Lock()
		if _, ok := c.subs[s]; ok {
			delete(c.subs, s)
			close(s)
		}
		c.mu.Unlock()
	}
}

func (c *Channel) publish(b *Block) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for s := range c.subs {
		select {
		case s <- b:
		default:
			delete(c.subs, s)
			close(s)
		}
	}
}

// Tx returns a committed transaction's bytes and result.
func (c *Channel) Tx(id envelope.ID) ([]byte, *TxResult, error) {
	r, err := c.App.TxResult(id)
	if err != nil {
		return nil, nil, err
	}
	b, err := c.Host.Block(r.Height)
	if err != nil {
		return nil, nil, err
	}
	if r.Index >= len(b.Txs) {
		return nil, nil, txerr.New(txerr.Internal, "block %d has no transaction %d", r.Height, r.Index)
	}
	return b.Txs[r.Index], r, nil
}

// Block returns a committed block.
func (c *Channel) Block(height int64) (*types.Block, error) { return c.Host.Block(height) }
