package contract

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/txerr"
)

var blockTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// memState is a State in a map, for tests.
type memState map[string][]byte

func (m memState) Get(k []byte) ([]byte, error) { return m[string(k)], nil }
func (m memState) Set(k, v []byte) error        { m[string(k)] = v; return nil }
func (m memState) Delete(k []byte) error        { delete(m, string(k)); return nil }
func (m memState) Iterate(p []byte, fn func(k, v []byte) bool) error {
	var keys []string
	for k := range m {
		if strings.HasPrefix(k, string(p)) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !fn([]byte(k), m[k]) {
			break
		}
	}
	return nil
}

type testHost struct {
	states  map[string]memState
	methods map[string]map[string]Method
}

func (h testHost) State(name string) State {
	if h.states[name] == nil {
		h.states[name] = memState{}
	}
	return h.states[name]
}

func (h testHost) Method(name, method string) (Method, bool) {
	m, ok := h.methods[name][method]
	return m, ok
}

// A bank that a "shop" contract may call: add writes, fail writes and
// then fails, deeper calls itself.
func newTestHost() testHost {
	h := testHost{states: map[string]memState{}, methods: map[string]map[string]Method{}}
	h.methods["bank"] = map[string]Method{
		"add": {Callers: []string{"shop"}, Run: func(ctx *Context, st State, args []byte) ([]byte, error) {
			ctx.Emit("added", "", Attr{Key: "via", Value: ctx.Caller.Via}, Attr{Key: "by", Value: ctx.Caller.ID})
			return args, st.Set([]byte("k"), args)
		}},
		"fail": {Callers: []string{"shop"}, Run: func(ctx *Context, st State, args []byte) ([]byte, error) {
			ctx.Emit("lost", "")
			st.Set([]byte("half"), []byte{1})
			return nil, txerr.New(txerr.Rejected, "no")
		}},
		"members": {Run: func(*Context, State, []byte) ([]byte, error) { return nil, nil }},
		"loop": {Callers: []string{"shop", "bank"}, Run: func(ctx *Context, _ State, _ []byte) ([]byte, error) {
			return ctx.Call("bank", "loop", nil)
		}},
	}
	return h
}

func TestCallJoinsTheCallersWritesAndEvents(t *testing.T) {
	h := newTestHost()
	ctx := NewContext("shop", Caller{ID: "alice", Org: "org1"}, "default", 7, blockTime, [32]byte{1}, nil).WithHost(h)
	ctx.Emit("before", "")
	out, err := ctx.Call("bank", "add", "x")
	if err != nil || string(out) != string(canon.MustMarshal("x")) {
		t.Fatalf("call: %x, %v", out, err)
	}
	if string(h.states["bank"]["k"]) != string(canon.MustMarshal("x")) {
		t.Fatal("the callee's write is not in its state")
	}
	evs := ctx.Events()
	if len(evs) != 2 || evs[0].Type != "before" || evs[1].Contract != "bank" || evs[1].Attrs[0].Value != "shop" || evs[1].Attrs[1].Value != "alice" {
		t.Fatalf("events %+v", evs)
	}
	if ctx.Err() != nil {
		t.Fatal(ctx.Err())
	}
}

func TestAFailedCallFailsTheTransaction(t *testing.T) {
	h := newTestHost()
	ctx := NewContext("shop", Caller{ID: "alice"}, "default", 1, blockTime, [32]byte{}, nil).WithHost(h)
	if _, err := ctx.Call("bank", "fail", nil); txerr.CodeOf(err) != txerr.Rejected {
		t.Fatalf("call: %v", err)
	}
	// the shop carries on as if nothing happened; the runtime still fails it
	if _, err := ctx.Call("bank", "add", "y"); err != nil {
		t.Fatal(err)
	}
	if txerr.CodeOf(ctx.Err()) != txerr.Rejected || !strings.Contains(ctx.Err().Error(), "no") {
		t.Fatalf("Err = %v, want the first failure", ctx.Err())
	}
	for _, e := range ctx.Events() {
		if e.Type == "lost" {
			t.Fatal("a failed call's events joined the caller's")
		}
	}
}

func TestCallsAreChecked(t *testing.T) {
	h := newTestHost()
	for _, c := range []struct {
		from, contract, method string
		code                   txerr.Code
	}{
		{"intruder", "bank", "add", txerr.RoleDenied},
		{"shop", "bank", "members", txerr.RoleDenied},
		{"shop", "bank", "nothing", txerr.UnknownMethod},
		{"shop", "bank", "loop", txerr.Rejected},
	} {
		ctx := NewContext(c.from, Caller{}, "default", 1, blockTime, [32]byte{}, nil).WithHost(h)
		if _, err := ctx.Call(c.contract, c.method, nil); txerr.CodeOf(err) != c.code {
			t.Errorf("%s calls %s.%s: %v, want %s", c.from, c.contract, c.method, err, c.code)
		}
	}
	ctx := NewContext("shop", Caller{}, "default", 1, blockTime, [32]byte{}, nil)
	if _, err := ctx.Call("bank", "add", nil); txerr.CodeOf(err) != txerr.Internal {
		t.Errorf("a call without a host: %v", err)
	}
}

func TestReadIsReadOnly(t *testing.T) {
	h := newTestHost()
	h.State("bank").Set([]byte("k"), []byte("v"))
	ctx := NewContext("shop", Caller{}, "default", 1, blockTime, [32]byte{}, nil).WithHost(h)
	st := ctx.Read("bank")
	if v, _ := st.Get([]byte("k")); string(v) != "v" {
		t.Fatalf("read %q", v)
	}
	n := 0
	st.Iterate(nil, func(_, _ []byte) bool { n++; return true })
	if n != 1 {
		t.Fatalf("iterated %d keys", n)
	}
	if err := st.Set([]byte("k"), nil); err == nil {
		t.Fatal("wrote through a read-only view")
	}
	if err := st.Delete([]byte("k")); err == nil {
		t.Fatal("deleted through a read-only view")
	}
	if _, err := NewContext("shop", Caller{}, "default", 1, blockTime, [32]byte{}, nil).Read("bank").Get([]byte("k")); err == nil {
		t.Fatal("read without a host")
	}
}
