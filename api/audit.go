package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/sealnet/sealnet/dcmb/bundle"
	"github.com/sealnet/sealnet/txerr"
)

// Auditor exports the offline proof of a stream message (the DCMB).
type Auditor interface {
	Channel() string // the channel whose streams it exports
	Export(ctx context.Context, stream string, seq uint64) (*bundle.Bundle, error)
}

// SetAuditor attaches the node's DCMB, which answers bundle exports.
func (s *Server) SetAuditor(a Auditor) {
	s.mu.Lock()
	s.auditor = a
	s.mu.Unlock()
}

func (s *Server) routeAudit() {
	s.handle("GET", "/v1/channels/{ch}/audit/bundle", Reader, s.auditBundle)
}

func (s *Server) auditBundle(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	a := s.auditor
	s.mu.Unlock()
	if a == nil {
		writeErr(w, txerr.New(txerr.Unavailable, "no DCMB runs on this node (start it with 'sealnet dcmb run')"))
		return
	}
	if ch := r.PathValue("ch"); ch != a.Channel() {
		writeErr(w, txerr.New(txerr.NotFound, "the DCMB on this node runs on channel %s, not %s", a.Channel(), ch))
		return
	}
	stream := r.URL.Query().Get("stream")
	seq, err := strconv.ParseUint(r.URL.Query().Get("seq"), 10, 64)
	if stream == "" || err != nil {
		writeErr(w, txerr.New(txerr.BadArgs, "want ?stream=NAME&seq=N"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	b, err := a.Export(ctx, stream, seq)
	if err != nil {
		writeErr(w, err)
		return
	}
	raw, err := b.Encode()
	if err != nil {
		writeErr(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/cbor")
	w.Write(raw)
}
