package api

import (
	"context"
	"net/http"
	"time"

	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/txerr"
)

// Access says who may call a route. Every route of the API is registered
// through the route table with one of these, and the check runs in one
// place (authorize) before the handler.
type Access string

// The access levels, weakest first.
const (
	// Public routes answer anyone who completes the TLS handshake (the
	// OpenAPI document only).
	Public Access = "public"
	// Reader routes need an enrolled, unrevoked, unexpired certificate of
	// the node's org on the channel addressed (on any channel the node
	// hosts for routes without one). Auditors are readers.
	Reader Access = "reader"
	// Writer routes need a reader whose role is not auditor.
	Writer Access = "writer"
	// Admin routes need a reader whose role is admin.
	Admin Access = "admin"
)

// Route is one entry of the API's route table.
type Route struct {
	Method string
	Path   string
	Access Access
}

type route struct {
	Route
	handle http.HandlerFunc
}

// Routes returns the route table: every route the server answers with who
// may call it.
func (s *Server) Routes() []Route {
	out := make([]Route, len(s.routes))
	for i, r := range s.routes {
		out[i] = r.Route
	}
	return out
}

// handle registers a route. Routes whose handler narrows the access further
// (the data-key routes check the key's owner) say so in docs/API.md and in
// openapi.json (x-sealnet-rule).
func (s *Server) handle(method, path string, access Access, h http.HandlerFunc) {
	r := route{Route: Route{Method: method, Path: path, Access: access}, handle: h}
	s.routes = append(s.routes, r)
	s.mux.HandleFunc(method+" "+path, s.authorize(r))
}

type callerKey struct{}

// CallerOf returns the authenticated member of a request (nil on public
// routes).
func CallerOf(ctx context.Context) *identity.Member {
	m, _ := ctx.Value(callerKey{}).(*identity.Member)
	return m
}

// authorize wraps h with the route's access check. A refusal is 401 (no
// certificate, or one that is unknown, revoked or expired on the channel)
// or 403 (a known member who may not call this route), says what was
// missing, and runs nothing of the handler.
func (s *Server) authorize(r route) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		if r.Access == Public {
			r.handle(w, req)
			return
		}
		m, err := s.authenticate(req, req.PathValue("ch"))
		if err == nil {
			err = s.allowed(m, r.Route)
		}
		if err != nil {
			s.refused.WithLabelValues(txerr.CodeOf(err).String()).Inc()
			writeErr(w, err)
			return
		}
		r.handle(w, req.WithContext(context.WithValue(req.Context(), callerKey{}, m)))
	}
}

// authenticate resolves the request's client certificate against the
// committed registry of channel ch (of every hosted channel when ch is
// empty): from the block that enrolls it until the block that revokes it.
func (s *Server) authenticate(req *http.Request, ch string) (*identity.Member, error) {
	if req.TLS == nil || len(req.TLS.PeerCertificates) == 0 {
		return nil, txerr.New(txerr.UnknownCert, "no client certificate: the API admits members of %s by their certificate (the CLI presents the keystore identity named by --identity)", s.n.Config().Org)
	}
	fp := identity.FingerprintOf(req.TLS.PeerCertificates[0].Raw)
	chans := s.n.Channels()
	where := "any channel this node hosts"
	if ch != "" {
		c, err := s.n.Channel(ch)
		if err != nil {
			return nil, err
		}
		chans, where = chans[:0], "channel "+ch
		chans = append(chans, c)
	}
	for _, c := range chans {
		m, revoked, err := c.App.Certificate(fp)
		if txerr.CodeOf(err) == txerr.UnknownCert {
			continue
		}
		if err != nil {
			return nil, err
		}
		who := m.ID + "@" + m.Org
		if revoked {
			return nil, txerr.New(txerr.RevokedCert, "certificate %s (%s) is revoked on channel %s", fp, who, c.Name)
		}
		if now := time.Now(); now.Before(m.Cert.NotBefore) || now.After(m.Cert.NotAfter) {
			return nil, txerr.New(txerr.ExpiredCert, "certificate %s (%s) is valid from %s to %s", fp, who,
				m.Cert.NotBefore.UTC().Format(time.RFC3339), m.Cert.NotAfter.UTC().Format(time.RFC3339))
		}
		return m, nil
	}
	return nil, txerr.New(txerr.UnknownCert, "certificate %s is not enrolled on %s", fp, where)
}

// allowed applies the route's access level to an authenticated member.
func (s *Server) allowed(m *identity.Member, r Route) error {
	who := m.ID + "@" + m.Org
	if org := s.n.Config().Org; m.Org != org {
		return txerr.New(txerr.RoleDenied, "this node serves the members of %s; %s belongs to %s and uses its own org's node", org, who, m.Org)
	}
	switch r.Access {
	case Writer:
		if m.Role == identity.RoleAuditor {
			return txerr.New(txerr.RoleDenied, "%s %s writes; %s is an auditor, who reads only", r.Method, r.Path, who)
		}
	case Admin:
		if m.Role != identity.RoleAdmin {
			return txerr.New(txerr.RoleDenied, "%s %s needs an admin of %s; %s is %s", r.Method, r.Path, m.Org, who, m.Role)
		}
	}
	return nil
}

// stillAllowed re-checks the caller of a long-lived request (an event
// stream) against the latest committed registry: a revocation ends it.
func (s *Server) stillAllowed(req *http.Request, ch string) error {
	_, err := s.authenticate(req, ch)
	return err
}
