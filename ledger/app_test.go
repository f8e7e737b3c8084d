package ledger

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/contract/builtin"
	"github.com/sealnet/sealnet/contract/condition"
	"github.com/sealnet/sealnet/contract/index"
	"github.com/sealnet/sealnet/contract/registry"
	"github.com/sealnet/sealnet/envelope"
	"github.com/sealnet/sealnet/evidence"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/txerr"
)

const testCID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"

// chainT drives an App through blocks without CometBFT.
type chainT struct {
	t      testing.TB
	app    *App
	db     dbm.DB
	height int64
	now    time.Time
	ca     *identity.CA
	admin  *identity.Identity
	nonce  uint64

	contracts func() []contract.Contract // the list NewApp gets at every opening
}

var genesisTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func member(t testing.TB, ca *identity.CA, name string, role identity.Role, from time.Time, validity time.Duration) *identity.Identity {
	t.Helper()
	key, err := identity.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	csr, err := identity.NewCSR(key, name, ca.Org)
	if err != nil {
		t.Fatal(err)
	}
	der, err := ca.Issue(csr, role, from, validity)
	if err != nil {
		t.Fatal(err)
	}
	m, err := identity.ParseMember(der)
	if err != nil {
		t.Fatal(err)
	}
	return &identity.Identity{Key: key, Member: m, CertDER: der}
}

// newOrg makes org1's CA and its admin.
func newOrg(t testing.TB) (*identity.CA, *identity.Identity) {
	t.Helper()
	ca, err := identity.NewCA("org1", genesisTime.Add(-time.Hour), 10*365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca, member(t, ca, "admin", identity.RoleAdmin, genesisTime.Add(-time.Hour), 365*24*time.Hour)
}

func newChain(t testing.TB) *chainT {
	t.Helper()
	ca, admin := newOrg(t)
	return newChainFrom(t, ca, admin)
}

func newChainFrom(t testing.TB, ca *identity.CA, admin *identity.Identity) *chainT {
	return newChainFromOn(t, ca, admin, dbm.NewMemDB())
}

// newChainOn is newChain on the database db.
func newChainOn(t testing.TB, db dbm.DB) *chainT {
	t.Helper()
	ca, admin := newOrg(t)
	return newChainFromOn(t, ca, admin, db)
}

func newChainFromOn(t testing.TB, ca *identity.CA, admin *identity.Identity, db dbm.DB) *chainT {
	return newChainWith(t, ca, admin, db, testContracts)
}

// newChainWith is newChainFromOn with the contract list contracts returns
// (asked again whenever the chain is reopened).
func newChainWith(t testing.TB, ca *identity.CA, admin *identity.Identity, db dbm.DB, contracts func() []contract.Contract) *chainT {
	c := &chainT{t: t, db: db, now: genesisTime, ca: ca, admin: admin, contracts: contracts}
	c.open()
	st := DefaultAppState("default")
	st.Registry = registry.Genesis{
		Orgs:    []registry.GenesisOrg{{Name: "org1", RootPEM: string(identity.EncodeCertPEM(ca.Cert.Raw))}},
		Members: []string{string(identity.EncodeCertPEM(c.admin.CertDER))},
	}
	raw, _ := json.Marshal(st)
	if _, err := c.app.InitChain(context.Background(), &abci.RequestInitChain{ChainId: "default", Time: genesisTime, AppStateBytes: raw}); err != nil {
		t.Fatal(err)
	}
	return c
}

// testContracts are the contracts the composition root hands every channel.
func testContracts() []contract.Contract { return builtin.Contracts() }

func (c *chainT) open() {
	app, err := NewApp(c.db, c.contracts(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		c.t.Fatal(err)
	}
	app.now = func() time.Time { return c.now }
	c.app = app
}

// sign makes a transaction by id at the chain's current time.
func (c *chainT) sign(id *identity.Identity, contractName, method string, args any) []byte {
	c.nonce++
	return c.signAt(id, "default", contractName, method, args, c.nonce, c.now)
}

func (c *chainT) signAt(id *identity.Identity, channel, contractName, method string, args any, nonce uint64, ts time.Time) []byte {
	c.t.Helper()
	fp := id.Member.Fingerprint
	raw, err := envelope.Sign(envelope.Payload{Channel: channel, Contract: contractName, Method: method,
		Args: canon.MustMarshal(args), Creator: fp[:], Nonce: nonce, Timestamp: ts.UnixNano()}, id.Key)
	if err != nil {
		c.t.Fatal(err)
	}
	return raw
}

// block executes and commits txs one second after the previous block.
func (c *chainT) block(txs ...[]byte) []TxResult {
	c.t.Helper()
	c.height++
	c.now = c.now.Add(time.Second)
	resp, err := c.app.FinalizeBlock(context.Background(), &abci.RequestFinalizeBlock{Txs: txs, Height: c.height, Time: c.now})
	if err != nil {
		c.t.Fatal(err)
	}
	var got *Block
	c.app.listeners = nil
	c.app.OnCommit(func(b *Block) { got = b })
	if _, err := c.app.Commit(context.Background(), &abci.RequestCommit{}); err != nil {
		c.t.Fatal(err)
	}
	if len(resp.TxResults) != len(txs) || got == nil {
		c.t.Fatalf("block %d: %d results for %d txs", c.height, len(resp.TxResults), len(txs))
	}
	return got.Txs
}

func (c *chainT) expect(r TxResult, want txerr.Code) {
	c.t.Helper()
	if r.Code != want {
		c.t.Fatalf("tx at height %d: code %d (%s) %q, want %d (%s)", r.Height, r.Code, r.Code, r.Log, want, want)
	}
}

func (c *chainT) enroll(name string, role identity.Role) *identity.Identity {
	id := member(c.t, c.ca, name, role, genesisTime.Add(-time.Hour), 365*24*time.Hour)
	c.expect(c.block(c.sign(c.admin, registry.Name, "enroll", registry.EnrollArgs{CertDER: id.CertDER}))[0], txerr.OK)
	return id
}

func subfile(kw string) index.SubfileArgs {
	return index.SubfileArgs{HashAddress: testCID, Summary: "spindle counter log", Keywords: []string{kw}, Size: 42, Type: "text/csv"}
}

func TestSubfileQuerfileLookup(t *testing.T) {
	c := newChain(t)
	alice := c.enroll("alice", identity.RoleClient)
	r := c.block(c.sign(alice, index.Name, "subfile", subfile("Maintenance")))[0]
	c.expect(r, txerr.OK)

	q := c.block(c.sign(alice, index.Name, "querfile", index.FindArgs{Keyword: "maintenance"}))[0]
	c.expect(q, txerr.OK)
	var found index.FindResult
	if err := canon.Unmarshal(q.Data, &found); err != nil {
		t.Fatal(err)
	}
	if len(found.Entries) != 1 || found.Entries[0].TXNumber != r.ID.String() || found.Entries[0].Holder != "org1" ||
		found.Entries[0].ID != "alice" || found.QueryA == "" {
		t.Fatalf("querfile found %+v", found)
	}
	// the query is recorded on chain under its tx id
	rec, err := c.db.Get(append([]byte("s/index/q/"), q.ID[:]...))
	if err != nil || rec == nil {
		t.Fatalf("query record missing: %v", err)
	}
	out, err := c.app.QueryContract(index.Name, "lookup", canon.MustMarshal(index.FindArgs{Keyword: "MAINTENANCE "}))
	if err != nil {
		t.Fatal(err)
	}
	var looked index.FindResult
	if err := canon.Unmarshal(out, &looked); err != nil || len(looked.Entries) != 1 {
		t.Fatalf("lookup: %v %+v", err, looked)
	}
}

func TestRevokedCertificateRejectedFromNextBlock(t *testing.T) {
	c := newChain(t)
	bob := c.enroll("bob", identity.RoleClient)
	c.expect(c.block(c.sign(bob, index.Name, "subfile", subfile("a")))[0], txerr.OK)
	pending := c.sign(bob, index.Name, "subfile", subfile("b"))
	c.expect(c.block(c.sign(c.admin, registry.Name, "revoke", registry.RevokeArgs{Fingerprint: bob.Member.Fingerprint.String(), Reason: "laptop stolen"}))[0], txerr.OK)
	c.expect(c.block(pending)[0], txerr.RevokedCert)
	// CheckTx refuses it too
	resp, _ := c.app.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: c.sign(bob, index.Name, "subfile", subfile("c"))})
	if txerr.Code(resp.Code) != txerr.RevokedCert {
		t.Fatalf("CheckTx code %d %q", resp.Code, resp.Log)
	}
}

func TestReplayRejected(t *testing.T) {
	c := newChain(t)
	tx := c.sign(c.admin, index.Name, "subfile", subfile("x"))
	c.expect(c.block(tx)[0], txerr.OK)
	c.expect(c.block(tx)[0], txerr.Replay)
	// same nonce, new signature (a different transaction ID)
	again := c.signAt(c.admin, "default", index.Name, "subfile", subfile("y"), c.nonce, c.now)
	c.expect(c.block(again)[0], txerr.Replay)
	// two uses of one nonce inside one block: the second loses
	n := c.nonce + 1
	a := c.signAt(c.admin, "default", index.Name, "subfile", subfile("p"), n, c.now)
	b := c.signAt(c.admin, "default", index.Name, "subfile", subfile("q"), n, c.now)
	rs := c.block(a, b)
	c.expect(rs[0], txerr.OK)
	c.expect(rs[1], txerr.Replay)
}

func TestStaleTimestampRejected(t *testing.T) {
	c := newChain(t)
	old := c.signAt(c.admin, "default", index.Name, "subfile", subfile("x"), 77, c.now.Add(-2*time.Minute))
	c.expect(c.block(old)[0], txerr.StaleTimestamp)
	future := c.signAt(c.admin, "default", index.Name, "subfile", subfile("x"), 78, c.now.Add(5*time.Minute))
	c.expect(c.block(future)[0], txerr.StaleTimestamp)
}

func TestNoncesForgottenAfterTwoTau(t *testing.T) {
	c := newChain(t)
	c.expect(c.block(c.sign(c.admin, index.Name, "subfile", subfile("x")))[0], txerr.OK)
	if n := countPrefix(t, c.db, pNonce); n != 1 {
		t.Fatalf("%d nonces stored", n)
	}
	c.now = c.now.Add(DefaultTau * 3 / 2)
	c.block()
	if n := countPrefix(t, c.db, pNonce); n != 1 {
		t.Fatalf("nonce forgotten after 1.5 tau (%d left)", n)
	}
	c.now = c.now.Add(DefaultTau)
	c.block()
	if n := countPrefix(t, c.db, pNonce) + countPrefix(t, c.db, pNonceExp); n != 0 {
		t.Fatalf("%d nonce records left after 2 tau", n)
	}
}

func countPrefix(t testing.TB, db dbm.DB, p []byte) int {
	it, err := dbm.IteratePrefix(db, p)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := 0
	for ; it.Valid(); it.Next() {
		n++
	}
	return n
}

func TestRejections(t *testing.T) {
	c := newChain(t)
	nodeID := c.enroll("node", identity.RoleNode)
	stranger := member(t, c.ca, "stranger", identity.RoleClient, genesisTime.Add(-time.Hour), 365*24*time.Hour)
	badSig := c.sign(c.admin, index.Name, "subfile", subfile("x"))
	var env envelope.Envelope
	if err := canon.Unmarshal(badSig, &env); err != nil {
		t.Fatal(err)
	}
	env.Signature[5] ^= 1
	badSig = canon.MustMarshal(env)
	big := c.sign(c.admin, index.Name, "subfile", index.SubfileArgs{HashAddress: testCID, Keywords: []string{"x"}, Summary: string(make([]byte, 70_000))})

	cases := []struct {
		name string
		tx   []byte
		want txerr.Code
	}{
		{"malformed", []byte("not a transaction"), txerr.Malformed},
		{"oversized", big, txerr.Oversized},
		{"bad signature", badSig, txerr.BadSignature},
		{"unknown certificate", c.sign(stranger, index.Name, "subfile", subfile("x")), txerr.UnknownCert},
		{"role not allowed", c.sign(nodeID, index.Name, "subfile", subfile("x")), txerr.RoleDenied},
		{"wrong channel", c.signAt(c.admin, "other", index.Name, "subfile", subfile("x"), 1000, c.now.Add(time.Second)), txerr.WrongChannel},
		{"unknown contract", c.sign(c.admin, "nope", "subfile", subfile("x")), txerr.UnknownContract},
		{"unknown method", c.sign(c.admin, index.Name, "nope", subfile("x")), txerr.UnknownMethod},
		{"bad arguments", c.sign(c.admin, index.Name, "subfile", map[string]int{"hash_address": 3}), txerr.BadArgs},
		{"not a CID", c.sign(c.admin, index.Name, "subfile", index.SubfileArgs{HashAddress: "Qm-nope", Keywords: []string{"x"}}), txerr.BadArgs},
	}
	var txs [][]byte
	for _, tc := range cases {
		txs = append(txs, tc.tx)
	}
	before, _ := c.app.Height()
	rs := c.block(txs...)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { c.t = t; c.expect(rs[i], tc.want) })
	}
	c.t = t
	after, _ := c.app.Height()
	if after != before+1 {
		t.Fatalf("height %d after %d", after, before)
	}
}

func TestExpiredCertificateRejected(t *testing.T) {
	c := newChain(t)
	short := member(t, c.ca, "temp", identity.RoleClient, genesisTime.Add(-time.Hour), time.Hour+30*time.Second)
	c.expect(c.block(c.sign(c.admin, registry.Name, "enroll", registry.EnrollArgs{CertDER: short.CertDER}))[0], txerr.OK)
	c.now = c.now.Add(time.Minute)
	c.expect(c.block(c.sign(short, index.Name, "subfile", subfile("x")))[0], txerr.ExpiredCert)
}

func TestAppHashDeterministicAndDurable(t *testing.T) {
	c := newChain(t)
	alice := member(t, c.ca, "alice", identity.RoleClient, genesisTime.Add(-time.Hour), 365*24*time.Hour)
	blocks := [][][]byte{
		{c.sign(c.admin, registry.Name, "enroll", registry.EnrollArgs{CertDER: alice.CertDER})},
		{c.sign(alice, index.Name, "subfile", subfile("a")), c.sign(c.admin, index.Name, "subfile", subfile("b"))},
	}
	// a second node with the same genesis replaying the same blocks
	d := newChainFrom(t, c.ca, c.admin)
	for _, b := range blocks {
		c.block(b...)
		d.block(b...)
		_, hc := c.app.Height()
		_, hd := d.app.Height()
		if string(hc) != string(hd) {
			t.Fatalf("height %d: app hashes differ: %x vs %x", c.height, hc, hd)
		}
	}
	h, hash := c.app.Height()
	// a different block gives a different hash
	d.nonce = c.nonce
	d.expect(d.block(d.sign(c.admin, index.Name, "subfile", subfile("c")))[0], txerr.OK)
	c.block()
	if _, hd := d.app.Height(); string(hd) == string(hash) {
		t.Fatal("state change left the app hash unchanged")
	}
	h++
	_, hash = c.app.Height()

	// reopening the database restores height and hash
	c.open()
	h2, hash2 := c.app.Height()
	if h2 != h || string(hash2) != string(hash) {
		t.Fatalf("reopened at %d %x, want %d %x", h2, hash2, h, hash)
	}
	info, _ := c.app.Info(context.Background(), &abci.RequestInfo{})
	if info.LastBlockHeight != h || string(info.LastBlockAppHash) != string(hash) {
		t.Fatalf("info %+v", info)
	}
}

func TestCheckTxCodes(t *testing.T) {
	c := newChain(t)
	resp, err := c.app.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: []byte{0xff, 0x00}})
	if err != nil || txerr.Code(resp.Code) != txerr.Malformed {
		t.Fatalf("%v %+v", err, resp)
	}
	ok := c.sign(c.admin, index.Name, "subfile", subfile("x"))
	resp, _ = c.app.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: ok})
	if resp.Code != 0 {
		t.Fatalf("CheckTx %d %s", resp.Code, resp.Log)
	}
	c.block(ok)
	resp, _ = c.app.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: ok, Type: abci.CheckTxType_Recheck})
	if txerr.Code(resp.Code) != txerr.Replay {
		t.Fatalf("recheck of committed tx: %d %s", resp.Code, resp.Log)
	}
	var e *txerr.Error
	if !errors.As(txerr.New(txerr.Replay, "x"), &e) {
		t.Fatal("txerr.Error is not an error")
	}
}

func FuzzCheckTx(f *testing.F) {
	c := newChain(f)
	f.Add(c.sign(c.admin, index.Name, "subfile", subfile("x")))
	f.Add([]byte("k=v"))
	f.Fuzz(func(t *testing.T, data []byte) {
		resp, err := c.app.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: data})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Code == 0 {
			// only a correctly signed envelope of an enrolled member passes
			tx, derr := envelope.Decode(data, 0)
			if derr != nil || tx.Creator != c.admin.Member.Fingerprint {
				t.Fatalf("accepted %x", data)
			}
		}
	})
}

func TestRegistryRules(t *testing.T) {
	c := newChain(t)
	alice := c.enroll("alice", identity.RoleClient)
	// a client may not enroll or revoke
	carol := member(t, c.ca, "carol", identity.RoleClient, genesisTime.Add(-time.Hour), 365*24*time.Hour)
	c.expect(c.block(c.sign(alice, registry.Name, "enroll", registry.EnrollArgs{CertDER: carol.CertDER}))[0], txerr.RoleDenied)

	// org2 is admitted by vote with its first admin
	ca2, err := identity.NewCA("org2", genesisTime.Add(-time.Hour), 10*365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	admin2 := member(t, ca2, "admin", identity.RoleAdmin, genesisTime.Add(-time.Hour), 365*24*time.Hour)
	c.expect(c.block(c.sign(admin2, index.Name, "subfile", subfile("x")))[0], txerr.UnknownCert)
	vote := registry.VoteOrgArgs{Name: "org2", RootDER: ca2.Cert.Raw, Members: [][]byte{admin2.CertDER}}
	c.expect(c.block(c.sign(c.admin, registry.Name, "vote_org", vote))[0], txerr.OK)
	c.expect(c.block(c.sign(admin2, index.Name, "subfile", subfile("x")))[0], txerr.OK)

	// an admin acts only on its own org
	c.expect(c.block(c.sign(admin2, registry.Name, "revoke", registry.RevokeArgs{Fingerprint: alice.Member.Fingerprint.String()}))[0], txerr.RoleDenied)
	c.expect(c.block(c.sign(admin2, registry.Name, "enroll", registry.EnrollArgs{CertDER: carol.CertDER}))[0], txerr.RoleDenied)
	// a certificate of a CA that is not a member is refused
	ca3, _ := identity.NewCA("org1", genesisTime.Add(-time.Hour), time.Hour*24)
	mallory := member(t, ca3, "mallory", identity.RoleClient, genesisTime.Add(-time.Hour), time.Hour*24)
	c.expect(c.block(c.sign(c.admin, registry.Name, "enroll", registry.EnrollArgs{CertDER: mallory.CertDER}))[0], txerr.Rejected)
}

func TestCorruptDatabaseRefused(t *testing.T) {
	c := newChain(t)
	c.block()
	c.db.Set(kHeight, []byte{1, 2, 3})
	if _, err := NewApp(c.db, testContracts(), slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil {
		t.Fatal("opened a database with a corrupt height record")
	}
}

func TestContractListNeedsRegistry(t *testing.T) {
	db := dbm.NewMemDB()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := NewApp(db, []contract.Contract{index.New()}, log); err == nil || !strings.Contains(err.Error(), registry.Name) {
		t.Fatalf("an application without the registry opened: %v", err)
	}
	if _, err := NewApp(db, append(testContracts(), index.New()), log); err == nil || err.Error() != "contract index listed twice" {
		t.Fatalf("an application with a contract listed twice opened: %v", err)
	}
}

func TestTransferRecordsAndPurge(t *testing.T) {
	c := newChain(t)
	custodian := c.enroll("node", identity.RoleNode)
	bob := c.enroll("bob", identity.RoleClient)
	args := subfile("maintenance")
	args.Custodian = custodian.Member.Fingerprint.String()
	e := c.block(c.sign(bob, index.Name, "subfile", args))[0]
	c.expect(e, txerr.OK)
	txn := e.ID.String()
	req := strings.Repeat("ab", 32)
	c.expect(c.block(c.sign(c.admin, index.Name, "keyrequest", index.KeyRequestArgs{TXNumber: txn, Request: req}))[0], txerr.OK)
	c.expect(c.block(c.sign(c.admin, index.Name, "keyrequest", index.KeyRequestArgs{TXNumber: txn, Request: req}))[0], txerr.Rejected)
	ans := index.KeyAnswerArgs{TXNumber: txn, Request: req, Answer: strings.Repeat("cd", 32), Granted: true}
	// only the custodian answers, and only once
	c.expect(c.block(c.sign(bob, index.Name, "keyanswer", ans))[0], txerr.RoleDenied)
	c.expect(c.block(c.sign(custodian, index.Name, "keyanswer", ans))[0], txerr.OK)
	c.expect(c.block(c.sign(custodian, index.Name, "keyanswer", ans))[0], txerr.Rejected)
	out, err := c.app.QueryContract(index.Name, "transfers", canon.MustMarshal(index.PurgeArgs{TXNumber: txn}))
	if err != nil {
		t.Fatal(err)
	}
	var recs []index.TransferRecord
	if err := canon.Unmarshal(out, &recs); err != nil || len(recs) != 1 || !recs[0].Granted || recs[0].Requester != c.admin.Member.Fingerprint.String() {
		t.Fatalf("transfers %+v %v", recs, err)
	}
	// purge: not by another client, yes by the owner, once
	alice := c.enroll("alice", identity.RoleClient)
	c.expect(c.block(c.sign(alice, index.Name, "purge", index.PurgeArgs{TXNumber: txn}))[0], txerr.RoleDenied)
	c.expect(c.block(c.sign(bob, index.Name, "purge", index.PurgeArgs{TXNumber: txn}))[0], txerr.OK)
	c.expect(c.block(c.sign(bob, index.Name, "purge", index.PurgeArgs{TXNumber: txn}))[0], txerr.Rejected)
	out, _ = c.app.QueryContract(index.Name, "entry", canon.MustMarshal(index.PurgeArgs{TXNumber: txn}))
	var entry index.Entry
	if err := canon.Unmarshal(out, &entry); err != nil || !entry.Purged || entry.SubmitB == "" {
		t.Fatalf("purged entry %+v %v", entry, err)
	}
}

// A batch of salted commitments anchored through the audit contract: the
// root on chain proves one disclosed message; sequence numbers must follow
// on, and gaps are recorded as drops.
func TestAuditAnchoring(t *testing.T) {
	c := newChain(t)
	sender := c.enroll("gateway", identity.RoleNode)
	other := c.enroll("other", identity.RoleNode)
	secret := evidence.StreamSecret{42}
	msgs := [][]byte{[]byte(`{"counter":5366}`), []byte(`{"counter":5367}`), []byte(`{"counter":5368}`)}
	var leaves [][]byte
	for i, m := range msgs {
		seq := uint64(i)
		leaves = append(leaves, evidence.LeafHash(secret.Salt("press-7", seq), seq, m))
	}
	tree := evidence.NewTree(leaves)
	anchor := audit.AnchorArgs{Stream: "press-7", Receiver: "org2", FirstSeq: 0, Count: 3, Root: tree.Root(), Mode: audit.ModeSealed,
		IntervalStart: c.now.UnixNano(), IntervalEnd: c.now.Add(time.Second).UnixNano()}
	c.expect(c.block(c.sign(sender, audit.Name, "anchor", anchor))[0], txerr.OK)
	// another member cannot write to the stream; a gap or a replayed range is refused
	next := anchor
	next.FirstSeq = 3
	c.expect(c.block(c.sign(other, audit.Name, "anchor", next))[0], txerr.RoleDenied)
	gap := anchor
	gap.FirstSeq = 5
	c.expect(c.block(c.sign(sender, audit.Name, "anchor", gap))[0], txerr.Rejected)
	c.expect(c.block(c.sign(sender, audit.Name, "anchor", anchor))[0], txerr.Rejected)
	// paper mode needs its salt on chain
	paper := next
	paper.Mode = audit.ModePaper
	c.expect(c.block(c.sign(sender, audit.Name, "anchor", paper))[0], txerr.BadArgs)
	// a dropped range is recorded, and the stream continues after it
	c.expect(c.block(c.sign(sender, audit.Name, "drop", audit.DropArgs{Stream: "press-7", FirstSeq: 3, Count: 2, Reason: "spool full", At: c.now.UnixNano()}))[0], txerr.OK)
	c.expect(c.block(c.sign(sender, audit.Name, "anchor", gap))[0], txerr.OK)
	// an anchored batch whose delivery was given up is marked, once, and only as a whole
	undelivered := audit.DropArgs{Stream: "press-7", FirstSeq: 0, Count: 3, Reason: "spool timeout", At: c.now.UnixNano()}
	partial := undelivered
	partial.Count = 2
	c.expect(c.block(c.sign(sender, audit.Name, "drop", partial))[0], txerr.Rejected)
	c.expect(c.block(c.sign(sender, audit.Name, "drop", undelivered))[0], txerr.OK)
	c.expect(c.block(c.sign(sender, audit.Name, "drop", undelivered))[0], txerr.Rejected)

	out, err := c.app.QueryContract(audit.Name, "batches", canon.MustMarshal(map[string]string{"stream": "press-7"}))
	if err != nil {
		t.Fatal(err)
	}
	var batches []audit.Batch
	if err := canon.Unmarshal(out, &batches); err != nil || len(batches) != 3 || batches[1].Dropped != "spool full" || batches[0].Undelivered != "spool timeout" {
		t.Fatalf("batches %+v %v", batches, err)
	}
	// an auditor given message 1, its salt and its proof checks it against the chain
	root, _ := hex.DecodeString(batches[0].Root)
	proof, _ := tree.Proof(1)
	if err := evidence.VerifyInclusion(1, 3, evidence.LeafHash(secret.Salt("press-7", 1), 1, msgs[1]), proof, root); err != nil {
		t.Fatal(err)
	}
	if evidence.VerifyInclusion(1, 3, evidence.LeafHash(secret.Salt("press-7", 1), 1, []byte(`{"counter":9999}`)), proof, root) == nil {
		t.Fatal("an altered message verified")
	}
}

// The maintenance contract: the manufacturer registers the hash of
// "Maintenance imminent" with a salt shared with the machine owner; the
// owner's mapped, hashed label triggers an event addressed to the
// manufacturer, and the raw counter never reaches the chain.
func TestConditionMatchesHashedLabel(t *testing.T) {
	c := newChain(t)
	manufacturer := c.enroll("maker", identity.RoleClient)
	owner := c.enroll("gateway", identity.RoleNode)
	salt := []byte("shared between owner and maker")
	reg := condition.RegisterArgs{ID: "press-7-maintenance", Hash: condition.Hash("Maintenance imminent", salt), Importance: "high"}
	c.expect(c.block(c.sign(manufacturer, condition.Name, "register", reg))[0], txerr.OK)

	label := func(counter int) string {
		if counter > 5300 && counter < 5400 {
			return "Maintenance imminent"
		}
		return "Normal operation"
	}
	miss := c.block(c.sign(owner, condition.Name, "submit", condition.SubmitArgs{ID: reg.ID, Hash: condition.Hash(label(5100), salt)}))[0]
	c.expect(miss, txerr.OK)
	if len(miss.Events) != 0 {
		t.Fatalf("a non-matching label emitted %+v", miss.Events)
	}
	hit := c.block(c.sign(owner, condition.Name, "submit", condition.SubmitArgs{ID: reg.ID, Hash: condition.Hash(label(5367), salt)}))[0]
	c.expect(hit, txerr.OK)
	if len(hit.Events) != 1 || hit.Events[0].Type != "condition_met" || hit.Events[0].To != "org1" {
		t.Fatalf("events %+v", hit.Events)
	}
	// neither label appears anywhere in the database (the counter itself
	// never left the owner's side in the first place)
	it, _ := c.db.Iterator(nil, nil)
	defer it.Close()
	for ; it.Valid(); it.Next() {
		for _, l := range []string{"Maintenance imminent", "Normal operation"} {
			if bytes.Contains(it.Value(), []byte(l)) || bytes.Contains(it.Key(), []byte(l)) {
				t.Fatalf("label %q leaked under key %q", l, it.Key())
			}
		}
	}
}
