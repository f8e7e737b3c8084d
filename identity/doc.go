// Package identity is sealnet's membership: X.509 certificates on ECDSA
// P-256, where each organization is its own certificate authority, as a
// Hyperledger Fabric MSP is.
//
// Registration (paper 002, phase 1) differs from the paper on purpose: the
// paper's CA generates the member's key pair and sends it the private key.
// Here the member generates its key, sends only a certificate signing
// request, and the CA returns a certificate. The private key therefore
// never exists outside the member's keystore: a compromised or curious CA
// (or the channel the key would travel on) cannot sign in the member's
// name, and non-repudiation of the member's signatures holds against the CA
// too.
//
// A certificate names its holder's member ID (subject CN, unique per org),
// its org (O, equal to the root's O) and its role (OU: admin, client, node,
// certifier or worker). A certificate's identity on chain is its
// Fingerprint, SHA-256 of its DER.
//
// Signatures are fixed 64-byte r||s with s normalised to the lower half of
// the group order, so a valid signature cannot be mauled into a second
// valid one.
package identity
