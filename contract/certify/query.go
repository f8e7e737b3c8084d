package certify

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/txerr"
)

// Answer says whether a module is certified for a channel and a purpose
// during a block, and if not, why.
type Answer struct {
	Certified bool   `cbor:"certified" json:"certified"`
	Channel   string `cbor:"channel" json:"channel"`
	Purpose   string `cbor:"purpose" json:"purpose"`
	Module    string `cbor:"module" json:"module"` // hex
	Height    int64  `cbor:"height" json:"height"`
	Name      string `cbor:"name,omitempty" json:"name,omitempty"` // the proposal that answers
	Version   uint64 `cbor:"version,omitempty" json:"version,omitempty"`
	State     string `cbor:"state,omitempty" json:"state,omitempty"` // its state in force at Height
	Reason    string `cbor:"reason,omitempty" json:"reason,omitempty"`
}

// Lookup answers "is the module with this hash certified for channel and
// purpose during block h?" from the certify contract's state r (its own,
// or another contract's view of it through Context.Read). The answer for
// a past h stays what it was: it is read from the modules' histories.
func Lookup(r contract.Reader, channel, purpose string, module []byte, h int64) (*Answer, error) {
	a := &Answer{Channel: channel, Purpose: purpose, Module: hex.EncodeToString(module), Height: h}
	var found []*Module
	var derr error
	err := r.Iterate(append([]byte(pByHash), module...), func(k, _ []byte) bool {
		rest := k[len(pByHash)+len(module):]
		if len(rest) < 9 {
			return true
		}
		var m *Module
		m, derr = loadModule(r, string(rest[:len(rest)-9]), binary.BigEndian.Uint64(rest[len(rest)-8:]))
		if derr != nil {
			return false
		}
		if m != nil {
			found = append(found, m)
		}
		return true
	})
	if err == nil {
		err = derr
	}
	if err != nil {
		return nil, err
	}
	var best *Module // the highest version for this channel and purpose
	var elsewhere []string
	for _, m := range found {
		if m.Channel != channel || m.Purpose != purpose {
			elsewhere = append(elsewhere, fmt.Sprintf("%s for %s on %s", m.id(), m.Purpose, m.Channel))
			continue
		}
		if m.CertifiedAt(h) {
			a.Certified, a.Name, a.Version, a.State = true, m.Name, m.Version, StateCertified
			return a, nil
		}
		if best == nil || m.Version >= best.Version {
			best = m
		}
	}
	switch {
	case best != nil:
		a.Name, a.Version, a.State = best.Name, best.Version, best.StateAt(h)
		a.Reason = explain(best, h)
	case len(elsewhere) > 0:
		a.Reason = "it is proposed only as " + strings.Join(elsewhere, ", ")
	default:
		a.Reason = "it was never proposed on this channel"
	}
	return a, nil
}

// explain says why m is not certified during block h.
func explain(m *Module, h int64) string {
	s := m.StateAt(h)
	if s == "" {
		return fmt.Sprintf("%s was proposed only at block %d", m.id(), m.Proposed)
	}
	since := m.Expires // an expiry not recorded yet
	for _, t := range m.History {
		if t.Height < h && t.State == s {
			since = t.Height
		}
	}
	return fmt.Sprintf("%s is %s since block %d", m.id(), s, since+1)
}

// Check is Lookup for enforcement: nil if the module is certified for
// channel and purpose during block h, or a Rejected error saying why not.
func Check(r contract.Reader, channel, purpose string, module []byte, h int64) error {
	a, err := Lookup(r, channel, purpose, module, h)
	if err != nil {
		return err
	}
	if !a.Certified {
		return txerr.New(txerr.Rejected, "module %s is not certified for %s on channel %s in block %d: %s", a.Module, purpose, channel, h, a.Reason)
	}
	return nil
}

// ModuleQuery names a module version (queries "module", "votes",
// "revocations", "status"; "modules" takes only a name, or nothing).
type ModuleQuery struct {
	Name    string `cbor:"name,omitempty"`
	Version uint64 `cbor:"version,omitempty"`
	Height  int64  `cbor:"height,omitempty"` // "status" only
}

// CertifiedQuery asks the enforcement question (query "certified").
type CertifiedQuery struct {
	Channel string `cbor:"channel"`
	Purpose string `cbor:"purpose"`
	Module  string `cbor:"module"` // hex
	Height  int64  `cbor:"height"`
}

// Status is a module's state now and during a given block.
type Status struct {
	Name      string `cbor:"name" json:"name"`
	Version   uint64 `cbor:"version" json:"version"`
	Purpose   string `cbor:"purpose" json:"purpose"`
	State     string `cbor:"state" json:"state"`
	Height    int64  `cbor:"height" json:"height"`
	StateAt   string `cbor:"state_at" json:"state_at"` // "" before it was proposed
	Certified bool   `cbor:"certified" json:"certified"`
}

// Query implements contract.Contract: "policy", "policy_votes",
// "modules" (all, or one name's versions), "module", "votes",
// "revocations", "status" and "certified".
func (c Contract) Query(st contract.State, method string, raw []byte) ([]byte, error) {
	switch method {
	case "policy":
		p, err := policy(st)
		if err != nil {
			return nil, err
		}
		if p == nil {
			return nil, txerr.New(txerr.NotFound, "no certification policy adopted yet")
		}
		return contract.Result(p)
	case "policy_votes":
		return contract.List[PolicyVote](st, []byte(pPolicyVo), nil)
	case "certified":
		var a CertifiedQuery
		if err := contract.DecodeArgs(method, raw, &a); err != nil {
			return nil, err
		}
		h, err := contract.ParseHash(a.Module)
		if err != nil {
			return nil, txerr.New(txerr.BadArgs, "certified: %v", err)
		}
		if a.Height < 1 {
			return nil, txerr.New(txerr.BadArgs, "certified: height %d: want 1 or more", a.Height)
		}
		b := h.Bytes()
		ans, err := Lookup(st, a.Channel, a.Purpose, b[:], a.Height)
		if err != nil {
			return nil, err
		}
		return contract.Result(ans)
	}
	var a ModuleQuery
	if len(raw) > 0 {
		if err := contract.DecodeArgs(method, raw, &a); err != nil {
			return nil, err
		}
	}
	switch method {
	case "modules":
		prefix := []byte(pModule)
		if a.Name != "" {
			prefix = append(append(prefix, a.Name...), 0)
		}
		return contract.List[Module](st, prefix, nil)
	case "module", "status":
		m, err := mustModule(st, method, a.Name, a.Version)
		if err != nil {
			return nil, err
		}
		if method == "module" {
			return contract.Result(m)
		}
		if a.Height < 1 {
			return nil, txerr.New(txerr.BadArgs, "status: height %d: want 1 or more", a.Height)
		}
		return contract.Result(Status{Name: m.Name, Version: m.Version, Purpose: m.Purpose, State: m.State,
			Height: a.Height, StateAt: m.StateAt(a.Height), Certified: m.CertifiedAt(a.Height)})
	case "votes":
		return contract.List[VoteRecord](st, versionKey(pVote, a.Name, a.Version), nil)
	case "revocations":
		return contract.List[RevokeVote](st, versionKey(pRevoke, a.Name, a.Version), nil)
	}
	return nil, txerr.New(txerr.UnknownMethod, "certify has no query %q", method)
}
