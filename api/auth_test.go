package api_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/contract/index"
	"github.com/sealnet/sealnet/contract/registry"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/txerr"
)

// issue makes a member of org CA ca with its key, not enrolled.
func issue(t testing.TB, ca *identity.CA, name string, role identity.Role) *identity.Identity {
	t.Helper()
	key, err := identity.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	csr, err := identity.NewCSR(key, name, ca.Org)
	if err != nil {
		t.Fatal(err)
	}
	der, err := ca.Issue(csr, role, time.Now().Add(-time.Minute), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	m, err := identity.ParseMember(der)
	if err != nil {
		t.Fatal(err)
	}
	return &identity.Identity{Key: key, Member: m, CertDER: der}
}

// enroll issues a member of the node's org and enrolls it.
func (tn *testNode) enroll(t testing.TB, name string, role identity.Role) *identity.Identity {
	t.Helper()
	ca, err := identity.LoadCA(tn.home.CA())
	if err != nil {
		t.Fatal(err)
	}
	id := issue(t, ca, name, role)
	tn.call(t, registry.Name, "enroll", registry.EnrollArgs{CertDER: id.CertDER})
	return id
}

func (tn *testNode) call(t testing.TB, contract, method string, args any) *apiclient.TxResponse {
	t.Helper()
	r, err := tn.c.Call(context.Background(), tn.admin, "default", contract, method, args)
	if err != nil || r.Code != 0 {
		t.Fatalf("%s.%s: %+v %v", contract, method, r, err)
	}
	return r
}

// refusedWith checks err is an API refusal with the HTTP status and code.
func refusedWith(t *testing.T, what string, err error, status int, code txerr.Code, says string) {
	t.Helper()
	var ae *apiclient.APIError
	if !errors.As(err, &ae) || ae.Status != status || txerr.CodeOf(err) != code || !strings.Contains(err.Error(), says) {
		t.Fatalf("%s: got %v, want HTTP %d %s saying %q", what, err, status, code, says)
	}
}

func TestAuthorizationByRole(t *testing.T) {
	tn := startTestNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	alice := tn.enroll(t, "alice", identity.RoleClient)
	bob := tn.enroll(t, "bob", identity.RoleClient)
	audrey := tn.enroll(t, "audrey", identity.RoleAuditor)
	ac, bc, auditor := tn.client(t, alice), tn.client(t, bob), tn.client(t, audrey)

	// another org, admitted to the channel by vote: enrolled, but not this
	// node's member
	ca2, err := identity.NewCA("org2", time.Now().Add(-time.Minute), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	admin2 := issue(t, ca2, "admin", identity.RoleAdmin)
	tn.call(t, registry.Name, "vote_org", registry.VoteOrgArgs{Name: "org2", RootDER: ca2.Cert.Raw, Members: [][]byte{admin2.CertDER}})
	// (apiclient.New refuses a member of another org; a hand-made client
	// is what an attacker would use)
	other := &apiclient.Client{Base: tn.url, HTTP: &http.Client{Transport: &http.Transport{TLSClientConfig: apiclient.ClientTLS(admin2, tn.root)}}}
	// a certificate of this org's CA that was never enrolled
	ca, _ := identity.LoadCA(tn.home.CA())
	stranger := tn.client(t, issue(t, ca, "mallory", identity.RoleAdmin))

	appHash := func() string {
		st, err := tn.c.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.Channels[0].AppHash
	}
	before := appHash()

	// readers read; auditors too
	for name, c := range map[string]*apiclient.Client{"client": ac, "auditor": auditor} {
		if _, err := c.Status(ctx); err != nil {
			t.Fatalf("%s status: %v", name, err)
		}
		if _, err := apiclient.Query[index.FindResult](ctx, c, "default", index.Name, "lookup", index.FindArgs{Keyword: "x"}); err != nil {
			t.Fatalf("%s query: %v", name, err)
		}
	}
	// an auditor writes nothing, even a transaction signed by someone else
	raw, _ := apiclient.SignCall(alice, "default", index.Name, "subfile", index.SubfileArgs{HashAddress: cid, Keywords: []string{"x"}}, time.Now())
	_, err = auditor.SubmitRaw(ctx, "default", raw)
	refusedWith(t, "auditor submits", err, 403, txerr.RoleDenied, "auditor")
	_, err = auditor.StorePut(ctx, "default", strings.NewReader("x"))
	refusedWith(t, "auditor stores", err, 403, txerr.RoleDenied, "auditor")

	// admin routes
	_, err = ac.PendingRequests(ctx)
	refusedWith(t, "client lists key requests", err, 403, txerr.RoleDenied, "needs an admin of org1")
	_, err = ac.Channel(ctx, apiclient.ChannelRequest{Name: "x", P2PListen: "tcp://127.0.0.1:1"})
	refusedWith(t, "client creates a channel", err, 403, txerr.RoleDenied, "needs an admin")
	if _, err := tn.c.PendingRequests(ctx); err != nil {
		t.Fatalf("admin lists key requests: %v", err)
	}

	// another org's member, an unknown certificate, none at all
	_, err = other.Status(ctx)
	refusedWith(t, "org2's admin", err, 403, txerr.RoleDenied, "belongs to org2")
	_, err = stranger.Status(ctx)
	refusedWith(t, "unenrolled certificate", err, 401, txerr.UnknownCert, "not enrolled")
	_, err = stranger.Tx(ctx, "default", strings.Repeat("00", 32))
	refusedWith(t, "unenrolled certificate on a channel", err, 401, txerr.UnknownCert, "not enrolled on channel default")
	anon := &apiclient.Client{Base: tn.url, HTTP: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}}
	_, err = anon.Status(ctx)
	refusedWith(t, "no certificate", err, 401, txerr.UnknownCert, "no client certificate")

	// data keys: deposited and replaced by their owner only; shredded by
	// the owner or an admin
	put, err := ac.StorePut(ctx, "default", bytes.NewReader([]byte("ciphertext of alice")))
	if err != nil {
		t.Fatal(err)
	}
	key := bytes.Repeat([]byte{7}, 32)
	if err := ac.PutDataKey(ctx, "default", put.CID, key); err != nil {
		t.Fatalf("owner deposits: %v", err)
	}
	refusedWith(t, "another member replaces the key", bc.PutDataKey(ctx, "default", put.CID, key), 403, txerr.RoleDenied, "only that member")
	refusedWith(t, "another member shreds the key", bc.ShredDataKey(ctx, "default", put.CID), 403, txerr.RoleDenied, "neither its owner nor an admin")
	if err := ac.PutDataKey(ctx, "default", put.CID, key); err != nil {
		t.Fatalf("owner replaces: %v", err)
	}
	if err := tn.c.ShredDataKey(ctx, "default", put.CID); err != nil {
		t.Fatalf("admin shreds: %v", err)
	}

	// none of the refusals wrote anything on chain
	if h := appHash(); h != before {
		t.Fatalf("refused requests moved the app hash from %s to %s", before, h)
	}

	// a revocation ends the member's open event stream and its access
	// from the next block on
	ended := make(chan error, 1)
	go func() {
		ended <- ac.Events(ctx, "default", -1, func(apiclient.EventMessage) bool { return true }, false)
	}()
	time.Sleep(300 * time.Millisecond) // the stream is open
	tn.call(t, registry.Name, "revoke", registry.RevokeArgs{Fingerprint: alice.Member.Fingerprint.String(), Reason: "laptop stolen"})
	select {
	case err := <-ended:
		if txerr.CodeOf(err) != txerr.RevokedCert {
			t.Fatalf("event stream ended with %v, want revoked_certificate", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the revoked member's event stream stays open")
	}
	_, err = ac.Status(ctx)
	refusedWith(t, "revoked member", err, 401, txerr.RevokedCert, "revoked on channel default")
}

// A client refuses a server that is not a node of its org.
func TestClientVerifiesTheNode(t *testing.T) {
	tn := startTestNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// another org's root: the node's certificate does not chain to it
	ca2, err := identity.NewCA("org2", time.Now().Add(-time.Minute), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, err := apiclient.New(tn.url, issue(t, ca2, "eve", identity.RoleClient), ca2.Cert)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Status(ctx); err == nil || !strings.Contains(err.Error(), apiclient.ErrNotOurNode.Error()) {
		t.Fatalf("status against another org's node: %v", err)
	}
	// plain HTTP is not offered
	if _, err := apiclient.New("http://"+strings.TrimPrefix(tn.url, "https://"), tn.admin, tn.root); err == nil {
		t.Fatal("an http:// node address was accepted")
	}
}
