package api

import (
	"context"
	"net/http"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/txerr"
)

// Compute is the node's side of compute jobs' key release: the salts its
// org's requesters deposit, and its workers' key requests relayed to the
// requester's custodian (package compute/custody).
type Compute interface {
	// DepositSalt keeps a job's output salt for its key release; by is
	// the depositing member.
	DepositSalt(channel, job string, salt []byte, by *identity.Member) error
	// RelayKeys sends a worker's signed key request to the node of the
	// custodian with certificate fingerprint custodian and returns its
	// encoded answer.
	RelayKeys(ctx context.Context, channel string, custodian identity.Fingerprint, signed []byte) ([]byte, error)
}

func (s *Server) routeCompute() {
	s.handle("POST", "/v1/channels/{ch}/compute/salts", Writer, s.computeSalt)
	s.handle("POST", "/v1/channels/{ch}/compute/keys", Writer, s.computeKeys)
}

// computeOff writes the error of a node without key release and reports
// whether it did.
func (s *Server) computeOff(w http.ResponseWriter) bool {
	if s.compute == nil {
		writeErr(w, txerr.New(txerr.Unavailable, "this node has no p2p.listen address: compute key release is off"))
		return true
	}
	return false
}

func (s *Server) computeSalt(w http.ResponseWriter, r *http.Request) {
	if s.computeOff(w) {
		return
	}
	var req apiclient.SaltRequest
	if err := readJSON(r, &req); err != nil {
		writeErr(w, err)
		return
	}
	if err := s.compute.DepositSalt(r.PathValue("ch"), req.Job, req.Salt, CallerOf(r.Context())); err != nil {
		writeErr(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) computeKeys(w http.ResponseWriter, r *http.Request) {
	if s.computeOff(w) {
		return
	}
	var req apiclient.ComputeKeysRequest
	if err := readJSON(r, &req); err != nil {
		writeErr(w, err)
		return
	}
	fp, err := identity.ParseFingerprint(req.Custodian)
	if err != nil {
		writeErr(w, txerr.New(txerr.BadArgs, "custodian: %v", err))
		return
	}
	ans, err := s.compute.RelayKeys(r.Context(), r.PathValue("ch"), fp, req.Request)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, apiclient.ComputeKeysAnswer{Answer: ans})
}
