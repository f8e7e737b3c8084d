package contract

import (
	"encoding/hex"
	"fmt"

	"github.com/sealnet/sealnet/identity"
)

// Identifiers that contracts take as text and keep in their records:
// certificate fingerprints, transaction IDs and 32-byte hashes, each 64 hex
// digits. Their canonical form is lower case, so that equal identifiers are
// equal strings: they compare equal, key state alike and read the same in
// every record and event.
//
// The types below hold only canonical values. Their parsers are the one
// boundary through which text from arguments becomes an identifier: they
// accept upper- or lower-case hex (a user may paste either), reject
// anything but exactly 64 hex digits, and return the lower-case form. The
// result depends only on the input, so every node normalizes alike; the
// argument's bytes on chain keep what the caller signed.
//
// Argument and record structs keep plain string fields, so that their CBOR
// and JSON encodings and the code of their clients stay as they are; a
// contract fills a record's identifier only from these types.

// Fingerprint is a certificate fingerprint (identity.Fingerprint) in
// canonical text.
type Fingerprint string

// TxID is a transaction ID (envelope.ID, the paper's TXnumber) in canonical
// text.
type TxID string

// Hash is a SHA-256 value (a request or answer hash, a root) in canonical
// text.
type Hash string

const hexLen = 64

// parseHex32 checks 64 hex digits and returns them in lower case.
func parseHex32(s string) (string, bool) {
	if len(s) != hexLen {
		return "", false
	}
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			b[i] = c + ('a' - 'A')
		default:
			return "", false
		}
	}
	return string(b), true
}

// ParseFingerprint parses 64 hex digits in either case.
func ParseFingerprint(s string) (Fingerprint, error) {
	c, ok := parseHex32(s)
	if !ok {
		return "", fmt.Errorf("fingerprint %q: want 64 hex digits", s)
	}
	return Fingerprint(c), nil
}

// ParseTxID parses 64 hex digits in either case.
func ParseTxID(s string) (TxID, error) {
	c, ok := parseHex32(s)
	if !ok {
		return "", fmt.Errorf("transaction ID %q: want 64 hex digits", s)
	}
	return TxID(c), nil
}

// ParseHash parses 64 hex digits in either case.
func ParseHash(s string) (Hash, error) {
	c, ok := parseHex32(s)
	if !ok {
		return "", fmt.Errorf("hash %q: want 64 hex digits", s)
	}
	return Hash(c), nil
}

// FingerprintOf is the canonical text of fp.
func FingerprintOf(fp identity.Fingerprint) Fingerprint {
	return Fingerprint(hex.EncodeToString(fp[:]))
}

// TxIDOf is the canonical text of a transaction ID.
func TxIDOf(id [32]byte) TxID { return TxID(hex.EncodeToString(id[:])) }

// HashOf is the canonical text of a 32-byte hash.
func HashOf(h [32]byte) Hash { return Hash(hex.EncodeToString(h[:])) }

// Identity returns the fingerprint's bytes.
func (f Fingerprint) Identity() identity.Fingerprint {
	var out identity.Fingerprint
	hex.Decode(out[:], []byte(f))
	return out
}

// Bytes returns the transaction ID's bytes.
func (t TxID) Bytes() [32]byte { return decode32(string(t)) }

// Bytes returns the hash's bytes.
func (h Hash) Bytes() [32]byte { return decode32(string(h)) }

func decode32(s string) [32]byte {
	var out [32]byte
	hex.Decode(out[:], []byte(s))
	return out
}

func (f Fingerprint) String() string { return string(f) }
func (t TxID) String() string        { return string(t) }
func (h Hash) String() string        { return string(h) }

// CallerFingerprint is the caller's fingerprint in canonical text.
func (c *Context) CallerFingerprint() Fingerprint { return FingerprintOf(c.Caller.Fingerprint) }

// TxNumber is the transaction's ID in canonical text.
func (c *Context) TxNumber() TxID { return TxIDOf(c.TxID) }
