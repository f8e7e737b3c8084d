package certify

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/txerr"
)

// RevokeArgs is a certifier org's vote to revoke a certified module. It
// names the module's hash too, so that it condemns exactly the bytes its
// certifier examined.
type RevokeArgs struct {
	Name    string `cbor:"name"`
	Version uint64 `cbor:"version"`
	Module  []byte `cbor:"module"`
	Reason  string `cbor:"reason"`
}

// RevokeVote is a certifier org's vote to revoke.
type RevokeVote struct {
	Org       string `cbor:"org" json:"org"`
	Certifier string `cbor:"certifier" json:"certifier"`
	Height    int64  `cbor:"height" json:"height"`
	Reason    string `cbor:"reason" json:"reason"`
}

// Condemned marks a revoked module hash, which cannot be proposed again.
type Condemned struct {
	Name    string `cbor:"name" json:"name"`
	Version uint64 `cbor:"version" json:"version"`
	Height  int64  `cbor:"height" json:"height"`
}

func (c Contract) revoke(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a RevokeArgs
	if err := contract.DecodeArgs("revoke", raw, &a); err != nil {
		return nil, err
	}
	if a.Reason == "" || len(a.Reason) > MaxReason || !utf8.ValidString(a.Reason) {
		return nil, txerr.New(txerr.BadArgs, "revoke: a revocation needs a reason of at most %d bytes of UTF-8", MaxReason)
	}
	pol, err := policy(st)
	if err != nil {
		return nil, err
	}
	org := ctx.Caller.Org
	if pol == nil || !pol.certifies(org) {
		return nil, txerr.New(txerr.RoleDenied, "revoke: org %s is not a certifier org of channel %s", org, ctx.Channel)
	}
	m, err := mustModule(st, "revoke", a.Name, a.Version)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(a.Module, moduleBytes(m)) {
		return nil, txerr.New(txerr.Rejected, "revoke: the revocation names module %x; %s is module %s", a.Module, m.id(), m.Module)
	}
	if m.State != StateCertified && m.State != StateSuspended {
		return nil, txerr.New(txerr.Rejected, "revoke: %s is %s; only a certified or suspended module is revoked", m.id(), m.State)
	}
	key := orgKey(pRevoke, m.Name, m.Version, org)
	if old, err := st.Get(key); err != nil {
		return nil, err
	} else if old != nil {
		var prev RevokeVote
		if err := canon.Unmarshal(old, &prev); err != nil {
			return nil, txerr.New(txerr.Internal, "revocation record: %v", err)
		}
		return nil, txerr.New(txerr.Rejected, "revoke: org %s already asked to revoke %s, at block %d", org, m.id(), prev.Height)
	}
	rv := RevokeVote{Org: org, Certifier: ctx.CallerFingerprint().String(), Height: ctx.Height, Reason: a.Reason}
	if err := st.Set(key, canon.MustMarshal(rv)); err != nil {
		return nil, err
	}
	ctx.Emit("revoke_vote", "", nameAttr(m), versionAttr(m), contract.Attr{Key: "org", Value: org}, contract.Attr{Key: "reason", Value: a.Reason})
	// Revocation votes count under the policy in force: only orgs that
	// are certifiers now.
	var orgs []string
	var derr error
	err = st.Iterate(versionKey(pRevoke, m.Name, m.Version), func(_, v []byte) bool {
		var r RevokeVote
		if derr = canon.Unmarshal(v, &r); derr != nil {
			return false
		}
		if pol.certifies(r.Org) {
			orgs = append(orgs, r.Org)
		}
		return true
	})
	if err == nil && derr != nil {
		err = txerr.New(txerr.Internal, "revocation record: %v", derr)
	}
	if err != nil {
		return nil, err
	}
	by := strings.Join(orgs, ", ")
	switch {
	case len(orgs) >= pol.Threshold:
		if err := end(ctx, st, m, StateRevoked, fmt.Sprintf("revoked by %s (threshold %d)", by, pol.Threshold), m.Expires); err != nil {
			return nil, err
		}
		x := Condemned{Name: m.Name, Version: m.Version, Height: ctx.Height}
		if err := st.Set(append([]byte(pCondemn), a.Module...), canon.MustMarshal(x)); err != nil {
			return nil, err
		}
	case len(orgs) >= pol.Suspend && m.State == StateCertified:
		m.record(ctx.Height, StateSuspended, fmt.Sprintf("suspended by %s (suspend threshold %d): %s", by, pol.Suspend, a.Reason))
		if err := saveModule(st, m); err != nil {
			return nil, err
		}
		ctx.Emit(StateSuspended, "", nameAttr(m), versionAttr(m), contract.Attr{Key: "reason", Value: a.Reason})
	}
	return contract.Result(map[string]any{"name": m.Name, "version": m.Version, "state": m.State,
		"votes": len(orgs), "suspend": pol.Suspend, "threshold": pol.Threshold})
}
