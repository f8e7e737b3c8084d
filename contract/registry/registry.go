// Package registry is the contract that holds a channel's members: its
// organizations (each with its own root CA), the certificates enrolled by
// each org's admin, their roles and revocations. Every other contract trusts
// the caller identity the runtime resolves through this registry.
package registry

import (
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"sync"
	"time"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/txerr"
)

// Name is the contract's name.
const Name = "registry"

// Key layout under the contract's prefix.
const (
	pOrg    = "org/"
	pCert   = "cert/"
	pMember = "member/"
	pRevoke = "rev/"
	// RevokedPrefix is where revocation markers live, for callers that
	// keep them in memory.
	RevokedPrefix = pRevoke
	pVote         = "vote/"
	pPeer         = "peer/"
)

// Org is a member organization of the channel.
type Org struct {
	Name    string `cbor:"name" json:"name"`
	RootDER []byte `cbor:"root" json:"root"`
	Since   int64  `cbor:"since" json:"since"` // height admitted (0: genesis)
}

// Cert is an enrolled certificate.
type Cert struct {
	DER         []byte      `cbor:"der" json:"der"`
	ID          string      `cbor:"id" json:"id"`
	Org         string      `cbor:"org" json:"org"`
	Role        string      `cbor:"role" json:"role"`
	Fingerprint string      `cbor:"fingerprint" json:"fingerprint"`
	NotAfter    int64       `cbor:"not_after" json:"not_after"` // Unix seconds
	Enrolled    int64       `cbor:"enrolled" json:"enrolled"`   // height (0: genesis)
	Revoked     *Revocation `cbor:"revoked,omitempty" json:"revoked,omitempty"`
	// P2PKey is the Ed25519 key of a node's libp2p host, bound by
	// bind_p2p_key or the genesis; a node without one is reached under
	// its certificate's P-256 key (homes made before the binding).
	P2PKey []byte `cbor:"p2p_key,omitempty" json:"p2p_key,omitempty"`
}

// Revocation records who revoked a certificate and when.
type Revocation struct {
	By     string `cbor:"by" json:"by"`
	Height int64  `cbor:"height" json:"height"`
	Time   int64  `cbor:"time" json:"time"` // block time, Unix nanoseconds
	Reason string `cbor:"reason,omitempty" json:"reason,omitempty"`
}

// EnrollArgs enrolls a certificate issued by the caller's org CA.
type EnrollArgs struct {
	CertDER []byte `cbor:"cert"`
}

// RevokeArgs revokes a certificate of the caller's org.
type RevokeArgs struct {
	Fingerprint string `cbor:"fingerprint"`
	Reason      string `cbor:"reason,omitempty"`
}

// VoteOrgArgs is one member org's vote to admit a new org with its root
// certificate and first members (its admin, its node); the org joins when
// more than half of the current orgs voted for exactly the same proposal.
type VoteOrgArgs struct {
	Name    string   `cbor:"name"`
	RootDER []byte   `cbor:"root"`
	Members [][]byte `cbor:"members,omitempty"`
}

// AllowPeerArgs admits a node of the caller's org to the channel's
// consensus network by its CometBFT node ID.
type AllowPeerArgs struct {
	NodeID string `cbor:"node_id"`
}

// Peer is a node admitted to the channel's network.
type Peer struct {
	NodeID string `cbor:"node_id" json:"node_id"`
	Org    string `cbor:"org" json:"org"`
	Since  int64  `cbor:"since" json:"since"`
}

// GetArgs names a certificate (queries "cert").
type GetArgs struct {
	Fingerprint string `cbor:"fingerprint"`
}

// Genesis is the registry's part of a channel's genesis.
type Genesis struct {
	Orgs    []GenesisOrg `json:"orgs"`
	Members []string     `json:"members"` // certificate PEMs (admins and nodes)
	Peers   []Peer       `json:"peers"`   // CometBFT node IDs allowed to connect
	// P2PKeys bind genesis nodes' certificates to their libp2p keys.
	P2PKeys []GenesisP2PKey `json:"p2p_keys,omitempty"`
}

// GenesisOrg is an org and its root certificate PEM.
type GenesisOrg struct {
	Name    string `json:"name"`
	RootPEM string `json:"root_pem"`
}

// Contract is the registry. Its only memory is a cache of parsed
// certificates keyed by fingerprint, the SHA-256 of the certificate's DER:
// a pure function of bytes, so it cannot hold anything a dropped overlay
// wrote. Whether a certificate is enrolled or revoked is read from the
// state it is handed every time, and org roots are parsed from state on
// each use (about 10us, against the 70us signature check each one serves).
type Contract struct {
	parsed sync.Map // identity.Fingerprint -> *identity.Member
}

// New returns the registry contract.
func New() *Contract { return &Contract{} }

// Name implements contract.Contract.
func (c *Contract) Name() string { return Name }

// Methods implements contract.Contract.
func (c *Contract) Methods() map[string]contract.Method {
	admin := []identity.Role{identity.RoleAdmin}
	return map[string]contract.Method{
		"enroll":     {Roles: admin, Run: c.enroll},
		"revoke":     {Roles: admin, Run: c.revoke},
		"vote_org":   {Roles: admin, Run: c.voteOrg},
		"allow_peer": {Roles: admin, Run: c.allowPeer},
		// a node binds its own certificate to its libp2p key
		"bind_p2p_key": {Roles: []identity.Role{identity.RoleNode}, Run: c.bindP2PKey},
	}
}

// InitGenesis writes the genesis orgs and members, verifying each member
// certificate against its org root at the genesis time.
func (c *Contract) InitGenesis(st contract.State, g Genesis, at time.Time) error {
	if len(g.Orgs) == 0 {
		return fmt.Errorf("genesis lists no orgs")
	}
	for _, o := range g.Orgs {
		root, err := identity.DecodeCertPEM([]byte(o.RootPEM))
		if err != nil {
			return fmt.Errorf("org %s root: %w", o.Name, err)
		}
		if err := checkRoot(o.Name, root, at); err != nil {
			return err
		}
		if old, _ := st.Get(orgKey(o.Name)); old != nil {
			return fmt.Errorf("org %s listed twice", o.Name)
		}
		if err := st.Set(orgKey(o.Name), canon.MustMarshal(Org{Name: o.Name, RootDER: root.Raw})); err != nil {
			return err
		}
	}
	for _, p := range g.Peers {
		if !validNodeID(p.NodeID) {
			return fmt.Errorf("peer %q: want 40 lowercase hex digits", p.NodeID)
		}
		if old, _ := st.Get(orgKey(p.Org)); old == nil {
			return fmt.Errorf("peer %s: org %s is not in the genesis", p.NodeID, p.Org)
		}
		if err := st.Set(peerKey(p.NodeID), canon.MustMarshal(Peer{NodeID: p.NodeID, Org: p.Org})); err != nil {
			return err
		}
	}
	for i, p := range g.Members {
		cert, err := identity.DecodeCertPEM([]byte(p))
		if err != nil {
			return fmt.Errorf("member %d: %w", i, err)
		}
		if _, err := c.admit(st, cert.Raw, at, 0); err != nil {
			return fmt.Errorf("member %d: %w", i, err)
		}
	}
	return c.genesisBindings(st, g.P2PKeys)
}

// checkRoot accepts an org's root: a CA certificate naming the org and
// valid at time at (an expired root could never vouch for a member).
func checkRoot(name string, root *x509.Certificate, at time.Time) error {
	if !root.IsCA {
		return fmt.Errorf("org %s: root certificate is not a CA", name)
	}
	if len(root.Subject.Organization) != 1 || root.Subject.Organization[0] != name {
		return fmt.Errorf("org %s: root certificate names org %q", name, root.Subject.Organization)
	}
	if at.Before(root.NotBefore) || at.After(root.NotAfter) {
		return fmt.Errorf("org %s: root certificate is valid %s to %s, not at %s", name,
			root.NotBefore.UTC().Format(time.RFC3339), root.NotAfter.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
	}
	return nil
}

func (c *Contract) enroll(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a EnrollArgs
	if err := contract.DecodeArgs("enroll", raw, &a); err != nil {
		return nil, err
	}
	m, err := identity.ParseMember(a.CertDER)
	if err != nil {
		return nil, txerr.New(txerr.BadArgs, "enroll: %v", err)
	}
	if m.Org != ctx.Caller.Org {
		return nil, txerr.New(txerr.RoleDenied, "enroll: an admin of %s cannot enroll a member of %s", ctx.Caller.Org, m.Org)
	}
	rec, err := c.admit(st, a.CertDER, ctx.Time, ctx.Height)
	if err != nil {
		return nil, err
	}
	ctx.Emit("enrolled", "", contract.Attr{Key: "id", Value: rec.ID}, contract.Attr{Key: "org", Value: rec.Org},
		contract.Attr{Key: "role", Value: rec.Role}, contract.Attr{Key: "fingerprint", Value: rec.Fingerprint})
	return contract.Result(rec)
}

// admit verifies a certificate against its org's root and stores it.
func (c *Contract) admit(st contract.State, der []byte, at time.Time, height int64) (*Cert, error) {
	m, err := identity.ParseMember(der)
	if err != nil {
		return nil, txerr.New(txerr.BadArgs, "%v", err)
	}
	root, err := c.root(st, m.Org)
	if err != nil {
		return nil, err
	}
	if err := identity.VerifyMember(m.Cert, root, at); err != nil {
		return nil, txerr.New(txerr.Rejected, "certificate of %s: %v", m.ID, err)
	}
	if old, err := st.Get(certKey(m.Fingerprint)); err != nil {
		return nil, err
	} else if old != nil {
		return nil, txerr.New(txerr.Rejected, "certificate %s is already enrolled", m.Fingerprint)
	}
	if fp, err := st.Get(memberKey(m.Org, m.ID)); err != nil {
		return nil, err
	} else if fp != nil {
		return nil, txerr.New(txerr.Rejected, "member id %s of %s is taken by certificate %x", m.ID, m.Org, fp)
	}
	rec := &Cert{DER: der, ID: m.ID, Org: m.Org, Role: string(m.Role), Fingerprint: m.Fingerprint.String(),
		NotAfter: m.Cert.NotAfter.Unix(), Enrolled: height}
	if err := st.Set(certKey(m.Fingerprint), canon.MustMarshal(rec)); err != nil {
		return nil, err
	}
	if err := st.Set(memberKey(m.Org, m.ID), m.Fingerprint[:]); err != nil {
		return nil, err
	}
	return rec, nil
}

func (c *Contract) root(st contract.State, org string) (*x509.Certificate, error) {
	raw, err := st.Get(orgKey(org))
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, txerr.New(txerr.Rejected, "org %s is not a member of the channel", org)
	}
	var o Org
	if err := canon.Unmarshal(raw, &o); err != nil {
		return nil, txerr.New(txerr.Internal, "org %s record: %v", org, err)
	}
	cert, err := x509.ParseCertificate(o.RootDER)
	if err != nil {
		return nil, txerr.New(txerr.Internal, "org %s root: %v", org, err)
	}
	return cert, nil
}

func (c *Contract) revoke(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a RevokeArgs
	if err := contract.DecodeArgs("revoke", raw, &a); err != nil {
		return nil, err
	}
	cfp, err := contract.ParseFingerprint(a.Fingerprint)
	if err != nil {
		return nil, txerr.New(txerr.BadArgs, "revoke: %v", err)
	}
	fp := cfp.Identity()
	rec, err := c.cert(st, fp)
	if err != nil {
		return nil, err
	}
	if rec.Org != ctx.Caller.Org {
		return nil, txerr.New(txerr.RoleDenied, "revoke: an admin of %s cannot revoke a certificate of %s", ctx.Caller.Org, rec.Org)
	}
	if rec.Revoked != nil {
		return nil, txerr.New(txerr.Rejected, "certificate %s was already revoked at height %d", fp, rec.Revoked.Height)
	}
	if len(a.Reason) > 256 {
		return nil, txerr.New(txerr.BadArgs, "revoke: reason longer than 256 bytes")
	}
	rec.Revoked = &Revocation{By: ctx.Caller.ID, Height: ctx.Height, Time: ctx.Time.UnixNano(), Reason: a.Reason}
	if err := st.Set(certKey(fp), canon.MustMarshal(rec)); err != nil {
		return nil, err
	}
	if err := st.Set(revokeKey(fp), []byte{1}); err != nil {
		return nil, err
	}
	ctx.Emit("revoked", "", contract.Attr{Key: "fingerprint", Value: rec.Fingerprint},
		contract.Attr{Key: "id", Value: rec.ID}, contract.Attr{Key: "org", Value: rec.Org})
	return contract.Result(rec)
}

func (c *Contract) voteOrg(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a VoteOrgArgs
	if err := contract.DecodeArgs("vote_org", raw, &a); err != nil {
		return nil, err
	}
	root, err := x509.ParseCertificate(a.RootDER)
	if err != nil {
		return nil, txerr.New(txerr.BadArgs, "vote_org: root certificate: %v", err)
	}
	if err := checkRoot(a.Name, root, ctx.Time); err != nil {
		return nil, txerr.New(txerr.BadArgs, "vote_org: %v", err)
	}
	if old, _ := st.Get(orgKey(a.Name)); old != nil {
		return nil, txerr.New(txerr.Rejected, "org %s is already a member", a.Name)
	}
	if len(a.Members) > 16 {
		return nil, txerr.New(txerr.BadArgs, "vote_org: at most 16 first members")
	}
	// Everything that could make the admission fail is checked here, so a
	// proposal that could never be admitted is refused before anyone's
	// vote is counted, and the admission below only writes.
	ids := make([]string, 0, len(a.Members))
	for i, der := range a.Members {
		m, err := identity.ParseMember(der)
		if err != nil {
			return nil, txerr.New(txerr.BadArgs, "vote_org: member %d: %v", i, err)
		}
		if err := identity.VerifyMember(m.Cert, root, ctx.Time); err != nil {
			return nil, txerr.New(txerr.BadArgs, "vote_org: member %s: %v", m.ID, err)
		}
		for j, id := range ids {
			if id == m.ID {
				return nil, txerr.New(txerr.BadArgs, "vote_org: members %d and %d are both %s", j, i, m.ID)
			}
		}
		ids = append(ids, m.ID)
	}
	proposal := sha256.Sum256(canon.MustMarshal(a))
	fp := proposal[:]
	if err := st.Set(voteKey(a.Name, ctx.Caller.Org), fp); err != nil {
		return nil, err
	}
	orgs, votes := 0, 0
	if err := st.Iterate([]byte(pOrg), func(k, _ []byte) bool { orgs++; return true }); err != nil {
		return nil, err
	}
	if err := st.Iterate(voteKey(a.Name, ""), func(_, v []byte) bool {
		if string(v) == string(fp) {
			votes++
		}
		return true
	}); err != nil {
		return nil, err
	}
	admitted := votes*2 > orgs
	if admitted {
		if err := st.Set(orgKey(a.Name), canon.MustMarshal(Org{Name: a.Name, RootDER: a.RootDER, Since: ctx.Height})); err != nil {
			return nil, err
		}
		for _, der := range a.Members {
			if _, err := c.admit(st, der, ctx.Time, ctx.Height); err != nil {
				return nil, err
			}
		}
		ctx.Emit("org_admitted", "", contract.Attr{Key: "org", Value: a.Name})
	}
	return contract.Result(map[string]any{"org": a.Name, "votes": votes, "orgs": orgs, "admitted": admitted})
}

func (c *Contract) allowPeer(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a AllowPeerArgs
	if err := contract.DecodeArgs("allow_peer", raw, &a); err != nil {
		return nil, err
	}
	if !validNodeID(a.NodeID) {
		return nil, txerr.New(txerr.BadArgs, "allow_peer: node ID %q: want 40 lowercase hex digits", a.NodeID)
	}
	if old, _ := st.Get(peerKey(a.NodeID)); old != nil {
		return nil, txerr.New(txerr.Rejected, "node %s is already allowed", a.NodeID)
	}
	p := Peer{NodeID: a.NodeID, Org: ctx.Caller.Org, Since: ctx.Height}
	if err := st.Set(peerKey(a.NodeID), canon.MustMarshal(p)); err != nil {
		return nil, err
	}
	ctx.Emit("peer_allowed", "", contract.Attr{Key: "node_id", Value: p.NodeID}, contract.Attr{Key: "org", Value: p.Org})
	return contract.Result(p)
}

func validNodeID(id string) bool {
	if len(id) != 40 {
		return false
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

// PeerAllowed reports whether a CometBFT node may join the channel's
// network: only nodes listed in the genesis or allowed by a member org's
// admin, so a non-member never receives the channel's blocks.
func (c *Contract) PeerAllowed(st contract.State, nodeID string) (bool, error) {
	v, err := st.Get(peerKey(nodeID))
	return v != nil, err
}

// Resolve returns the caller behind fingerprint fp: its parsed certificate
// and whether it was revoked, as of st. Certificates not enrolled in st give
// an UnknownCert error, whatever this process resolved before.
func (c *Contract) Resolve(st contract.State, fp identity.Fingerprint) (*identity.Member, bool, error) {
	raw, err := st.Get(certKey(fp))
	if err != nil {
		return nil, false, err
	}
	if raw == nil {
		return nil, false, txerr.New(txerr.UnknownCert, "certificate %s is not enrolled on this channel", fp)
	}
	revoked, err := c.Revoked(st, fp)
	if err != nil {
		return nil, false, err
	}
	if m, ok := c.parsed.Load(fp); ok {
		return m.(*identity.Member), revoked, nil
	}
	var rec Cert
	if err := canon.Unmarshal(raw, &rec); err != nil {
		return nil, false, txerr.New(txerr.Internal, "certificate record %s: %v", fp, err)
	}
	if identity.FingerprintOf(rec.DER) != fp {
		return nil, false, txerr.New(txerr.Internal, "certificate record %s holds another certificate", fp)
	}
	m, err := identity.ParseMember(rec.DER)
	if err != nil {
		return nil, false, txerr.New(txerr.Internal, "stored certificate %s: %v", fp, err)
	}
	c.parsed.Store(fp, m)
	return m, revoked, nil
}

// Revoked reports whether the certificate behind fp was revoked as of st.
// It reads one small marker, which the ledger keeps in memory.
func (c *Contract) Revoked(st contract.State, fp identity.Fingerprint) (bool, error) {
	rev, err := st.Get(revokeKey(fp))
	return rev != nil, err
}

// IsOrg reports whether org is a member org of the channel, read from the
// registry's state r (another contract reads it through Context.Read).
func IsOrg(r contract.Reader, org string) (bool, error) {
	v, err := r.Get(orgKey(org))
	return v != nil, err
}

// CountOrgs counts the channel's member orgs in the registry's state r.
func CountOrgs(r contract.Reader) (int, error) {
	n := 0
	err := r.Iterate([]byte(pOrg), func(_, _ []byte) bool { n++; return true })
	return n, err
}

func (c *Contract) cert(st contract.State, fp identity.Fingerprint) (*Cert, error) {
	raw, err := st.Get(certKey(fp))
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, txerr.New(txerr.UnknownCert, "certificate %s is not enrolled on this channel", fp)
	}
	var rec Cert
	if err := canon.Unmarshal(raw, &rec); err != nil {
		return nil, txerr.New(txerr.Internal, "certificate record %s: %v", fp, err)
	}
	return &rec, nil
}

// Query implements contract.Contract: "orgs", "certs" and "cert".
func (c *Contract) Query(st contract.State, method string, raw []byte) ([]byte, error) {
	switch method {
	case "orgs":
		return contract.List[Org](st, []byte(pOrg), nil)
	case "certs":
		var a struct {
			WithDER bool `cbor:"der,omitempty"`
		}
		if len(raw) > 0 {
			if err := contract.DecodeArgs("certs", raw, &a); err != nil {
				return nil, err
			}
		}
		if a.WithDER {
			return contract.List[Cert](st, []byte(pCert), nil)
		}
		return contract.List(st, []byte(pCert), func(c *Cert) { c.DER = nil })
	case "peers":
		return contract.List[Peer](st, []byte(pPeer), nil)
	case "cert":
		var a GetArgs
		if err := contract.DecodeArgs("cert", raw, &a); err != nil {
			return nil, err
		}
		fp, err := contract.ParseFingerprint(a.Fingerprint)
		if err != nil {
			return nil, txerr.New(txerr.BadArgs, "cert: %v", err)
		}
		rec, err := c.cert(st, fp.Identity())
		if err != nil {
			return nil, err
		}
		return contract.Result(rec)
	}
	return nil, txerr.New(txerr.UnknownMethod, "registry has no query %q", method)
}

// Accessors for other contracts, which read the registry's state through
// contract.Context.Read(registry.Name): they read only org/<name> records.

// Orgs returns the names of the channel's member orgs in st, the
// registry's state, in byte order.
func Orgs(st contract.State) ([]string, error) {
	var out []string
	err := st.Iterate([]byte(pOrg), func(k, _ []byte) bool {
		out = append(out, string(k[len(pOrg):]))
		return true
	})
	return out, err
}

// HasOrg reports whether org is a member org in st, the registry's state.
func HasOrg(st contract.State, org string) (bool, error) {
	v, err := st.Get(orgKey(org))
	return v != nil, err
}

func orgKey(name string) []byte { return append(append([]byte{}, pOrg...), name...) }
func certKey(fp identity.Fingerprint) []byte {
	return append(append([]byte{}, pCert...), fp[:]...)
}
func revokeKey(fp identity.Fingerprint) []byte {
	return append(append([]byte{}, pRevoke...), fp[:]...)
}
func memberKey(org, id string) []byte {
	return []byte(pMember + org + "\x00" + id)
}
func peerKey(id string) []byte { return append(append([]byte{}, pPeer...), id...) }
func voteKey(org, voter string) []byte {
	return []byte(pVote + org + "\x00" + voter)
}
