package member

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/contract/index"
	"github.com/sealnet/sealnet/contract/registry"
	"github.com/sealnet/sealnet/custodian"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/local"
	"github.com/sealnet/sealnet/share"
)

type org = local.Org

// twoOrgs runs org1 and org2 as two nodes of one channel, in-process.
func twoOrgs(t *testing.T) [2]*org {
	t.Helper()
	c, err := local.Start(t.TempDir(), 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return [2]*org{c.Orgs[0], c.Orgs[1]}
}

func TestPutGetPurgeBetweenCompanies(t *testing.T) {
	orgs := twoOrgs(t)
	b, a := orgs[0], orgs[1] // owner B in org1, requester A in org2
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	data := make([]byte, 3<<20+123)
	rand.NewChaCha8([32]byte{1}).Read(data)
	put, err := Put(ctx, b.API, b.Admin, "default", bytes.NewReader(data), Meta{Keywords: []string{"maintenance"}, Summary: "spindle log", Type: "text/csv"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if put.PlaintextSize != int64(len(data)) || put.CiphertextSize <= put.PlaintextSize || put.CID == "" || put.SubmitB == "" {
		t.Fatalf("put %+v", put)
	}
	waitHeight(t, a, put.Height)

	var got bytes.Buffer
	res, err := Get(ctx, a.API, a.Admin, "default", put.TXNumber, &got, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), data) || !res.SignatureOK || res.Owner != "admin@org1" || res.Size != uint64(len(data)) {
		t.Fatalf("get %+v (%d bytes)", res, got.Len())
	}
	// the request and the grant are on chain
	waitTransfers(t, ctx, a.API, put.TXNumber, 1)

	// purge: key and blocks gone, entry marked, a later request denied
	pt, err := Purge(ctx, b.API, b.Admin, "default", put.TXNumber)
	if err != nil {
		t.Fatal(err)
	}
	waitHeight(t, a, pt.Height)
	e, _ := Entry(ctx, a.API, "default", put.TXNumber)
	if !e.Purged || e.SubmitB == "" {
		t.Fatalf("entry after purge %+v", e)
	}
	var denied *DeniedError
	if _, err := Get(ctx, a.API, a.Admin, "default", put.TXNumber, io.Discard, nil); !errors.As(err, &denied) || denied.Code != share.DenyPurged {
		t.Fatalf("get after purge: %v", err)
	}
}

// waitHeight waits until o's node committed height h.
func waitHeight(t *testing.T, o *org, h int64) {
	t.Helper()
	if err := o.WaitHeight(h, 15*time.Second); err != nil {
		t.Fatal(err)
	}
}

func waitTransfers(t *testing.T, ctx context.Context, c *apiclient.Client, txn string, n int) {
	t.Helper()
	for i := 0; i < 100; i++ {
		recs, err := apiclient.Query[[]index.TransferRecord](ctx, c, "default", index.Name, "transfers", index.PurgeArgs{TXNumber: txn})
		if err == nil &&
			len(recs) == n && recs[n-1].Answer != "" && recs[n-1].Granted {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("transfer of %s not recorded", txn)
}

func TestRevokedRequesterRefused(t *testing.T) {
	orgs := twoOrgs(t)
	b, a := orgs[0], orgs[1]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	put, err := Put(ctx, b.API, b.Admin, "default", bytes.NewReader([]byte("5367")), Meta{Keywords: []string{"counter"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// org2's admin enrolls a client, then revokes it
	home := a.Home
	key, _ := identity.NewKey()
	ca, err := identity.LoadCA(home.CA())
	if err != nil {
		t.Fatal(err)
	}
	csr, _ := identity.NewCSR(key, "carol", "org2")
	der, _ := ca.Issue(csr, identity.RoleClient, time.Now().Add(-time.Minute), time.Hour)
	m, _ := identity.ParseMember(der)
	carol := &identity.Identity{Key: key, Member: m, CertDER: der}
	if r, err := a.API.Call(ctx, a.Admin, "default", registry.Name, "enroll", registry.EnrollArgs{CertDER: der}); err != nil || r.Code != 0 {
		t.Fatalf("enroll: %v %+v", err, r)
	}
	rv, err := a.API.Call(ctx, a.Admin, "default", registry.Name, "revoke", registry.RevokeArgs{Fingerprint: m.Fingerprint.String()})
	if err != nil || rv.Code != 0 {
		t.Fatalf("revoke: %v %+v", err, rv)
	}
	// the custodian's node must have the revocation before it can apply it
	waitHeight(t, b, rv.Height)
	waitHeight(t, a, put.Height)
	// the chain refuses to record its request
	if _, err := Get(ctx, a.API, carol, "default", put.TXNumber, io.Discard, nil); err == nil || !strings.Contains(err.Error(), "revoked certificate") {
		t.Fatalf("revoked requester: %v", err)
	}
	// and the custodian refuses the request itself, recorded or not
	e, _ := Entry(ctx, a.API, "default", put.TXNumber)
	custodian, _ := certificate(ctx, a.API, "default", e.Custodian)
	var tx [32]byte
	txb, _ := hex.DecodeString(put.TXNumber)
	copy(tx[:], txb)
	sealed, _, _ := share.NewRequest(carol, custodian, "default", e.HashAddress, tx, time.Now())
	if _, err := a.API.RelayKeyRequest(ctx, "default", e.Custodian, sealed); err == nil || !strings.Contains(err.Error(), share.ErrRevoked.Error()) {
		t.Fatalf("custodian on a revoked requester: %v", err)
	}
	// a replayed request is refused too
	good, _, _ := share.NewRequest(a.Admin, custodian, "default", e.HashAddress, tx, time.Now())
	if _, err := a.API.RelayKeyRequest(ctx, "default", e.Custodian, good); err != nil {
		t.Fatal(err)
	}
	if _, err := a.API.RelayKeyRequest(ctx, "default", e.Custodian, good); err == nil || !strings.Contains(err.Error(), share.ErrReplayed.Error()) {
		t.Fatalf("replayed request: %v", err)
	}
}

// Entries, key requests and blocks of a channel stay inside it: org2 does
// not host org1's channel "quality", cannot fetch its blocks over bitswap,
// and its members' key requests for it are refused.
func TestChannelIsolation(t *testing.T) {
	orgs := twoOrgs(t)
	b, a := orgs[0], orgs[1]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	p2pAddr := "tcp://" + l.Addr().String()
	l.Close()
	if _, err := b.Node.CreateChannel("quality", p2pAddr); err != nil {
		t.Fatal(err)
	}
	put, err := Put(ctx, b.API, b.Admin, "quality", bytes.NewReader(bytes.Repeat([]byte("secret recipe "), 100_000)), Meta{Keywords: []string{"recipe"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// the entry is not readable from org2's node
	if _, err := Entry(ctx, a.API, "quality", put.TXNumber); err == nil || !strings.Contains(err.Error(), "not hosted") {
		t.Fatalf("entry from outside the channel: %v", err)
	}
	// its blocks are refused to org2's node, although org2 shares another channel with org1
	c, _ := cid.Decode(put.CID)
	fctx, fcancel := context.WithTimeout(ctx, 3*time.Second)
	defer fcancel()
	if err := a.Daemon.Store.Fetch(fctx, "default", c); err == nil {
		t.Fatal("a node outside the channel fetched its blocks")
	}
	// and a key request for it is refused by the custodian
	e, _ := Entry(ctx, b.API, "quality", put.TXNumber)
	custodian, _ := certificate(ctx, b.API, "quality", e.Custodian)
	var tx [32]byte
	txb, _ := hex.DecodeString(put.TXNumber)
	copy(tx[:], txb)
	sealed, _, _ := share.NewRequest(a.Admin, custodian, "quality", e.HashAddress, tx, time.Now())
	st, err := a.Daemon.P2P.Host.NewStream(ctx, b.Daemon.P2P.Host.ID(), share.Protocol)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	share.WriteFrame(st, sealed)
	st.CloseWrite()
	answer, err := share.ReadFrame(st)
	if err != nil || !strings.Contains(string(answer), share.ErrUnknown.Error()) {
		t.Fatalf("key request from outside the channel: %q %v", answer, err)
	}
}

// With share.policy = approval, a request waits in the owner's queue until
// the owner approves it (or denies it, and the next request is refused).
func TestApprovalQueue(t *testing.T) {
	orgs := twoOrgs(t)
	b, a := orgs[0], orgs[1]
	if err := b.Node.SetSharePolicy(custodian.Policy{Kind: custodian.PolicyApproval}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	put, err := Put(ctx, b.API, b.Admin, "default", bytes.NewReader([]byte("quality report 7")), Meta{Keywords: []string{"quality"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitHeight(t, a, put.Height)
	var denied *DeniedError
	if _, err := Get(ctx, a.API, a.Admin, "default", put.TXNumber, io.Discard, nil); !errors.As(err, &denied) || denied.Code != share.DenyPending {
		t.Fatalf("first request: %v", err)
	}
	pending, err := b.API.PendingRequests(ctx)
	if err != nil || len(pending) != 1 || pending[0].Requester != "admin@org2" {
		t.Fatalf("queue %+v %v", pending, err)
	}
	if _, err := b.API.Decide(ctx, pending[0].ID, true); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := Get(ctx, a.API, a.Admin, "default", put.TXNumber, &out, nil); err != nil || out.String() != "quality report 7" {
		t.Fatalf("after approval: %q %v", out.String(), err)
	}
}
