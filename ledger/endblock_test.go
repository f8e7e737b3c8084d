package ledger

import (
	"encoding/binary"
	"errors"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/txerr"
)

// ticker counts blocks in its state at the end of each block; failOdd
// makes it fail in odd blocks after writing.
type ticker struct {
	name    string
	failOdd bool
}

func (t ticker) Name() string                        { return t.name }
func (t ticker) Methods() map[string]contract.Method { return map[string]contract.Method{} }
func (t ticker) Query(st contract.State, _ string, _ []byte) ([]byte, error) {
	v, err := st.Get([]byte("n"))
	if err != nil || v == nil {
		return nil, txerr.New(txerr.NotFound, "no count")
	}
	return v, nil
}

func (t ticker) EndBlock(ctx *contract.Context, st contract.State) error {
	var n uint64
	if v, _ := st.Get([]byte("n")); v != nil {
		n = binary.BigEndian.Uint64(v)
	}
	if err := st.Set([]byte("n"), binary.BigEndian.AppendUint64(nil, n+1)); err != nil {
		return err
	}
	ctx.Emit("tick", "", contract.Attr{Key: "height", Value: string(rune('0' + ctx.Height%10))})
	if t.failOdd && ctx.Height%2 == 1 {
		return errors.New("odd block")
	}
	return nil
}

func finalize(c *chainT) *abci.RequestFinalizeBlock {
	return &abci.RequestFinalizeBlock{Height: c.height, Time: c.now}
}

func count(t *testing.T, c *chainT, name string) uint64 {
	t.Helper()
	v, err := c.app.QueryContract(name, "", nil)
	if err != nil {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// EndBlockers run after the block's transactions, in contract-name order,
// without a transaction; their writes enter the app hash, and a failing
// one's writes and events are dropped.
func TestEndBlockers(t *testing.T) {
	first := newChain(t)
	chains := []*chainT{first, newChainFrom(t, first.ca, first.admin)}
	var events [][]contract.Event
	for _, c := range chains {
		c.app.register(ticker{name: "zeta"})
		c.app.register(ticker{name: "alpha", failOdd: true})
	}
	for h := 1; h <= 4; h++ {
		for i, c := range chains {
			c.height++
			c.now = c.now.Add(1e9)
			var got *Block
			c.app.listeners = nil
			c.app.OnCommit(func(b *Block) { got = b })
			if _, err := c.app.FinalizeBlock(t.Context(), finalize(c)); err != nil {
				t.Fatal(err)
			}
			if _, err := c.app.Commit(t.Context(), &abci.RequestCommit{}); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				events = append(events, got.Events)
			}
		}
		_, h0 := chains[0].app.Height()
		_, h1 := chains[1].app.Height()
		if string(h0) != string(h1) {
			t.Fatalf("block %d: app hashes differ", h)
		}
	}
	c := chains[0]
	if n := count(t, c, "zeta"); n != 4 {
		t.Fatalf("zeta ran %d times", n)
	}
	if n := count(t, c, "alpha"); n != 2 {
		t.Fatalf("alpha kept %d of its runs, want the 2 even blocks", n)
	}
	// odd blocks: zeta only; even blocks: alpha, then zeta
	for h, evs := range events {
		want := []string{"zeta"}
		if (h+1)%2 == 0 {
			want = []string{"alpha", "zeta"}
		}
		if len(evs) != len(want) {
			t.Fatalf("block %d: events %+v", h+1, evs)
		}
		for i, e := range evs {
			if e.Contract != want[i] || e.Type != "tick" {
				t.Fatalf("block %d: events %+v", h+1, evs)
			}
		}
	}
	// a state write at the end of a block changes the app hash of an
	// otherwise empty block
	_, before := c.app.Height()
	c.block()
	if _, after := c.app.Height(); string(after) == string(before) {
		t.Fatal("end-of-block writes left the app hash unchanged")
	}
}
