// Package contract is sealnet's deterministic contract runtime: native Go
// contracts that are pure functions of (state, call, block context).
//
// A contract never reads a clock, randomness, the network or a map in
// iteration order: block time and height come from the Context, all state
// from the State it is given, and its writes and events are the only effects.
// That makes every node compute the same state and the same app hash, and
// lets contracts be tested without CometBFT: contracttest runs scenario
// files on a running and a restarted node at once, and purity_test.go
// refuses clocks, randomness, I/O and package-level state in the runtime and
// the contracts.
package contract

import (
	"crypto/ecdsa"
	"time"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/txerr"
)

// State is a contract's view of the channel's key-value state. Keys are
// private to the contract (the runtime prefixes them). Iterate visits keys in
// ascending byte order; fn returns false to stop.
type State interface {
	Reader
	Set(key, value []byte) error
	Delete(key []byte) error
}

// Reader is state that is only read: what accessors of another contract's
// records take (Context.Read's State is one).
type Reader interface {
	Get(key []byte) ([]byte, error)
	Iterate(prefix []byte, fn func(key, value []byte) bool) error
}

// Caller is the verified creator of a transaction.
type Caller struct {
	ID          string
	Org         string
	Role        identity.Role
	Fingerprint identity.Fingerprint
	// Key is the public key of the caller's certificate, the key its
	// signatures verify under (nil at the end of a block).
	Key *ecdsa.PublicKey
	// Via names the contract that called the method through Context.Call
	// on behalf of the member above; it is "" in a member's own call.
	Via string
}

// Attr is one event attribute. Events keep attributes in the order emitted.
type Attr struct {
	Key   string `cbor:"k" json:"key"`
	Value string `cbor:"v" json:"value"`
}

// Event is what a contract emits for subscribers. To names the org the
// event is addressed to ("" for everyone on the channel).
type Event struct {
	Contract string `cbor:"c" json:"contract"`
	Type     string `cbor:"t" json:"type"`
	To       string `cbor:"to,omitempty" json:"to,omitempty"`
	Attrs    []Attr `cbor:"a,omitempty" json:"attrs,omitempty"`
}

// Context is the block and transaction context of one call.
type Context struct {
	Caller    Caller
	Channel   string
	Height    int64
	Time      time.Time // block time from the header, never the local clock
	TxID      [32]byte
	Signature []byte // the envelope's signature (r||s), for the paper's h(r, s) records

	contract string
	events   []Event
	host     Host
	depth    int   // nesting of Context.Call
	failed   error // the first error of a call through Call
}

// NewContext returns a context for calling contract name.
func NewContext(name string, caller Caller, channel string, height int64, t time.Time, txID [32]byte, sig []byte) *Context {
	return &Context{Caller: caller, Channel: channel, Height: height, Time: t, TxID: txID, Signature: sig, contract: name}
}

// Emit records an event; it is published only if the transaction commits.
func (c *Context) Emit(typ, to string, attrs ...Attr) {
	c.events = append(c.events, Event{Contract: c.contract, Type: typ, To: to, Attrs: attrs})
}

// Events returns what the call emitted.
func (c *Context) Events() []Event { return c.events }

// Method is a state-changing entry point and the roles that may call it.
type Method struct {
	Roles []identity.Role
	// Callers names the contracts that may call the method from theirs
	// (Context.Call). Roles do not apply to such calls: the callee sees
	// the member on whose behalf it is called in Caller and the calling
	// contract in Caller.Via. A method without Callers takes no calls from
	// contracts.
	Callers []string
	Run     func(ctx *Context, st State, args []byte) (result []byte, err error)
}

// AllowsCaller reports whether contract name may call m.
func (m Method) AllowsCaller(name string) bool {
	for _, c := range m.Callers {
		if c == name {
			return true
		}
	}
	return false
}

// Allows reports whether role may call m.
func (m Method) Allows(role identity.Role) bool {
	for _, r := range m.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Contract is a named set of methods and read-only queries.
type Contract interface {
	Name() string
	Methods() map[string]Method
	// Query answers a read-only request from committed state. It is not
	// recorded on chain.
	Query(st State, method string, args []byte) ([]byte, error)
}

// EndBlocker is implemented by a contract that acts at the end of every
// block, after the block's transactions, without anyone's transaction:
// deadlines that pass, leases that run out. The ledger calls every
// EndBlocker in ascending order of contract name with a Context that has
// no caller, transaction ID or signature. Its writes and events count like
// a transaction's; if it returns an error they are dropped.
//
// EndBlock runs in every block, so it must cost little when nothing is
// due: index what is due by height and read only that.
type EndBlocker interface {
	EndBlock(ctx *Context, st State) error
}

// DecodeArgs decodes canonical CBOR arguments into v, or returns a BadArgs
// error naming the method.
func DecodeArgs(method string, args []byte, v any) error {
	if err := canon.Unmarshal(args, v); err != nil {
		return txerr.New(txerr.BadArgs, "%s: arguments do not decode: %v", method, shortErr(err))
	}
	return nil
}

// Result encodes a result value canonically.
func Result(v any) ([]byte, error) {
	b, err := canon.Marshal(v)
	if err != nil {
		return nil, txerr.New(txerr.Internal, "encode result: %v", err)
	}
	return b, nil
}

func shortErr(err error) string {
	s := err.Error()
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// List returns the canonical encoding of every record stored under prefix,
// decoded as T and trimmed by trim (may be nil), in key order.
func List[T any](st State, prefix []byte, trim func(*T)) ([]byte, error) {
	out := []T{}
	var derr error
	err := st.Iterate(prefix, func(_, v []byte) bool {
		var r T
		if derr = canon.Unmarshal(v, &r); derr != nil {
			return false
		}
		if trim != nil {
			trim(&r)
		}
		out = append(out, r)
		return true
	})
	if err == nil && derr != nil {
		err = txerr.New(txerr.Internal, "stored record: %v", derr)
	}
	if err != nil {
		return nil, err
	}
	return Result(out)
}
