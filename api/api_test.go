package api_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/contract/index"
	"github.com/sealnet/sealnet/daemon"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/node"
	"github.com/sealnet/sealnet/txerr"
)

const cid = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"

func freeP2P(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "tcp://" + l.Addr().String()
}

// testNode is a one-org node with its API on a TLS test server.
type testNode struct {
	home  node.Home
	node  *node.Node
	url   string // the API
	ops   string // the operations listener
	root  *x509.Certificate
	admin *identity.Identity
	c     *apiclient.Client // as admin
}

func startTestNode(t *testing.T) *testNode {
	t.Helper()
	h := node.Home(t.TempDir())
	cfg, err := node.Init(h, "org1")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Channels[0].P2PListen = freeP2P(t)
	cfg.P2P.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.API.Listen, cfg.API.OpsListen = "127.0.0.1:0", "127.0.0.1:0"
	if err := h.SaveConfig(cfg); err != nil {
		t.Fatal(err)
	}
	// refused handshakes are expected here; the discarded log takes them
	d, err := daemon.Start(h, daemon.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	tn := &testNode{home: h, node: d.Node, url: "https://" + d.APIAddr(), ops: "http://" + d.OpsAddr()}
	if tn.root, err = identity.LoadRoot(h.Root()); err != nil {
		t.Fatal(err)
	}
	if tn.admin, err = identity.LoadIdentity(h.Keys(), cfg.Identity); err != nil {
		t.Fatal(err)
	}
	tn.c = tn.client(t, tn.admin)
	return tn
}

// client returns an API client that authenticates as id.
func (tn *testNode) client(t testing.TB, id *identity.Identity) *apiclient.Client {
	t.Helper()
	c, err := apiclient.New(tn.url, id, tn.root)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// startNode runs a one-org node and returns its admin's client.
func startNode(t *testing.T) (*apiclient.Client, *identity.Identity, node.Home) {
	tn := startTestNode(t)
	return tn.c, tn.admin, tn.home
}

func TestAPIEndToEnd(t *testing.T) {
	c, admin, _ := startNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	st, err := c.Status(ctx)
	if err != nil || st.Org != "org1" || len(st.Channels) != 1 || st.Channels[0].Name != "default" {
		t.Fatalf("status %+v %v", st, err)
	}
	r, err := c.Call(ctx, admin, "default", index.Name, "subfile", index.SubfileArgs{HashAddress: cid, Summary: "gearbox vibration", Keywords: []string{"maintenance"}})
	if err != nil || r.Code != 0 || r.Height < 1 {
		t.Fatalf("subfile: %+v %v", r, err)
	}
	tx, err := c.Tx(ctx, "default", r.TxID)
	if err != nil || tx.Envelope == nil || !tx.Envelope.Verified || tx.Envelope.Method != "subfile" || tx.Envelope.CreatorID != "admin@org1" {
		t.Fatalf("tx show: %+v %v", tx, err)
	}
	b, err := c.Block(ctx, "default", r.Height)
	if err != nil || len(b.TxIDs) == 0 || b.AppHash == "" {
		t.Fatalf("block: %+v %v", b, err)
	}
	found, err := apiclient.Query[index.FindResult](ctx, c, "default", index.Name, "lookup", index.FindArgs{Keyword: "maintenance"})
	if err != nil || len(found.Entries) != 1 {
		t.Fatalf("lookup: %+v %v", found, err)
	}
	q, err := c.Call(ctx, admin, "default", index.Name, "querfile", index.FindArgs{Keyword: "maintenance"})
	if err != nil || q.Code != 0 {
		t.Fatalf("querfile: %+v %v", q, err)
	}

	var events []apiclient.EventMessage
	if err := c.Events(ctx, "default", 1, func(m apiclient.EventMessage) bool { events = append(events, m); return true }, true); err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Event.Type != "subfile" || events[0].TxID != r.TxID {
		t.Fatalf("events %+v", events)
	}

	// resubmitting the same bytes returns the committed result
	raw, _ := apiclient.SignCall(admin, "default", index.Name, "subfile", index.SubfileArgs{HashAddress: cid, Keywords: []string{"x"}}, time.Now())
	first, err := c.SubmitRaw(ctx, "default", raw)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.SubmitRaw(ctx, "default", raw)
	if err != nil || again.TxID != first.TxID || again.Height != first.Height {
		t.Fatalf("resubmit: %+v %v", again, err)
	}
}

func TestAPIRejections(t *testing.T) {
	c, admin, _ := startNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stale, _ := apiclient.SignCall(admin, "default", index.Name, "subfile", index.SubfileArgs{HashAddress: cid, Keywords: []string{"x"}}, time.Now().Add(-10*time.Minute))
	cases := []struct {
		name    string
		channel string
		raw     []byte
		code    txerr.Code
		status  int
	}{
		{"malformed", "default", []byte("garbage"), txerr.Malformed, 400},
		{"stale", "default", stale, txerr.StaleTimestamp, 400},
		{"unknown channel", "nope", stale, txerr.WrongChannel, 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.SubmitRaw(ctx, tc.channel, tc.raw)
			var ae *apiclient.APIError
			if !errors.As(err, &ae) || ae.Status != tc.status || txerr.CodeOf(err) != tc.code {
				t.Fatalf("got %v (%+v), want %s with HTTP %d", err, ae, tc.code, tc.status)
			}
		})
	}
	// an oversized body is refused before decoding
	req, _ := http.NewRequest("POST", c.Base+"/v1/channels/default/txs", strings.NewReader(`{"tx":"`+strings.Repeat("A", 9<<20)+`"}`))
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var e apiclient.ErrorResponse
	json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != 400 || txerr.Code(e.Code) != txerr.Oversized {
		t.Fatalf("oversized body: %d %+v", resp.StatusCode, e)
	}
	// the node still serves
	if _, err := c.Status(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestOpsAndPublicRoutes(t *testing.T) {
	tn := startTestNode(t)
	for _, u := range []string{tn.ops + "/metrics", tn.ops + "/healthz", tn.ops + "/livez", tn.ops + "/readyz"} {
		resp, err := http.Get(u)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", u, err, resp)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(tn.ops + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var ready apiclient.Readiness
	json.NewDecoder(resp.Body).Decode(&ready)
	resp.Body.Close()
	if !ready.Ready || ready.Checks["channel default"] != "ok" || ready.Checks["storage"] != "ok" || ready.Checks["p2p"] != "ok" {
		t.Fatalf("readyz: %+v", ready)
	}
	resp, err = tn.c.HTTP.Get(tn.url + "/openapi.json")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("openapi.json: %v %v", err, resp)
	}
	resp.Body.Close()
	// neither health nor metrics is on the API listener
	resp, err = tn.c.HTTP.Get(tn.url + "/metrics")
	if err != nil || resp.StatusCode != 404 {
		t.Fatalf("/metrics on the API: %v %v", err, resp)
	}
	resp.Body.Close()
}
