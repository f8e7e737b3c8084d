package api_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract/index"
	"github.com/sealnet/sealnet/contract/registry"
	"github.com/sealnet/sealnet/envelope"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/txerr"
)

var hostileN = flag.Int("hostile", 1200, "hostile requests TestHostileRequests sends (the issue's full run: 10000)")

// hostile is one generated request and the refusal it must get.
type hostile struct {
	kind   string
	client *apiclient.Client
	method string
	path   string
	body   []byte
	status int
	code   txerr.Code
}

// TestHostileRequests sends a generated corpus of hostile requests through
// the TLS API, with legitimate transactions mixed in: every hostile request
// is refused with its own status and code, the node keeps serving, and no
// hostile transaction reaches a block, so the app hash moves only with the
// legitimate ones. Scale it with -hostile N.
func TestHostileRequests(t *testing.T) {
	tn := startTestNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	alice := tn.enroll(t, "alice", identity.RoleClient)
	audrey := tn.enroll(t, "audrey", identity.RoleAuditor)
	rob := tn.enroll(t, "rob", identity.RoleClient)
	tn.call(t, registry.Name, "revoke", registry.RevokeArgs{Fingerprint: rob.Member.Fingerprint.String()})
	ca, err := identity.LoadCA(tn.home.CA())
	if err != nil {
		t.Fatal(err)
	}
	mallory := issue(t, ca, "mallory", identity.RoleAdmin) // never enrolled
	admin, ac, auditor := tn.c, tn.client(t, alice), tn.client(t, audrey)
	revoked, unknown := tn.client(t, rob), tn.client(t, mallory)
	anon := &apiclient.Client{Base: tn.url, HTTP: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}}

	// a committed transaction of alice's, whose nonce and bytes are replayed
	first, err := ac.Call(ctx, alice, "default", index.Name, "subfile", index.SubfileArgs{HashAddress: cid, Keywords: []string{"legit"}})
	if err != nil || first.Code != 0 {
		t.Fatalf("legit: %+v %v", first, err)
	}
	committed, err := ac.Tx(ctx, "default", first.TxID)
	if err != nil {
		t.Fatal(err)
	}
	spent, err := envelope.Decode(committed.Envelope.Raw, 0)
	if err != nil {
		t.Fatal(err)
	}

	// an object whose data key the admin deposited
	stored, err := admin.StorePut(ctx, "default", strings.NewReader("the admin's ciphertext"))
	if err != nil {
		t.Fatal(err)
	}
	owned := stored.CID
	if err := admin.PutDataKey(ctx, "default", owned, bytes.Repeat([]byte{9}, 32)); err != nil {
		t.Fatal(err)
	}

	args := func(i int) index.SubfileArgs {
		return index.SubfileArgs{HashAddress: cid, Keywords: []string{fmt.Sprintf("k%d", i)}}
	}
	sign := func(id *identity.Identity, ch, contract, method string, a any, at time.Time) []byte {
		raw, err := envelope.SignCall(id, ch, contract, method, a, at)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	submit := func(raw []byte) []byte {
		b, _ := json.Marshal(apiclient.SubmitRequest{Tx: raw})
		return b
	}
	const txs = "/v1/channels/default/txs"
	gen := []func(i int) hostile{
		func(i int) hostile { // a flipped bit in the signature's r
			raw := sign(alice, "default", index.Name, "subfile", args(i), time.Now())
			raw[len(raw)-64+rand.IntN(32)] ^= 1 << rand.IntN(8)
			return hostile{"forged signature", ac, "POST", txs, submit(raw), 401, txerr.BadSignature}
		},
		func(i int) hostile { // the payload changed under a valid signature
			raw := sign(alice, "default", index.Name, "subfile", args(i), time.Now())
			tx, _ := envelope.Decode(raw, 0)
			p := tx.Payload
			p.Args = canon.MustMarshal(index.SubfileArgs{HashAddress: cid, Keywords: []string{"tampered"}})
			body, _ := canon.Marshal(p)
			forged, _ := canon.Marshal(envelope.Envelope{Payload: body, Signature: tx.Signature})
			return hostile{"tampered payload", ac, "POST", txs, submit(forged), 401, txerr.BadSignature}
		},
		func(i int) hostile { // a spent nonce under new content
			p := spent.Payload
			p.Args, p.Timestamp = canon.MustMarshal(args(i)), time.Now().UnixNano()
			raw, _ := envelope.Sign(p, alice.Key)
			return hostile{"replayed nonce", ac, "POST", txs, submit(raw), 409, txerr.Replay}
		},
		func(i int) hostile {
			return hostile{"stale timestamp", ac, "POST", txs, submit(sign(alice, "default", index.Name, "subfile", args(i), time.Now().Add(-10*time.Minute))), 400, txerr.StaleTimestamp}
		},
		func(i int) hostile {
			return hostile{"future timestamp", ac, "POST", txs, submit(sign(alice, "default", index.Name, "subfile", args(i), time.Now().Add(10*time.Minute))), 400, txerr.StaleTimestamp}
		},
		func(i int) hostile {
			return hostile{"envelope for another channel", ac, "POST", txs, submit(sign(alice, "quality", index.Name, "subfile", args(i), time.Now())), 400, txerr.WrongChannel}
		},
		func(i int) hostile {
			return hostile{"unknown channel", ac, "POST", "/v1/channels/quality/txs", submit(sign(alice, "quality", index.Name, "subfile", args(i), time.Now())), 404, txerr.WrongChannel}
		},
		func(i int) hostile {
			return hostile{"revoked certificate (TLS)", revoked, "GET", "/v1/status", nil, 401, txerr.RevokedCert}
		},
		func(i int) hostile {
			return hostile{"revoked creator", admin, "POST", txs, submit(sign(rob, "default", index.Name, "subfile", args(i), time.Now())), 401, txerr.RevokedCert}
		},
		func(i int) hostile {
			return hostile{"unknown certificate (TLS)", unknown, "POST", txs, submit(sign(mallory, "default", index.Name, "subfile", args(i), time.Now())), 401, txerr.UnknownCert}
		},
		func(i int) hostile {
			return hostile{"unknown creator", admin, "POST", txs, submit(sign(mallory, "default", index.Name, "subfile", args(i), time.Now())), 401, txerr.UnknownCert}
		},
		func(i int) hostile {
			return hostile{"no certificate", anon, "POST", txs, submit(sign(alice, "default", index.Name, "subfile", args(i), time.Now())), 401, txerr.UnknownCert}
		},
		func(i int) hostile {
			junk := make([]byte, 1+rand.IntN(300))
			for j := range junk {
				junk[j] = byte(rand.UintN(256))
			}
			return hostile{"malformed CBOR", ac, "POST", txs, submit(junk), 400, txerr.Malformed}
		},
		func(i int) hostile { // the same map as an indefinite-length one
			raw := sign(alice, "default", index.Name, "subfile", args(i), time.Now())
			nc := append(append([]byte{0xbf}, raw[1:]...), 0xff)
			return hostile{"non-canonical CBOR (indefinite map)", ac, "POST", txs, submit(nc), 400, txerr.Malformed}
		},
		func(i int) hostile { // key 1 in two bytes instead of one
			raw := sign(alice, "default", index.Name, "subfile", args(i), time.Now())
			nc := append([]byte{raw[0], 0x18, 0x01}, raw[2:]...)
			return hostile{"non-canonical CBOR (long key)", ac, "POST", txs, submit(nc), 400, txerr.Malformed}
		},
		func(i int) hostile {
			return hostile{"malformed JSON", ac, "POST", txs, []byte(`{"tx": [1, 2`), 400, txerr.Malformed}
		},
		func(i int) hostile {
			big := sign(alice, "default", index.Name, "subfile", index.SubfileArgs{HashAddress: cid, Keywords: []string{"k"},
				Summary: strings.Repeat("x", envelope.DefaultMaxBytes)}, time.Now())
			return hostile{"oversized envelope", ac, "POST", txs, submit(big), 400, txerr.Oversized}
		},
		func(i int) hostile {
			return hostile{"auditor submits", auditor, "POST", txs, submit(sign(alice, "default", index.Name, "subfile", args(i), time.Now())), 403, txerr.RoleDenied}
		},
		func(i int) hostile {
			return hostile{"client calls an admin method", ac, "POST", txs, submit(sign(alice, "default", registry.Name, "enroll", registry.EnrollArgs{CertDER: mallory.CertDER}, time.Now())), 403, txerr.RoleDenied}
		},
		func(i int) hostile {
			return hostile{"client calls an admin route", ac, "POST", "/v1/keyrequests/" + strings.Repeat("ab", 32), []byte(`{"approve":true}`), 403, txerr.RoleDenied}
		},
		func(i int) hostile {
			return hostile{"client shreds the admin's data key", ac, "DELETE", "/v1/channels/default/datakeys/" + owned, nil, 403, txerr.RoleDenied}
		},
		func(i int) hostile {
			b, _ := json.Marshal(apiclient.DataKeyRequest{CID: owned, Key: bytes.Repeat([]byte{1}, 32)})
			return hostile{"client replaces the admin's data key", ac, "POST", "/v1/channels/default/datakeys", b, 403, txerr.RoleDenied}
		},
		func(i int) hostile { // one past the count bound, refused before any item is looked at
			many := make([][]byte, apiclient.MaxBatchTxs+1)
			for j := range many {
				many[j] = []byte{byte(j)}
			}
			return hostile{"oversized batch (count)", ac, "POST", txs + "/batch", batch(many), 400, txerr.Oversized}
		},
		func(i int) hostile { // past the byte bound in five items
			item := bytes.Repeat([]byte{0xa5}, apiclient.MaxBatchBytes/5+1)
			return hostile{"oversized batch (bytes)", ac, "POST", txs + "/batch", batch([][]byte{item, item, item, item, item}), 400, txerr.Oversized}
		},
		func(i int) hostile {
			return hostile{"empty batch", ac, "POST", txs + "/batch", batch(nil), 400, txerr.BadArgs}
		},
		func(i int) hostile {
			return hostile{"auditor submits a batch", auditor, "POST", txs + "/batch", batch([][]byte{sign(alice, "default", index.Name, "subfile", args(i), time.Now())}), 403, txerr.RoleDenied}
		},
		func(i int) hostile {
			return hostile{"batch for an unknown channel", ac, "POST", "/v1/channels/quality/txs/batch", batch([][]byte{sign(alice, "quality", index.Name, "subfile", args(i), time.Now())}), 404, txerr.WrongChannel}
		},
	}
	// a batch mixing legitimate transactions with hostile ones: each item
	// gets the status and code its single submit would have had, and only
	// the legitimate ones commit
	mixed := func(i int) (txs [][]byte, want []item) {
		good := sign(alice, "default", index.Name, "subfile", args(i), time.Now())
		p := spent.Payload
		p.Args, p.Timestamp = canon.MustMarshal(args(i)), time.Now().UnixNano()
		replayed, _ := envelope.Sign(p, alice.Key)
		forged := sign(alice, "default", index.Name, "subfile", args(i), time.Now())
		forged[len(forged)-64+rand.IntN(32)] ^= 1 << rand.IntN(8)
		junk := make([]byte, 1+rand.IntN(300))
		for j := range junk {
			junk[j] = byte(rand.UintN(256))
		}
		add := func(tx []byte, status int, code txerr.Code) {
			txs, want = append(txs, tx), append(want, item{status, code})
		}
		add(good, 200, txerr.OK)
		add(forged, 401, txerr.BadSignature)
		add(replayed, 409, txerr.Replay)
		add(sign(alice, "default", index.Name, "subfile", args(i), time.Now().Add(-10*time.Minute)), 400, txerr.StaleTimestamp)
		add(sign(rob, "default", index.Name, "subfile", args(i), time.Now()), 401, txerr.RevokedCert)
		add(sign(mallory, "default", index.Name, "subfile", args(i), time.Now()), 401, txerr.UnknownCert)
		add(sign(alice, "quality", index.Name, "subfile", args(i), time.Now()), 400, txerr.WrongChannel)
		add(sign(alice, "default", registry.Name, "enroll", registry.EnrollArgs{CertDER: mallory.CertDER}, time.Now()), 403, txerr.RoleDenied)
		add(junk, 400, txerr.Malformed)
		add(sign(alice, "default", index.Name, "subfile", args(i+1), time.Now()), 200, txerr.OK)
		add(good, 200, txerr.OK) // the same bytes again: answered with the first one's result
		rand.Shuffle(len(txs), func(a, b int) { txs[a], txs[b], want[a], want[b] = txs[b], txs[a], want[b], want[a] })
		return txs, want
	}

	n := *hostileN
	work := make(chan int)
	results := make(chan outcome, 64)
	var legitMu sync.Mutex
	legit := map[string]bool{first.TxID: true}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				switch {
				case i%25 == 0: // a legitimate transaction
					r, err := ac.Call(ctx, alice, "default", index.Name, "subfile", args(i))
					ok := err == nil && r.Code == 0
					if ok {
						legitMu.Lock()
						legit[r.TxID] = true
						legitMu.Unlock()
					}
					results <- outcome{"legitimate transaction", ok, fmt.Sprint(err)}
				case i%25 == 12: // the committed bytes again: answered with the original result
					r, err := ac.SubmitRaw(ctx, "default", committed.Envelope.Raw)
					ok := err == nil && r.TxID == first.TxID && r.Height == first.Height
					results <- outcome{"resubmitted committed bytes", ok, fmt.Sprint(r, err)}
				case i%25 == 18: // a batch mixing legitimate and hostile transactions
					batchTxs, want := mixed(i)
					r, err := ac.SubmitBatch(ctx, "default", batchTxs)
					o := outcome{kind: "batch mixing legitimate and hostile items", expected: err == nil}
					if err != nil {
						o.detail = err.Error()
					}
					for j := 0; err == nil && j < len(want); j++ {
						got := r.Results[j]
						if got.Status != want[j].status || txerr.Code(got.Code) != want[j].code || got.TxID != envelope.IDOf(batchTxs[j]).String() ||
							(got.Status != 200) != (got.Error != "") {
							o.expected = false
							o.detail = fmt.Sprintf("item %d: got HTTP %d %s (%s), want HTTP %d %s", j, got.Status, txerr.Code(got.Code), got.Error, want[j].status, want[j].code)
						}
						if got.Status == 200 {
							legitMu.Lock()
							legit[got.TxID] = true
							legitMu.Unlock()
						}
					}
					results <- o
				case i%25 == 6: // a TLS handshake cut short
					results <- outcome{"truncated TLS handshake", truncatedHandshake(tn.url, rand.IntN(200)) == nil, ""}
				case i%1000 == 999: // a body above the API's limit
					body := append([]byte(`{"tx":"`), bytes.Repeat([]byte("A"), 9<<20)...)
					results <- check(ctx, hostile{"oversized body", ac, "POST", txs, append(body, '"', '}'), 400, txerr.Oversized})
				default:
					results <- check(ctx, gen[i%len(gen)](i))
				}
			}
		}()
	}
	go func() {
		for i := 1; i <= n; i++ {
			work <- i
		}
		close(work)
		wg.Wait()
		close(results)
	}()
	counts := map[string][2]int{} // kind -> {as expected, not}
	var failures []string
	for r := range results {
		c := counts[r.kind]
		if r.expected {
			c[0]++
		} else {
			c[1]++
			if len(failures) < 20 {
				failures = append(failures, r.kind+": "+r.detail)
			}
		}
		counts[r.kind] = c
	}
	var kinds []string
	for k := range counts {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	total := 0
	for _, k := range kinds {
		t.Logf("%-40s %6d as expected %4d not", k, counts[k][0], counts[k][1])
		total += counts[k][0] + counts[k][1]
	}
	t.Logf("%d requests, %d legitimate transactions committed", total, len(legit))
	for _, f := range failures {
		t.Error(f)
	}

	// the node still serves, and only legitimate transactions reached the
	// chain: every transaction in every block is one of them, and the app
	// hash moved only after blocks that hold them
	st, err := tn.c.Status(ctx)
	if err != nil {
		t.Fatalf("the node stopped serving: %v", err)
	}
	var prev *apiclient.BlockResponse
	for h := int64(1); h <= st.Channels[0].Height; h++ {
		b, err := tn.c.Block(ctx, "default", h)
		if err != nil {
			t.Fatal(err)
		}
		if prev != nil && b.AppHash != prev.AppHash && len(prev.TxIDs) == 0 {
			t.Errorf("the app hash moved after block %d, which holds no transaction", prev.Height)
		}
		for _, id := range b.TxIDs {
			if !legit[id] && h > 1 && !setup(ctx, tn, id) {
				t.Errorf("block %d holds transaction %s, which is not a legitimate one", h, id)
			}
		}
		prev = b
	}
}

// item is the status and code one item of a batch must get.
type item struct {
	status int
	code   txerr.Code
}

// batch is the body of a batch submit.
func batch(txs [][]byte) []byte {
	b, _ := json.Marshal(apiclient.BatchRequest{Txs: txs})
	return b
}

// setup reports whether id is one of the test's own setup calls (the
// admin's enrolments and revocation).
func setup(ctx context.Context, tn *testNode, id string) bool {
	r, err := tn.c.Tx(ctx, "default", id)
	return err == nil && r.Envelope != nil && r.Envelope.Contract == registry.Name && r.Envelope.CreatorID == "admin@org1"
}

// outcome is what became of one request.
type outcome struct {
	kind     string
	expected bool
	detail   string
}

// check sends one hostile request and compares its refusal.
func check(ctx context.Context, h hostile) (o outcome) {
	o.kind = h.kind
	req, err := http.NewRequestWithContext(ctx, h.method, h.client.Base+h.path, bytes.NewReader(h.body))
	if err != nil {
		o.detail = err.Error()
		return o
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.client.HTTP.Do(req)
	if err != nil {
		o.detail = err.Error()
		return o
	}
	defer resp.Body.Close()
	var e apiclient.ErrorResponse
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	json.Unmarshal(raw, &e)
	o.expected = resp.StatusCode == h.status && txerr.Code(e.Code) == h.code && e.Error != ""
	o.detail = fmt.Sprintf("got HTTP %d %s (%s), want HTTP %d %s", resp.StatusCode, txerr.Code(e.Code), e.Error, h.status, h.code)
	return o
}

// truncatedHandshake opens a TCP connection to the API, sends the first n
// bytes of a TLS ClientHello and hangs up.
func truncatedHandshake(url string, n int) error {
	addr := strings.TrimPrefix(url, "https://")
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	var hello bytes.Buffer
	tc := tls.Client(&recorder{w: &hello}, &tls.Config{InsecureSkipVerify: true})
	tc.Handshake() // fails at once: the recorder only records
	b := hello.Bytes()
	if n > len(b) {
		n = len(b)
	}
	_, err = conn.Write(b[:n])
	return err
}

// recorder is a net.Conn that records what is written and reads nothing.
type recorder struct {
	net.Conn
	w io.Writer
}

func (r *recorder) Write(b []byte) (int, error)      { return r.w.Write(b) }
func (r *recorder) Read([]byte) (int, error)         { return 0, io.EOF }
func (r *recorder) Close() error                     { return nil }
func (r *recorder) SetDeadline(time.Time) error      { return nil }
func (r *recorder) SetReadDeadline(time.Time) error  { return nil }
func (r *recorder) SetWriteDeadline(time.Time) error { return nil }
func (r *recorder) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (r *recorder) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
