package ledger

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"math/big"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	sevabi "github.com/google/go-sev-guest/abi"
	sevtest "github.com/google/go-sev-guest/testing"

	"github.com/sealnet/sealnet/attest"
	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/compute/release"
	"github.com/sealnet/sealnet/compute/result"
	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/contract/compute"
	"github.com/sealnet/sealnet/contract/registry"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/seal"
	"github.com/sealnet/sealnet/txerr"
)

// computeNet is a consortium of three orgs running the compute contract on
// two nodes: one that runs all along and one reopened from its database
// at every height, as a node restarted at every block would be. Every
// block goes to both; their results and app hashes must agree. Both trust
// go-sev-guest's test-only AMD chain, so a test can make SNP reports.
type computeNet struct {
	t       *testing.T
	run, re *chainT
	amd     *sevtest.AmdSigner
	events  []contract.Event // of the last block's end
	org     map[string]*identity.Identity
}

const (
	progCID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
	in1CID  = "bafkreidgvpkjawlxz6sffxzwgooowe5yt7i6wsyg236mfoks77nywkptdq"
	in2CID  = "bafkreiefh74bp3p5xlqzb2ey2lhjutftsw3pytcyjugvgy5ir4n3gd3j5u"
)

var snpImage = bytes.Repeat([]byte{0x5e}, 48)

func newComputeNet(t *testing.T) *computeNet {
	amd, err := sevtest.DefaultTestOnlyCertChain("Milan-B1", genesisTime.Add(-365*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	trust := attest.NewTrust("test", attest.VendorTrust().Intel(), []attest.AMDRoot{{ProductLine: "Milan", ARK: amd.Ark, ASK: amd.Ask}})
	// the built-in contracts, the compute contract trusting that chain
	contracts := func() []contract.Contract {
		list := testContracts()
		for i, c := range list {
			if c.Name() == compute.Name {
				list[i] = compute.NewWithTrust(trust)
			}
		}
		return list
	}
	ca, admin := newOrg(t)
	run := newChainWith(t, ca, admin, dbm.NewMemDB(), contracts)
	re := newChainWith(t, ca, admin, dbm.NewMemDB(), contracts)
	return &computeNet{t: t, run: run, re: re, amd: amd, org: map[string]*identity.Identity{}}
}

// block runs txs on both nodes and returns the running node's results.
func (n *computeNet) block(txs ...[]byte) []TxResult {
	n.t.Helper()
	n.re.open()
	a, b := n.exec(n.run, txs), n.exec(n.re, txs)
	for i := range a.Txs {
		if a.Txs[i].Code != b.Txs[i].Code || a.Txs[i].Log != b.Txs[i].Log || !bytes.Equal(a.Txs[i].Data, b.Txs[i].Data) {
			n.t.Fatalf("height %d tx %d: running node %s %q, restarted node %s %q", a.Height, i, a.Txs[i].Code, a.Txs[i].Log, b.Txs[i].Code, b.Txs[i].Log)
		}
	}
	if !bytes.Equal(a.AppHash, b.AppHash) || !bytes.Equal(canon.MustMarshal(a.Events), canon.MustMarshal(b.Events)) {
		n.t.Fatalf("height %d: the nodes' app hashes or end-of-block events differ", a.Height)
	}
	n.events = a.Events
	return a.Txs
}

// exec is chainT.block keeping the whole committed Block.
func (n *computeNet) exec(c *chainT, txs [][]byte) *Block {
	n.t.Helper()
	c.height++
	c.now = c.now.Add(time.Second)
	if _, err := c.app.FinalizeBlock(n.t.Context(), &abci.RequestFinalizeBlock{Txs: txs, Height: c.height, Time: c.now}); err != nil {
		n.t.Fatal(err)
	}
	var got *Block
	c.app.listeners = nil
	c.app.OnCommit(func(b *Block) { got = b })
	if _, err := c.app.Commit(n.t.Context(), &abci.RequestCommit{}); err != nil {
		n.t.Fatal(err)
	}
	return got
}

func (n *computeNet) sign(id *identity.Identity, method string, args any) []byte {
	return n.run.sign(id, compute.Name, method, args)
}

// do runs one transaction in its own block and checks its code.
func (n *computeNet) do(id *identity.Identity, method string, args any, want txerr.Code) TxResult {
	n.t.Helper()
	r := n.block(n.sign(id, method, args))[0]
	if r.Code != want {
		n.t.Fatalf("%s.%s by %s: code %s %q, want %s", compute.Name, method, id.Member.ID, r.Code, r.Log, want)
	}
	return r
}

// refuse runs a transaction that must fail with code and a log containing
// reason, and checks that the job is unchanged.
func (n *computeNet) refuse(id *identity.Identity, method string, args any, job string, want txerr.Code, reason string) {
	n.t.Helper()
	before := n.rawJob(job)
	r := n.do(id, method, args, want)
	if !strings.Contains(r.Log, reason) {
		n.t.Fatalf("%s refused with %q, want it to say %q", method, r.Log, reason)
	}
	if job != "" && !bytes.Equal(before, n.rawJob(job)) {
		n.t.Fatalf("refused %s changed job %s", method, job)
	}
}

func (n *computeNet) rawJob(id string) []byte {
	if id == "" {
		return nil
	}
	out, err := n.run.app.QueryContract(compute.Name, "job", canon.MustMarshal(compute.JobArgs{Job: id}))
	if err != nil {
		n.t.Fatal(err)
	}
	return out
}

func (n *computeNet) job(id string) *compute.Job {
	n.t.Helper()
	var j compute.Job
	if err := canon.Unmarshal(n.rawJob(id), &j); err != nil {
		n.t.Fatal(err)
	}
	return &j
}

// idle makes empty blocks.
func (n *computeNet) idle(blocks int) {
	for range blocks {
		n.block()
	}
}

// addOrg admits an org by a vote of every current org's admin, with an
// admin and a worker.
func (n *computeNet) addOrg(name string, voters ...*identity.Identity) (admin, worker *identity.Identity) {
	n.t.Helper()
	ca, err := identity.NewCA(name, genesisTime.Add(-time.Hour), 10*365*24*time.Hour)
	if err != nil {
		n.t.Fatal(err)
	}
	admin = member(n.t, ca, "admin", identity.RoleAdmin, genesisTime.Add(-time.Hour), 365*24*time.Hour)
	worker = member(n.t, ca, "worker", identity.RoleWorker, genesisTime.Add(-time.Hour), 365*24*time.Hour)
	vote := registry.VoteOrgArgs{Name: name, RootDER: ca.Cert.Raw, Members: [][]byte{admin.CertDER, worker.CertDER}}
	for _, v := range voters {
		n.run.expect(n.block(n.run.sign(v, registry.Name, "vote_org", vote))[0], txerr.OK)
	}
	return admin, worker
}

func (n *computeNet) enroll(name string, role identity.Role) *identity.Identity {
	id := member(n.t, n.run.ca, name, role, genesisTime.Add(-time.Hour), 365*24*time.Hour)
	n.run.expect(n.block(n.run.sign(n.run.admin, registry.Name, "enroll", registry.EnrollArgs{CertDER: id.CertDER}))[0], txerr.OK)
	return id
}

// consortium: org1 (requester alice, custodian node, worker w1), org2
// and org3 (a worker each).
type consortium struct {
	*computeNet
	alice, custodian, w1, w2, w3, admin2 *identity.Identity
	resultKey                            *ecdsa.PrivateKey
}

func newConsortium(t *testing.T) *consortium {
	n := newComputeNet(t)
	c := &consortium{computeNet: n}
	c.alice = n.enroll("alice", identity.RoleClient)
	c.custodian = n.enroll("node", identity.RoleNode)
	c.w1 = n.enroll("w1", identity.RoleWorker)
	c.admin2, c.w2 = n.addOrg("org2", n.run.admin)
	_, c.w3 = n.addOrg("org3", n.run.admin, c.admin2)
	k, err := identity.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	c.resultKey = k
	return c
}

func (c *consortium) postArgs(mode string, replicas int, kinds ...attest.Kind) compute.PostArgs {
	a := compute.PostArgs{
		Program: compute.Program{CID: progCID, SHA256: bytes.Repeat([]byte{1}, 32)}, Inputs: []string{in1CID, in2CID},
		Limits: compute.Limits{MemoryBytes: 256 << 20, WallTimeMs: 60_000, OutputBytes: 4096},
		Mode:   mode, Replicas: replicas, Price: 25, DeadlineBlocks: 40, LeaseBlocks: 10, WindowBlocks: 3,
		ResultKey: attest.EncodeKey(&c.resultKey.PublicKey),
	}
	if mode != compute.ModeRedundant {
		a.TEE = attest.Policy{Kinds: kinds}
		for _, k := range kinds {
			if k.Confidential() {
				a.TEE.Measurements = append(a.TEE.Measurements, attest.Measurement{Kind: k, Value: snpImage})
			}
		}
	}
	return a
}

func (c *consortium) post(a compute.PostArgs) string {
	c.t.Helper()
	r := c.do(c.alice, "post", a, txerr.OK)
	return hex.EncodeToString(r.ID[:])
}

// enclave is a worker's TEE: its ephemeral key, and the (test) AMD chain
// that signs its reports.
type enclave struct {
	key *ecdsa.PrivateKey
	n   *computeNet
}

func (n *computeNet) newEnclave() *enclave {
	k, err := attest.NewEnclaveKey()
	if err != nil {
		n.t.Fatal(err)
	}
	return &enclave{key: k, n: n}
}

func (e *enclave) pub() []byte { return attest.EncodeKey(&e.key.PublicKey) }

// snp is the SNP evidence of this enclave for binding b: the report an
// SNP guest would make, signed by the test chain.
func (e *enclave) snp(b attest.Binding) []byte {
	e.n.t.Helper()
	rd := b.ReportData()
	r := sevtest.CreateRawReport(&sevtest.TestReportOptions{ReportData: rd[:]})
	binary.LittleEndian.PutUint64(r[0x08:0x10], sevabi.SnpPolicyToBytes(sevabi.SnpPolicy{SMT: true}))
	copy(r[0x90:0xc0], snpImage)
	report := r[:sevabi.ReportSize]
	R, S, err := e.n.amd.Sign(sevabi.SignedComponent(report))
	if err != nil {
		e.n.t.Fatal(err)
	}
	if err := sevabi.SetSignature(R, S, report); err != nil {
		e.n.t.Fatal(err)
	}
	return (&attest.Evidence{Kind: attest.KindSNP, Quote: report, Cert: e.n.amd.Vcek.Raw}).Encode()
}

func (e *enclave) software(b attest.Binding) []byte {
	ev, err := attest.Software{Key: e.key}.Attest(b)
	if err != nil {
		e.n.t.Fatal(err)
	}
	return ev.Encode()
}

// binding is what worker w's enclave attests for its claim on job.
func (c *consortium) binding(job string, w *identity.Identity, e *enclave) attest.Binding {
	j := c.job(job)
	for _, s := range j.Slots {
		if s.Worker == w.Member.Fingerprint.String() {
			return attest.Binding{Chain: "default", Job: job, Worker: w.Member.Fingerprint, EnclaveKey: e.pub(), ClaimHeight: s.Claimed}
		}
	}
	c.t.Fatalf("%s holds no claim on %s", w.Member.ID, job)
	return attest.Binding{}
}

func rawCID(b []byte) string {
	mh, _ := multihash.Sum(b, multihash.SHA2_256, -1)
	return cid.NewCidV1(cid.Raw, mh).String()
}

var (
	progKey = release.Key{CID: progCID, Key: seal.DataKey{0xaa}}
	inKeys  = []release.Key{{CID: in1CID, Key: seal.DataKey{0xbb}}, {CID: in2CID, Key: seal.DataKey{0xcc}}}
)

// grant is the custodian's key release to w's enclave: the sealed bundle
// goes to the worker, its hash to the chain.
func (c *consortium) grant(job string, w *identity.Identity, e *enclave, salt []byte) []byte {
	c.t.Helper()
	claim := release.Claim{Chain: "default", Job: job, Worker: w.Member.Fingerprint, EnclaveKey: e.pub()}
	sealed, grant, err := release.Seal(claim, c.job(job), progKey, inKeys, salt)
	if err != nil {
		c.t.Fatal(err)
	}
	c.do(c.custodian, "grant", compute.GrantArgs{Job: job, Worker: w.Member.Fingerprint.String(), Grant: grant}, txerr.OK)
	return sealed
}

// result is what the enclave submits for output: the ciphertext to the
// job's result key and the signed submission.
func (c *consortium) result(job string, w *identity.Identity, e *enclave, salt, output []byte) ([]byte, compute.SubmitArgs) {
	c.t.Helper()
	var ct bytes.Buffer
	wr, err := result.Encrypt(&ct, &c.resultKey.PublicKey, result.Binding{Chain: "default", Job: job, Worker: w.Member.Fingerprint})
	if err != nil {
		c.t.Fatal(err)
	}
	wr.Write(output)
	wr.Close()
	a := compute.SubmitArgs{Job: job, CID: rawCID(ct.Bytes()), Size: uint64(len(output)), Commitment: compute.OutputCommitment(salt, job, output)}
	stmt := compute.ResultStatement{Chain: "default", Job: job, Worker: w.Member.Fingerprint[:], CID: a.CID, Size: a.Size, Commitment: a.Commitment}
	if a.Signature, err = identity.Sign(e.key, stmt.Digest()); err != nil {
		c.t.Fatal(err)
	}
	return ct.Bytes(), a
}

func states(j *compute.Job) []string {
	var out []string
	for _, h := range j.History {
		out = append(out, h.State)
	}
	return out
}

func newSalt(t *testing.T) []byte {
	s := make([]byte, 32)
	if _, err := rand.Read(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// The paper's flow, attested by SEV-SNP: post, claim, attest, key release
// to the enclave, encrypted result signed by the enclave key, acceptance;
// the requester decrypts and checks the result against the chain.
func TestComputeAttestedJob(t *testing.T) {
	c := newConsortium(t)
	job := c.post(c.postArgs(compute.ModeAttested, 1, attest.KindSNP))
	if j := c.job(job); j.State != compute.StatePosted || strings.Contains(j.Confidentiality, attest.NotConfidential) {
		t.Fatalf("posted %+v", j)
	}
	c.do(c.w2, "claim", compute.JobArgs{Job: job}, txerr.OK)
	e := c.newEnclave()
	b := c.binding(job, c.w2, e)
	r := c.do(c.w2, "attest", compute.AttestArgs{Job: job, EnclaveKey: e.pub(), Evidence: e.snp(b)}, txerr.OK)
	if len(r.Events) != 1 || r.Events[0].Type != "job_attested" || r.Events[0].To != "org1" {
		t.Fatalf("events %+v", r.Events)
	}
	salt := newSalt(t)
	sealed := c.grant(job, c.w2, e, salt)

	// inside the enclave: the keys open for this claim and key only
	bundle, err := release.Open(e.key, release.Claim{Chain: "default", Job: job, Worker: c.w2.Member.Fingerprint, EnclaveKey: e.pub()}, sealed)
	if err != nil || bundle.Program != progKey || !bytes.Equal(bundle.Salt, salt) {
		t.Fatalf("bundle %+v %v", bundle, err)
	}
	output := []byte("press-7 count=1440 min=40.112 max=50.906 mean=42.269 stddev=0.912\n")
	ct, sub := c.result(job, c.w2, e, bundle.Salt, output)
	c.do(c.w2, "submit", sub, txerr.OK)
	if j := c.job(job); j.State != compute.StateSubmitted || j.WindowEnd == 0 {
		t.Fatalf("after submit %+v", j)
	}
	c.do(c.alice, "accept", compute.JobArgs{Job: job}, txerr.OK)
	j := c.job(job)
	want := []string{compute.StatePosted, compute.StateClaimed, compute.StateAttested, compute.StateGranted, compute.StateSubmitted, compute.StateAccepted}
	if strings.Join(states(j), ",") != strings.Join(want, ",") || j.Result != 0 || j.Slots[0].Attestation.Kind != attest.KindSNP {
		t.Fatalf("job %+v\nhistory %v", j, states(j))
	}
	// the requester checks what it got against the chain
	s := j.Slots[j.Result]
	got, err := result.Open(bytes.NewReader(ct), c.resultKey, result.Binding{Chain: "default", Job: job, Worker: c.w2.Member.Fingerprint}, salt, s.Commitment, j.Limits.OutputBytes)
	if err != nil || !bytes.Equal(got, output) {
		t.Fatalf("decrypted %q %v", got, err)
	}
	// the output, its parts and the data keys are nowhere in the state
	it, _ := c.run.db.Iterator(nil, nil)
	defer it.Close()
	for ; it.Valid(); it.Next() {
		for _, secret := range [][]byte{output, []byte("40.112"), progKey.Key[:], inKeys[0].Key[:], salt} {
			if bytes.Contains(it.Value(), secret) {
				t.Fatalf("%q found under key %q", secret, it.Key())
			}
		}
	}
}

// Evidence and results that must be refused, each with its reason, with
// the job unchanged.
func TestComputeRefusals(t *testing.T) {
	c := newConsortium(t)
	a := c.postArgs(compute.ModeAttested, 1, attest.KindSNP)
	a.Lenders = []string{"org2", "org3"}
	a.LeaseBlocks, a.DeadlineBlocks, a.WindowBlocks = 50, 100, 20
	job := c.post(a)
	other := c.post(a)
	e := c.newEnclave()

	c.refuse(c.w1, "claim", compute.JobArgs{Job: job}, job, txerr.RoleDenied, "may not lend")
	c.do(c.w2, "claim", compute.JobArgs{Job: job}, txerr.OK)
	c.refuse(c.w3, "claim", compute.JobArgs{Job: job}, job, txerr.Rejected, "claimed by all 1 workers")
	c.do(c.w2, "claim", compute.JobArgs{Job: other}, txerr.OK)

	b := c.binding(job, c.w2, e)
	good := e.snp(b)
	tampered := append([]byte(nil), good...)
	tampered[bytes.Index(tampered, snpImage)] ^= 1
	forger := c.newEnclave()
	wrongChain, wrongJob, wrongClaim := b, c.binding(other, c.w2, e), b
	wrongChain.Chain = "other"
	wrongClaim.ClaimHeight--
	cases := []struct {
		name     string
		by       *identity.Identity
		key      []byte
		evidence []byte
		reason   string
	}{
		{"tampered report", c.w2, e.pub(), tampered, "signature or certificate chain"},
		{"evidence for another job", c.w2, e.pub(), e.snp(wrongJob), "not for this claim"},
		{"evidence for another chain", c.w2, e.pub(), e.snp(wrongChain), "not for this claim"},
		{"evidence of an earlier claim", c.w2, e.pub(), e.snp(wrongClaim), "not for this claim"},
		{"evidence naming another key", c.w2, forger.pub(), good, "not for this claim"},
		{"software evidence, policy is SNP only", c.w2, e.pub(), e.software(b), "kind software is not accepted"},
		{"a worker without a claim", c.w3, e.pub(), good, "holds no claim"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.t = t
			c.refuse(tc.by, "attest", compute.AttestArgs{Job: job, EnclaveKey: tc.key, Evidence: tc.evidence}, job, txerr.Rejected, tc.reason)
		})
	}
	c.t = t
	c.refuse(c.w2, "attest", compute.AttestArgs{Job: job, EnclaveKey: e.pub(), Evidence: []byte("forged")}, job, txerr.BadArgs, "evidence malformed")
	// a production TDX quote, replayed: it verifies but binds something else
	c.refuse(c.w2, "attest", compute.AttestArgs{Job: job, EnclaveKey: e.pub(), Evidence: tdxQuote(t)}, job, txerr.Rejected, "not for this claim")
	// keys only after attestation, and only from the requester's org
	c.refuse(c.custodian, "grant", compute.GrantArgs{Job: job, Worker: c.w2.Member.Fingerprint.String(), Grant: make([]byte, 32)}, job, txerr.Rejected, "keys are released when it is attested")
	c.do(c.w2, "attest", compute.AttestArgs{Job: job, EnclaveKey: e.pub(), Evidence: good}, txerr.OK)
	c.refuse(c.w2, "attest", compute.AttestArgs{Job: job, EnclaveKey: e.pub(), Evidence: good}, job, txerr.Rejected, "the claim is attested")
	c.refuse(c.admin2, "grant", compute.GrantArgs{Job: job, Worker: c.w2.Member.Fingerprint.String(), Grant: make([]byte, 32)}, job, txerr.RoleDenied, "requester's org")
	salt := newSalt(t)
	c.grant(job, c.w2, e, salt)

	output := []byte("result")
	_, sub := c.result(job, c.w2, e, salt, output)
	forged := sub
	stmt := compute.ResultStatement{Chain: "default", Job: job, Worker: c.w2.Member.Fingerprint[:], CID: sub.CID, Size: sub.Size, Commitment: sub.Commitment}
	forged.Signature, _ = identity.Sign(c.w2.Key, stmt.Digest()) // the worker's certificate key, not the enclave's
	c.refuse(c.w2, "submit", forged, job, txerr.Rejected, "not signed by the attested enclave key")
	altered := sub
	altered.Size++
	c.refuse(c.w2, "submit", altered, job, txerr.Rejected, "not signed by the attested enclave key")
	big := sub
	big.Size = 5000
	c.refuse(c.w2, "submit", big, job, txerr.Rejected, "exceeds the job's limit of 4096")
	c.refuse(c.w2, "fail", compute.FailArgs{Job: job, Reason: compute.FailTrap}, job, txerr.Rejected, "not signed by the attested enclave key")
	c.refuse(c.w2, "fail", compute.FailArgs{Job: job, Reason: "bored"}, job, txerr.BadArgs, "not one of the failure reasons")
	c.do(c.w2, "submit", sub, txerr.OK)
	c.refuse(c.w2, "submit", sub, job, txerr.Rejected, "the claim is result submitted")
	c.refuse(c.w2, "accept", compute.JobArgs{Job: job}, job, txerr.RoleDenied, "may not call")
	c.refuse(c.custodian, "accept", compute.JobArgs{Job: job}, job, txerr.RoleDenied, "only the requester")
	c.refuse(c.alice, "reveal", compute.RevealArgs{Job: job, Output: make([]byte, 32), Nonce: make([]byte, 32)}, job, txerr.RoleDenied, "may not call")
}

func tdxQuote(t *testing.T) []byte {
	raw, err := os.ReadFile("../attest/testdata/tdx_prod_quote_SPR_E4.dat")
	if err != nil {
		t.Fatal(err)
	}
	return (&attest.Evidence{Kind: attest.KindTDX, Quote: raw}).Encode()
}

func hasEvent(evs []contract.Event, typ string) *contract.Event {
	for i := range evs {
		if evs[i].Type == typ {
			return &evs[i]
		}
	}
	return nil
}

func attr(e *contract.Event, key string) string {
	for _, a := range e.Attrs {
		if a.Key == key {
			return a.Value
		}
	}
	return ""
}

// Software attestation, leases that run out, replayed evidence, a
// deadline that passes: each acts at the end of its block by itself.
func TestComputeSoftwareLeasesAndDeadline(t *testing.T) {
	c := newConsortium(t)
	a := c.postArgs(compute.ModeAttested, 1, attest.KindSoftware)
	a.LeaseBlocks, a.DeadlineBlocks = 3, 12
	r := c.do(c.alice, "post", a, txerr.OK)
	job := hex.EncodeToString(r.ID[:])
	if ev := hasEvent(r.Events, "job_posted"); ev == nil || !strings.HasPrefix(attr(ev, "confidentiality"), attest.NotConfidential) {
		t.Fatalf("a software job announced without NOT CONFIDENTIAL: %+v", r.Events)
	}
	if j := c.job(job); !strings.HasPrefix(j.Confidentiality, attest.NotConfidential) {
		t.Fatalf("record says %q", j.Confidentiality)
	}
	c.do(c.w2, "claim", compute.JobArgs{Job: job}, txerr.OK)
	e := c.newEnclave()
	old := c.binding(job, c.w2, e)
	oldEvidence := e.software(old)
	c.idle(3) // the lease ends at the end of claim+3
	if ev := hasEvent(c.events, "lease_expired"); ev == nil || attr(ev, "worker_org") != "org2" {
		t.Fatalf("no lease_expired event: %+v", c.events)
	}
	j := c.job(job)
	if j.State != compute.StatePosted || len(j.Slots) != 0 || !strings.Contains(j.History[len(j.History)-1].Reason, "lease of org2 ended") {
		t.Fatalf("after the lease %+v", j)
	}
	c.refuse(c.w2, "attest", compute.AttestArgs{Job: job, EnclaveKey: e.pub(), Evidence: oldEvidence}, job, txerr.Rejected, "holds no claim")
	c.do(c.w3, "claim", compute.JobArgs{Job: job}, txerr.OK)
	// org2's evidence is for org2's worker and its old claim
	c.refuse(c.w3, "attest", compute.AttestArgs{Job: job, EnclaveKey: e.pub(), Evidence: oldEvidence}, job, txerr.Rejected, "signature or certificate chain")
	e3 := c.newEnclave()
	r = c.do(c.w3, "attest", compute.AttestArgs{Job: job, EnclaveKey: e3.pub(), Evidence: e3.software(c.binding(job, c.w3, e3))}, txerr.OK)
	if ev := hasEvent(r.Events, "job_attested"); ev == nil || attr(ev, "kind") != "software" || !strings.HasPrefix(attr(ev, "confidentiality"), attest.NotConfidential) {
		t.Fatalf("events %+v", r.Events)
	}
	if h := c.job(job).History; !strings.Contains(h[len(h)-1].Reason, attest.NotConfidential) {
		t.Fatalf("history %+v", h)
	}
	// nobody releases the keys; the deadline passes
	for c.job(job).State != compute.StateExpired {
		if c.run.height > 100 {
			t.Fatal("never expired")
		}
		c.block()
	}
	j = c.job(job)
	if j.Reason != "deadline at block "+itoa(j.Deadline)+" passed in state posted; price refunded" || c.run.height != j.Deadline {
		t.Fatalf("expired at %d: %q", c.run.height, j.Reason)
	}
	if hasEvent(c.events, "job_expired") == nil {
		t.Fatalf("no job_expired event: %+v", c.events)
	}
	c.refuse(c.w1, "claim", compute.JobArgs{Job: job}, job, txerr.Rejected, "is expired")
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// An attested job's result is accepted when the requester says nothing
// within the window, rejected when it objects, failed when the enclave
// reports a failure; a worker that withdraws frees the job.
func TestComputeOutcomes(t *testing.T) {
	c := newConsortium(t)
	salt := newSalt(t)
	ready := func(w *identity.Identity) (string, *enclave) {
		job := c.post(c.postArgs(compute.ModeAttested, 1, attest.KindSNP))
		c.do(w, "claim", compute.JobArgs{Job: job}, txerr.OK)
		e := c.newEnclave()
		c.do(w, "attest", compute.AttestArgs{Job: job, EnclaveKey: e.pub(), Evidence: e.snp(c.binding(job, w, e))}, txerr.OK)
		c.grant(job, w, e, salt)
		return job, e
	}

	job, e := ready(c.w2)
	_, sub := c.result(job, c.w2, e, salt, []byte("ok"))
	c.do(c.w2, "submit", sub, txerr.OK)
	c.idle(3)
	if j := c.job(job); j.State != compute.StateAccepted || !strings.HasPrefix(j.Reason, "no objection within 3 blocks") {
		t.Fatalf("%s %q", j.State, j.Reason)
	}
	if ev := hasEvent(c.events, "job_accepted"); ev == nil || ev.To != "" {
		t.Fatalf("events %+v", c.events)
	}

	job, e = ready(c.w3)
	_, sub = c.result(job, c.w3, e, salt, []byte("ok"))
	c.do(c.w3, "submit", sub, txerr.OK)
	c.do(c.alice, "reject", compute.RejectArgs{Job: job, Reason: "the result does not decrypt"}, txerr.OK)
	if j := c.job(job); j.State != compute.StateFailed || j.Reason != "rejected by the requester: the result does not decrypt" {
		t.Fatalf("%s %q", j.State, j.Reason)
	}

	job, e = ready(c.w2)
	stmt := compute.FailStatement{Chain: "default", Job: job, Worker: c.w2.Member.Fingerprint[:], Reason: compute.FailMemory}
	sig, _ := identity.Sign(e.key, stmt.Digest())
	c.do(c.w2, "fail", compute.FailArgs{Job: job, Reason: compute.FailMemory, Signature: sig}, txerr.OK)
	if j := c.job(job); j.State != compute.StateFailed || j.Reason != "the worker reports: memory limit exceeded" {
		t.Fatalf("%s %q", j.State, j.Reason)
	}

	job, _ = ready(c.w3)
	c.do(c.w3, "fail", compute.FailArgs{Job: job, Reason: compute.FailWithdrawn}, txerr.OK)
	if j := c.job(job); j.State != compute.StatePosted || len(j.Slots) != 0 || j.History[len(j.History)-1].Worker != c.w3.Member.Fingerprint.String() {
		t.Fatalf("after withdrawing %+v", j)
	}
	c.do(c.w2, "claim", compute.JobArgs{Job: job}, txerr.OK)
}

// Redundant execution without a TEE: three workers of three orgs commit,
// then reveal; two agree and the third is recorded as disagreeing. A job
// without a majority fails.
func TestComputeRedundant(t *testing.T) {
	c := newConsortium(t)
	a := c.postArgs(compute.ModeRedundant, 3)
	a.WindowBlocks = 10
	job := c.post(a)
	if !strings.HasPrefix(c.job(job).Confidentiality, attest.NotConfidential) {
		t.Fatal("a job without TEE called confidential")
	}
	w1b := c.enroll("w1b", identity.RoleWorker)
	workers := []*identity.Identity{c.w1, c.w2, c.w3}
	c.do(c.w1, "claim", compute.JobArgs{Job: job}, txerr.OK)
	c.refuse(w1b, "claim", compute.JobArgs{Job: job}, job, txerr.Rejected, "distinct orgs")
	c.do(c.w2, "claim", compute.JobArgs{Job: job}, txerr.OK)
	c.do(c.w3, "claim", compute.JobArgs{Job: job}, txerr.OK)
	c.refuse(c.w1, "attest", compute.AttestArgs{Job: job, EnclaveKey: c.newEnclave().pub(), Evidence: (&attest.Evidence{Kind: attest.KindSoftware, Sig: make([]byte, 64)}).Encode()},
		job, txerr.Rejected, "without attestation")
	salt := newSalt(t)
	outputs := [][]byte{[]byte("count=8 mean=5.000"), []byte("count=8 mean=5.000"), []byte("count=8 mean=4.999")}
	nonces := make([][]byte, 3)
	for i, w := range workers {
		c.do(c.custodian, "grant", compute.GrantArgs{Job: job, Worker: w.Member.Fingerprint.String(), Grant: make([]byte, 32)}, txerr.OK)
		nonces[i] = newSalt(t)
		r := compute.OutputCommitment(salt, job, outputs[i])
		sub := compute.SubmitArgs{Job: job, CID: rawCID(outputs[i]), Size: uint64(len(outputs[i])), Commitment: compute.CommitHash(job, w.Member.Fingerprint, r, nonces[i])}
		if i == 0 {
			c.do(w, "submit", sub, txerr.OK)
			c.refuse(w, "reveal", compute.RevealArgs{Job: job, Output: r, Nonce: nonces[i]}, job, txerr.Rejected, "reveals open once all 3 workers committed")
			continue
		}
		c.do(w, "submit", sub, txerr.OK)
	}
	reveal := func(i int) compute.RevealArgs {
		return compute.RevealArgs{Job: job, Output: compute.OutputCommitment(salt, job, outputs[i]), Nonce: nonces[i]}
	}
	bad := reveal(0)
	bad.Output = reveal(2).Output
	c.refuse(c.w1, "reveal", bad, job, txerr.Rejected, "does not match the worker's commitment")
	copied := reveal(0)
	c.refuse(c.w2, "reveal", copied, job, txerr.Rejected, "does not match the worker's commitment")
	c.do(c.w1, "reveal", reveal(0), txerr.OK)
	c.do(c.w3, "reveal", reveal(2), txerr.OK)
	r := c.do(c.w2, "reveal", reveal(1), txerr.OK)
	j := c.job(job)
	if j.State != compute.StateAccepted || j.Result != 0 || j.Slots[2].Verdict != "disagrees with the majority" || j.Slots[1].Verdict != "agrees with the majority" {
		t.Fatalf("tally %+v", j)
	}
	if ev := hasEvent(r.Events, "worker_disagrees"); ev == nil || attr(ev, "worker_org") != "org3" {
		t.Fatalf("events %+v", r.Events)
	}

	// no majority: one result each, or none revealed by the window's end
	job = c.post(a)
	for i, w := range workers {
		c.do(w, "claim", compute.JobArgs{Job: job}, txerr.OK)
		c.do(c.custodian, "grant", compute.GrantArgs{Job: job, Worker: w.Member.Fingerprint.String(), Grant: make([]byte, 32)}, txerr.OK)
		r := compute.OutputCommitment(salt, job, outputs[i])
		c.do(w, "submit", compute.SubmitArgs{Job: job, CID: rawCID(outputs[i]), Size: 1, Commitment: compute.CommitHash(job, w.Member.Fingerprint, r, nonces[i])}, txerr.OK)
	}
	c.do(c.w2, "reveal", compute.RevealArgs{Job: job, Output: compute.OutputCommitment(salt, job, outputs[1]), Nonce: nonces[1]}, txerr.OK)
	c.do(c.w3, "reveal", compute.RevealArgs{Job: job, Output: compute.OutputCommitment(salt, job, outputs[2]), Nonce: nonces[2]}, txerr.OK)
	c.idle(10)
	j = c.job(job)
	if j.State != compute.StateFailed || !strings.HasPrefix(j.Reason, "no majority") || j.Slots[0].Verdict != "did not reveal" {
		t.Fatalf("%+v", j)
	}
}

// Attestation and redundancy together: two SNP enclaves of two orgs,
// each result signed by its enclave key, agree.
func TestComputeAttestedRedundant(t *testing.T) {
	c := newConsortium(t)
	job := c.post(c.postArgs(compute.ModeAttestedRedundant, 2, attest.KindSNP))
	salt := newSalt(t)
	output := []byte("flagged=3 of 3000")
	var reveals []func()
	for _, w := range []*identity.Identity{c.w2, c.w3} {
		c.do(w, "claim", compute.JobArgs{Job: job}, txerr.OK)
		e := c.newEnclave()
		c.do(w, "attest", compute.AttestArgs{Job: job, EnclaveKey: e.pub(), Evidence: e.snp(c.binding(job, w, e))}, txerr.OK)
		c.grant(job, w, e, salt)
		nonce := newSalt(t)
		ct, sub := c.result(job, w, e, salt, output)
		r := sub.Commitment
		sub.Commitment = compute.CommitHash(job, w.Member.Fingerprint, r, nonce)
		c.refuse(w, "submit", sub, job, txerr.Rejected, "not signed by the attested enclave key") // signed over the plain commitment
		stmt := compute.ResultStatement{Chain: "default", Job: job, Worker: w.Member.Fingerprint[:], CID: rawCID(ct), Size: sub.Size, Commitment: sub.Commitment}
		sub.Signature, _ = identity.Sign(e.key, stmt.Digest())
		c.do(w, "submit", sub, txerr.OK)
		reveals = append(reveals, func() { c.do(w, "reveal", compute.RevealArgs{Job: job, Output: r, Nonce: nonce}, txerr.OK) })
	}
	for _, reveal := range reveals {
		reveal()
	}
	if j := c.job(job); j.State != compute.StateAccepted || j.Slots[0].Verdict != "agrees with the majority" || j.Slots[1].Verdict != "agrees with the majority" {
		t.Fatalf("job %+v", j)
	}
}

// Vendor collateral on chain: an SNP CRL is verified against the ARK at
// the block time, never rolled back, and used by later attestations; the
// 2023 TDX collateral is refused as expired.
func TestComputeCollateral(t *testing.T) {
	c := newConsortium(t)
	crl := func(number int64, next time.Time, revoked ...*x509.Certificate) *attest.SNPCollateral {
		tmpl := &x509.RevocationList{Number: big.NewInt(number), ThisUpdate: c.run.now.Add(-time.Hour), NextUpdate: next}
		for _, r := range revoked {
			tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: r.SerialNumber, RevocationTime: c.run.now})
		}
		der, err := x509.CreateRevocationList(rand.Reader, tmpl, c.amd.Ark, c.amd.Keys.Ark)
		if err != nil {
			t.Fatal(err)
		}
		return &attest.SNPCollateral{ProductLine: "Milan", CRL: der}
	}
	month := c.run.now.Add(30 * 24 * time.Hour)
	c.do(c.custodian, "collateral", compute.CollateralArgs{SNP: crl(5, month)}, txerr.OK)
	c.refuse(c.custodian, "collateral", compute.CollateralArgs{SNP: crl(4, month)}, "", txerr.Rejected, "older than the chain's")
	c.refuse(c.custodian, "collateral", compute.CollateralArgs{SNP: crl(6, c.run.now)}, "", txerr.Rejected, "collateral missing, invalid or expired")
	c.refuse(c.alice, "collateral", compute.CollateralArgs{SNP: crl(6, month)}, "", txerr.RoleDenied, "may not call")
	tdx := &attest.TDXCollateral{}
	for _, f := range []struct {
		dst  *[]byte
		name string
	}{{&tdx.TCBInfo, "sample_tcbInfo_response"}, {&tdx.TCBInfoChain, "tcbinfo_chain.pem"}, {&tdx.QEIdentity, "sample_qeIdentity_response"},
		{&tdx.QEIdentityChain, "qeidentity_chain.pem"}, {&tdx.PCKCRL, "pckcrl"}, {&tdx.PCKCRLChain, "pckcrl_chain.pem"}, {&tdx.RootCRL, "rootcrl.der"}} {
		b, err := os.ReadFile("../attest/testdata/" + f.name)
		if err != nil {
			t.Fatal(err)
		}
		*f.dst = b
	}
	c.refuse(c.custodian, "collateral", compute.CollateralArgs{TDX: tdx}, "", txerr.Rejected, "to 2025-05-21")

	// the CRL on chain is checked: an attestation passes, and fails once
	// a newer CRL revokes the VCEK
	a := c.postArgs(compute.ModeAttested, 1, attest.KindSNP)
	a.TEE.RequireCollateral = true
	job := c.post(a)
	c.do(c.w2, "claim", compute.JobArgs{Job: job}, txerr.OK)
	e := c.newEnclave()
	c.do(c.custodian, "collateral", compute.CollateralArgs{SNP: crl(7, month, c.amd.Vcek)}, txerr.OK)
	c.refuse(c.w2, "attest", compute.AttestArgs{Job: job, EnclaveKey: e.pub(), Evidence: e.snp(c.binding(job, c.w2, e))}, job, txerr.Rejected, "the VCEK is revoked")
	c.do(c.custodian, "collateral", compute.CollateralArgs{SNP: crl(8, month)}, txerr.OK)
	r := c.do(c.w2, "attest", compute.AttestArgs{Job: job, EnclaveKey: e.pub(), Evidence: e.snp(c.binding(job, c.w2, e))}, txerr.OK)
	var att compute.Attestation
	if err := canon.Unmarshal(r.Data, &att); err != nil || !att.Collateral || att.Roots != "test" {
		t.Fatalf("attestation %+v %v", att, err)
	}
}
