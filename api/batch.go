package api

import (
	"io"
	"mime/multipart"
	"net/http"
	"time"

	"github.com/sealnet/sealnet/internal/parallel"

	"github.com/ipfs/go-cid"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/envelope"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/txerr"
)

// Batch routes take many items in one request and answer each item as the
// single route would have: the same checks, in the same code, with the
// status and code the single request would have had. A batch above the
// bounds (apiclient.MaxBatchTxs, apiclient.MaxBatchBytes) is refused whole
// before any item is looked at.

// submitBatch submits many signed envelopes and waits for each one's block.
func (s *Server) submitBatch(w http.ResponseWriter, r *http.Request) {
	c, err := s.n.Channel(r.PathValue("ch"))
	if err != nil {
		writeErr(w, err)
		return
	}
	var req apiclient.BatchRequest
	if err := readJSON(r, &req); err != nil {
		writeErr(w, err)
		return
	}
	if err := checkBatch(req.Txs); err != nil {
		writeErr(w, err)
		return
	}
	ctx, cancel := submitContext(r)
	defer cancel()
	start := time.Now()
	out := c.SubmitMany(ctx, req.Txs)
	resp := apiclient.BatchResponse{Results: make([]apiclient.BatchResult, len(out))}
	for i, o := range out {
		if o.Err != nil {
			status, code := statusOf(o.Err)
			s.submits.WithLabelValues(c.Name, code.String()).Inc()
			resp.Results[i] = apiclient.BatchResult{Status: status, TxResponse: apiclient.TxResponse{
				TxID: envelope.IDOf(req.Txs[i]).String(), Code: uint32(code), CodeName: code.String(), Error: o.Err.Error()}}
			continue
		}
		s.submits.WithLabelValues(c.Name, o.Result.Code.String()).Inc()
		s.latency.WithLabelValues(c.Name).Observe(time.Since(start).Seconds())
		status := http.StatusOK
		if o.Result.Code != txerr.OK {
			status = http.StatusUnprocessableEntity
		} else {
			resp.Committed++
		}
		resp.Results[i] = apiclient.BatchResult{Status: status, TxResponse: txResponse(o.Result)}
	}
	writeJSON(w, http.StatusOK, resp)
}

// checkBatch applies the batch bounds.
func checkBatch(txs [][]byte) error {
	if len(txs) == 0 {
		return txerr.New(txerr.BadArgs, "empty batch: give txs")
	}
	if len(txs) > apiclient.MaxBatchTxs {
		return txerr.New(txerr.Oversized, "batch of %d transactions: at most %d per request", len(txs), apiclient.MaxBatchTxs)
	}
	size := 0
	for _, tx := range txs {
		size += len(tx)
	}
	if size > apiclient.MaxBatchBytes {
		return txerr.New(txerr.Oversized, "batch of %d envelope bytes: at most %d per request", size, apiclient.MaxBatchBytes)
	}
	return nil
}

// dataKeyBatch deposits many data keys, each as dataKeyPut would.
func (s *Server) dataKeyBatch(w http.ResponseWriter, r *http.Request) {
	req, ok := sharingBody[apiclient.DataKeysRequest](s, w, r)
	if !ok {
		return
	}
	switch n := len(req.Keys); {
	case n == 0:
		writeErr(w, txerr.New(txerr.BadArgs, "empty batch: give keys"))
		return
	case n > apiclient.MaxBatchTxs:
		writeErr(w, txerr.New(txerr.Oversized, "batch of %d data keys: at most %d per request", n, apiclient.MaxBatchTxs))
		return
	}
	out := apiclient.DataKeysResponse{Results: make([]apiclient.ItemResult, len(req.Keys))}
	caller := CallerOf(r.Context())
	put := func(i int) { out.Results[i] = itemResult(s.putKey(r.PathValue("ch"), req.Keys[i], caller)) }
	// keys of distinct objects are sealed and written on every core; a
	// batch naming an object twice goes in order, so the last key stays
	seen := make(map[string]bool, len(req.Keys))
	for _, k := range req.Keys {
		seen[k.CID] = true
	}
	if len(seen) == len(req.Keys) {
		parallel.For(len(req.Keys), put)
	} else {
		for i := range req.Keys {
			put(i)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func itemResult(err error) apiclient.ItemResult {
	if err == nil {
		return apiclient.ItemResult{Status: http.StatusNoContent, CodeName: txerr.OK.String()}
	}
	status, code := statusOf(err)
	return apiclient.ItemResult{Status: status, Code: uint32(code), CodeName: code.String(), Error: err.Error()}
}

// storeBatch stores every part of a multipart body as one object, makes
// them durable together and answers their CIDs in order.
func (s *Server) storeBatch(w http.ResponseWriter, r *http.Request) {
	if s.sharingOff(w) {
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		writeErr(w, txerr.New(txerr.Malformed, "want a multipart/form-data body, one part per object: %v", err))
		return
	}
	var (
		sizes []int64
		part  *multipart.Part
		body  *countingReader
	)
	next := func() (io.Reader, error) {
		if body != nil {
			sizes = append(sizes, body.n)
			part.Close()
		}
		if part, err = mr.NextPart(); err != nil {
			if err != io.EOF {
				err = txerr.New(txerr.Malformed, "multipart body: %v", err)
			}
			return nil, err
		}
		if len(sizes) == apiclient.MaxBatchTxs {
			return nil, txerr.New(txerr.Oversized, "more than %d objects in one batch", apiclient.MaxBatchTxs)
		}
		body = &countingReader{r: part}
		return body, nil
	}
	cids, err := s.store.PutAll(r.Context(), r.PathValue("ch"), next)
	if err != nil {
		writeErr(w, storeErr(err))
		return
	}
	out := apiclient.StoreBatchResponse{Objects: make([]apiclient.StoreResponse, len(cids))}
	for i, c := range cids {
		out.Objects[i] = apiclient.StoreResponse{CID: c.String(), Bytes: sizes[i]}
	}
	writeJSON(w, http.StatusOK, out)
}

// putKey checks and deposits one data key for its owner.
func (s *Server) putKey(channel string, k apiclient.DataKeyRequest, owner *identity.Member) error {
	c, err := cid.Decode(k.CID)
	if err != nil {
		return txerr.New(txerr.BadArgs, "cid: %v", err)
	}
	return s.cust.PutKey(channel, c, k.Key, owner)
}
