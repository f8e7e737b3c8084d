package contracttest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"

	dbm "github.com/cometbft/cometbft-db"
	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/contract/builtin"
	"github.com/sealnet/sealnet/ledger"
)

// twins are the two applications a scenario runs on: one that runs all
// along, and one that is opened from its database for every step and
// closed after it, as a node restarted at every height would be.
type twins struct {
	running     *ledger.App
	runningDB   dbm.DB
	runningLast *ledger.Block
	dir         string                     // the restarted application's database
	extra       func() []contract.Contract // contracts beyond the ledger's own, made afresh for each application
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTwins(dir string, extra func() []contract.Contract) (*twins, error) {
	tw := &twins{runningDB: dbm.NewMemDB(), dir: dir, extra: extra}
	app, err := tw.open(tw.runningDB)
	if err != nil {
		return nil, err
	}
	tw.running = app
	app.OnCommit(func(b *ledger.Block) { tw.runningLast = b })
	return tw, nil
}

func (tw *twins) open(db dbm.DB) (*ledger.App, error) {
	var extra []contract.Contract
	if tw.extra != nil {
		extra = tw.extra()
	}
	return ledger.NewApp(db, withExtra(builtin.Contracts(), extra), quiet())
}

func (tw *twins) close() error { return tw.runningDB.Close() }

// restarted opens the restarted application, runs fn on it and closes it.
// Its database is goleveldb with default options (the node's larger write
// buffer only costs time here).
func (tw *twins) restarted(fn func(app *ledger.App) error) error {
	db, err := dbm.NewGoLevelDB("app", tw.dir)
	if err != nil {
		return err
	}
	app, err := tw.open(db)
	if err != nil {
		db.Close()
		return fmt.Errorf("reopen: %w", err)
	}
	err = fn(app)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

// initChain runs InitChain on both applications. A genesis both refuse
// alike is returned as refused; any disagreement is an error.
func (tw *twins) initChain(req *abci.RequestInitChain) (refused, err error) {
	a, errA := tw.running.InitChain(context.Background(), req)
	var b *abci.ResponseInitChain
	var errB error
	if err := tw.restarted(func(app *ledger.App) error {
		b, errB = app.InitChain(context.Background(), req)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("restarted node: %w", err)
	}
	switch {
	case errA != nil || errB != nil:
		if fmt.Sprint(errA) != fmt.Sprint(errB) {
			return nil, fmt.Errorf("genesis: running node %v, restarted node %v", errA, errB)
		}
		return errA, nil
	case !bytes.Equal(a.AppHash, b.AppHash):
		return nil, fmt.Errorf("genesis app hashes differ: running %x, restarted %x", a.AppHash, b.AppHash)
	}
	return nil, nil
}

// outcome is what one application made of a block.
type outcome struct {
	resp      *abci.ResponseFinalizeBlock
	block     *ledger.Block
	height    int64
	committed []byte // app hash reported after Commit
}

func finalize(app *ledger.App, req *abci.RequestFinalizeBlock, last func() *ledger.Block) (*outcome, error) {
	resp, err := app.FinalizeBlock(context.Background(), req)
	if err != nil {
		return nil, fmt.Errorf("finalize block %d: %w", req.Height, err)
	}
	if _, err := app.Commit(context.Background(), &abci.RequestCommit{}); err != nil {
		return nil, fmt.Errorf("commit block %d: %w", req.Height, err)
	}
	o := &outcome{resp: resp, block: last()}
	o.height, o.committed = app.Height()
	if o.block == nil || o.block.Height != req.Height {
		return nil, fmt.Errorf("block %d: no committed block reported", req.Height)
	}
	return o, nil
}

// block runs one block on both applications and fails if they disagree
// on anything: app hash, result codes, logs, data or events.
func (tw *twins) block(req *abci.RequestFinalizeBlock) (*ledger.Block, error) {
	tw.runningLast = nil
	a, err := finalize(tw.running, req, func() *ledger.Block { return tw.runningLast })
	if err != nil {
		return nil, fmt.Errorf("running node: %w", err)
	}
	var b *outcome
	if err := tw.restarted(func(app *ledger.App) error {
		var last *ledger.Block
		app.OnCommit(func(blk *ledger.Block) { last = blk })
		if h, _ := app.Height(); h != req.Height-1 {
			return fmt.Errorf("reopened at height %d, want %d", h, req.Height-1)
		}
		var err error
		b, err = finalize(app, req, func() *ledger.Block { return last })
		return err
	}); err != nil {
		return nil, fmt.Errorf("restarted node: %w", err)
	}
	if err := compare(a, b); err != nil {
		return nil, fmt.Errorf("height %d: %w", req.Height, err)
	}
	return a.block, nil
}

// compare reports the first difference between two applications' outcomes
// of the same block.
func compare(a, b *outcome) error {
	if !bytes.Equal(a.resp.AppHash, b.resp.AppHash) {
		return fmt.Errorf("app hashes differ: running %x, restarted %x%s", a.resp.AppHash, b.resp.AppHash, firstTxDiff(a, b))
	}
	if a.height != b.height || !bytes.Equal(a.committed, b.committed) {
		return fmt.Errorf("committed state differs: running %d %x, restarted %d %x", a.height, a.committed, b.height, b.committed)
	}
	if d := firstTxDiff(a, b); d != "" {
		return fmt.Errorf("results differ%s", d)
	}
	if ea, eb := canon.MustMarshal(a.block.Events), canon.MustMarshal(b.block.Events); !bytes.Equal(ea, eb) {
		return fmt.Errorf("end-of-block events differ: running %+v, restarted %+v", a.block.Events, b.block.Events)
	}
	return nil
}

func firstTxDiff(a, b *outcome) string {
	ra, rb := a.resp.TxResults, b.resp.TxResults
	if len(ra) != len(rb) || len(a.block.Txs) != len(b.block.Txs) {
		return fmt.Sprintf(": %d results on the running node, %d on the restarted one", len(ra), len(rb))
	}
	for i := range ra {
		x, y := ra[i], rb[i]
		if x.Code != y.Code || x.Log != y.Log || !bytes.Equal(x.Data, y.Data) {
			return fmt.Sprintf(": tx %d: running node %d %q %x, restarted node %d %q %x", i, x.Code, x.Log, x.Data, y.Code, y.Log, y.Data)
		}
		if ea, eb := canon.MustMarshal(a.block.Txs[i]), canon.MustMarshal(b.block.Txs[i]); !bytes.Equal(ea, eb) {
			return fmt.Sprintf(": tx %d: committed results differ: running %+v, restarted %+v", i, a.block.Txs[i], b.block.Txs[i])
		}
	}
	return ""
}

// query runs a read-only query on both applications; they must agree.
func (tw *twins) query(contractName, method string, args []byte) ([]byte, error, error) {
	outA, errA := tw.running.QueryContract(contractName, method, args)
	var outB []byte
	var errB error
	if err := tw.restarted(func(app *ledger.App) error {
		outB, errB = app.QueryContract(contractName, method, args)
		return nil
	}); err != nil {
		return nil, nil, fmt.Errorf("restarted node: %w", err)
	}
	if !bytes.Equal(outA, outB) || fmt.Sprint(errA) != fmt.Sprint(errB) {
		return nil, nil, fmt.Errorf("query %s.%s: running node %x %v, restarted node %x %v", contractName, method, outA, errA, outB, errB)
	}
	return outA, errA, nil
}

// withExtra returns the built-in contracts with those of extra added, a
// contract of extra replacing the built-in one of the same name.
func withExtra(builtin, extra []contract.Contract) []contract.Contract {
	out := make([]contract.Contract, 0, len(builtin)+len(extra))
	for _, c := range builtin {
		if !slices.ContainsFunc(extra, func(e contract.Contract) bool { return e.Name() == c.Name() }) {
			out = append(out, c)
		}
	}
	return append(out, extra...)
}
