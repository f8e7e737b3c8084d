// Package condition is paper 000's "Maintenance Contract" (Algorithms 3-5):
// it holds hashed qualitative conditions and acts when a sender submits a
// matching hash, without ever seeing the raw value or even the label.
//
// The party interested in a condition (e.g. the machine manufacturer)
// registers H = Hash(label, salt) for a label such as "Maintenance
// imminent", with a salt it shares only with the data sender. The sender's
// DCMB maps a raw value to a label, hashes it the same way and submits the
// hash; on a match the contract emits an event addressed to the registering
// org with the condition's importance. The chain sees only hashes; a
// non-matching submission reveals nothing but its hash.
package condition

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"unicode/utf8"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/txerr"
)

// Name is the contract's name.
const Name = "condition"

const pCond = "c/"

// hashDomain separates label commitments from every other SHA-256 sealnet
// computes. v1 hashed salt || label without lengths, so ("ab", "c") and
// ("a", "bc") collided; v2 prefixes each with its length.
const hashDomain = "sealnet/label/v2\x00"

// Hash is a label's commitment:
//
//	SHA-256("sealnet/label/v2\0" || u32be(len(salt)) || salt || u32be(len(label)) || label)
//
// Salt and label are each prefixed with their length, so no two distinct
// (salt, label) pairs hash the same input. Frozen by
// docs/vectors/condition.json.
func Hash(label string, salt []byte) []byte {
	h := sha256.New()
	h.Write([]byte(hashDomain))
	h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(salt))))
	h.Write(salt)
	h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(label))))
	h.Write([]byte(label))
	return h.Sum(nil)
}

// Condition is a registered hashed condition.
type Condition struct {
	ID         string `cbor:"id" json:"id"`
	Hash       string `cbor:"hash" json:"hash"` // hex
	Org        string `cbor:"org" json:"org"`   // notified on a match
	Importance string `cbor:"importance" json:"importance"`
	Sender     string `cbor:"sender,omitempty" json:"sender,omitempty"` // only this org may trigger it ("" anyone)
	Matches    uint64 `cbor:"matches" json:"matches"`
}

// RegisterArgs registers a condition for the caller's org.
type RegisterArgs struct {
	ID         string `cbor:"id"`
	Hash       []byte `cbor:"hash"`
	Importance string `cbor:"importance"`
	Sender     string `cbor:"sender,omitempty"`
}

// SubmitArgs submits a hashed label against a condition.
type SubmitArgs struct {
	ID   string `cbor:"id"`
	Hash []byte `cbor:"hash"`
}

// Contract is the condition contract.
type Contract struct{}

// New returns the contract.
func New() Contract { return Contract{} }

// Name implements contract.Contract.
func (Contract) Name() string { return Name }

// Methods implements contract.Contract.
func (c Contract) Methods() map[string]contract.Method {
	return map[string]contract.Method{
		"register": {Roles: []identity.Role{identity.RoleAdmin, identity.RoleClient}, Run: c.register},
		"submit":   {Roles: []identity.Role{identity.RoleNode, identity.RoleClient, identity.RoleAdmin}, Run: c.submit},
	}
}

func key(id string) []byte { return append(append([]byte{}, pCond...), id...) }

func load(st contract.State, id string) (*Condition, error) {
	raw, err := st.Get(key(id))
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, txerr.New(txerr.NotFound, "no condition %q", id)
	}
	var cd Condition
	if err := canon.Unmarshal(raw, &cd); err != nil {
		return nil, txerr.New(txerr.Internal, "condition record: %v", err)
	}
	return &cd, nil
}

func (c Contract) register(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a RegisterArgs
	if err := contract.DecodeArgs("register", raw, &a); err != nil {
		return nil, err
	}
	if a.ID == "" || len(a.ID) > 64 || !utf8.ValidString(a.ID) {
		return nil, txerr.New(txerr.BadArgs, "register: id must be 1-64 bytes of UTF-8")
	}
	if len(a.Hash) != 32 {
		return nil, txerr.New(txerr.BadArgs, "register: hash is %d bytes, want 32", len(a.Hash))
	}
	if len(a.Importance) > 32 {
		return nil, txerr.New(txerr.BadArgs, "register: importance longer than 32 bytes")
	}
	if old, _ := st.Get(key(a.ID)); old != nil {
		return nil, txerr.New(txerr.Rejected, "register: condition %q exists", a.ID)
	}
	cd := Condition{ID: a.ID, Hash: hex.EncodeToString(a.Hash), Org: ctx.Caller.Org, Importance: a.Importance, Sender: a.Sender}
	if err := st.Set(key(a.ID), canon.MustMarshal(cd)); err != nil {
		return nil, err
	}
	return contract.Result(cd)
}

// submit matches a hashed label. A mismatch is not an error: the sender
// learns nothing it did not know, and the result only says matched or not.
func (c Contract) submit(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a SubmitArgs
	if err := contract.DecodeArgs("submit", raw, &a); err != nil {
		return nil, err
	}
	if len(a.Hash) != 32 {
		return nil, txerr.New(txerr.BadArgs, "submit: hash is %d bytes, want 32", len(a.Hash))
	}
	cd, err := load(st, a.ID)
	if err != nil {
		return nil, err
	}
	if cd.Sender != "" && cd.Sender != ctx.Caller.Org {
		return nil, txerr.New(txerr.RoleDenied, "submit: condition %q accepts submissions from %s only", a.ID, cd.Sender)
	}
	matched := hex.EncodeToString(a.Hash) == cd.Hash
	if matched {
		cd.Matches++
		if err := st.Set(key(a.ID), canon.MustMarshal(cd)); err != nil {
			return nil, err
		}
		ctx.Emit("condition_met", cd.Org, contract.Attr{Key: "condition", Value: cd.ID},
			contract.Attr{Key: "importance", Value: cd.Importance}, contract.Attr{Key: "from", Value: ctx.Caller.Org})
	}
	return contract.Result(map[string]any{"condition": cd.ID, "matched": matched})
}

// Query implements contract.Contract: "get" a condition by id.
func (c Contract) Query(st contract.State, method string, raw []byte) ([]byte, error) {
	if method != "get" {
		return nil, txerr.New(txerr.UnknownMethod, "condition has no query %q", method)
	}
	var a struct {
		ID string `cbor:"id"`
	}
	if err := contract.DecodeArgs("get", raw, &a); err != nil {
		return nil, err
	}
	cd, err := load(st, a.ID)
	if err != nil {
		return nil, err
	}
	return contract.Result(cd)
}
