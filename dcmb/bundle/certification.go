package bundle

// This file holds what a certified stream's bundle adds: the module that
// processed the anchored batch, and the proven transactions that made it
// certified.
//
// What such a bundle proves, offline, against the genesis alone:
//
//   - the anchor names the module (the SHA-256 of its bytes) and the
//     stream's purpose, in a transaction that executed with code 0;
//   - a member proposed exactly that module for that purpose on this
//     channel, with its source hash, recipe, imports and outputs, in a
//     committed block;
//   - certifiers approved that proposal, each vote reporting a build that
//     reproduced the module and a passed validation with the hashes of its
//     log and test set, and the last vote's result says the proposal became
//     certified, in a block before the anchor's.
//
// What it cannot prove from its own bytes: that nothing suspended, revoked
// or expired the module between its certification and the anchor. The
// app hash does not commit to the contract state, so absence needs a node
// to ask. It rests instead on what the anchor's code-0 result means: the
// audit contract executes an anchor of a certified stream only if the
// certify contract holds its module certified for the stream's purpose
// during that very block, so the validators that signed the anchor's
// block attested it, as they attest every result in the bundle. Nothing
// here says what happened to the module after the anchor's block.

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/cometbft/cometbft/types"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/certify/manifest"
	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/contract/certify"
)

// MaxVotes bounds the votes of a certification.
const MaxVotes = 32

// Certification is how the anchor's module was certified: the
// transaction that proposed it and the certifiers' approving votes, in
// the order they were cast, the last one certifying it.
type Certification struct {
	Proposal ProvenTx   `cbor:"proposal"`
	Votes    []ProvenTx `cbor:"votes"`
}

// ModuleReport is what a bundle established of its anchor's module.
type ModuleReport struct {
	Hash        string
	Purpose     string
	Name        string
	Version     uint64
	Proposal    string // the proposal's ID, hex
	Source      string // hex
	Recipe      manifest.Recipe
	Imports     []string
	Outputs     []string
	ProposedAt  int64
	CertifiedAt int64 // the block of the certifying vote; certified from the next
	Votes       []VoteReport
}

// VoteReport is one approving vote.
type VoteReport struct {
	Height    int64
	Certifier string // fingerprint of the voting certificate, hex
	Log       string // hex
	Tests     string // hex
	Note      string
}

// proposeResult is certify.propose's result.
type proposeResult struct {
	Deadline int64  `cbor:"deadline"`
	ID       string `cbor:"id"`
	Name     string `cbor:"name"`
	State    string `cbor:"state"`
	Version  uint64 `cbor:"version"`
}

// verifyModule checks the anchor's module and its certification.
func (r *Report) verifyModule(b *Bundle, g *types.GenesisDoc, vset *types.ValidatorSet, a *audit.AnchorArgs) error {
	step := func(format string, args ...any) { r.Steps = append(r.Steps, fmt.Sprintf(format, args...)) }
	if len(a.Module) == 0 {
		if b.Certification != nil {
			return fail("a certification for an anchor that names no module")
		}
		return nil
	}
	if a.Purpose == "" {
		return fail("the anchor names module %x but not its stream's purpose", a.Module)
	}
	mr := &ModuleReport{Hash: hex.EncodeToString(a.Module), Purpose: a.Purpose}
	r.Module = mr
	step("the anchor names module %s, which processed the batch, for purpose %q; the audit contract executes an anchor of a certified stream with code 0 only if the certify contract holds its module certified for the stream's purpose on channel %s during the anchor's block %d, so its validators attested that the module was certified then (not suspended, revoked, expired or superseded)",
		mr.Hash, a.Purpose, g.ChainID, r.Height)
	c := b.Certification
	if c == nil {
		step("this bundle carries no certification transactions: ask a node for the module's record (sealnet module status)")
		return nil
	}

	// the proposal
	pp, err := c.Proposal.verify(g, vset)
	if err != nil {
		return fmt.Errorf("the module's proposal: %w", err)
	}
	pl := pp.tx.Payload
	if pl.Contract != certify.Name || pl.Method != "propose" {
		return fail("the proposal transaction calls %s.%s, not certify.propose", pl.Contract, pl.Method)
	}
	var p manifest.Proposal
	if err := canon.Unmarshal(pl.Args, &p); err != nil {
		return fail("proposal arguments: %v", err)
	}
	var pres proposeResult
	if err := canon.Unmarshal(c.Proposal.Result, &pres); err != nil {
		return fail("proposal result: %v", err)
	}
	id := p.ID()
	switch {
	case pres.ID != id.String() || pres.Name != p.Name || pres.Version != p.Version:
		return fail("the proposal's result is not for its arguments")
	case !bytes.Equal(p.Module, a.Module):
		return fail("the proposal is for module %x, the anchor names %x", p.Module, a.Module)
	case p.Purpose != a.Purpose || p.Channel != g.ChainID || pl.Channel != g.ChainID:
		return fail("the proposal is for purpose %q on channel %q, the anchor is for %q on %q", p.Purpose, p.Channel, a.Purpose, g.ChainID)
	case pp.header.Height >= r.Height:
		return fail("the module was proposed in block %d, not before the anchor's block %d", pp.header.Height, r.Height)
	}
	mr.Name, mr.Version, mr.Proposal, mr.Source = p.Name, p.Version, id.String(), hex.EncodeToString(p.Source)
	mr.Recipe, mr.Imports, mr.Outputs, mr.ProposedAt = p.Recipe, p.Imports, p.Outputs, pp.header.Height
	step("transaction %s in block %d (proven as above) proposed it as %s@%d for %q on channel %s: proposal %s, source tree %s, recipe %s %s (%s; %s), imports %s, outputs %s",
		pp.id, pp.header.Height, p.Name, p.Version, p.Purpose, p.Channel, id, mr.Source, p.Recipe.Toolchain, p.Recipe.Package,
		strings.Join(p.Recipe.Env, " "), strings.Join(p.Recipe.Flags, " "), join(p.Imports), join(p.Outputs))

	// the votes, the last of which certified it
	if len(c.Votes) == 0 || len(c.Votes) > MaxVotes {
		return fail("%d votes, want 1-%d", len(c.Votes), MaxVotes)
	}
	var last certify.Tally
	var lastHeight int64
	for i := range c.Votes {
		vp, err := c.Votes[i].verify(g, vset)
		if err != nil {
			return fmt.Errorf("vote %d: %w", i+1, err)
		}
		vl := vp.tx.Payload
		if vl.Contract != certify.Name || vl.Method != "vote" || vl.Channel != g.ChainID {
			return fail("vote %d calls %s.%s on %s, not certify.vote", i+1, vl.Contract, vl.Method, vl.Channel)
		}
		var v manifest.Vote
		if err := canon.Unmarshal(vl.Args, &v); err != nil {
			return fail("vote %d arguments: %v", i+1, err)
		}
		var t certify.Tally
		if err := canon.Unmarshal(c.Votes[i].Result, &t); err != nil {
			return fail("vote %d result: %v", i+1, err)
		}
		if !bytes.Equal(v.Proposal, id[:]) || v.Name != p.Name || v.Version != p.Version || v.Channel != g.ChainID {
			return fail("vote %d is for another proposal", i+1)
		}
		if err := v.Check(p.Module); err != nil || v.Verdict() != manifest.VerdictApprove || t.Verdict != manifest.VerdictApprove {
			return fail("vote %d does not approve the module (%s)", i+1, v.Verdict())
		}
		if t.Name != p.Name || t.Version != p.Version || t.Approvals != i+1 || vp.header.Height < lastHeight || vp.header.Height < pp.header.Height {
			return fail("vote %d is not approval %d of the proposal, in order", i+1, i+1)
		}
		if (t.State == certify.StateCertified) != (i == len(c.Votes)-1) {
			return fail("vote %d: the proposal is %s after it; only the last vote certifies", i+1, t.State)
		}
		last, lastHeight = t, vp.header.Height
		mr.Votes = append(mr.Votes, VoteReport{Height: vp.header.Height, Certifier: hex.EncodeToString(vl.Creator),
			Log: hex.EncodeToString(v.Log), Tests: hex.EncodeToString(v.Tests), Note: v.Note})
		step("transaction %s in block %d: certifier %x approved it: build %s to %x, validation %s, log sha256 %x, test-set commitment %x (approval %d of %d needed)",
			vp.id, vp.header.Height, vl.Creator, v.Build, v.Rebuilt, v.Validation, v.Log, v.Tests, t.Approvals, t.Threshold)
	}
	if last.Approvals < last.Threshold || lastHeight >= r.Height {
		return fail("the certification in block %d is not before the anchor's block %d", lastHeight, r.Height)
	}
	mr.CertifiedAt = lastHeight
	step("the last vote certified %s@%d (its result: %s, %d approvals of distinct certifier orgs, threshold %d): certified from block %d, before the anchor's block %d; what happened to the module after block %d is not in this bundle",
		p.Name, p.Version, last.State, last.Approvals, last.Threshold, lastHeight+1, r.Height, r.Height)
	return nil
}

func join(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ", ")
}
