package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
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

// AuditBundle fetches the proof bundle of a stream message.
func (c *Client) AuditBundle(ctx context.Context, channel, stream string, seq uint64) ([]byte, error) {
	u := c.Base + c.chPath(channel, "/audit/bundle") + "?stream=" + url.QueryEscape(stream) + "&seq=" + strconv.FormatUint(seq, 10)
	body, err := c.get(ctx, u)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	raw, err := io.ReadAll(io.LimitReader(body, bundle.MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading the bundle: %w", err)
	}
	return raw, nil
}
