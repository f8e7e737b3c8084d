package api

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/custodian"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/p2p"
	"github.com/sealnet/sealnet/txerr"
)

func (s *Server) routeData() {
	s.handle("POST", "/v1/channels/{ch}/store", Writer, s.storePut)
	s.handle("POST", "/v1/channels/{ch}/store/batch", Writer, s.storeBatch)
	s.handle("GET", "/v1/channels/{ch}/store/{cid}", Reader, s.storeGet)
	s.handle("POST", "/v1/channels/{ch}/datakeys", Writer, s.dataKeyPut)           // the key's owner only (Share.PutKey)
	s.handle("POST", "/v1/channels/{ch}/datakeys/batch", Writer, s.dataKeyBatch)   // each key as dataKeyPut
	s.handle("DELETE", "/v1/channels/{ch}/datakeys/{cid}", Writer, s.dataKeyShred) // its owner or an admin (Share.Shred)
	s.handle("POST", "/v1/channels/{ch}/keyrequests", Writer, s.keyRequest)
	s.handle("GET", "/v1/keyrequests", Admin, s.pending)
	s.handle("POST", "/v1/keyrequests/{id}", Admin, s.decide)
}

// sharingOff writes the error of a node without storage and key transfer
// and reports whether it did.
func (s *Server) sharingOff(w http.ResponseWriter) bool {
	if s.store == nil || s.cust == nil {
		writeErr(w, txerr.New(txerr.Unavailable, "this node has no p2p.listen address: storage and key transfer are off"))
		return true
	}
	return false
}

// sharingBody returns the request's JSON body, or writes the error and
// returns false.
func sharingBody[T any](s *Server, w http.ResponseWriter, r *http.Request) (*T, bool) {
	if s.sharingOff(w) {
		return nil, false
	}
	var body T
	if err := readJSON(r, &body); err != nil {
		writeErr(w, err)
		return nil, false
	}
	return &body, true
}

func pathCID(w http.ResponseWriter, r *http.Request) (cid.Cid, bool) {
	c, err := cid.Decode(r.PathValue("cid"))
	if err != nil {
		writeErr(w, txerr.New(txerr.BadArgs, "cid %q: %v", r.PathValue("cid"), err))
		return cid.Undef, false
	}
	return c, true
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (s *Server) storePut(w http.ResponseWriter, r *http.Request) {
	if s.sharingOff(w) {
		return
	}
	body := &countingReader{r: r.Body}
	c, err := s.store.Put(r.Context(), r.PathValue("ch"), body)
	if err != nil {
		writeErr(w, storeErr(err))
		return
	}
	writeJSON(w, http.StatusOK, apiclient.StoreResponse{CID: c.String(), Bytes: body.n})
}

// storeErr keeps coded errors and marks the rest (a full disk, a broken
// upload) as unavailable rather than internal.
func storeErr(err error) error {
	if txerr.CodeOf(err) != txerr.Internal {
		return err
	}
	return txerr.New(txerr.Unavailable, "store: %v", err)
}

func (s *Server) storeGet(w http.ResponseWriter, r *http.Request) {
	if s.sharingOff(w) {
		return
	}
	c, ok := pathCID(w, r)
	if !ok {
		return
	}
	ch := r.PathValue("ch")
	have, err := s.store.Has(r.Context(), c)
	if err != nil {
		writeErr(w, storeErr(err))
		return
	}
	if f := r.URL.Query().Get("from"); f != "" && !have && f != s.n.Identity.Member.Fingerprint.String() {
		fp, err := identity.ParseFingerprint(f)
		if err != nil {
			writeErr(w, txerr.New(txerr.BadArgs, "from: %v", err))
			return
		}
		// stream the file while it is fetched, verified and stored; a
		// failure midway aborts the response so the client never takes a
		// truncated body for a complete one
		sw := &startedWriter{w: w}
		if err := s.streamFrom(r.Context(), ch, c, fp, sw); err != nil {
			if !sw.started {
				writeErr(w, txerr.New(txerr.NotFound, "%v", err))
				return
			}
			s.log.Warn("dag stream failed midway", "cid", c, "err", err)
			panic(http.ErrAbortHandler)
		}
		return
	}
	if err := s.store.Fetch(r.Context(), ch, c); err != nil {
		writeErr(w, txerr.New(txerr.NotFound, "%v", err))
		return
	}
	rd, err := s.store.Open(r.Context(), c)
	if err != nil {
		writeErr(w, txerr.New(txerr.NotFound, "%v", err))
		return
	}
	defer rd.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	if _, err := io.Copy(w, rd); err != nil {
		s.log.Warn("stream ciphertext", "cid", c, "err", err)
		panic(http.ErrAbortHandler)
	}
}

// streamFrom streams the DAG at c from the node of the member with
// certificate fingerprint from, on channel ch, into w.
func (s *Server) streamFrom(ctx context.Context, ch string, c cid.Cid, from identity.Fingerprint, w io.Writer) error {
	channel, err := s.n.Channel(ch)
	if err != nil {
		return err
	}
	rec, err := channel.App.CertRecord(from)
	if err != nil {
		return err
	}
	pid, err := p2p.PeerOfCert(*rec)
	if err != nil {
		return err
	}
	return s.store.StreamFrom(ctx, ch, c, pid, w)
}

// startedWriter sets the content type before the first byte and remembers
// whether any byte went out.
type startedWriter struct {
	w       http.ResponseWriter
	started bool
}

func (s *startedWriter) Write(b []byte) (int, error) {
	if !s.started {
		s.w.Header().Set("Content-Type", "application/octet-stream")
		s.started = true
	}
	return s.w.Write(b)
}

func (s *Server) dataKeyPut(w http.ResponseWriter, r *http.Request) {
	req, ok := sharingBody[apiclient.DataKeyRequest](s, w, r)
	if !ok {
		return
	}
	if err := s.putKey(r.PathValue("ch"), *req, CallerOf(r.Context())); err != nil {
		writeErr(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) dataKeyShred(w http.ResponseWriter, r *http.Request) {
	if s.sharingOff(w) {
		return
	}
	c, ok := pathCID(w, r)
	if !ok {
		return
	}
	if err := s.cust.Shred(r.Context(), r.PathValue("ch"), c, CallerOf(r.Context())); err != nil {
		writeErr(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) keyRequest(w http.ResponseWriter, r *http.Request) {
	req, ok := sharingBody[apiclient.KeyRequest](s, w, r)
	if !ok {
		return
	}
	fp, err := identity.ParseFingerprint(req.Custodian)
	if err != nil {
		writeErr(w, txerr.New(txerr.BadArgs, "custodian: %v", err))
		return
	}
	ans, err := s.cust.RequestKey(r.Context(), r.PathValue("ch"), fp, req.Sealed)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, apiclient.KeyAnswer{Sealed: ans})
}

func (s *Server) pending(w http.ResponseWriter, _ *http.Request) {
	if s.sharingOff(w) {
		return
	}
	out := []apiclient.PendingRequest{}
	for _, p := range s.cust.Pending() {
		out = append(out, pendingView(p))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) decide(w http.ResponseWriter, r *http.Request) {
	d, ok := sharingBody[apiclient.Decision](s, w, r)
	if !ok {
		return
	}
	p, err := s.cust.Decide(r.PathValue("id"), d.Approve)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, pendingView(p))
}

func pendingView(p custodian.Pending) apiclient.PendingRequest {
	return apiclient.PendingRequest{ID: p.ID, Channel: p.Channel, TXNumber: p.TXNumber, CID: p.CID,
		Requester: p.Requester.Name(), RequestFP: p.Requester.Fingerprint, Time: p.Time.UTC().Format(time.RFC3339)}
}
