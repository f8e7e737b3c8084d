package manifest

import (
	"crypto/sha256"
	"encoding/binary"
	"reflect"
	"testing"
	"testing/fstest"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/internal/golden"
)

// moduleVector is docs/vectors/module.json: the arguments of
// certify.propose and certify.vote, the proposal ID, a source-tree hash
// and a test-set commitment with one case opened.
type moduleVector struct {
	Comment     string         `json:"comment"`
	Proposal    proposalFields `json:"proposal"`
	ProposalRaw golden.Hex     `json:"proposal_cbor"`
	IDInput     golden.Hex     `json:"proposal_id_input"`
	ID          golden.Hex     `json:"proposal_id"`
	Votes       []voteCase     `json:"votes"`
	Source      sourceVector   `json:"source"`
	Tests       testsVector    `json:"tests"`
}

type proposalFields struct {
	Name      string     `json:"name"`
	Version   uint64     `json:"version"`
	Source    golden.Hex `json:"source"`
	Toolchain string     `json:"recipe_toolchain"`
	Package   string     `json:"recipe_package"`
	Env       []string   `json:"recipe_env"`
	Flags     []string   `json:"recipe_flags"`
	Module    golden.Hex `json:"module"`
	Imports   []string   `json:"imports"`
	Outputs   []string   `json:"outputs"`
	Channel   string     `json:"channel"`
	Purpose   string     `json:"purpose"`
}

func (f proposalFields) proposal() Proposal {
	return Proposal{Descriptor: Descriptor{Name: f.Name, Version: f.Version, Source: f.Source,
		Recipe: Recipe{Toolchain: f.Toolchain, Package: f.Package, Env: f.Env, Flags: f.Flags},
		Module: f.Module, Imports: f.Imports, Outputs: f.Outputs}, Channel: f.Channel, Purpose: f.Purpose}
}

type voteCase struct {
	Channel    string     `json:"channel"`
	Proposal   golden.Hex `json:"proposal"`
	Name       string     `json:"name"`
	Version    uint64     `json:"version"`
	Build      string     `json:"build"`
	Rebuilt    golden.Hex `json:"rebuilt"`
	Validation string     `json:"validation"`
	Log        golden.Hex `json:"log"`
	Tests      golden.Hex `json:"tests"`
	Note       string     `json:"note"`
	Verdict    string     `json:"verdict"`
	Raw        golden.Hex `json:"vote_cbor"`
}

func (c voteCase) vote() Vote {
	return Vote{Channel: c.Channel, Proposal: c.Proposal, Name: c.Name, Version: c.Version, Build: c.Build,
		Rebuilt: c.Rebuilt, Validation: c.Validation, Log: c.Log, Tests: c.Tests, Note: c.Note}
}

type sourceFile struct {
	Path string     `json:"path"`
	Data golden.Hex `json:"data"`
}

type sourceVector struct {
	Files []sourceFile `json:"files"`
	Input golden.Hex   `json:"input"`
	Hash  golden.Hex   `json:"hash"`
}

type testCaseVector struct {
	Name string     `json:"name"`
	Data golden.Hex `json:"data"`
	Salt golden.Hex `json:"salt"`
	Leaf golden.Hex `json:"leaf"`
}

type testsVector struct {
	Secret     golden.Hex       `json:"secret"`
	Cases      []testCaseVector `json:"cases"`
	Root       golden.Hex       `json:"root"`
	Commitment golden.Hex       `json:"commitment"`
	Open       uint64           `json:"open"`
	Proof      []golden.Hex     `json:"proof"`
}

const moduleFile = "module.json"

func makeModuleVector(t *testing.T) moduleVector {
	src := sha256.Sum256([]byte("sealnet test vector: module source"))
	mod := sha256.Sum256([]byte("sealnet test vector: module bytes"))
	f := proposalFields{Name: "redact", Version: 3, Source: src[:], Toolchain: "go1.26.8", Package: "./dcmb/modules/redact",
		Env:     []string{"GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0"},
		Flags:   []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid="},
		Module:  mod[:],
		Imports: []string{"wasi_snapshot_preview1.fd_read", "wasi_snapshot_preview1.fd_write", "wasi_snapshot_preview1.proc_exit"},
		Outputs: []string{"labels", "messages"}, Channel: "default", Purpose: "dcmb.redact"}
	p := f.proposal()
	raw := canon.MustMarshal(&p)
	id := p.ID()
	log := sha256.Sum256([]byte("sealnet test vector: validation log"))
	secret := TestSecret(sha256.Sum256([]byte("sealnet test vector: test secret")))
	cases := []TestCase{{"serial numbers stay out", []byte("in: SN-4711\nout: -\n")}, {"temperatures pass", []byte("in: 21.5\nout: 21.5\n")}, {"empty", nil}}
	commit, err := CommitTests(secret, cases)
	if err != nil {
		t.Fatal(err)
	}
	other := sha256.Sum256([]byte("sealnet test vector: another build"))
	votes := []voteCase{
		{Channel: "default", Proposal: id[:], Name: f.Name, Version: f.Version, Build: BuildReproduced, Rebuilt: mod[:],
			Validation: ValidationPassed, Log: log[:], Tests: commit[:], Note: "3 cases passed"},
		{Channel: "default", Proposal: id[:], Name: f.Name, Version: f.Version, Build: BuildDiffers, Rebuilt: other[:]},
		{Channel: "default", Proposal: id[:], Name: f.Name, Version: f.Version, Build: BuildFails, Note: "go.sum mismatch"},
	}
	for i := range votes {
		v := votes[i].vote()
		votes[i].Verdict = v.Verdict()
		votes[i].Raw = canon.MustMarshal(&v)
	}
	files := []sourceFile{{"go.mod", []byte("module example.com/redact\n\ngo 1.26\n")}, {"main.go", []byte("package main\n\nfunc main() {}\n")}, {"testdata/ä.txt", nil}}
	tv := testsVector{Secret: secret[:], Open: 1}
	var leaves [][]byte
	for i, c := range cases {
		salt := secret.TestSalt(uint64(i))
		leaf := testLeaf(salt, uint64(i), c)
		leaves = append(leaves, leaf)
		tv.Cases = append(tv.Cases, testCaseVector{Name: c.Name, Data: c.Data, Salt: salt, Leaf: leaf})
	}
	o, err := OpenTest(secret, cases, tv.Open)
	if err != nil {
		t.Fatal(err)
	}
	tv.Root, tv.Commitment = o.Root, commit[:]
	for _, h := range o.Proof {
		tv.Proof = append(tv.Proof, h)
	}
	input := sourceInput(files)
	hash := sha256.Sum256(input)
	return moduleVector{
		Comment: "proposal_cbor = canonical CBOR of the proposal (text keys: name, version, source, recipe {toolchain, package, env, flags}, module, imports, outputs, channel, purpose; " +
			"env, flags, imports and outputs omitted when empty); proposal_id = SHA-256(proposal_id_input), input = \"sealnet/module/proposal/v1\\0\" || proposal_cbor. " +
			"vote_cbor = canonical CBOR of a vote (channel, proposal, name, version, build, and when set rebuilt, validation, log, tests, note). " +
			"source.hash = SHA-256(source.input), input = \"sealnet/module/source/v1\\0\" || per file in ascending byte order of path: uvarint(len(path)) || path || u64be(len(data)) || data. " +
			"tests: salt_i = HMAC-SHA256(secret, \"sealnet/module/test-salt/v1\\0\" || u64be(i)); leaf_i = SHA-256(0x00 || \"sealnet/module/test/v1\\0\" || salt_i || u64be(i) || uvarint(len(name)) || name || uvarint(len(data)) || data); " +
			"root = RFC 6962 Merkle tree hash of the leaves; commitment = SHA-256(\"sealnet/module/tests/v1\\0\" || u64be(n) || root); proof = inclusion proof of case open.",
		Proposal: f, ProposalRaw: raw, IDInput: append([]byte(proposalDomain), raw...), ID: id[:], Votes: votes,
		Source: sourceVector{Files: files, Input: input, Hash: hash[:]}, Tests: tv,
	}
}

// sourceInput is the documented input of the source hash.
func sourceInput(files []sourceFile) []byte {
	b := []byte(sourceDomain)
	for _, f := range files {
		b = binary.AppendUvarint(b, uint64(len(f.Path)))
		b = append(b, f.Path...)
		b = binary.BigEndian.AppendUint64(b, uint64(len(f.Data)))
		b = append(b, f.Data...)
	}
	return b
}

func TestModuleVectors(t *testing.T) {
	if golden.Updating() {
		golden.Save(t, moduleFile, makeModuleVector(t))
	}
	var v moduleVector
	golden.Load(t, moduleFile, &v)

	// the proposal: encode, decode, ID
	p := v.Proposal.proposal()
	raw, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	golden.Equal(t, "proposal bytes", raw, v.ProposalRaw)
	var back Proposal
	if err := canon.Unmarshal(v.ProposalRaw, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, p) {
		t.Errorf("decoded proposal %+v, want %+v", back, p)
	}
	if err := back.Validate(); err != nil {
		t.Errorf("the vector's proposal: %v", err)
	}
	golden.Equal(t, "proposal ID input", append([]byte(proposalDomain), v.ProposalRaw...), v.IDInput)
	id := back.ID()
	golden.Equal(t, "proposal ID", id[:], v.ID)
	sum := sha256.Sum256(v.IDInput)
	golden.Equal(t, "SHA-256 of the ID input", sum[:], v.ID)

	// the votes
	if len(v.Votes) != 3 {
		t.Fatalf("%d votes, want 3", len(v.Votes))
	}
	for i, c := range v.Votes {
		vote := c.vote()
		raw, err := vote.Encode()
		if err != nil {
			t.Fatal(err)
		}
		golden.Equal(t, golden.Label("vote", i), raw, c.Raw)
		var back Vote
		if err := canon.Unmarshal(c.Raw, &back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, vote) {
			t.Errorf("vote %d decoded as %+v, want %+v", i, back, vote)
		}
		if err := back.Check(p.Module); err != nil {
			t.Errorf("vote %d: %v", i, err)
		}
		if back.Verdict() != c.Verdict {
			t.Errorf("vote %d: verdict %q, want %q", i, back.Verdict(), c.Verdict)
		}
	}

	// the source tree
	golden.Equal(t, "source input", sourceInput(v.Source.Files), v.Source.Input)
	fsys := fstest.MapFS{}
	for _, f := range v.Source.Files {
		fsys[f.Path] = &fstest.MapFile{Data: f.Data}
	}
	h, err := HashSource(fsys)
	if err != nil {
		t.Fatal(err)
	}
	golden.Equal(t, "source hash", h[:], v.Source.Hash)

	// the test set
	secret := TestSecret(v.Tests.Secret)
	var cases []TestCase
	for i, c := range v.Tests.Cases {
		golden.Equal(t, golden.Label("salt of case", i), secret.TestSalt(uint64(i)), c.Salt)
		golden.Equal(t, golden.Label("leaf of case", i), testLeaf(c.Salt, uint64(i), TestCase{c.Name, c.Data}), c.Leaf)
		cases = append(cases, TestCase{c.Name, c.Data})
	}
	commit, err := CommitTests(secret, cases)
	if err != nil {
		t.Fatal(err)
	}
	golden.Equal(t, "test-set commitment", commit[:], v.Tests.Commitment)
	c := TestCommitment(uint64(len(cases)), v.Tests.Root)
	golden.Equal(t, "commitment from the root", c[:], v.Tests.Commitment)
	o := &TestOpening{Index: v.Tests.Open, Count: uint64(len(cases)), Salt: v.Tests.Cases[v.Tests.Open].Salt, Root: v.Tests.Root}
	for _, h := range v.Tests.Proof {
		o.Proof = append(o.Proof, h)
	}
	if err := VerifyTest(commit, cases[v.Tests.Open], o); err != nil {
		t.Errorf("opening case %d: %v", v.Tests.Open, err)
	}
}
