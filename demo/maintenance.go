package demo

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/sealnet/sealnet/apiclient"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cometbft/cometbft/types"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/contract/condition"
	"github.com/sealnet/sealnet/dcmb"
	"github.com/sealnet/sealnet/dcmb/bundle"
	"github.com/sealnet/sealnet/dcmb/machine"
	"github.com/sealnet/sealnet/dcmb/source"
	"github.com/sealnet/sealnet/durable"
	"github.com/sealnet/sealnet/ledger"
	"github.com/sealnet/sealnet/local"
)

// MaintenanceOptions selects the machine of the maintenance scenario.
type MaintenanceOptions struct {
	OPCUA        string        // endpoint of a machine's OPC UA server; "" simulates one
	Node         string        // node ID of its work-piece counter
	Security     string        // None (default), Sign or SignAndEncrypt
	Policy       string        // Basic256Sha256 (default), Aes128_Sha256_RsaOaep or Aes256_Sha256_RsaPss
	PKI          string        // trust list of server certificates (own, trusted, rejected, issuers); required unless Security is None
	Username     string        // user-name login (default anonymous)
	PasswordFile string        // its password, the file's first line
	Outage       time.Duration // how long the manufacturer's node stays offline (default 4 s)
}

const (
	stream    = "press-7"
	label     = "Maintenance imminent"
	condID    = "press-7-maintenance"
	paperTurn = "5367" // the counter value of the paper's Algorithm 4
)

// Maintenance runs paper 000's section 5 scenario on a four-company
// consortium: the machine owner (org1) streams its press's work-piece
// counter, read over OPC UA, to the manufacturer (org2) through the DCMB;
// evidence is anchored per interval; the mapped and hashed "Maintenance
// imminent" triggers the manufacturer's condition; the manufacturer's node
// goes offline and comes back and receives everything; one message is then
// audited offline.
func Maintenance(ctx context.Context, w io.Writer, opt MaintenanceOptions) error {
	ctx, cancel := context.WithCancel(ctx) // ends the helpers below when the demo returns
	defer cancel()
	out := &lockedWriter{w: w}
	p := func(format string, args ...any) { out.Write(fmt.Appendf(nil, format+"\n", args...)) }
	if opt.Outage <= 0 {
		opt.Outage = 4 * time.Second
	}
	if (opt.OPCUA == "") != (opt.Node == "") {
		return errors.New("an external machine needs both its OPC UA endpoint and the counter's node ID")
	}
	if opt.Security == "" {
		opt.Security = "None"
	}
	if opt.OPCUA == "" && (opt.Security != "None" || opt.Policy != "" || opt.Username != "") {
		return errors.New("the simulated press offers security None and anonymous logins only: give a real server with --opcua for Sign, SignAndEncrypt or a user")
	}
	if opt.Security != "None" && opt.PKI == "" {
		return errors.New("security " + opt.Security + " needs --pki DIR, the trust list: the server's certificate must be in DIR/trusted/certs (a first run saves it in DIR/rejected, and 'sealnet dcmb trust --pki DIR THUMBPRINT' trusts it)")
	}
	if opt.OPCUA != "" {
		// a refused certificate, policy or login is reported now, not after the consortium is up
		src := &source.OPCUA{Name: stream, Endpoint: opt.OPCUA, Nodes: []string{opt.Node}, Security: opt.Security, Policy: opt.Policy,
			PKI: opt.PKI, Username: opt.Username, Password: source.Secret{File: opt.PasswordFile}}
		if err := src.Check(ctx); err != nil {
			return fmt.Errorf("the press's OPC UA server: %w", err)
		}
	}
	dir, err := os.MkdirTemp("", "sealnet-demo-maintenance-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	p("starting a consortium of four companies (a node and a validator each, one channel, CometBFT + libp2p)...")
	log := slog.New(slog.NewTextHandler(&dcmbLines{out: out}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	c, err := local.Start(dir, 4, log)
	if err != nil {
		return err
	}
	defer c.Close()
	owner, maker := c.Orgs[0], c.Orgs[1]
	p("    %s: owner of the press   %s: its manufacturer   %s, %s: other members", owner.Name, maker.Name, c.Orgs[2].Name, c.Orgs[3].Name)

	endpoint, node := opt.OPCUA, opt.Node
	startShift := func() {}
	if endpoint == "" {
		m, err := machine.Start(0, 5290)
		if err != nil {
			return err
		}
		defer m.Close()
		startShift = func() {
			go func() {
				v := uint32(5290)
				t := time.NewTicker(50 * time.Millisecond)
				defer t.Stop()
				for {
					select {
					case <-t.C:
						v++
						m.Set(v)
					case <-ctx.Done():
						return
					}
				}
			}()
		}
		endpoint, node = m.Endpoint(), m.NodeID()
		p("\n[1] the press: a simulated machine's OPC UA server at %s, work-piece counter %s at 5290, +1 every 50 ms once its shift starts", endpoint, node)
	} else {
		p("\n[1] the press: OPC UA server at %s, work-piece counter %s, security %s", endpoint, node, security(opt))
	}

	p("\n[2] the manufacturer registers its hashed condition (the paper's Maintenance Contract, Algorithm 5)")
	saltRaw := make([]byte, 12)
	rand.Read(saltRaw)
	salt := hex.EncodeToString(saltRaw)
	h := condition.Hash(label, []byte(salt))
	reg, err := maker.API.Call(ctx, maker.Admin, "default", condition.Name, "register",
		condition.RegisterArgs{ID: condID, Hash: h, Importance: "high", Sender: owner.Name})
	if err != nil {
		return err
	}
	if reg.Code != 0 {
		return fmt.Errorf("register the condition: %s", reg.Error)
	}
	p("    tx %s at height %d: %s = h(label + salt) = %x…, importance high, submissions from %s only",
		reg.TxID[:16], reg.Height, condID, h[:8], owner.Name)
	p("    the label and its salt are agreed with %s off chain; the chain holds the hash alone", owner.Name)

	notified := make(chan string, 16)
	hook, err := webhookServer(notified)
	if err != nil {
		return err
	}
	defer hook.Close()
	received := filepath.Join(dir, "received.jsonl")
	makerCfg := &dcmb.Config{
		Receive: []dcmb.ReceiveConfig{{Stream: stream, From: owner.Name, Output: received,
			Actions: []dcmb.Action{{Name: "plan a technician visit", Key: node, Equals: paperTurn}}}},
		Notify: dcmb.NotifyConfig{Webhook: "http://" + hook.Addr + "/events"},
	}
	above, below := 5300.0, 5400.0
	ownerCfg := &dcmb.Config{Streams: []dcmb.StreamConfig{{Name: stream, Receiver: maker.Name,
		Interval: dcmb.Duration{Duration: 500 * time.Millisecond},
		Source: dcmb.SourceConfig{Kind: "opcua", Endpoint: endpoint, Nodes: []string{node}, Security: opt.Security, Policy: opt.Policy,
			PKIDir: opt.PKI, Username: opt.Username, PasswordFile: opt.PasswordFile, Sampling: dcmb.Duration{Duration: 25 * time.Millisecond}},
		Rules: []dcmb.Rule{{Key: node, Above: &above, Below: &below, Label: label, Condition: condID, LabelSalt: salt}}}}}

	p("\n[3] the DCMBs start: %s receives %s from %s (action on %s, events to a webhook); %s streams it to %s,", maker.Name, stream, owner.Name, paperTurn, owner.Name, maker.Name)
	p("    sealed mode, one anchored batch per 500 ms, rule 5300 < counter < 5400 gives %q", label)
	recv, err := maker.Daemon.StartDCMB(makerCfg, nil)
	if err != nil {
		return err
	}
	defer func() { recv.Stop() }()
	send, err := owner.Daemon.StartDCMB(ownerCfg, nil)
	if err != nil {
		return err
	}
	defer send.Stop()
	startShift()
	ownerCh, err := owner.Node.Channel("default")
	if err != nil {
		return err
	}
	go printAnchors(ctx, ownerCh, p)

	p("\n[4] the counter crosses 5300: the DCMB submits h(%q + salt); the contract matches it and notifies %s", label, maker.Name)
	select {
	case ev := <-notified:
		p("    %s's webhook: %s", maker.Name, ev)
	case <-time.After(time.Minute):
		return errors.New("step 4: the manufacturer was not notified within a minute")
	case <-ctx.Done():
		return ctx.Err()
	}

	p("\n[5] the manufacturer receives the raw counter peer to peer, each batch verified against its anchored root")
	var turn line
	var past error
	if err := waitUntil(ctx, time.Minute, func() bool {
		lines, _ := readLines(received)
		for _, l := range lines {
			if l.Value == paperTurn {
				turn = l
				return true
			}
			if v, err := strconv.Atoi(l.Value); err == nil && v > 5367 {
				past = fmt.Errorf("step 5: the counter was at %d, past %s, before %s reached it: start the machine's counter lower", v, paperTurn, paperTurn)
				return true
			}
		}
		return false
	}); err != nil {
		return fmt.Errorf("step 5: counter %s did not arrive: %w", paperTurn, err)
	}
	if past != nil {
		return past
	}
	p("    message %d: %s = %s, received at %s", turn.Seq, turn.Key, turn.Value, turn.Time)

	p("\n[6] the manufacturer's node goes offline for %s; the owner's DCMB keeps anchoring and spools on disk", opt.Outage)
	recv.Stop()
	if err := maker.Stop(); err != nil {
		return err
	}
	before := send.Runtime.Stats.Delivered.Load()
	select {
	case <-time.After(opt.Outage):
	case <-ctx.Done():
		return ctx.Err()
	}
	st := &send.Runtime.Stats
	p("    meanwhile: %d messages read, %d anchored, %d delivered before the outage", st.Collected.Load(), st.Anchored.Load(), before)
	p("    (the manufacturer's node is one of the four validators too: the rounds it should propose time out, so anchoring lags)")
	if err := maker.Start(); err != nil {
		return err
	}
	if recv, err = maker.Daemon.StartDCMB(makerCfg, nil); err != nil {
		return err
	}
	p("    the manufacturer's node is back")
	chain, err := apiclient.Query[audit.Stream](ctx, owner.API, "default", audit.Name, "stream", map[string]string{"stream": stream})
	if err != nil {
		return err
	}
	var lines []line
	if err := waitUntil(ctx, 2*time.Minute, func() bool {
		lines, _ = readLines(received)
		return uint64(len(lines)) >= chain.Next
	}); err != nil {
		return fmt.Errorf("step 6: %d of the %d anchored messages arrived: %w", len(lines), chain.Next, err)
	}
	for i, l := range lines {
		if l.Seq != uint64(i) {
			return fmt.Errorf("step 6: line %d of the output holds message %d", i, l.Seq)
		}
	}
	p("    all %d messages anchored by then arrived, once each and in order, with %d during the outage (%d anchoring batches, %d dropped)",
		chain.Next, chain.Next-before, chain.Batches, chain.Dropped+chain.Undelivered)

	p("\n[7] an auditor checks message %d offline: the bundle the manufacturer exports, against the channel's genesis only", turn.Seq)
	raw, err := maker.API.AuditBundle(ctx, "default", stream, turn.Seq)
	if err != nil {
		return fmt.Errorf("step 7: %w", err)
	}
	file := filepath.Join(dir, "press-7-"+paperTurn+".bundle")
	if err := durable.WriteFile(file, raw, 0o644); err != nil {
		return err
	}
	g, err := bundle.LoadGenesis(filepath.Join(maker.Home.Chain(maker.Node.Config().Channels[0], "").Home, "config", "genesis.json"))
	if err != nil {
		return err
	}
	p("    sealnet audit export --stream %s --seq %d: %d bytes", stream, turn.Seq, len(raw))
	b, err := bundle.Decode(raw)
	if err != nil {
		return err
	}
	rep, err := bundle.Verify(b, g)
	if err != nil {
		return fmt.Errorf("step 7: the exported bundle does not verify: %w", err)
	}
	for _, s := range rep.Steps {
		p("    ✓ %s", s)
	}
	for _, m := range rep.Messages {
		p("    disclosed: message %d, %s = %s", m.Seq, m.Key, m.Value)
	}
	forged := bytes.Replace(raw, []byte(paperTurn), []byte("5368"), 1)
	if bytes.Equal(forged, raw) {
		return errors.New("step 7: the bundle does not hold the disclosed value")
	}
	_, err = verifyRaw(forged, g)
	if err == nil {
		return errors.New("step 7: a bundle claiming 5368 verified")
	}
	p("    the same bundle claiming 5368: rejected: %v", err)

	p("\n[8] totals: %d messages, %d chain transactions by the owner's DCMB (anchors and the hashed label)", st.Collected.Load(), st.Txs.Load())
	send.Stop()
	recv.Stop()
	p("\nall steps passed")
	return nil
}

func verifyRaw(raw []byte, g *types.GenesisDoc) (*bundle.Report, error) {
	b, err := bundle.Decode(raw)
	if err != nil {
		return nil, err
	}
	return bundle.Verify(b, g)
}

// printAnchors prints the first anchors of the stream as the owner's node
// commits them.
func printAnchors(ctx context.Context, ch *ledger.Channel, p func(string, ...any)) {
	blocks, stop := ch.Subscribe(256)
	defer stop()
	shown := 0
	for {
		select {
		case blk, ok := <-blocks:
			if !ok {
				return
			}
			for _, tx := range blk.Txs {
				for _, e := range tx.Events {
					if e.Type != "anchored" || shown >= 4 {
						continue
					}
					var b audit.Batch
					if canon.Unmarshal(tx.Data, &b) != nil || b.Stream != stream {
						continue
					}
					shown++
					p("    anchored: messages %d-%d, root %s…, tx %s at height %d", b.FirstSeq, b.FirstSeq+b.Count-1, b.Root[:16], b.TXNumber[:16], blk.Height)
					if shown == 4 {
						p("    (an anchor every interval from now on)")
					}
				}
			}
		case <-ctx.Done():
			return
		}
	}
}

// webhookServer receives the manufacturer's event notifications.
type hookServer struct {
	Addr string
	srv  *http.Server
}

func (h *hookServer) Close() { h.srv.Close() }

func webhookServer(notified chan<- string) (*hookServer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev dcmb.Notice
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if ev.Type == dcmb.NoticeEvent && ev.Event != nil && ev.Event.Type == "condition_met" {
			var attrs []string
			for _, a := range ev.Event.Attrs {
				attrs = append(attrs, a.Key+"="+a.Value)
			}
			select {
			case notified <- fmt.Sprintf("%s %s (tx %.16s at height %d)", ev.Event.Type, strings.Join(attrs, " "), ev.TxID, ev.Height):
			default:
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	return &hookServer{Addr: l.Addr().String(), srv: srv}, nil
}

// line is one delivered message in the receiver's output.
type line struct {
	Seq   uint64 `json:"seq"`
	Key   string `json:"key"`
	Value string `json:"value"`
	Time  string `json:"time"`
}

func readLines(path string) ([]line, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []line
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l line
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			break // a line being written
		}
		out = append(out, l)
	}
	return out, nil
}

func waitUntil(ctx context.Context, d time.Duration, ok func() bool) error {
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", d)
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// lockedWriter serializes the demo's steps and the DCMB's log lines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// dcmbLines shows the DCMB's own log lines (level INFO and above) among
// the steps and discards the rest of the nodes' logs; lines holding one
// of once are shown the first time only.
type dcmbLines struct {
	out  *lockedWriter
	once []string
	mu   sync.Mutex
	seen map[string]bool
}

func (d *dcmbLines) Write(b []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if !strings.Contains(l, " module=dcmb") || d.repeated(l) {
			continue
		}
		if i := strings.Index(l, " level="); i >= 0 {
			l = l[i+1:]
		}
		d.out.Write([]byte("      dcmb log: " + l + "\n"))
	}
	return len(b), nil
}

// repeated reports whether l is a line of once shown before.
func (d *dcmbLines) repeated(l string) bool {
	for _, o := range d.once {
		if strings.Contains(l, o) {
			d.mu.Lock()
			defer d.mu.Unlock()
			if d.seen == nil {
				d.seen = map[string]bool{}
			}
			shown := d.seen[o]
			d.seen[o] = true
			return shown
		}
	}
	return false
}

func security(opt MaintenanceOptions) string {
	if opt.Security == "None" {
		return "None"
	}
	policy := opt.Policy
	if policy == "" {
		policy = "Basic256Sha256"
	}
	s := opt.Security + " " + policy
	if opt.Username != "" {
		s += ", user " + opt.Username
	}
	return s + ", server certificate trusted by " + opt.PKI
}
