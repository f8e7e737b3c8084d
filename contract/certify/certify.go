// Package certify is the contract of paper 000's Module Certification
// Authority (section 3.3): a channel's certifiers rebuild a proposed
// module from its source, validate it against their own confidentiality
// test sets, and vote; a module is certified for one channel and one
// purpose once enough certifier orgs reproduced it byte for byte and
// passed it. The audit contract then refuses an anchor that names a module
// not certified when the anchor is made.
//
// # Policy
//
// The certifier set (orgs whose members with the certifier role vote), the
// threshold M of approving orgs, the lower threshold S of orgs that
// suspend, the voting period and the validity of a certification, both in
// blocks, are the channel's policy. Org admins set it by vote, as
// registry.vote_org admits orgs: a policy is adopted when more than half
// of the channel's member orgs voted for exactly the same one, naming the
// epoch it starts (the current one plus 1, so an old vote cannot be
// replayed into a later round). Until a first policy is adopted nothing
// can be proposed. 1 <= S <= M <= the number of certifier orgs.
//
// # Modules
//
// A member proposes a module (manifest.Proposal: name, version, source
// hash, recipe, module hash, allowed imports, outputs, channel, purpose).
// Versions of a name only go up; a module hash once revoked cannot be
// proposed again. A proposal is judged under the policy in force when it
// was made: its certifier set and threshold are kept in its record.
//
// A certifier votes with what it found (manifest.Vote): whether the build
// reproduced the module, differs, or fails; whether validation passed;
// the hashes of its validation log and of its test-set commitment. Votes
// are counted per org, not per key: one vote per org, whichever of its
// certificates casts it, so an org cannot count twice by enrolling a
// second certifier. The proposer's org does not vote on its own module.
// A vote approves only if the build reproduced the proposed hash and the
// validation passed.
//
// # States
//
//	proposed --M approvals--> certified --S revocation votes--> suspended
//	    |                       |   |                             |
//	    | too many against,     |   +--M revocation votes--+------+--> revoked
//	    | or deadline           |                                 |
//	    v                       +--validity ends------------------+--> expired
//	 rejected                   +--a higher version certified-----+--> superseded
//
// A proposed version is also superseded when a higher one is certified.
// Revoked, rejected, expired and superseded are final. A suspension is
// lifted only by certifying a newer version (possibly the same module
// under a higher version number, examined again). Deadlines and expiries
// act at the end of their block (EndBlock).
//
// # Heights
//
// A transition made in block B takes effect from block B+1: the state in
// force during block H is the one after block H-1, whatever order the
// transactions of block H run in. Every transition is kept with its block
// in the module's history, so "was this module certified for channel C
// and purpose P at height H?" is answered for any past H from the record
// (Lookup, query "certified"), and the audit contract asks exactly that
// for each anchor.
package certify

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/contract/registry"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/txerr"
)

// Name is the contract's name.
const Name = "certify"

// States of a module.
const (
	StateProposed   = "proposed"
	StateCertified  = "certified"
	StateRejected   = "rejected"
	StateSuspended  = "suspended"
	StateRevoked    = "revoked"
	StateExpired    = "expired"
	StateSuperseded = "superseded"
)

// Bounds.
const (
	MaxCertifiers  = 32
	MaxVoteBlocks  = 10_000_000
	MaxValidBlocks = 1_000_000_000
	MaxReason      = 140
)

// Key layout under the contract's prefix.
const (
	kPolicy   = "policy"
	pPolicyVo = "pv/" // org -> PolicyVote
	pModule   = "m/"  // name 0 u64be(version) -> Module
	pLatest   = "l/"  // name -> u64be(highest version proposed)
	pVote     = "v/"  // name 0 u64be(version) org -> VoteRecord
	pRevoke   = "r/"  // name 0 u64be(version) org -> RevokeVote
	pByHash   = "h/"  // module hash (32 bytes) name 0 u64be(version) -> empty
	pCondemn  = "x/"  // module hash (32 bytes) -> Condemned
	pTimer    = "t/"  // u64be(height) name 0 u64be(version) -> empty
)

// Policy is the channel's certification policy, and the arguments of
// set_policy.
type Policy struct {
	Epoch       uint64   `cbor:"epoch" json:"epoch"`               // 1 for the first policy, then +1 each time
	Certifiers  []string `cbor:"certifiers" json:"certifiers"`     // member orgs, ascending
	Threshold   int      `cbor:"threshold" json:"threshold"`       // M: approving orgs to certify, revoking orgs to revoke
	Suspend     int      `cbor:"suspend" json:"suspend"`           // S <= M: revoking orgs to suspend
	VoteBlocks  int64    `cbor:"vote_blocks" json:"vote_blocks"`   // a proposal takes votes through block proposed+this
	ValidBlocks int64    `cbor:"valid_blocks" json:"valid_blocks"` // a certification ends at the end of block certified+this
}

// SetPolicyArgs is one org admin's vote for a policy.
type SetPolicyArgs = Policy

// AdoptedPolicy is the policy in force and how it came to be.
type AdoptedPolicy struct {
	Policy
	Adopted int64    `cbor:"adopted" json:"adopted"` // block of the deciding vote
	Voters  []string `cbor:"voters" json:"voters"`   // orgs that voted for it, ascending
}

// PolicyVote is an org's pending vote for the next policy. An org's later
// vote replaces its earlier one; adoption clears them all.
type PolicyVote struct {
	Org    string `cbor:"org" json:"org"`
	Admin  string `cbor:"admin" json:"admin"` // fingerprint of the voting admin
	Epoch  uint64 `cbor:"epoch" json:"epoch"`
	Hash   string `cbor:"hash" json:"hash"` // SHA-256 of the canonical arguments
	Height int64  `cbor:"height" json:"height"`
}

// Contract is the certify contract. It holds nothing in memory.
type Contract struct{}

// New returns the certify contract.
func New() Contract { return Contract{} }

// Name implements contract.Contract.
func (Contract) Name() string { return Name }

// Methods implements contract.Contract.
func (c Contract) Methods() map[string]contract.Method {
	return map[string]contract.Method{
		"set_policy": {Roles: []identity.Role{identity.RoleAdmin}, Run: c.setPolicy},
		"propose":    {Roles: []identity.Role{identity.RoleAdmin, identity.RoleClient}, Run: c.propose},
		"vote":       {Roles: []identity.Role{identity.RoleCertifier}, Run: c.vote},
		"revoke":     {Roles: []identity.Role{identity.RoleCertifier}, Run: c.revoke},
	}
}

// validate checks a policy's own rules.
func (p *Policy) validate() error {
	n := len(p.Certifiers)
	if n == 0 || n > MaxCertifiers {
		return txerr.New(txerr.BadArgs, "set_policy: %d certifier orgs, want 1-%d", n, MaxCertifiers)
	}
	for i := 1; i < n; i++ {
		if p.Certifiers[i-1] >= p.Certifiers[i] {
			return txerr.New(txerr.BadArgs, "set_policy: certifier orgs must be listed in ascending order without repeats (%q before %q)", p.Certifiers[i-1], p.Certifiers[i])
		}
	}
	if p.Threshold < 1 || p.Threshold > n {
		return txerr.New(txerr.BadArgs, "set_policy: threshold %d: want 1 to %d, the number of certifier orgs", p.Threshold, n)
	}
	if p.Suspend < 1 || p.Suspend > p.Threshold {
		return txerr.New(txerr.BadArgs, "set_policy: suspend threshold %d: want 1 to %d, the threshold", p.Suspend, p.Threshold)
	}
	if p.VoteBlocks < 1 || p.VoteBlocks > MaxVoteBlocks {
		return txerr.New(txerr.BadArgs, "set_policy: vote_blocks %d: want 1-%d", p.VoteBlocks, MaxVoteBlocks)
	}
	if p.ValidBlocks < 1 || p.ValidBlocks > MaxValidBlocks {
		return txerr.New(txerr.BadArgs, "set_policy: valid_blocks %d: want 1-%d", p.ValidBlocks, MaxValidBlocks)
	}
	return nil
}

// checkOrgs checks that every certifier org is a member of the channel.
func (p *Policy) checkOrgs(reg contract.Reader) error {
	for _, o := range p.Certifiers {
		ok, err := registry.IsOrg(reg, o)
		if err != nil {
			return err
		}
		if !ok {
			return txerr.New(txerr.Rejected, "set_policy: org %s is not a member of the channel", o)
		}
	}
	return nil
}

// certifies reports whether org is in the certifier set.
func (p *Policy) certifies(org string) bool { return contains(p.Certifiers, org) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// policy returns the policy in force, or nil before the first.
func policy(st contract.Reader) (*AdoptedPolicy, error) {
	raw, err := st.Get([]byte(kPolicy))
	if err != nil || raw == nil {
		return nil, err
	}
	var p AdoptedPolicy
	if err := canon.Unmarshal(raw, &p); err != nil {
		return nil, txerr.New(txerr.Internal, "policy record: %v", err)
	}
	return &p, nil
}

func (c Contract) setPolicy(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a SetPolicyArgs
	if err := contract.DecodeArgs("set_policy", raw, &a); err != nil {
		return nil, err
	}
	cur, err := policy(st)
	if err != nil {
		return nil, err
	}
	var epoch uint64
	if cur != nil {
		epoch = cur.Epoch
	}
	if a.Epoch != epoch+1 {
		return nil, txerr.New(txerr.Rejected, "set_policy: the policy in force is epoch %d; a vote names the next, %d, not %d", epoch, epoch+1, a.Epoch)
	}
	if err := a.validate(); err != nil {
		return nil, err
	}
	reg := ctx.Read(registry.Name)
	if err := a.checkOrgs(reg); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(canon.MustMarshal(a))
	hash := hex.EncodeToString(sum[:])
	vote := PolicyVote{Org: ctx.Caller.Org, Admin: ctx.CallerFingerprint().String(), Epoch: a.Epoch, Hash: hash, Height: ctx.Height}
	if err := st.Set(append([]byte(pPolicyVo), ctx.Caller.Org...), canon.MustMarshal(vote)); err != nil {
		return nil, err
	}
	orgs, err := registry.CountOrgs(reg)
	if err != nil {
		return nil, err
	}
	var stale [][]byte
	names := []string{}
	var derr error
	err = st.Iterate([]byte(pPolicyVo), func(k, v []byte) bool {
		var pv PolicyVote
		if derr = canon.Unmarshal(v, &pv); derr != nil {
			return false
		}
		stale = append(stale, append([]byte(nil), k...))
		if pv.Hash == hash {
			names = append(names, pv.Org)
		}
		return true
	})
	if err == nil && derr != nil {
		err = txerr.New(txerr.Internal, "policy vote record: %v", derr)
	}
	if err != nil {
		return nil, err
	}
	adopted := len(names)*2 > orgs
	ctx.Emit("policy_vote", "", contract.Attr{Key: "org", Value: ctx.Caller.Org}, contract.Attr{Key: "epoch", Value: fmt.Sprint(a.Epoch)},
		contract.Attr{Key: "hash", Value: hash})
	if adopted {
		for _, k := range stale {
			if err := st.Delete(k); err != nil {
				return nil, err
			}
		}
		rec := AdoptedPolicy{Policy: a, Adopted: ctx.Height, Voters: names}
		if err := st.Set([]byte(kPolicy), canon.MustMarshal(rec)); err != nil {
			return nil, err
		}
		ctx.Emit("policy_adopted", "", contract.Attr{Key: "epoch", Value: fmt.Sprint(a.Epoch)},
			contract.Attr{Key: "certifiers", Value: fmt.Sprint(a.Certifiers)},
			contract.Attr{Key: "threshold", Value: fmt.Sprint(a.Threshold)}, contract.Attr{Key: "suspend", Value: fmt.Sprint(a.Suspend)})
	}
	return contract.Result(map[string]any{"epoch": a.Epoch, "hash": hash, "votes": len(names), "orgs": orgs, "adopted": adopted})
}
