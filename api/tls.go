package api

import (
	"crypto/tls"
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
