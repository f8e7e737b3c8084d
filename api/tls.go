package api

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"

	"github.com/sealnet/sealnet/identity"
)

// ServerTLS is the TLS configuration of a node's API. The node presents its
// own certificate (role node, issued by its org's CA). Clients are asked for
// a certificate and must prove they hold its key (the handshake checks
// their signature); whether that certificate admits them is decided per
// request against the channel's registry (authenticate), so enrolment and
// revocation take effect from the block that records them, with no CA
// bundle or CRL on the node to keep in step.
func ServerTLS(node *identity.Identity) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		ClientAuth: tls.RequestClientCert,
		Certificates: []tls.Certificate{{Certificate: [][]byte{node.CertDER}, PrivateKey: node.Key,
			Leaf: node.Member.Cert}},
	}
}

// Listen opens the node's API listener: TCP at addr, TLS with ServerTLS.
func Listen(addr string, node *identity.Identity) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("api listen: %w", err)
	}
	return tls.NewListener(ln, ServerTLS(node)), nil
}

// ClientTLS is the TLS configuration of a member talking to its org's
// node: it presents the member's certificate (its key never leaves the
// keystore: it only signs the handshake) and accepts the server only if it
// presents a node certificate of the same org issued by root. The node is
// identified by that certificate, not by a host name, so a node is reached
// under any address (a tunnel, a load balancer's IP) without reissuing it.
func ClientTLS(id *identity.Identity, root *x509.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		Certificates: []tls.Certificate{{Certificate: [][]byte{id.CertDER}, PrivateKey: id.Key,
			Leaf: id.Member.Cert}},
		// the chain and the node role are checked by VerifyConnection
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyNode(cs.PeerCertificates, root)
		},
	}
}

// ErrNotOurNode is a server that is not a node of the member's org.
var ErrNotOurNode = errors.New("the server is not a node of this org")

func verifyNode(chain []*x509.Certificate, root *x509.Certificate) error {
	if len(chain) == 0 {
		return fmt.Errorf("%w: it presented no certificate", ErrNotOurNode)
	}
	leaf := chain[0]
	roots := x509.NewCertPool()
	roots.AddCert(root)
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return fmt.Errorf("%w: its certificate (%s) does not chain to the org root %q: %v", ErrNotOurNode,
			leaf.Subject, root.Subject.CommonName, err)
	}
	m, err := identity.ParseMember(leaf.Raw)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotOurNode, err)
	}
	if m.Role != identity.RoleNode {
		return fmt.Errorf("%w: its certificate is %s@%s with role %s, not a node", ErrNotOurNode, m.ID, m.Org, m.Role)
	}
	return nil
}
