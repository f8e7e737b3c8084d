package custodian

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sealnet/sealnet/share"
)

// The release decision is a pure function: the file that declares Decide
// imports no clock, network, file system, libp2p or node code.
func TestDecisionImports(t *testing.T) {
	allowed := map[string]bool{"fmt": true, "slices": true, "strings": true, "github.com/sealnet/sealnet/share": true}
	files, _ := filepath.Glob("*.go")
	found := false
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		if !declares(f, "Decide") {
			continue
		}
		found = true
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !allowed[p] {
				t.Errorf("%s, which holds the release decision, imports %s", name, p)
			}
		}
	}
	if !found {
		t.Fatal("no file declares Decide")
	}
}

func declares(f *ast.File, fn string) bool {
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == fn {
			return true
		}
	}
	return false
}

const (
	self  = "c0ffee"
	bobFP = "b0b"
	txn   = "0123"
	obj   = "bafkobj"
)

var bob = Requester{ID: "bob", Org: "org2", Fingerprint: bobFP}

func entry(mod func(*Entry)) *Entry {
	e := &Entry{CID: obj, Custodian: self, KeyHeld: true}
	if mod != nil {
		mod(e)
	}
	return e
}

// Each case is one request with what the custodian knows, and the verdict.
func TestDecide(t *testing.T) {
	req := Request{ID: "feed", TXNumber: txn, CID: obj, Requester: bob}
	other := req
	other.CID = "bafkother"
	channel, allow := Policy{Kind: PolicyChannel}, func(a ...string) Policy { return Policy{Kind: PolicyAllowlist, Allow: a} }
	approval := Policy{Kind: PolicyApproval}
	decided := func(v bool) Approvals { return Approvals{{Requester: bobFP, TXNumber: txn}: v} }
	for _, c := range []struct {
		name    string
		req     Request
		e       *Entry
		p       Policy
		a       Approvals
		release bool
		code    string
		reason  string
		ask     bool
	}{
		{name: "channel policy releases", req: req, e: entry(nil), p: channel, release: true},
		{name: "no entry", req: req, p: channel, code: share.DenyUnknown, reason: "no index entry 0123"},
		{name: "entry names another object", req: other, e: entry(nil), p: channel, code: share.DenyUnknown, reason: "another CID"},
		{name: "another custodian's entry", req: req, e: entry(func(e *Entry) { e.Custodian = "other" }), p: channel, code: share.DenyUnknown, reason: "not the entry's custodian"},
		{name: "purged", req: req, e: entry(func(e *Entry) { e.Purged, e.PurgedAt = true, 42 }), p: channel, code: share.DenyPurged, reason: "purged at height 42"},
		{name: "key gone", req: req, e: entry(func(e *Entry) { e.KeyHeld = false }), p: channel, code: share.DenyPurged, reason: "no longer exists"},
		{name: "purged before policy", req: req, e: entry(func(e *Entry) { e.Purged = true }), p: allow(), code: share.DenyPurged, reason: "purged"},
		{name: "allow-list by name", req: req, e: entry(nil), p: allow("alice@org3", "bob@org2"), release: true},
		{name: "allow-list by fingerprint", req: req, e: entry(nil), p: allow(bobFP), release: true},
		{name: "not on the allow-list", req: req, e: entry(nil), p: allow("bob@org3"), code: share.DenyPolicy, reason: "bob@org2 is not on the owner's allow-list"},
		{name: "approval undecided asks the owner", req: req, e: entry(nil), p: approval, code: share.DenyPending, reason: "approved request feed", ask: true},
		{name: "approval granted", req: req, e: entry(nil), p: approval, a: decided(true), release: true},
		{name: "approval denied", req: req, e: entry(nil), p: approval, a: decided(false), code: share.DenyPolicy, reason: "the owner denied"},
		{name: "approval of another entry does not count", req: req, e: entry(nil), p: approval,
			a: Approvals{{Requester: bobFP, TXNumber: "4567"}: true}, code: share.DenyPending, ask: true},
	} {
		v := Decide(self, c.req, c.e, c.p, c.a)
		if v.Release != c.release || v.Code != c.code || v.Ask != c.ask || !strings.Contains(v.Reason, c.reason) {
			t.Errorf("%s: got %+v", c.name, v)
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	for _, k := range []string{PolicyChannel, PolicyAllowlist, PolicyApproval} {
		if err := (Policy{Kind: k}).Validate(); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	if err := (Policy{Kind: "everyone"}).Validate(); err == nil {
		t.Error("an unknown policy passed")
	}
}
