package certify

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/certify/manifest"
	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/txerr"
)

// ProposeArgs proposes a module (manifest.Proposal).
type ProposeArgs = manifest.Proposal

// VoteArgs is a certifier's vote (manifest.Vote).
type VoteArgs = manifest.Vote

// Transition is one step of a module's history, made in block Height and
// in force from block Height+1.
type Transition struct {
	Height int64  `cbor:"height" json:"height"`
	State  string `cbor:"state" json:"state"`
	Reason string `cbor:"reason" json:"reason"`
}

// Module is a proposed module's record.
type Module struct {
	ID       string          `cbor:"id" json:"id"` // the proposal's ID, hex
	Name     string          `cbor:"name" json:"name"`
	Version  uint64          `cbor:"version" json:"version"`
	Channel  string          `cbor:"channel" json:"channel"`
	Purpose  string          `cbor:"purpose" json:"purpose"`
	Source   string          `cbor:"source" json:"source"` // hex
	Recipe   manifest.Recipe `cbor:"recipe" json:"recipe"`
	Module   string          `cbor:"module" json:"module"` // hex
	Imports  []string        `cbor:"imports,omitempty" json:"imports,omitempty"`
	Outputs  []string        `cbor:"outputs,omitempty" json:"outputs,omitempty"`
	Proposer string          `cbor:"proposer" json:"proposer"` // fingerprint
	Org      string          `cbor:"org" json:"org"`
	Proposed int64           `cbor:"proposed" json:"proposed"`
	Deadline int64           `cbor:"deadline" json:"deadline"` // the last block that takes votes
	// The policy the proposal is judged under.
	Epoch       uint64   `cbor:"epoch" json:"epoch"`
	Certifiers  []string `cbor:"certifiers" json:"certifiers"`
	Threshold   int      `cbor:"threshold" json:"threshold"`
	ValidBlocks int64    `cbor:"valid_blocks" json:"valid_blocks"`

	State     string       `cbor:"state" json:"state"`
	Certified int64        `cbor:"certified,omitempty" json:"certified,omitempty"` // block of the deciding vote
	Expires   int64        `cbor:"expires,omitempty" json:"expires,omitempty"`     // the last block it is certified in
	History   []Transition `cbor:"history" json:"history"`
}

// VoteRecord is a certifier org's vote as recorded.
type VoteRecord struct {
	Org        string `cbor:"org" json:"org"`
	Certifier  string `cbor:"certifier" json:"certifier"` // fingerprint
	Height     int64  `cbor:"height" json:"height"`
	Build      string `cbor:"build" json:"build"`
	Rebuilt    string `cbor:"rebuilt,omitempty" json:"rebuilt,omitempty"`
	Validation string `cbor:"validation,omitempty" json:"validation,omitempty"`
	Log        string `cbor:"log,omitempty" json:"log,omitempty"`
	Tests      string `cbor:"tests,omitempty" json:"tests,omitempty"`
	Note       string `cbor:"note,omitempty" json:"note,omitempty"`
	Verdict    string `cbor:"verdict" json:"verdict"`
}

// Tally is a vote's outcome.
type Tally struct {
	Name      string `cbor:"name" json:"name"`
	Version   uint64 `cbor:"version" json:"version"`
	Verdict   string `cbor:"verdict" json:"verdict"`
	State     string `cbor:"state" json:"state"`
	Approvals int    `cbor:"approvals" json:"approvals"`
	Against   int    `cbor:"against" json:"against"`
	Threshold int    `cbor:"threshold" json:"threshold"`
	Eligible  int    `cbor:"eligible" json:"eligible"` // certifier orgs that may vote on it
}

func (m *Module) id() string { return fmt.Sprintf("%s@%d", m.Name, m.Version) }

func (m *Module) record(h int64, state, reason string) {
	m.State = state
	m.History = append(m.History, Transition{Height: h, State: state, Reason: reason})
}

// StateAt is the module's state in force during block h: the last
// transition made before block h, or "" if it was proposed only later. A
// certification is expired after its last block even before the end of
// that block recorded it (for an h not yet reached, the answer holds
// unless something happens first).
func (m *Module) StateAt(h int64) string {
	s := ""
	for _, t := range m.History {
		if t.Height >= h {
			break
		}
		s = t.State
	}
	if (s == StateCertified || s == StateSuspended) && h > m.Expires {
		s = StateExpired
	}
	return s
}

// CertifiedAt reports whether the module is certified during block h.
func (m *Module) CertifiedAt(h int64) bool { return m.StateAt(h) == StateCertified }

// eligible counts the orgs that may vote on m: its certifiers but its
// proposer's org.
func (m *Module) eligible() int {
	n := len(m.Certifiers)
	if contains(m.Certifiers, m.Org) {
		n--
	}
	return n
}

func versionKey(prefix, name string, version uint64) []byte {
	k := append(append([]byte(prefix), name...), 0)
	return binary.BigEndian.AppendUint64(k, version)
}

func moduleKey(name string, version uint64) []byte { return versionKey(pModule, name, version) }

func orgKey(prefix, name string, version uint64, org string) []byte {
	return append(versionKey(prefix, name, version), org...)
}

func timerKey(h int64, name string, version uint64) []byte {
	k := binary.BigEndian.AppendUint64([]byte(pTimer), uint64(h))
	k = append(append(k, name...), 0)
	return binary.BigEndian.AppendUint64(k, version)
}

func hashKey(module []byte, name string, version uint64) []byte {
	k := append(append([]byte(pByHash), module...), name...)
	return binary.BigEndian.AppendUint64(append(k, 0), version)
}

// loadModule reads name@version, or nil if it was never proposed.
func loadModule(st contract.Reader, name string, version uint64) (*Module, error) {
	raw, err := st.Get(moduleKey(name, version))
	if err != nil || raw == nil {
		return nil, err
	}
	var m Module
	if err := canon.Unmarshal(raw, &m); err != nil {
		return nil, txerr.New(txerr.Internal, "module record %s@%d: %v", name, version, err)
	}
	return &m, nil
}

func mustModule(st contract.Reader, method, name string, version uint64) (*Module, error) {
	m, err := loadModule(st, name, version)
	if err == nil && m == nil {
		err = txerr.New(txerr.NotFound, "%s: no module %s@%d on this channel", method, name, version)
	}
	return m, err
}

func saveModule(st contract.State, m *Module) error {
	return st.Set(moduleKey(m.Name, m.Version), canon.MustMarshal(m))
}

func moduleBytes(m *Module) []byte {
	b, _ := hex.DecodeString(m.Module)
	return b
}

func (c Contract) propose(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a ProposeArgs
	if err := contract.DecodeArgs("propose", raw, &a); err != nil {
		return nil, err
	}
	if err := a.Validate(); err != nil {
		return nil, txerr.New(txerr.BadArgs, "propose: %v", err)
	}
	if a.Channel != ctx.Channel {
		return nil, txerr.New(txerr.Rejected, "propose: the proposal is for channel %q, this is %q", a.Channel, ctx.Channel)
	}
	pol, err := policy(st)
	if err != nil {
		return nil, err
	}
	if pol == nil {
		return nil, txerr.New(txerr.Rejected, "propose: channel %s has no certification policy yet: its org admins adopt one with set_policy", ctx.Channel)
	}
	latest, err := st.Get(append([]byte(pLatest), a.Name...))
	if err != nil {
		return nil, err
	}
	if latest != nil {
		if v := binary.BigEndian.Uint64(latest); a.Version <= v {
			return nil, txerr.New(txerr.Rejected, "propose: version %d of module %s is not above %d, its latest", a.Version, a.Name, v)
		}
	}
	if raw, err := st.Get(append([]byte(pCondemn), a.Module...)); err != nil {
		return nil, err
	} else if raw != nil {
		var x Condemned
		if err := canon.Unmarshal(raw, &x); err != nil {
			return nil, txerr.New(txerr.Internal, "revoked module record: %v", err)
		}
		return nil, txerr.New(txerr.Rejected, "propose: module %x was revoked as %s@%d at block %d; it cannot be proposed again", a.Module, x.Name, x.Version, x.Height)
	}
	m := &Module{ID: a.ID().String(), Name: a.Name, Version: a.Version, Channel: a.Channel, Purpose: a.Purpose,
		Source: hex.EncodeToString(a.Source), Recipe: a.Recipe, Module: hex.EncodeToString(a.Module),
		Imports: a.Imports, Outputs: a.Outputs, Proposer: ctx.CallerFingerprint().String(), Org: ctx.Caller.Org,
		Proposed: ctx.Height, Deadline: ctx.Height + pol.VoteBlocks,
		Epoch: pol.Epoch, Certifiers: pol.Certifiers, Threshold: pol.Threshold, ValidBlocks: pol.ValidBlocks}
	if n := m.eligible(); n < m.Threshold {
		return nil, txerr.New(txerr.Rejected, "propose: the certifier orgs besides %s number %d, fewer than the threshold %d: the module could never be certified", m.Org, n, m.Threshold)
	}
	m.record(ctx.Height, StateProposed, fmt.Sprintf("proposed by %s for %s; votes through block %d", m.Org, m.Purpose, m.Deadline))
	for _, kv := range [][2][]byte{
		{moduleKey(m.Name, m.Version), canon.MustMarshal(m)},
		{append([]byte(pLatest), m.Name...), binary.BigEndian.AppendUint64(nil, m.Version)},
		{hashKey(a.Module, m.Name, m.Version), {}},
		{timerKey(m.Deadline, m.Name, m.Version), {}},
	} {
		if err := st.Set(kv[0], kv[1]); err != nil {
			return nil, err
		}
	}
	ctx.Emit("proposed", "", nameAttr(m), versionAttr(m), contract.Attr{Key: "purpose", Value: m.Purpose},
		contract.Attr{Key: "module", Value: m.Module}, contract.Attr{Key: "id", Value: m.ID},
		contract.Attr{Key: "deadline", Value: fmt.Sprint(m.Deadline)})
	return contract.Result(map[string]any{"id": m.ID, "name": m.Name, "version": m.Version, "state": m.State, "deadline": m.Deadline})
}

func nameAttr(m *Module) contract.Attr { return contract.Attr{Key: "name", Value: m.Name} }
func versionAttr(m *Module) contract.Attr {
	return contract.Attr{Key: "version", Value: fmt.Sprint(m.Version)}
}

func (c Contract) vote(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a VoteArgs
	if err := contract.DecodeArgs("vote", raw, &a); err != nil {
		return nil, err
	}
	if a.Channel != ctx.Channel {
		return nil, txerr.New(txerr.Rejected, "vote: the vote is for channel %q, this is %q", a.Channel, ctx.Channel)
	}
	m, err := mustModule(st, "vote", a.Name, a.Version)
	if err != nil {
		return nil, err
	}
	if hex.EncodeToString(a.Proposal) != m.ID {
		return nil, txerr.New(txerr.Rejected, "vote: the vote is for proposal %x; %s is proposal %s", a.Proposal, m.id(), m.ID)
	}
	if ctx.Height > m.Deadline {
		return nil, txerr.New(txerr.Rejected, "vote: voting on %s closed at block %d", m.id(), m.Deadline)
	}
	if m.State != StateProposed {
		return nil, txerr.New(txerr.Rejected, "vote: %s is %s, not open for votes", m.id(), m.State)
	}
	org := ctx.Caller.Org
	if !contains(m.Certifiers, org) {
		return nil, txerr.New(txerr.RoleDenied, "vote: org %s is not among the certifiers of %s (%s)", org, m.id(), strings.Join(m.Certifiers, ", "))
	}
	if org == m.Org {
		return nil, txerr.New(txerr.Rejected, "vote: org %s proposed %s; its certifiers do not vote on it", org, m.id())
	}
	key := orgKey(pVote, m.Name, m.Version, org)
	if old, err := st.Get(key); err != nil {
		return nil, err
	} else if old != nil {
		var prev VoteRecord
		if err := canon.Unmarshal(old, &prev); err != nil {
			return nil, txerr.New(txerr.Internal, "vote record: %v", err)
		}
		return nil, txerr.New(txerr.Rejected, "vote: org %s already voted on %s, with certificate %s at block %d: one vote per org", org, m.id(), prev.Certifier, prev.Height)
	}
	if err := a.Check(moduleBytes(m)); err != nil {
		return nil, txerr.New(txerr.BadArgs, "vote: %v", err)
	}
	rec := VoteRecord{Org: org, Certifier: ctx.CallerFingerprint().String(), Height: ctx.Height, Build: a.Build,
		Rebuilt: hex.EncodeToString(a.Rebuilt), Validation: a.Validation, Log: hex.EncodeToString(a.Log),
		Tests: hex.EncodeToString(a.Tests), Note: a.Note, Verdict: a.Verdict()}
	if err := st.Set(key, canon.MustMarshal(rec)); err != nil {
		return nil, err
	}
	ctx.Emit("voted", "", nameAttr(m), versionAttr(m), contract.Attr{Key: "org", Value: org}, contract.Attr{Key: "verdict", Value: rec.Verdict})
	approvals, against, err := tally(st, m)
	if err != nil {
		return nil, err
	}
	switch {
	case len(approvals) >= m.Threshold:
		reason := fmt.Sprintf("approved by %s (threshold %d)", strings.Join(approvals, ", "), m.Threshold)
		if err := certify(ctx, st, m, reason); err != nil {
			return nil, err
		}
	case m.eligible()-len(against) < m.Threshold:
		reason := fmt.Sprintf("against: %s; %d approvals needed, %d possible", strings.Join(against, ", "), m.Threshold, m.eligible()-len(against))
		if err := end(ctx, st, m, StateRejected, reason, m.Deadline); err != nil {
			return nil, err
		}
	}
	return contract.Result(Tally{Name: m.Name, Version: m.Version, Verdict: rec.Verdict, State: m.State,
		Approvals: len(approvals), Against: len(against), Threshold: m.Threshold, Eligible: m.eligible()})
}

// tally lists the orgs that approved m and, as "org: verdict", those
// that did not, in org order.
func tally(st contract.Reader, m *Module) (approvals, against []string, err error) {
	var derr error
	err = st.Iterate(versionKey(pVote, m.Name, m.Version), func(_, v []byte) bool {
		var r VoteRecord
		if derr = canon.Unmarshal(v, &r); derr != nil {
			return false
		}
		if r.Verdict == manifest.VerdictApprove {
			approvals = append(approvals, r.Org)
		} else {
			against = append(against, r.Org+" "+r.Verdict)
		}
		return true
	})
	if err == nil && derr != nil {
		err = txerr.New(txerr.Internal, "vote record: %v", derr)
	}
	return approvals, against, err
}

// certify makes m certified from the next block, schedules its expiry and
// supersedes every lower version of its name still proposed, certified or
// suspended.
func certify(ctx *contract.Context, st contract.State, m *Module, reason string) error {
	h := ctx.Height
	m.Certified, m.Expires = h, h+m.ValidBlocks
	m.record(h, StateCertified, fmt.Sprintf("%s; certified for %s from block %d through %d", reason, m.Purpose, h+1, m.Expires))
	if err := st.Delete(timerKey(m.Deadline, m.Name, m.Version)); err != nil {
		return err
	}
	if err := st.Set(timerKey(m.Expires, m.Name, m.Version), []byte{}); err != nil {
		return err
	}
	if err := saveModule(st, m); err != nil {
		return err
	}
	ctx.Emit("certified", "", nameAttr(m), versionAttr(m), contract.Attr{Key: "purpose", Value: m.Purpose},
		contract.Attr{Key: "module", Value: m.Module}, contract.Attr{Key: "from", Value: fmt.Sprint(h + 1)},
		contract.Attr{Key: "through", Value: fmt.Sprint(m.Expires)})
	var older []*Module
	var derr error
	err := st.Iterate(append(append([]byte(pModule), m.Name...), 0), func(_, v []byte) bool {
		var o Module
		if derr = canon.Unmarshal(v, &o); derr != nil {
			return false
		}
		if o.Version >= m.Version {
			return false
		}
		if o.State == StateProposed || o.State == StateCertified || o.State == StateSuspended {
			older = append(older, &o)
		}
		return true
	})
	if err == nil && derr != nil {
		err = txerr.New(txerr.Internal, "module record: %v", derr)
	}
	if err != nil {
		return err
	}
	for _, o := range older {
		if err := end(ctx, st, o, StateSuperseded, fmt.Sprintf("version %d certified at block %d", m.Version, h), timerOf(o)); err != nil {
			return err
		}
	}
	return nil
}

// timerOf is the block m's pending timer is due in: its deadline while
// proposed, its expiry once certified.
func timerOf(m *Module) int64 {
	if m.State == StateProposed {
		return m.Deadline
	}
	return m.Expires
}

// end moves m to a final state, drops its timer (due at block timer) and
// emits the transition.
func end(ctx *contract.Context, st contract.State, m *Module, state, reason string, timer int64) error {
	m.record(ctx.Height, state, reason)
	if err := st.Delete(timerKey(timer, m.Name, m.Version)); err != nil {
		return err
	}
	if err := saveModule(st, m); err != nil {
		return err
	}
	ctx.Emit(state, "", nameAttr(m), versionAttr(m), contract.Attr{Key: "reason", Value: reason})
	return nil
}
