package payment

import (
	"context"
	"encoding/hex"
	"io"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract/compute"
	"github.com/sealnet/sealnet/contract/paych"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/p2p"
	"github.com/sealnet/sealnet/txerr"
)

// fakeLedger is one chain's committed state as the tests set it, shared
// by both nodes, with the calls submitted to it.
type fakeLedger struct {
	mu       sync.Mutex
	height   int64
	channels map[string]*paych.Channel
	jobs     map[string]*compute.Job
	calls    []call
}

type call struct {
	method string
	args   any
}

func newFakeLedger() *fakeLedger {
	return &fakeLedger{height: 10, channels: map[string]*paych.Channel{}, jobs: map[string]*compute.Job{}}
}

func (l *fakeLedger) Channel(chain, id string) (*paych.Channel, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.channels[id]
	if !ok || chain != "default" {
		return nil, txerr.New(txerr.NotFound, "no channel %s", id)
	}
	cp := *c
	return &cp, nil
}

func (l *fakeLedger) Channels(chain string, a paych.ListArgs) (*paych.List, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := &paych.List{Channels: []paych.Channel{}}
	var ids []string
	for id := range l.channels {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		c := l.channels[id]
		if (c.PayerOrg == a.Org || c.PayeeOrg == a.Org) && (a.State == "" || c.State == a.State) && id > a.After {
			out.Channels = append(out.Channels, *c)
		}
	}
	return out, nil
}

func (l *fakeLedger) Job(chain, id string) (*compute.Job, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	j, ok := l.jobs[id]
	if !ok {
		return nil, txerr.New(txerr.NotFound, "no job %s", id)
	}
	cp := *j
	return &cp, nil
}

func (l *fakeLedger) Height(string) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.height, nil
}

// Submit records the call; a collect closes the channel.
func (l *fakeLedger) Submit(_ context.Context, _, _, method string, args any) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, call{method, args})
	if a, ok := args.(paych.ChannelArgs); ok && method == "collect" {
		c := l.channels[a.Channel]
		c.State = paych.StateClosed
		return canon.MustMarshal(c), nil
	}
	return nil, nil
}

func (l *fakeLedger) submitted() []call {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]call(nil), l.calls...)
}

func (l *fakeLedger) set(c *paych.Channel) {
	l.mu.Lock()
	l.channels[c.ID] = c
	l.mu.Unlock()
}

// testNode is an org's node: identity, libp2p host and gate.
type testNode struct {
	id   *identity.Identity
	host host.Host
	gate *p2p.Gate
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newIdentity(t testing.TB, org, name string, role identity.Role) *identity.Identity {
	t.Helper()
	ca, err := identity.NewCA(org, time.Now().Add(-time.Hour), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := identity.NewKey()
	csr, err := identity.NewCSR(key, name, org)
	if err != nil {
		t.Fatal(err)
	}
	der, err := ca.Issue(csr, role, time.Now().Add(-time.Hour), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	m, err := identity.ParseMember(der)
	if err != nil {
		t.Fatal(err)
	}
	return &identity.Identity{Key: key, Member: m, CertDER: der}
}

func newTestNode(t testing.TB, org string) *testNode {
	t.Helper()
	id := newIdentity(t, org, "node", identity.RoleNode)
	gate := p2p.NewGate(quiet())
	h, err := p2p.NewHost(id.Key, []string{"/ip4/127.0.0.1/tcp/0"}, gate)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return &testNode{id: id, host: h, gate: gate}
}

// admit makes the nodes members of chain "default" in every node's gate
// and tells each host where the others listen.
func admit(nodes ...*testNode) {
	members := map[peer.ID]p2p.Member{}
	for _, n := range nodes {
		members[n.host.ID()] = p2p.Member{ID: n.id.Member.ID, Org: n.id.Member.Org, Role: identity.RoleNode, Channels: map[string]bool{"default": true}}
	}
	for _, n := range nodes {
		n.gate.Update(members)
		for _, o := range nodes {
			if o != n {
				n.host.Peerstore().AddAddrs(o.host.ID(), o.host.Addrs(), peerstore.PermanentAddrTTL)
			}
		}
	}
}

func (n *testNode) service(t testing.TB, l Ledger, dir string) *Service {
	t.Helper()
	s, err := New(Config{Identity: n.id, Dir: dir, Host: n.host, Members: n.gate, Ledger: l, Log: quiet(), ReplicaWait: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// channelOf is an open channel paid by payer to org's account.
func channelOf(t testing.TB, id byte, payer *identity.Identity, org string, deposit uint64) *paych.Channel {
	key, err := payer.Key.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	var b [32]byte
	b[0] = id
	return &paych.Channel{ID: hex.EncodeToString(b[:]), Payer: payer.Member.Fingerprint.String(), PayerKey: key, PayerOrg: payer.Member.Org,
		PayeeOrg: org, Deposit: deposit, Lanes: nil, Opened: 2, Expiry: 1000, SettleDelay: 100, State: paych.StateOpen, Txs: 1}
}
