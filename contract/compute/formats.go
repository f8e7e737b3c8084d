package compute

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/identity"
)

// Domain separators of what the contract and the workers hash and sign.
// A format change needs a new version.
const (
	outputDomain = "sealnet/compute/output/v1\x00"
	commitDomain = "sealnet/compute/commit/v1\x00"
	resultDomain = "sealnet/compute/result/v1\x00"
	failDomain   = "sealnet/compute/fail/v1\x00"
	grantDomain  = "sealnet/compute/grant/v1\x00"
)

// SaltSize is the size of a job's output salt, which the requester hands
// to each worker with the data keys and never to the chain.
const SaltSize = 32

// NewOutputHash starts the commitment to a job's output:
//
//	SHA-256("sealnet/compute/output/v1\0" || u32be(len(salt)) || salt ||
//	        u32be(len(job)) || job || output)
//
// The salt keeps the commitment from being a guessing target when the
// output is short (a count, a yes or no): only the requester and the
// workers it released keys to know it.
func NewOutputHash(salt []byte, job string) hash.Hash {
	h := sha256.New()
	h.Write([]byte(outputDomain))
	h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(salt))))
	h.Write(salt)
	h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(job))))
	h.Write([]byte(job))
	return h
}

// OutputCommitment commits to an output held in memory.
func OutputCommitment(salt []byte, job string, output []byte) []byte {
	h := NewOutputHash(salt, job)
	h.Write(output)
	return h.Sum(nil)
}

// CommitHash is what a worker of a redundant job commits to before the
// reveal: its output commitment, bound to the job and to the worker (so no
// one can copy another's commit) and hidden by a nonce:
//
//	SHA-256("sealnet/compute/commit/v1\0" || u32be(len(job)) || job ||
//	        worker || output commitment || nonce)
func CommitHash(job string, worker identity.Fingerprint, output, nonce []byte) []byte {
	h := sha256.New()
	h.Write([]byte(commitDomain))
	h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(job))))
	h.Write([]byte(job))
	h.Write(worker[:])
	h.Write(output)
	h.Write(nonce)
	return h.Sum(nil)
}

// ResultStatement is what the enclave signs with its attested key when it
// submits a result.
type ResultStatement struct {
	Chain  string `cbor:"1,keyasint"`
	Job    string `cbor:"2,keyasint"`
	Worker []byte `cbor:"3,keyasint"` // certificate fingerprint
	CID    string `cbor:"4,keyasint"` // the encrypted output
	Size   uint64 `cbor:"5,keyasint"` // plaintext bytes
	// Commitment is the output commitment (attested mode) or the commit
	// hash (redundant modes).
	Commitment []byte `cbor:"6,keyasint"`
}

// Digest is SHA-256("sealnet/compute/result/v1\0" || canonical CBOR).
func (s ResultStatement) Digest() []byte {
	d := sha256.Sum256(append([]byte(resultDomain), canon.MustMarshal(s)...))
	return d[:]
}

// FailStatement is what the enclave signs when it reports that the
// program failed.
type FailStatement struct {
	Chain  string `cbor:"1,keyasint"`
	Job    string `cbor:"2,keyasint"`
	Worker []byte `cbor:"3,keyasint"`
	Reason string `cbor:"4,keyasint"`
}

// Digest is SHA-256("sealnet/compute/fail/v1\0" || canonical CBOR).
func (s FailStatement) Digest() []byte {
	d := sha256.Sum256(append([]byte(failDomain), canon.MustMarshal(s)...))
	return d[:]
}

// GrantHash is what the chain records of a key release: the hash of the
// sealed bundle, SHA-256("sealnet/compute/grant/v1\0" || sealed).
func GrantHash(sealed []byte) []byte {
	d := sha256.Sum256(append([]byte(grantDomain), sealed...))
	return d[:]
}
