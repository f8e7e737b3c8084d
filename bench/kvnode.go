package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	"github.com/cometbft/cometbft/abci/example/kvstore"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/ledger"
	"github.com/sealnet/sealnet/txerr"
)

// The baseline validator of the network benchmark: CometBFT running the
// kvstore that verifies one P-256 signature per transaction (sigApp), in a
// process of its own, under the same Host and CometBFT settings as a
// sealnet channel, taking batches through the same route and types as a
// sealnet node (POST /v1/channels/{ch}/txs/batch over TLS), so that the
// harness drives both networks with the same code.

// kvNodeFile is the baseline node's configuration in its directory.
const kvNodeFile = "kvnode.json"

// KVNodeConfig is what a baseline node runs with; the harness writes it.
type KVNodeConfig struct {
	P2PListen       string `json:"p2p_listen"`
	PersistentPeers string `json:"persistent_peers"`
	TimeoutCommitMS int    `json:"timeout_commit_ms"`
	EmptyBlocksS    int    `json:"empty_blocks_s"`
	MempoolSize     int    `json:"mempool_size"`
	APIListen       string `json:"api_listen"`
	PublicKey       []byte `json:"public_key"` // PKIX DER of the key every transaction is signed with
}

// kvNodeTLS names the baseline's TLS certificate and key in its directory.
const kvNodeCert, kvNodeKey = "tls.pem", "tls-key.pem"

// RunKVNode runs the baseline node of directory dir until ctx ends (the
// hidden command 'sealnet bench kvnode').
func RunKVNode(ctx context.Context, dir string, log *slog.Logger) error {
	raw, err := os.ReadFile(filepath.Join(dir, kvNodeFile))
	if err != nil {
		return err
	}
	var c KVNodeConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("%s: %w", kvNodeFile, err)
	}
	pk, err := x509.ParsePKIXPublicKey(c.PublicKey)
	if err != nil {
		return fmt.Errorf("public key: %w", err)
	}
	pub, ok := pk.(*ecdsa.PublicKey)
	if !ok {
		return errors.New("public key: not ECDSA")
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, kvNodeCert), filepath.Join(dir, kvNodeKey))
	if err != nil {
		return err
	}
	chain := ledger.DefaultChainConfig(dir)
	chain.Moniker, chain.P2PListen, chain.PersistentPeers, chain.OpenNetwork, chain.NoPEX = "kvstore", c.P2PListen, c.PersistentPeers, true, true
	chain.TimeoutCommit = time.Duration(c.TimeoutCommitMS) * time.Millisecond
	chain.EmptyBlocks = time.Duration(c.EmptyBlocksS) * time.Second
	chain.MempoolSize = c.MempoolSize

	db, err := dbm.NewDB("kvstore", dbm.GoLevelDBBackend, filepath.Join(dir, "data"))
	if err != nil {
		return err
	}
	defer db.Close()
	host := ledger.NewHost()
	app := &sigApp{kvApp: kvApp{Application: kvstore.NewApplication(db), host: host}, pub: pub, seen: map[[32]byte]bool{}}
	if err := host.Start(chain, app, log); err != nil {
		host.Stop()
		return err
	}
	defer host.Stop()

	ln, err := net.Listen("tcp", c.APIListen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: kvNodeAPI(host, app), ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}}}
	go srv.Serve(tls.NewListener(ln, srv.TLSConfig))
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	return nil
}

// kvNodeAPI serves what the harness uses of a node's API: the batch
// submit, the height, and Go's profiler.
func kvNodeAPI(host *ledger.Host, app *sigApp) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/channels/{ch}/txs/batch", func(w http.ResponseWriter, r *http.Request) {
		var req apiclient.BatchRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 8<<20)).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if len(req.Txs) == 0 || len(req.Txs) > apiclient.MaxBatchTxs {
			http.Error(w, "batch size", http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		out := host.SubmitMany(ctx, req.Txs, func(tx []byte) error {
			if !app.PreVerify(tx) {
				return txerr.New(txerr.BadSignature, "bad signature")
			}
			return nil
		})
		resp := apiclient.BatchResponse{Results: make([]apiclient.BatchResult, len(out))}
		for i, o := range out {
			res := &resp.Results[i]
			switch {
			case o.Err != nil:
				code := txerr.CodeOf(o.Err)
				res.Status, res.Code, res.CodeName, res.Error = http.StatusServiceUnavailable, uint32(code), code.String(), o.Err.Error()
			case o.Result.Code != txerr.OK:
				res.Status, res.Code, res.CodeName = http.StatusUnprocessableEntity, uint32(o.Result.Code), o.Result.Code.String()
			default:
				res.Status, res.CodeName, res.Height = http.StatusOK, txerr.OK.String(), o.Result.Height
				resp.Committed++
			}
			if o.Result != nil {
				res.TxID = o.Result.ID.String()
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(resp)
	})
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) {
		st := apiclient.Status{Org: "kvstore", Channels: []apiclient.ChannelInfo{{Name: "bench",
			Height: host.Node.BlockStore().Height(), Peers: host.Node.Switch().Peers().Size()}}}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(st)
	})
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	return mux
}

// kvNodeClient is the harness's API client of a baseline node: the same
// apiclient.Client a sealnet node's load goes through, trusting only the
// baseline's certificate.
func kvNodeClient(addr string, certPEM []byte) (*apiclient.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(certPEM) {
		return nil, errors.New("baseline certificate: no PEM")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool, ServerName: "kvstore"}
	tr.MaxIdleConnsPerHost = 64
	return &apiclient.Client{Base: "https://" + addr, HTTP: &http.Client{Transport: tr}}, nil
}

// writePEM writes one PEM block to path.
func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}
