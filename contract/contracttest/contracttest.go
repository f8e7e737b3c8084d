// Package contracttest runs contract scenarios written as data files
// against the real ABCI application (ledger.App), without CometBFT, on two
// nodes at once: one that runs all along and one that is reopened from its
// database before every block and every query, as a node restarted at every
// height. A scenario fails if the two ever differ in an app hash, a result
// code, a log, a result or an event, so anything a contract or the ledger
// keeps in memory beyond committed state shows up as a fork.
//
// Scenarios live next to the contract they exercise, in its testdata
// directory (contract/registry/testdata/*.txt, ...), and a one-line test
// runs them:
//
//	func TestScenarios(t *testing.T) { contracttest.Run(t, "testdata") }
//
// RunWith also registers contracts the ledger does not (a stub of a
// contract another one reads, say), and a Scenario can be driven from Go
// with Step for tests that compute what they send.
//
// Each file is a fresh channel. Expected output follows each directive
// after "----"; run the tests with -rewrite to regenerate it, then read the
// diff.
//
// # Directives
//
// Setting up (these print nothing):
//
//	ca <name> [org=<org>] [from=<offset>] [validity=<duration>] [ca=false]
//	    A certificate authority. Its root names org (default: name), so two
//	    CAs may claim one org. from is an offset from the genesis time
//	    (default -1h), validity defaults to ten years; ca=false makes a
//	    root that is not a CA.
//	member <ca>/<name>... [role=<role>] [org=<org>] [id=<id>] [from=<offset>] [validity=<duration>]
//	    Member certificates issued by a CA, not enrolled: role defaults to
//	    client, org to the CA's org, the member ID to name (id= gives a
//	    second certificate for one ID); all are written as given, valid or
//	    not. Validity defaults to a year from one hour before genesis.
//	genesis orgs=(<ca>, ...) [members=(<member>, ...)] [peers=(<node id>@<org>, ...)] [p2pkeys=(<key>@<member>, ...)]
//	    InitChain at 2026-01-01T00:00:00Z with these orgs (each by the CA
//	    of its root), genesis members and peers, and the libp2p keys named
//	    <key> bound to genesis nodes. A genesis both nodes
//	    refuse prints "refused: <error>" and can be followed by another.
//
// Running transactions (blocks are one second apart):
//
//	tx <signer> <contract>.<method> [<arg>=<value>...] [as=<label>] [nonce=<n>] [ts=<offset>] [channel=<name>]
//	    Signs a call and queues it for the next block. The label names the
//	    transaction in later values and in the output (default
//	    <height>.<index>); nonces count up from 1 unless given; the
//	    timestamp is the next block's time plus ts; channel defaults to
//	    the scenario's. as, nonce, ts and channel are therefore not
//	    argument names, unless the method's argument type has a field of
//	    that name (certify's channel): then the pair fills the field.
//	block
//	    Runs the queued transactions in one block on both nodes and prints
//	    each result and event, prefixed by the transaction's label, then
//	    the events of the block's end (contract.EndBlocker) prefixed
//	    "end: ".
//	call <signer> <contract>.<method> [...]
//	    tx and block in one, printed without the label.
//	advance <duration>
//	    Moves the clock on: the next block is that much later.
//	voucher <label> <signer> channel=<value> nonce=<n> amount=<n> [lane=<n>] [job=<value>] [state=<state>] [chain=<name>] [contract=<name>]
//	    Signs a payment-channel voucher (package paych/voucher) off
//	    chain, deterministically, for later use as voucher:<label>.
//	    channel and job take 32-byte values (tx:<label>, sha256:<text>,
//	    hex:); state defaults to accepted when a job is given, chain to
//	    the scenario's channel, contract to paych.
//	query <contract>.<method> [<arg>=<value>...]
//	    A read-only query on both nodes' committed state.
//
// Contracts that act at the end of a block (contract.EndBlocker) print
// their events after the block's transactions, each line prefixed "end: ".
//
// A call's arguments are encoded as canonical CBOR of the method's argument
// type (key = the field's CBOR name, the value typed by the field; a field
// of an embedded struct by its own name, a field of a struct-valued field
// as outer.inner); fields not given are left zero. Arguments no Go type describes (a wrong type, an
// unknown field) can be given instead as a JSON object in the directive's
// input, between the directive and "----".
//
// # Values
//
// A value is written as is, or in parentheses if it has spaces; a list is
// (a, b, c). These forms are evaluated, as text for string fields and as
// bytes for byte fields:
//
//	fp:<member>      the member's certificate fingerprint
//	cert:<member>    the member's certificate (DER)
//	root:<ca>        the CA's root certificate (DER)
//	tx:<label>       a transaction's ID
//	sig:<label>      its signature r||s
//	hrs:<label>      h(r, s): SHA-256 of its signature
//	sha256:<text>    SHA-256 of text
//	cid:<text>       the CIDv1 (raw, SHA-256) of text
//	hex:<digits>     bytes in hex (as text: the digits as written)
//	text:<text>      the bytes of text
//	esc:<text>       text with Go escapes (\x00, \t, \x20) decoded
//	zeros:<n>        n zero bytes
//	repeat:<n>:<s>   s, n times
//	upper:<value>    the value's text in upper case
//	voucher:<label>  a voucher made by the voucher directive
//	p2pkey:<name>    the Ed25519 libp2p public key derived from name
//	p2psig:<name>@<member>  that key's signature binding it to the member's
//	                 certificate (registry.bind_p2p_key)
//	key:<member>     the member's P-256 public key, SEC 1 uncompressed
//	commit:<tx>:<worker>:<out>:<nonce>  a redundant compute job's commit hash
//	                 for job tx:<tx> by the worker, with output commitment
//	                 sha256:<out> and nonce sha256:<nonce>
//	result:<label>.<field>  a text field of a transaction's result (as bytes:
//	                 its hex digits decoded)
//	now, now+<d>     the next block's time in Unix nanoseconds (integers)
//
// Byte fields take only these forms; true and false fill booleans.
//
// # Output
//
// A result is "ok" and its value as JSON (byte strings in hex), or the
// error's code name, number and message: "rejected (14): ...". Events
// follow, one a line: "event <contract>.<type> [to=<org>] key=value...".
// Every value the scenario named is printed back in its form above
// (fp:org1/alice, tx:e1, cid:log, ...; a member's public key, SEC 1
// uncompressed, as key:org1/alice), so no output depends on key bytes.
//
// Identities are derived from their names and every signature is
// deterministic (RFC 6979), so each run makes the same certificates and
// transaction IDs, and results ordered by them keep their order.
package contracttest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/contract/registry"
	"github.com/sealnet/sealnet/envelope"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/ledger"
	"github.com/sealnet/sealnet/txerr"
)

// Channel is the scenarios' channel name.
const Channel = "default"

// GenesisTime is when every scenario's chain starts.
func GenesisTime() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }

// Run runs the scenario files under path (a file, or a directory whose
// files each become a subtest).
func Run(t *testing.T, path string) { RunWith(t, path, nil) }

// RunWith is Run on applications that also register the contracts extra
// makes (stubs of contracts a scenario needs; one of the ledger's own name
// is replaced). extra is called for every application opened, so each
// gets fresh contracts, as a restarted node would.
func RunWith(t *testing.T, path string, extra func() []contract.Contract) {
	datadriven.Walk(t, path, func(t *testing.T, path string) {
		s, err := NewWith(t.TempDir(), extra)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			out, err := s.Do(d)
			if err != nil {
				t.Fatalf("%s: %v", d.Pos, err)
			}
			return out
		})
	})
}

// Scenario is the state of one scenario file.
type Scenario struct {
	tw       *twins
	cas      map[string]*authority
	people   map[string]*person
	txs      map[string]*sentTx
	names    map[string]string // printed text -> token
	order    []string          // names' keys, longest first
	genesis  bool
	height   int64
	now      time.Time // time of the last block
	skip     time.Duration
	nonce    uint64
	queue    []*sentTx
	vouchers map[string][]byte
}

type sentTx struct {
	label  string
	id     envelope.ID
	sig    []byte
	raw    []byte
	result []byte // its result once its block ran (canonical CBOR)
}

// New makes a scenario whose restarted node keeps its database in dir.
func New(dir string) (*Scenario, error) { return NewWith(dir, nil) }

// NewWith is New with extra contracts, as RunWith.
func NewWith(dir string, extra func() []contract.Contract) (*Scenario, error) {
	tw, err := newTwins(dir, extra)
	if err != nil {
		return nil, err
	}
	return &Scenario{tw: tw, cas: map[string]*authority{}, people: map[string]*person{},
		txs: map[string]*sentTx{}, names: map[string]string{}, now: GenesisTime(), vouchers: map[string][]byte{}}, nil
}

// Step runs one directive written as in a scenario file, with its input
// (for tests that drive a scenario from Go).
func (s *Scenario) Step(line, input string) (string, error) {
	cmd, args, err := datadriven.ParseLine(line)
	if err != nil {
		return "", err
	}
	return s.Do(&datadriven.TestData{Cmd: cmd, CmdArgs: args, Input: input})
}

// Key returns a declared member's private key.
func (s *Scenario) Key(member string) (*ecdsa.PrivateKey, error) {
	p, err := s.person(member)
	if err != nil {
		return nil, err
	}
	return p.key, nil
}

// TxID returns the ID of the transaction labelled label.
func (s *Scenario) TxID(label string) ([32]byte, error) {
	t, ok := s.txs[label]
	if !ok {
		return [32]byte{}, fmt.Errorf("no transaction labelled %q", label)
	}
	return t.id, nil
}

// Close releases the running node's database.
func (s *Scenario) Close() error { return s.tw.close() }

// next is the time of the next block.
func (s *Scenario) next() time.Time { return s.now.Add(time.Second + s.skip) }

func (s *Scenario) person(name string) (*person, error) {
	p, ok := s.people[name]
	if !ok {
		return nil, fmt.Errorf("no member %q (declare it with: member %s)", name, name)
	}
	return p, nil
}

func (s *Scenario) authority(name string) (*authority, error) {
	a, ok := s.cas[name]
	if !ok {
		return nil, fmt.Errorf("no CA %q (declare it with: ca %s)", name, name)
	}
	return a, nil
}

// Do runs one directive and returns its output.
func (s *Scenario) Do(d *datadriven.TestData) (string, error) {
	var pos []string
	var pairs []pair
	for _, a := range d.CmdArgs {
		if len(a.Vals) == 0 {
			pos = append(pos, a.Key)
		} else {
			pairs = append(pairs, pair{key: a.Key, vals: a.Vals})
		}
	}
	switch d.Cmd {
	case "ca":
		return "", s.doCA(pos, pairs)
	case "member":
		return "", s.doMember(pos, pairs)
	case "genesis":
		return s.doGenesis(pos, pairs)
	case "tx":
		_, err := s.doTx(pos, pairs, d.Input)
		return "", err
	case "call":
		if len(s.queue) > 0 {
			return "", fmt.Errorf("call with %d transactions queued: run block first", len(s.queue))
		}
		if _, err := s.doTx(pos, pairs, d.Input); err != nil {
			return "", err
		}
		return s.doBlock(false)
	case "block":
		if len(pos)+len(pairs) > 0 {
			return "", fmt.Errorf("block takes no arguments")
		}
		return s.doBlock(true)
	case "advance":
		if len(pos) != 1 || len(pairs) > 0 {
			return "", fmt.Errorf("usage: advance <duration>")
		}
		dur, err := time.ParseDuration(pos[0])
		if err != nil || dur < 0 {
			return "", fmt.Errorf("advance: want a positive duration, got %q", pos[0])
		}
		s.skip += dur
		return "", nil
	case "query":
		return s.doQuery(pos, pairs, d.Input)
	case "voucher":
		return "", s.doVoucher(pos, pairs)
	}
	return "", fmt.Errorf("unknown directive %q", d.Cmd)
}

// options takes the named options out of pairs.
func options(pairs []pair, names ...string) (map[string]string, []pair, error) {
	opts := map[string]string{}
	var rest []pair
	for _, p := range pairs {
		isOpt := false
		for _, n := range names {
			if p.key == n {
				isOpt = true
			}
		}
		if !isOpt {
			rest = append(rest, p)
			continue
		}
		if len(p.vals) != 1 {
			return nil, nil, fmt.Errorf("%s: want one value", p.key)
		}
		opts[p.key] = p.vals[0]
	}
	return opts, rest, nil
}

func duration(opts map[string]string, key string, def time.Duration) (time.Duration, error) {
	v, ok := opts[key]
	if !ok {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %v", key, err)
	}
	return d, nil
}

func (s *Scenario) doCA(pos []string, pairs []pair) error {
	opts, rest, err := options(pairs, "org", "from", "validity", "ca")
	if err != nil {
		return err
	}
	if len(pos) != 1 || len(rest) > 0 {
		return fmt.Errorf("usage: ca <name> [org=<org>] [from=<offset>] [validity=<duration>] [ca=false]")
	}
	name := pos[0]
	if _, dup := s.cas[name]; dup {
		return fmt.Errorf("ca %s declared twice", name)
	}
	org := name
	if o, ok := opts["org"]; ok {
		org = o
	}
	from, err := duration(opts, "from", -time.Hour)
	if err != nil {
		return err
	}
	validity, err := duration(opts, "validity", 10*365*24*time.Hour)
	if err != nil {
		return err
	}
	isCA := opts["ca"] != "false"
	a, err := newAuthority(name, org, GenesisTime().Add(from), validity, isCA)
	if err != nil {
		return err
	}
	s.cas[name] = a
	s.name(fmt.Sprintf("%x", a.cert.Raw), "root:"+name)
	return nil
}

func (s *Scenario) doMember(pos []string, pairs []pair) error {
	opts, rest, err := options(pairs, "role", "org", "id", "from", "validity")
	if err != nil {
		return err
	}
	if len(pos) == 0 || len(rest) > 0 {
		return fmt.Errorf("usage: member <ca>/<name>... [role=<role>] [org=<org>] [id=<id>] [from=<offset>] [validity=<duration>]")
	}
	from, err := duration(opts, "from", -time.Hour)
	if err != nil {
		return err
	}
	validity, err := duration(opts, "validity", 365*24*time.Hour)
	if err != nil {
		return err
	}
	role := string(identity.RoleClient)
	if r, ok := opts["role"]; ok {
		role = r
	}
	for _, name := range pos {
		caName, id, ok := strings.Cut(name, "/")
		if !ok {
			return fmt.Errorf("member %q: want <ca>/<id>", name)
		}
		a, err := s.authority(caName)
		if err != nil {
			return err
		}
		if _, dup := s.people[name]; dup {
			return fmt.Errorf("member %s declared twice", name)
		}
		org := a.org
		if o, ok := opts["org"]; ok {
			org = o
		}
		if v, ok := opts["id"]; ok {
			id = v
		}
		p, err := a.issue(name, id, org, role, GenesisTime().Add(from), validity)
		if err != nil {
			return err
		}
		s.people[name] = p
		s.name(p.fp.String(), "fp:"+name)
		s.name(strings.ToUpper(p.fp.String()), "upper:fp:"+name)
		s.name(fmt.Sprintf("%x", p.der), "cert:"+name)
		if pub, err := p.key.PublicKey.Bytes(); err == nil {
			s.name(fmt.Sprintf("%x", pub), "key:"+name)
		}
	}
	return nil
}

func (s *Scenario) doGenesis(pos []string, pairs []pair) (string, error) {
	if s.genesis {
		return "", fmt.Errorf("genesis twice")
	}
	if len(pos) > 0 {
		return "", fmt.Errorf("usage: genesis orgs=(<ca>, ...) [members=(<member>, ...)] [peers=(<node id>@<org>, ...)] [p2pkeys=(<key>@<member>, ...)]")
	}
	st := ledger.DefaultAppState(Channel)
	for _, p := range pairs {
		for _, v := range p.vals {
			switch p.key {
			case "orgs":
				a, err := s.authority(v)
				if err != nil {
					return "", err
				}
				st.Registry.Orgs = append(st.Registry.Orgs, registry.GenesisOrg{Name: a.org, RootPEM: string(identity.EncodeCertPEM(a.cert.Raw))})
			case "members":
				m, err := s.person(v)
				if err != nil {
					return "", err
				}
				st.Registry.Members = append(st.Registry.Members, string(identity.EncodeCertPEM(m.der)))
			case "peers":
				id, org, ok := strings.Cut(v, "@")
				if !ok {
					return "", fmt.Errorf("peer %q: want <node id>@<org>", v)
				}
				st.Registry.Peers = append(st.Registry.Peers, registry.Peer{NodeID: id, Org: org})
			case "p2pkeys":
				key, member, ok := strings.Cut(v, "@")
				m, err := s.person(member)
				if !ok || err != nil {
					return "", fmt.Errorf("p2p key %q: want <key>@<member> (%v)", v, err)
				}
				k := deriveP2PKey(key)
				st.Registry.P2PKeys = append(st.Registry.P2PKeys, registry.GenesisP2PKey{Fingerprint: m.fp.String(),
					Key: hex.EncodeToString(k.Public().(ed25519.PublicKey)), Sig: hex.EncodeToString(identity.SignP2PBinding(k, m.fp))})
			default:
				return "", fmt.Errorf("genesis has no %q", p.key)
			}
		}
	}
	raw, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	refused, err := s.tw.initChain(&abci.RequestInitChain{ChainId: Channel, Time: GenesisTime(), AppStateBytes: raw})
	if err != nil {
		return "", err
	}
	if refused != nil {
		return "refused: " + s.substitute(refused.Error()) + "\n", nil
	}
	s.genesis = true
	return "", nil
}

func (s *Scenario) doTx(pos []string, pairs []pair, input string) (*sentTx, error) {
	if !s.genesis {
		return nil, fmt.Errorf("a transaction before genesis")
	}
	if len(pos) != 2 {
		return nil, fmt.Errorf("usage: tx <signer> <contract>.<method> [<arg>=<value>...]")
	}
	signer, err := s.person(pos[0])
	if err != nil {
		return nil, err
	}
	contractName, method, ok := strings.Cut(pos[1], ".")
	if !ok {
		return nil, fmt.Errorf("%q: want <contract>.<method>", pos[1])
	}
	argPairs, optPairs := splitArgs(contractName+"."+method, pairs)
	opts, rest, err := options(optPairs, "as", "nonce", "ts", "channel")
	if err != nil {
		return nil, err
	}
	args, err := s.encodeArgs(contractName+"."+method, append(argPairs, rest...), input)
	if err != nil {
		return nil, err
	}
	nonce := s.nonce + 1
	if v, ok := opts["nonce"]; ok {
		if nonce, err = strconv.ParseUint(v, 10, 64); err != nil {
			return nil, fmt.Errorf("nonce: %v", err)
		}
	} else {
		s.nonce = nonce
	}
	ts, err := duration(opts, "ts", 0)
	if err != nil {
		return nil, err
	}
	channel := Channel
	if c, ok := opts["channel"]; ok {
		channel = c
	}
	raw, err := sign(signer, envelope.Payload{Channel: channel, Contract: contractName, Method: method, Args: args,
		Creator: signer.fp[:], Nonce: nonce, Timestamp: s.next().Add(ts).UnixNano()})
	if err != nil {
		return nil, err
	}
	var env envelope.Envelope
	if err := canon.Unmarshal(raw, &env); err != nil {
		return nil, err
	}
	label := fmt.Sprintf("%d.%d", s.height+1, len(s.queue))
	if l, ok := opts["as"]; ok {
		label = l
	}
	if _, dup := s.txs[label]; dup {
		return nil, fmt.Errorf("transaction label %q used twice", label)
	}
	tx := &sentTx{label: label, id: envelope.IDOf(raw), sig: env.Signature, raw: raw}
	s.txs[label] = tx
	s.name(tx.id.String(), "tx:"+label)
	s.name(fmt.Sprintf("%x", tx.sig), "sig:"+label)
	s.name(hrs(tx.sig), "hrs:"+label)
	// The running node verifies the signature on submission, as the API
	// does, so its signature cache is part of what is compared; the
	// restarted node sees the transaction first in the block.
	_, _ = s.tw.running.PreVerify(raw)
	s.queue = append(s.queue, tx)
	return tx, nil
}

func (s *Scenario) doBlock(prefix bool) (string, error) {
	if !s.genesis {
		return "", fmt.Errorf("a block before genesis")
	}
	txs := make([][]byte, len(s.queue))
	labels := make([]string, len(s.queue))
	for i, tx := range s.queue {
		txs[i], labels[i] = tx.raw, tx.label
	}
	at := s.next()
	b, err := s.tw.block(&abci.RequestFinalizeBlock{Txs: txs, Height: s.height + 1, Time: at})
	if err != nil {
		return "", err
	}
	for i, tx := range s.queue {
		tx.result = b.Txs[i].Data
	}
	s.height, s.now, s.skip, s.queue = s.height+1, at, 0, nil
	return s.results(b, labels, prefix), nil
}

func (s *Scenario) doQuery(pos []string, pairs []pair, input string) (string, error) {
	if !s.genesis {
		return "", fmt.Errorf("a query before genesis")
	}
	if len(pos) != 1 {
		return "", fmt.Errorf("usage: query <contract>.<method> [<arg>=<value>...]")
	}
	contractName, method, ok := strings.Cut(pos[0], ".")
	if !ok {
		return "", fmt.Errorf("%q: want <contract>.<method>", pos[0])
	}
	var args []byte
	if len(pairs) > 0 || strings.TrimSpace(input) != "" {
		var err error
		if args, err = s.encodeArgs(contractName+"?"+method, pairs, input); err != nil {
			return "", err
		}
	}
	out, qerr, err := s.tw.query(contractName, method, args)
	if err != nil {
		return "", err
	}
	if qerr != nil {
		return s.outcome(txerr.CodeOf(qerr), txerr.Message(qerr), nil) + "\n", nil
	}
	return s.outcome(txerr.OK, "", out) + "\n", nil
}

func hrs(sig []byte) string {
	h := sha256.Sum256(sig)
	return hex.EncodeToString(h[:])
}
