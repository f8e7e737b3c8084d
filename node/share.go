package node

import (
	"context"
	"crypto/ecdsa"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract/index"
	"github.com/sealnet/sealnet/contract/registry"
	"github.com/sealnet/sealnet/envelope"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/ledger"
	"github.com/sealnet/sealnet/p2p"
	"github.com/sealnet/sealnet/seal"
	"github.com/sealnet/sealnet/share"
	"github.com/sealnet/sealnet/store"
	"github.com/sealnet/sealnet/txerr"
)

// Share is the node's part in paper 002: it stores ciphertext, exchanges
// blocks with member nodes over bitswap, keeps the data keys its org's
// members handed it as custodian, and answers key requests.
type Share struct {
	n     *Node
	Store *store.Store
	Tags  *store.Tags
	Host  host.Host
	Gate  *p2p.Gate
	Ex    *store.Exchange
	ver   *share.Verifier
	stop  context.CancelFunc

	mu       sync.Mutex
	pending  map[string]*Pending // approval queue, by request hash
	verdicts map[string]bool     // requester fingerprint + tx number -> approved
}

// Pending is a key request waiting for the owner's decision.
type Pending struct {
	ID        string `json:"id"` // request hash
	Channel   string `json:"channel"`
	TXNumber  string `json:"tx_number"`
	CID       string `json:"cid"`
	Requester string `json:"requester"` // id@org
	RequestFP string `json:"requester_fingerprint"`
	Time      string `json:"time"`
}

// Frame kinds on the key-request stream.
const (
	frameAnswer = 'A' // an HPKE-sealed signed answer follows
	frameError  = 'E' // the request was rejected before it could be answered
)

func (n *Node) startShare() error {
	cfg := n.Config()
	dir := filepath.Join(string(n.Home), "store")
	st, err := store.Open(filepath.Join(dir, "blocks"))
	if err != nil {
		return err
	}
	tags, err := store.OpenTags(filepath.Join(dir, "tags"))
	if err != nil {
		st.Close()
		return err
	}
	s := &Share{n: n, Store: st, Tags: tags, Gate: p2p.NewGate(n.Log), pending: map[string]*Pending{}, verdicts: map[string]bool{}}
	for _, id := range cfg.P2P.AllowPeers {
		pid, err := peer.Decode(id)
		if err != nil {
			s.close()
			return fmt.Errorf("p2p.allow_peers: %q: %w", id, err)
		}
		s.Gate.Allow(pid)
	}
	s.ver = &share.Verifier{Self: n.Identity, Tau: ledger.DefaultTau, Resolve: s.resolve}
	if s.Host, err = p2p.NewHost(n.Identity.Key, cfg.P2P.Listen, s.Gate); err != nil {
		s.close()
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	s.Ex = st.Exchange(ctx, s.Host, s.allowBlock)
	st.ServeDAG(s.Host, s.allowBlock)
	s.Host.SetStreamHandler(share.Protocol, s.handle)
	s.refreshMembers()
	for _, c := range n.Channels() {
		s.watch(c)
	}
	go s.keepConnected(ctx, cfg.P2P.Peers)
	n.share = s
	n.Log.Info("p2p host up", "peer_id", s.Host.ID(), "addrs", fmt.Sprint(s.Host.Addrs()))
	return nil
}

func (s *Share) close() {
	if s.stop != nil {
		s.stop()
	}
	if s.Ex != nil {
		s.Ex.Close()
	}
	if s.Host != nil {
		s.Host.Close()
	}
	s.Tags.Close()
	s.Store.Close()
}

// watch refreshes the gate whenever a channel's registry changes.
func (s *Share) watch(c *ledger.Channel) {
	c.App.OnCommit(func(b *ledger.Block) {
		for _, r := range b.Txs {
			for _, e := range r.Events {
				if e.Contract == registry.Name {
					go s.refreshMembers()
					return
				}
			}
		}
	})
}

// refreshMembers rebuilds the gate's member set from every hosted channel's
// registry: enrolled, unrevoked certificates.
func (s *Share) refreshMembers() {
	members := map[peer.ID]p2p.Member{}
	for _, c := range s.n.Channels() {
		raw, err := c.App.QueryContract(registry.Name, "certs", canon.MustMarshal(struct {
			WithDER bool `cbor:"der,omitempty"`
		}{true}))
		if err != nil {
			s.n.Log.Error("read registry", "channel", c.Name, "err", err)
			continue
		}
		var certs []registry.Cert
		if err := canon.Unmarshal(raw, &certs); err != nil {
			s.n.Log.Error("decode registry", "channel", c.Name, "err", err)
			continue
		}
		for _, rec := range certs {
			if rec.Revoked != nil {
				continue
			}
			m, err := identity.ParseMember(rec.DER)
			if err != nil {
				continue
			}
			pid, err := p2p.PeerID(m.Cert.PublicKey.(*ecdsa.PublicKey))
			if err != nil {
				continue
			}
			pm, ok := members[pid]
			if !ok {
				pm = p2p.Member{ID: m.ID, Org: m.Org, Role: m.Role, Channels: map[string]bool{}}
			}
			pm.Channels[c.Name] = true
			members[pid] = pm
		}
	}
	s.Gate.Update(members)
}

// allowBlock lets a peer have a block only if it is a member of a channel
// the block belongs to (or an operator-listed interop peer).
func (s *Share) allowBlock(p peer.ID, c cid.Cid) bool {
	if s.Gate.Listed(p) {
		return true
	}
	m, ok := s.Gate.Lookup(p)
	if !ok {
		return false
	}
	chs, err := s.Tags.Channels(c)
	if err != nil {
		return false
	}
	for _, ch := range chs {
		if m.Channels[ch] {
			return true
		}
	}
	return false
}

func (s *Share) keepConnected(ctx context.Context, peers []string) {
	var infos []peer.AddrInfo
	for _, p := range peers {
		a, err := ma.NewMultiaddr(p)
		if err == nil {
			if info, err := peer.AddrInfoFromP2pAddr(a); err == nil {
				infos = append(infos, *info)
				continue
			}
		}
		s.n.Log.Error("p2p.peers: not a /p2p/ multiaddr", "peer", p)
	}
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		for _, info := range infos {
			if s.Host.Network().Connectedness(info.ID) != network.Connected {
				cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				if err := s.Host.Connect(cctx, info); err != nil {
					s.n.Log.Debug("p2p connect", "peer", info.ID, "err", err)
				}
				cancel()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Share) resolve(channel string, fp identity.Fingerprint) (*identity.Member, bool, error) {
	c, err := s.n.Channel(channel)
	if err != nil {
		return nil, false, err
	}
	return c.App.Certificate(fp)
}

// keyPath is where a custodian keeps a data key.
func (s *Share) keyPath(channel, c string) string {
	return filepath.Join(string(s.n.Home), "datakeys", channel, c+".key")
}

// PutKey stores a data key handed over by owner, a member of this node's
// org, HPKE-sealed to the node's own key, so a copy of the key directory
// alone opens nothing. The key file records its owner: a key already held
// is replaced only by the member that deposited it.
func (s *Share) PutKey(channel string, c cid.Cid, key []byte, owner *identity.Member) error {
	if len(key) != seal.KeySize {
		return txerr.New(txerr.BadArgs, "data key is %d bytes, want %d", len(key), seal.KeySize)
	}
	if _, err := s.n.Channel(channel); err != nil {
		return err
	}
	if owner == nil {
		return txerr.New(txerr.UnknownCert, "a data key is deposited by its owner, and none was authenticated")
	}
	p := s.keyPath(channel, c.String())
	if _, held, err := s.readKey(p); err == nil && held != owner.Fingerprint {
		return txerr.New(txerr.RoleDenied, "the data key of %s was deposited by certificate %s; only that member may replace it", c, held)
	}
	wrapped, err := share.SealTo(&s.n.Identity.Key.PublicKey, key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return os.WriteFile(p, []byte(hex.EncodeToString(wrapped)+"\n"+owner.Fingerprint.String()+"\n"), 0o600)
}

// readKey reads a key file: the wrapped key, then its owner's fingerprint
// (files written before owners were recorded have none: their owner is the
// zero fingerprint, which only an admin matches).
func (s *Share) readKey(p string) (wrapped []byte, owner identity.Fingerprint, err error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, owner, err
	}
	lines := strings.Fields(string(b))
	if len(lines) == 0 {
		return nil, owner, fmt.Errorf("key file %s is empty", filepath.Base(p))
	}
	if wrapped, err = hex.DecodeString(lines[0]); err != nil {
		return nil, owner, fmt.Errorf("key file %s: %w", filepath.Base(p), err)
	}
	if len(lines) > 1 {
		if owner, err = identity.ParseFingerprint(lines[1]); err != nil {
			return nil, owner, fmt.Errorf("key file %s: owner: %w", filepath.Base(p), err)
		}
	}
	return wrapped, owner, nil
}

func (s *Share) loadKey(channel, c string) ([]byte, error) {
	wrapped, _, err := s.readKey(s.keyPath(channel, c))
	if err != nil {
		return nil, err
	}
	return share.OpenWith(s.n.Identity.Key, wrapped)
}

// Shred destroys a data key (overwritten, then removed) and the local
// blocks of its ciphertext. Only the key's owner or an admin of the org
// may shred it.
func (s *Share) Shred(ctx context.Context, channel string, c cid.Cid, by *identity.Member) error {
	p := s.keyPath(channel, c.String())
	if by == nil {
		return txerr.New(txerr.UnknownCert, "a data key is shredded by its owner or an admin, and none was authenticated")
	}
	_, owner, err := s.readKey(p)
	switch {
	case err == nil && owner != by.Fingerprint && by.Role != identity.RoleAdmin:
		return txerr.New(txerr.RoleDenied, "the data key of %s belongs to certificate %s; %s@%s is neither its owner nor an admin", c, owner, by.ID, by.Org)
	case errors.Is(err, os.ErrNotExist) && by.Role != identity.RoleAdmin:
		// already shredded (a retried purge): what blocks remain have no
		// owner on record, and only an admin clears them
		return nil
	}
	if f, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
		if fi, err := f.Stat(); err == nil {
			f.Write(make([]byte, fi.Size()))
		}
		f.Sync()
		f.Close()
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return s.Store.Remove(ctx, s.Tags, c)
}

// Put stores ciphertext for channel and tags its blocks.
func (s *Share) Put(ctx context.Context, channel string, r io.Reader) (cid.Cid, error) {
	if _, err := s.n.Channel(channel); err != nil {
		return cid.Undef, err
	}
	c, err := s.Store.Add(ctx, r, store.AddOptions{})
	if err != nil {
		return cid.Undef, err
	}
	return c, s.Store.TagDAG(ctx, s.Tags, c, channel)
}

// Fetch makes sure the DAG at c is local, asking connected member nodes
// over bitswap.
func (s *Share) Fetch(ctx context.Context, channel string, c cid.Cid) error {
	if _, err := s.n.Channel(channel); err != nil {
		return err
	}
	if err := s.Ex.Fetch(ctx, c); err != nil {
		return err
	}
	if err := s.Store.Sync(); err != nil {
		return err
	}
	return s.Store.TagDAG(ctx, s.Tags, c, channel)
}

// StreamFrom fetches the DAG at c in one pass from the node of the member
// with certificate fingerprint from, storing and verifying every block,
// and writes the file's bytes to w as they arrive.
func (s *Share) StreamFrom(ctx context.Context, channel string, c cid.Cid, from identity.Fingerprint, w io.Writer) error {
	ch, err := s.n.Channel(channel)
	if err != nil {
		return err
	}
	m, err := ch.App.Member(from)
	if err != nil {
		return err
	}
	pid, err := p2p.PeerID(m.Cert.PublicKey.(*ecdsa.PublicKey))
	if err != nil {
		return err
	}
	if err := s.Store.FetchDAG(ctx, s.Host, pid, c, w); err != nil {
		return err
	}
	return s.Store.TagDAG(ctx, s.Tags, c, channel)
}

// RequestKey relays a sealed key request to the custodian's node and
// returns its sealed answer.
func (s *Share) RequestKey(ctx context.Context, channel string, custodian identity.Fingerprint, sealed []byte) ([]byte, error) {
	c, err := s.n.Channel(channel)
	if err != nil {
		return nil, err
	}
	m, err := c.App.Member(custodian)
	if err != nil {
		return nil, err
	}
	pid, err := p2p.PeerID(m.Cert.PublicKey.(*ecdsa.PublicKey))
	if err != nil {
		return nil, err
	}
	st, err := s.Host.NewStream(network.WithAllowLimitedConn(ctx, "keyreq"), pid, share.Protocol)
	if err != nil {
		return nil, txerr.New(txerr.Unavailable, "custodian node %s (%s@%s) is not reachable: %v", pid, m.ID, m.Org, err)
	}
	defer st.Close()
	if dl, ok := ctx.Deadline(); ok {
		st.SetDeadline(dl)
	}
	if err := share.WriteFrame(st, sealed); err != nil {
		return nil, err
	}
	st.CloseWrite()
	f, err := share.ReadFrame(st)
	if err != nil {
		return nil, txerr.New(txerr.Unavailable, "custodian closed the stream: %v", err)
	}
	if len(f) == 0 {
		return nil, txerr.New(txerr.Malformed, "empty answer")
	}
	switch f[0] {
	case frameAnswer:
		return f[1:], nil
	case frameError:
		return nil, txerr.New(txerr.Rejected, "custodian rejected the request: %s", f[1:])
	}
	return nil, txerr.New(txerr.Malformed, "unknown answer frame %q", f[0])
}

// handle answers one key request stream as custodian.
func (s *Share) handle(st network.Stream) {
	defer st.Close()
	st.SetDeadline(time.Now().Add(30 * time.Second))
	sealed, err := share.ReadFrame(st)
	if err != nil {
		s.n.Log.Warn("key request unreadable", "peer", st.Conn().RemotePeer(), "err", err)
		return
	}
	in, err := s.ver.OpenRequest(sealed, time.Now())
	if err != nil {
		// no answer can be sealed to an unverified sender; say why in clear
		s.n.Log.Warn("key request rejected", "peer", st.Conn().RemotePeer(), "err", err)
		share.WriteFrame(st, append([]byte{frameError}, err.Error()...))
		return
	}
	key, code, msg := s.decide(in)
	ans, hash, _, err := s.ver.Answer(in, key, code, msg, time.Now())
	if err != nil {
		s.n.Log.Error("seal answer", "err", err)
		return
	}
	// the answer goes out at once; its record follows in the next block
	go s.record(in, hash, key != nil, code)
	if err := share.WriteFrame(st, append([]byte{frameAnswer}, ans...)); err != nil {
		s.n.Log.Warn("send answer", "err", err)
	}
}

// decide applies the entry's state and the owner's policy.
func (s *Share) decide(in *share.Incoming) (key []byte, code, msg string) {
	r := &in.Request
	c, err := s.n.Channel(r.Channel)
	if err != nil {
		return nil, share.DenyUnknown, "channel not hosted here"
	}
	txn := hex.EncodeToString(r.TXNumber)
	raw, err := c.App.QueryContract(index.Name, "entry", canon.MustMarshal(index.PurgeArgs{TXNumber: txn}))
	if err != nil {
		return nil, share.DenyUnknown, "no index entry " + txn
	}
	var e index.Entry
	if err := canon.Unmarshal(raw, &e); err != nil || e.HashAddress != r.HashData {
		return nil, share.DenyUnknown, "the entry names another CID"
	}
	if e.Custodian != s.n.Identity.Member.Fingerprint.String() {
		return nil, share.DenyUnknown, "this node is not the entry's custodian"
	}
	if e.Purged {
		return nil, share.DenyPurged, fmt.Sprintf("purged at height %d", e.PurgedAt)
	}
	key, err = s.loadKey(r.Channel, e.HashAddress)
	if err != nil {
		return nil, share.DenyPurged, "the data key no longer exists"
	}
	who := in.Requester.ID + "@" + in.Requester.Org
	cfg := s.n.Config().Share
	switch cfg.Policy {
	case PolicyAllowlist:
		for _, a := range cfg.Allow {
			if a == who || a == in.Requester.Fingerprint.String() {
				return key, "", ""
			}
		}
		return nil, share.DenyPolicy, who + " is not on the owner's allow-list"
	case PolicyApproval:
		s.mu.Lock()
		defer s.mu.Unlock()
		verdict, decided := s.verdicts[in.Requester.Fingerprint.String()+txn]
		if !decided {
			id := hex.EncodeToString(in.Hash)
			s.pending[id] = &Pending{ID: id, Channel: r.Channel, TXNumber: txn, CID: e.HashAddress, Requester: who,
				RequestFP: in.Requester.Fingerprint.String(), Time: time.Unix(0, r.Time).UTC().Format(time.RFC3339)}
			return nil, share.DenyPending, "ask again once the owner approved request " + id
		}
		if !verdict {
			return nil, share.DenyPolicy, "the owner denied the request"
		}
	}
	return key, "", ""
}

// record puts the answer's hashes on chain (the request's record is the
// requester's to make).
func (s *Share) record(in *share.Incoming, answer []byte, granted bool, reason string) {
	c, err := s.n.Channel(in.Request.Channel)
	if err != nil {
		return
	}
	args := index.KeyAnswerArgs{TXNumber: hex.EncodeToString(in.Request.TXNumber), Request: hex.EncodeToString(in.Hash),
		Answer: hex.EncodeToString(answer), Granted: granted, Reason: reason}
	raw, err := envelope.SignCall(s.n.Identity, c.Name, index.Name, "keyanswer", args, time.Now())
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		var r *ledger.TxResult
		if r, err = c.Submit(ctx, raw); err == nil && r.Code != txerr.OK {
			err = &txerr.Error{Code: r.Code, Msg: r.Log}
		}
	}
	if err != nil {
		s.n.Log.Error("record key answer on chain", "tx_number", args.TXNumber, "err", err)
	}
}

// Pending lists requests waiting for approval.
func (s *Share) Pending() []Pending {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Pending, 0, len(s.pending))
	for _, p := range s.pending {
		out = append(out, *p)
	}
	return out
}

// Decide approves or denies a pending request; the requester's next
// request for the same entry gets the verdict.
func (s *Share) Decide(id string, approve bool) (*Pending, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pending[id]
	if !ok {
		return nil, txerr.New(txerr.NotFound, "no pending request %s", id)
	}
	delete(s.pending, id)
	s.verdicts[p.RequestFP+p.TXNumber] = approve
	return p, nil
}
