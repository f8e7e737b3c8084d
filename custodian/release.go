// The release decision: whether a verified key request gets the data key,
// as a pure function of the index entry, the request, the owner's policy
// and the owner's approvals so far. It has no clock, no I/O and no state of
// its own (release_test.go checks its imports): the server gathers its
// inputs and carries out its verdict.

package custodian

import (
	"fmt"
	"slices"

	"github.com/sealnet/sealnet/share"
)

// Policy is the owner's key-release policy: config.toml's [share] section.
type Policy struct {
	Kind  string   `toml:"policy"` // PolicyChannel, PolicyAllowlist or PolicyApproval
	Allow []string `toml:"allow"`  // with PolicyAllowlist: members as id@org, or certificate fingerprints
}

// Policies.
const (
	PolicyChannel   = "channel"   // any member of the entry's channel
	PolicyAllowlist = "allowlist" // the members Allow names
	PolicyApproval  = "approval"  // whom the owner approves, one request at a time
)

// Validate checks the policy's kind.
func (p Policy) Validate() error {
	switch p.Kind {
	case PolicyChannel, PolicyAllowlist, PolicyApproval:
		return nil
	}
	return fmt.Errorf("share.policy %q: want channel, allowlist or approval", p.Kind)
}

// Requester is the verified sender of a key request.
type Requester struct {
	ID, Org     string
	Fingerprint string // of its certificate, hex
}

// Name is the requester as id@org.
func (r Requester) Name() string { return r.ID + "@" + r.Org }

// Request is a verified key request as the decision sees it.
type Request struct {
	ID        string // SHA-256 of the signed request, hex: its name in the approval queue
	TXNumber  string // the index entry it asks about, hex
	CID       string // the object it names
	Requester Requester
}

// Entry is what the custodian knows of the index entry a request names.
type Entry struct {
	CID       string // the entry's Hash_Address
	Custodian string // fingerprint of the node that answers for it
	Purged    bool
	PurgedAt  int64 // height
	KeyHeld   bool  // the custodian still holds the data key
}

// Approval names one of the owner's decisions: a requester and an entry.
type Approval struct {
	Requester string // certificate fingerprint
	TXNumber  string
}

// Approvals are the owner's decisions so far: true approved, false denied.
type Approvals map[Approval]bool

// Verdict is the decision on one request.
type Verdict struct {
	Release bool   // answer with the data key
	Code    string // otherwise the denial: one of share's Deny codes
	Reason  string // and why, for the requester
	Ask     bool   // queue the request for the owner's approval
}

func deny(code, format string, args ...any) Verdict {
	return Verdict{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// Decide decides request r of the custodian self (its fingerprint) for
// entry e (nil: no such entry) under policy p, given the approvals a.
// Checks in order: the entry exists and names the requested object, self
// answers for it, it is not purged and its key is held; then the policy.
func Decide(self string, r Request, e *Entry, p Policy, a Approvals) Verdict {
	switch {
	case e == nil:
		return deny(share.DenyUnknown, "no index entry %s", r.TXNumber)
	case e.CID != r.CID:
		return deny(share.DenyUnknown, "the entry names another CID")
	case e.Custodian != self:
		return deny(share.DenyUnknown, "this node is not the entry's custodian")
	case e.Purged:
		return deny(share.DenyPurged, "purged at height %d", e.PurgedAt)
	case !e.KeyHeld:
		return deny(share.DenyPurged, "the data key no longer exists")
	}
	who := r.Requester.Name()
	switch p.Kind {
	case PolicyAllowlist:
		if !slices.Contains(p.Allow, who) && !slices.Contains(p.Allow, r.Requester.Fingerprint) {
			return deny(share.DenyPolicy, "%s is not on the owner's allow-list", who)
		}
	case PolicyApproval:
		approved, decided := a[Approval{Requester: r.Requester.Fingerprint, TXNumber: r.TXNumber}]
		if !decided {
			v := deny(share.DenyPending, "ask again once the owner approved request %s", r.ID)
			v.Ask = true
			return v
		}
		if !approved {
			return deny(share.DenyPolicy, "the owner denied the request")
		}
	}
	return Verdict{Release: true}
}
