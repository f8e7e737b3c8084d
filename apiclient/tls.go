package apiclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/sealnet/sealnet/identity"
)

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
