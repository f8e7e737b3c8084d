package ledger

import (
	"testing"

	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/txerr"
)

// vault writes, then refuses; shop writes, calls it and carries on as if
// nothing failed, in a transaction and at the end of every block.
type vault struct{}

func (vault) Name() string { return "vault" }
func (vault) Methods() map[string]contract.Method {
	return map[string]contract.Method{
		"take": {Callers: []string{"shop"}, Run: func(ctx *contract.Context, st contract.State, _ []byte) ([]byte, error) {
			st.Set([]byte("taken"), []byte{1})
			ctx.Emit("taken", "")
			return nil, txerr.New(txerr.Rejected, "the vault is shut")
		}},
		"peek": {Callers: []string{"shop"}, Run: func(ctx *contract.Context, st contract.State, _ []byte) ([]byte, error) {
			if ctx.Caller.Via != "shop" || ctx.Caller.Key == nil || ctx.Caller.ID != "admin" {
				return nil, txerr.New(txerr.Internal, "caller %+v", ctx.Caller)
			}
			return []byte{7}, st.Set([]byte("peeked"), []byte{1})
		}},
	}
}
func (vault) Query(st contract.State, _ string, key []byte) ([]byte, error) { return st.Get(key) }

type shop struct{ atEnd bool }

func (shop) Name() string { return "shop" }
func (s shop) Methods() map[string]contract.Method {
	return map[string]contract.Method{
		"buy": {Roles: []identity.Role{identity.RoleAdmin}, Run: func(ctx *contract.Context, st contract.State, args []byte) ([]byte, error) {
			st.Set([]byte("bought"), []byte{1})
			if _, err := ctx.Call("vault", "peek", nil); err != nil {
				return nil, err
			}
			if string(args) == string([]byte{0xf5}) { // true: also try to take
				ctx.Call("vault", "take", nil)
			}
			return nil, nil
		}},
	}
}
func (shop) Query(st contract.State, _ string, key []byte) ([]byte, error) { return st.Get(key) }
func (s shop) EndBlock(ctx *contract.Context, st contract.State) error {
	if !s.atEnd {
		return nil
	}
	st.Set([]byte("ended"), []byte{1})
	ctx.Call("vault", "take", nil)
	return nil
}

func has(t *testing.T, c *chainT, name, key string) bool {
	t.Helper()
	v, err := c.app.QueryContract(name, "", []byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return v != nil
}

// A call between contracts writes into the caller's transaction; a call
// that fails fails the whole transaction, even if the calling contract
// ignored the error, and so does the end-of-block work.
func TestCallsBetweenContracts(t *testing.T) {
	c := newChain(t)
	c.app.register(vault{})
	c.app.register(shop{})
	r := c.block(c.sign(c.admin, "shop", "buy", false))[0]
	c.expect(r, txerr.OK)
	if !has(t, c, "shop", "bought") || !has(t, c, "vault", "peeked") {
		t.Fatal("the calls' writes were not committed")
	}

	c2 := newChain(t)
	c2.app.register(vault{})
	c2.app.register(shop{})
	r = c2.block(c2.sign(c2.admin, "shop", "buy", true))[0]
	c2.expect(r, txerr.Rejected)
	if r.Log != "the vault is shut" || len(r.Events) != 0 {
		t.Fatalf("result %+v", r)
	}
	if has(t, c2, "shop", "bought") || has(t, c2, "vault", "peeked") || has(t, c2, "vault", "taken") {
		t.Fatal("a failed transaction's writes were committed")
	}

	c2.app.register(shop{atEnd: true})
	c2.block()
	if has(t, c2, "shop", "ended") || has(t, c2, "vault", "taken") {
		t.Fatal("failed end-of-block work was committed")
	}
	// members cannot call a method only contracts may call
	c2.expect(c2.block(c2.sign(c2.admin, "vault", "peek", nil))[0], txerr.RoleDenied)
}
