// Package api is a node's one HTTP+JSON interface: the server over mutual
// TLS, its route table with each route's access level and the one place
// that checks it (auth.go), and openapi.json (served at /openapi.json).
// The request and response types and the Go client every front end uses
// are in package apiclient.
package api

import (
	"context"
	"crypto/ecdsa"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	cmtjson "github.com/cometbft/cometbft/libs/json"
	"github.com/cometbft/cometbft/types"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/custodian"
	"github.com/sealnet/sealnet/envelope"
	"github.com/sealnet/sealnet/ledger"
	"github.com/sealnet/sealnet/node"
	"github.com/sealnet/sealnet/store"
	"github.com/sealnet/sealnet/txerr"
)

//go:embed openapi.json
var openAPI []byte

// Version is reported by /v1/status.
const Version = "0.1.0"

// maxBody bounds request bodies: an envelope is at most 4 MiB by genesis
// limits, a genesis document far less.
const maxBody = 8 << 20

// SubmitTimeout is how long a submit waits for its block by default.
const SubmitTimeout = 30 * time.Second

// Backend is what a Server serves, as the daemon assembled it.
type Backend struct {
	Node      *node.Node           // hosted channels, identity, configuration
	Store     *store.Shared        // ciphertext; nil when the node has no p2p.listen address
	Custodian *custodian.Custodian // data keys and key requests; nil likewise
	Compute   Compute              // compute jobs' key release; nil likewise
}

// Server serves the API of one node.
type Server struct {
	n       *node.Node
	store   *store.Shared
	cust    *custodian.Custodian
	compute Compute
	log     *slog.Logger
	mux     *http.ServeMux
	reg     *prometheus.Registry
	submits *prometheus.CounterVec
	latency *prometheus.HistogramVec
	height  *prometheus.GaugeVec
	refused *prometheus.CounterVec
	routes  []route
	ops     *http.ServeMux
	storage *storageCheck // /readyz's check that the home is writable

	mu      sync.Mutex
	auditor Auditor

	payments Payments // guarded by mu
}

// NewServer returns the API handler of b.
func NewServer(b Backend) *Server {
	n := b.Node
	s := &Server{n: n, store: b.Store, cust: b.Custodian, compute: b.Compute, log: n.Log, mux: http.NewServeMux(), reg: prometheus.NewRegistry()}
	s.submits = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sealnet_tx_submitted_total",
		Help: "Transactions submitted through the API, by channel and result code."}, []string{"channel", "code"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sealnet_tx_commit_seconds",
		Help: "Submit-to-commit latency.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}, []string{"channel"})
	s.height = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sealnet_block_height",
		Help: "Last committed height."}, []string{"channel"})
	s.refused = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sealnet_api_refused_total",
		Help: "API requests refused before their handler ran, by code."}, []string{"code"})
	s.reg.MustRegister(s.submits, s.latency, s.height, s.refused, prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	n.OnChannel(s.watch)
	s.register()
	s.storage = newStorageCheck(string(n.Home), storageTTL)
	s.ops = http.NewServeMux()
	s.ops.HandleFunc("GET /healthz", s.livez)
	s.ops.HandleFunc("GET /livez", s.livez)
	s.ops.HandleFunc("GET /readyz", s.readyz)
	s.ops.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	return s
}

// register builds the route table; every route is added here, with who may
// call it (docs/API.md and openapi.json list the same table, and a test
// keeps the three equal).
func (s *Server) register() {
	s.handle("GET", "/openapi.json", Public, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPI)
	})
	s.handle("GET", "/v1/status", Reader, s.status)
	s.handle("GET", "/v1/channels", Reader, s.status)
	s.handle("POST", "/v1/channels", Admin, s.channel)
	s.handle("POST", "/v1/channels/{ch}/txs", Writer, s.submit)
	s.handle("POST", "/v1/channels/{ch}/txs/batch", Writer, s.submitBatch)
	s.handle("GET", "/v1/channels/{ch}/txs/{id}", Reader, s.tx)
	s.handle("GET", "/v1/channels/{ch}/blocks/{h}", Reader, s.block)
	s.handle("POST", "/v1/channels/{ch}/query/{contract}/{method}", Reader, s.query)
	s.handle("GET", "/v1/channels/{ch}/events", Reader, s.events)
	s.routeData()
	s.routeAudit()
	s.routeCompute()
	s.routePaych()
}

// Ops returns the operations handler (health and metrics), served on its
// own listener, loopback by default, without client certificates.
func (s *Server) Ops() http.Handler { return s.ops }

func (s *Server) watch(c *ledger.Channel) {
	g := s.height.WithLabelValues(c.Name)
	h, _ := c.App.Height()
	g.Set(float64(h))
	c.App.OnCommit(func(b *ledger.Block) { g.Set(float64(b.Height)) })
}

// ServeHTTP implements http.Handler, logging each request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &statusWriter{ResponseWriter: w, code: 200}
	s.mux.ServeHTTP(rw, r)
	s.log.Debug("api", "method", r.Method, "path", r.URL.Path, "status", rw.code, "ms", time.Since(start).Milliseconds())
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(c int) { w.code = c; w.ResponseWriter.WriteHeader(c) }
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// writeErr writes an error with its HTTP status and transaction code.
func writeErr(w http.ResponseWriter, err error) {
	status, code := statusOf(err)
	writeJSON(w, status, apiclient.ErrorResponse{Code: uint32(code), CodeName: code.String(), Error: err.Error()})
}

// statusOf maps an error to its HTTP status and transaction code.
func statusOf(err error) (int, txerr.Code) {
	code := txerr.CodeOf(err)
	var unk node.ErrUnknownChannel
	switch {
	case errors.As(err, &unk):
		return http.StatusNotFound, txerr.WrongChannel
	case code == txerr.NotFound:
		return http.StatusNotFound, code
	case code == txerr.Unavailable || errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, txerr.Unavailable
	case code == txerr.Internal:
		return http.StatusInternalServerError, code
	case code == txerr.BadSignature || code == txerr.UnknownCert || code == txerr.ExpiredCert || code == txerr.RevokedCert:
		return http.StatusUnauthorized, code
	case code == txerr.RoleDenied:
		return http.StatusForbidden, code
	case code == txerr.Replay || code == txerr.Duplicate:
		return http.StatusConflict, code
	}
	return http.StatusBadRequest, code
}

func readJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return txerr.New(txerr.Malformed, "read body: %v", err)
	}
	if len(body) > maxBody {
		return txerr.New(txerr.Oversized, "request body above %d bytes", maxBody)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return txerr.New(txerr.Malformed, "request body: %v", err)
	}
	return nil
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	cfg := s.n.Config()
	st := apiclient.Status{Org: cfg.Org, NodeID: s.n.Identity.Member.ID, Fingerprint: s.n.Identity.Member.Fingerprint.String(), Version: Version}
	for _, c := range s.n.Channels() {
		h, hash := c.App.Height()
		info := apiclient.ChannelInfo{Name: c.Name, Height: h, AppHash: strings.ToUpper(hex.EncodeToString(hash)), Tau: c.App.Params().TauSeconds}
		if c.Host.Node != nil {
			info.Peers = c.Host.Node.Switch().Peers().Size()
			info.NodeID = string(c.Host.Node.NodeInfo().ID())
			info.P2PListen = c.Host.Node.Config().P2P.ListenAddress
			if meta := c.Host.Node.BlockStore().LoadBlockMeta(h); meta != nil {
				info.BlockHash = meta.BlockID.Hash.String()
			}
			if b := c.Host.Node.BlockStore().LoadBlock(h); b != nil && b.LastCommit != nil && h > 1 {
				info.Validators = len(b.LastCommit.Signatures)
			} else {
				info.Validators = len(c.Host.Node.GenesisDoc().Validators)
			}
		}
		st.Channels = append(st.Channels, info)
	}
	if net := s.n.Share(); net != nil {
		st.P2P = p2pInfo(net.Host)
	}
	writeJSON(w, http.StatusOK, st)
}

// p2pInfo describes the libp2p host h: its peer ID, key type and
// dialable addresses.
func p2pInfo(h host.Host) *apiclient.P2PInfo {
	info := &apiclient.P2PInfo{PeerID: h.ID().String(), KeyType: "p256", Addrs: []string{}}
	if pk := h.Peerstore().PubKey(h.ID()); pk != nil && pk.Type() == crypto.Ed25519 {
		info.KeyType = "ed25519"
	}
	for _, a := range h.Addrs() {
		info.Addrs = append(info.Addrs, a.String()+"/p2p/"+info.PeerID)
	}
	return info
}

func (s *Server) channel(w http.ResponseWriter, r *http.Request) {
	var req apiclient.ChannelRequest
	if err := readJSON(r, &req); err != nil {
		writeErr(w, err)
		return
	}
	if req.P2PListen == "" {
		writeErr(w, txerr.New(txerr.BadArgs, "p2p_listen is required (each channel needs its own port)"))
		return
	}
	var name string
	var err error
	var gj []byte
	if len(req.Genesis) == 0 {
		g, cerr := s.n.CreateChannel(req.Name, req.P2PListen)
		err = cerr
		if g != nil {
			name = g.ChainID
			gj, _ = cmtjson.Marshal(g)
		}
	} else {
		g, jerr := s.n.JoinChannel(req.Genesis, req.P2PListen, req.Peers)
		err = jerr
		if g != nil {
			name = g.ChainID
			gj = req.Genesis
		}
	}
	if err != nil {
		writeErr(w, txerr.New(txerr.Rejected, "%v", err))
		return
	}
	resp := apiclient.ChannelResponse{Name: name, Genesis: gj}
	if c, cerr := s.n.Channel(name); cerr == nil {
		resp.NodeID = string(c.Host.Node.NodeInfo().ID())
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) submit(w http.ResponseWriter, r *http.Request) {
	c, err := s.n.Channel(r.PathValue("ch"))
	if err != nil {
		writeErr(w, err)
		return
	}
	var req apiclient.SubmitRequest
	if err := readJSON(r, &req); err != nil {
		writeErr(w, err)
		return
	}
	ctx, cancel := submitContext(r)
	defer cancel()
	start := time.Now()
	res, err := c.Submit(ctx, req.Tx)
	if err != nil {
		s.submits.WithLabelValues(c.Name, txerr.CodeOf(err).String()).Inc()
		writeErr(w, err)
		return
	}
	s.submits.WithLabelValues(c.Name, res.Code.String()).Inc()
	s.latency.WithLabelValues(c.Name).Observe(time.Since(start).Seconds())
	status := http.StatusOK
	if res.Code != txerr.OK {
		status = http.StatusUnprocessableEntity
	}
	writeJSON(w, status, txResponse(res))
}

// submitContext bounds a submit's wait for its block: ?timeout= (a Go
// duration up to 5m), else SubmitTimeout.
func submitContext(r *http.Request) (context.Context, context.CancelFunc) {
	timeout := SubmitTimeout
	if t := r.URL.Query().Get("timeout"); t != "" {
		if d, err := time.ParseDuration(t); err == nil && d > 0 && d <= 5*time.Minute {
			timeout = d
		}
	}
	return context.WithTimeout(r.Context(), timeout)
}

func txResponse(r *ledger.TxResult) apiclient.TxResponse {
	out := apiclient.TxResponse{TxID: r.ID.String(), Height: r.Height, Index: r.Index, Code: uint32(r.Code),
		CodeName: r.Code.String(), Error: r.Log, Events: r.Events, Time: time.Unix(0, r.Time).UTC().Format(time.RFC3339Nano)}
	if len(r.Data) > 0 {
		if v, err := canon.ToJSONable(r.Data); err == nil {
			out.Result, _ = json.Marshal(v)
		}
	}
	return out
}

func (s *Server) tx(w http.ResponseWriter, r *http.Request) {
	c, err := s.n.Channel(r.PathValue("ch"))
	if err != nil {
		writeErr(w, err)
		return
	}
	id, err := envelope.ParseID(r.PathValue("id"))
	if err != nil {
		writeErr(w, txerr.New(txerr.BadArgs, "%v", err))
		return
	}
	raw, res, err := c.Tx(id)
	if err != nil {
		writeErr(w, err)
		return
	}
	out := txResponse(res)
	out.Envelope = s.envelopeView(c, raw)
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) envelopeView(c *ledger.Channel, raw []byte) *apiclient.EnvelopeView {
	v := &apiclient.EnvelopeView{Raw: raw}
	t, err := envelope.Decode(raw, 0)
	if err != nil {
		return v
	}
	p := t.Payload
	v.Signature, v.Channel, v.Contract, v.Method = hex.EncodeToString(t.Signature), p.Channel, p.Contract, p.Method
	v.Creator, v.Nonce, v.Timestamp = t.Creator.String(), p.Nonce, p.Time().Format(time.RFC3339Nano)
	if a, err := canon.ToJSONable(p.Args); err == nil {
		v.Args, _ = json.Marshal(a)
	}
	if m, err := c.App.Member(t.Creator); err == nil {
		v.CreatorID = m.ID + "@" + m.Org
		v.Verified = t.VerifySignature(m.Cert.PublicKey.(*ecdsa.PublicKey)) == nil
	}
	return v
}

func (s *Server) block(w http.ResponseWriter, r *http.Request) {
	c, err := s.n.Channel(r.PathValue("ch"))
	if err != nil {
		writeErr(w, err)
		return
	}
	h, err := strconv.ParseInt(r.PathValue("h"), 10, 64)
	if err != nil || h < 1 {
		writeErr(w, txerr.New(txerr.BadArgs, "height %q: want a positive integer", r.PathValue("h")))
		return
	}
	b, err := c.Block(h)
	if err != nil {
		writeErr(w, err)
		return
	}
	out := apiclient.BlockResponse{Height: b.Height, Hash: b.Hash().String(), Time: b.Time.UTC().Format(time.RFC3339Nano),
		ChainID: b.ChainID, Proposer: b.ProposerAddress.String(), AppHash: b.AppHash.String(),
		DataHash: b.DataHash.String(), LastBlockID: b.LastBlockID.Hash.String(), ValidatorsHash: b.ValidatorsHash.String(),
		LastResultsHash: b.LastResultsHash.String(), TxIDs: []string{}}
	if b.LastCommit != nil {
		for _, sig := range b.LastCommit.Signatures {
			if sig.BlockIDFlag == types.BlockIDFlagCommit {
				out.LastCommitSigs++
			}
		}
	}
	for _, tx := range b.Txs {
		out.TxIDs = append(out.TxIDs, envelope.IDOf(tx).String())
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) query(w http.ResponseWriter, r *http.Request) {
	c, err := s.n.Channel(r.PathValue("ch"))
	if err != nil {
		writeErr(w, err)
		return
	}
	var req apiclient.QueryRequest
	if err := readJSON(r, &req); err != nil {
		writeErr(w, err)
		return
	}
	data, err := c.App.QueryContract(r.PathValue("contract"), r.PathValue("method"), req.Args)
	if err != nil {
		writeErr(w, err)
		return
	}
	v, err := canon.ToJSONable(data)
	if err != nil {
		writeErr(w, txerr.New(txerr.Internal, "decode result: %v", err))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// events streams contract events as server-sent events: first those
// committed from ?from=H on (from the node's transaction index), then live.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	c, err := s.n.Channel(r.PathValue("ch"))
	if err != nil {
		writeErr(w, err)
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		writeErr(w, txerr.New(txerr.Internal, "streaming unsupported"))
		return
	}
	live, cancel := c.Subscribe(1024)
	defer cancel()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	send := func(r *ledger.TxResult) error {
		for _, e := range r.Events {
			m := apiclient.EventMessage{Channel: c.Name, Height: r.Height, TxID: r.ID.String(), Time: time.Unix(0, r.Time).UTC().Format(time.RFC3339Nano), Event: e}
			b, _ := json.Marshal(m)
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.Type, b); err != nil {
				return err
			}
		}
		return nil
	}
	last := int64(-1)
	if f := r.URL.Query().Get("from"); f != "" {
		from, err := strconv.ParseInt(f, 10, 64)
		if err != nil || from < 0 {
			return
		}
		var werr error
		c.App.Results(from, func(r *ledger.TxResult) bool {
			werr = send(r)
			last = r.Height
			return werr == nil
		})
		if werr != nil {
			return
		}
	}
	fmt.Fprint(w, ": live\n\n")
	fl.Flush()
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-ping.C:
			if err := s.stillAllowed(r, c.Name); err != nil {
				endStream(w, fl, err)
				return
			}
			fmt.Fprint(w, ": ping\n\n")
			fl.Flush()
		case b, ok := <-live:
			if !ok {
				fmt.Fprint(w, "event: error\ndata: {\"error\":\"subscriber fell behind; reconnect with ?from=height\"}\n\n")
				fl.Flush()
				return
			}
			// a revocation in this block ends the stream before its events
			if err := s.stillAllowed(r, c.Name); err != nil {
				endStream(w, fl, err)
				return
			}
			if b.Height <= last {
				continue
			}
			for i := range b.Txs {
				if err := send(&b.Txs[i]); err != nil {
					return
				}
			}
			fl.Flush()
		}
	}
}

// endStream tells an event subscriber why its stream ends.
func endStream(w io.Writer, fl http.Flusher, err error) {
	code := txerr.CodeOf(err)
	b, _ := json.Marshal(apiclient.ErrorResponse{Code: uint32(code), CodeName: code.String(), Error: err.Error()})
	fmt.Fprintf(w, "event: error\ndata: %s\n\n", b)
	fl.Flush()
}
