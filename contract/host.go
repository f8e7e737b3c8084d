package contract

import (
	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/txerr"
)

// Host is the runtime's side of a Context: the other contracts' state and
// methods, as the current transaction sees them (the writes of the
// transactions before it in the block, and its own, included). The ledger
// supplies it; a Context without one reads and calls nothing.
type Host interface {
	// State is contract name's state in the current transaction's layer.
	State(name string) State
	// Method is a registered contract's method.
	Method(name, method string) (Method, bool)
}

// MaxCallDepth bounds how deeply contracts call one another through Call.
const MaxCallDepth = 4

// WithHost attaches the runtime's host to c and returns c.
func (c *Context) WithHost(h Host) *Context {
	c.host = h
	return c
}

// Read returns contract name's state as this call sees it, for reading
// only: its Set and Delete fail. A contract reads another's state only
// through that contract's exported accessors (registry.Orgs, ...), which
// document the keys they read, never by its raw key layout.
func (c *Context) Read(name string) State {
	if c.host == nil {
		return readOnly{name: name, reader: c.contract}
	}
	return readOnly{State: c.host.State(name), name: name, reader: c.contract}
}

// Call runs contract name's method with args (encoded canonically) on
// behalf of this call's caller, in the same transaction: its writes and
// events join this call's, and fail with it. The callee must list this
// contract in the method's Callers.
//
// A failed call fails the whole transaction, even if the calling contract
// carries on: the runtime checks Err after the contract returns, so a
// callee's partial writes can never be committed. Calls nest up to
// MaxCallDepth.
func (c *Context) Call(name, method string, args any) ([]byte, error) {
	out, err := c.call(name, method, args)
	if err != nil && c.failed == nil {
		c.failed = err
	}
	return out, err
}

func (c *Context) call(name, method string, args any) ([]byte, error) {
	if c.host == nil {
		return nil, txerr.New(txerr.Internal, "%s cannot call %s.%s: no runtime host", c.contract, name, method)
	}
	if c.depth >= MaxCallDepth {
		return nil, txerr.New(txerr.Rejected, "%s cannot call %s.%s: calls nest deeper than %d", c.contract, name, method, MaxCallDepth)
	}
	m, ok := c.host.Method(name, method)
	if !ok {
		return nil, txerr.New(txerr.UnknownMethod, "%s calls %s.%s, which does not exist", c.contract, name, method)
	}
	if !m.AllowsCaller(c.contract) {
		return nil, txerr.New(txerr.RoleDenied, "contract %s may not call %s.%s", c.contract, name, method)
	}
	raw, err := canon.Marshal(args)
	if err != nil {
		return nil, txerr.New(txerr.Internal, "%s calls %s.%s: encode arguments: %v", c.contract, name, method, err)
	}
	caller := c.Caller
	caller.Via = c.contract
	sub := &Context{Caller: caller, Channel: c.Channel, Height: c.Height, Time: c.Time, TxID: c.TxID,
		Signature: c.Signature, contract: name, host: c.host, depth: c.depth + 1}
	out, err := m.Run(sub, c.host.State(name), raw)
	if err == nil {
		err = sub.failed
	}
	if err != nil {
		return nil, err
	}
	c.events = append(c.events, sub.events...)
	return out, nil
}

// Err is the first error of a call this context made through Call. The
// runtime fails the transaction (or drops the end-of-block work) with it
// even when the contract returned no error.
func (c *Context) Err() error { return c.failed }

// readOnly is another contract's state, for reading.
type readOnly struct {
	State
	name, reader string
}

func (r readOnly) Get(key []byte) ([]byte, error) {
	if r.State == nil {
		return nil, r.none()
	}
	return r.State.Get(key)
}

func (r readOnly) Iterate(prefix []byte, fn func(key, value []byte) bool) error {
	if r.State == nil {
		return r.none()
	}
	return r.State.Iterate(prefix, fn)
}

func (r readOnly) Set([]byte, []byte) error {
	return txerr.New(txerr.Internal, "%s wrote to the state of %s, which it may only read", r.reader, r.name)
}

func (r readOnly) Delete([]byte) error {
	return txerr.New(txerr.Internal, "%s deleted from the state of %s, which it may only read", r.reader, r.name)
}

func (r readOnly) none() error {
	return txerr.New(txerr.Internal, "%s cannot read %s: no runtime host", r.reader, r.name)
}
