// Package voucher is the off-chain payment of a paych channel: its
// canonical encoding, its signature by the payer, and the checks the chain
// and the payee both run on it (Check), with the payee's decision to take
// it as payment (Accept).
//
// A voucher says "on lane L of channel C of contract K on chain N, the
// payee may redeem A in total; this is my n-th word on that lane", signed
// by the payer's member key:
//
//	body      = canonical CBOR {1: chain, 2: contract, 3: channel (32 bytes),
//	            4: lane, 5: nonce, 6: amount, 7: condition (omitted if none)}
//	condition = canonical CBOR {1: job (32 bytes), 2: state ("accepted")}
//	digest    = SHA-256("sealnet/voucher/v1\0" || body)
//	signature = ECDSA P-256 r||s, low S, over digest (identity.Sign)
//	voucher   = canonical CBOR {1: body, 2: signature}
//
// Amounts are cumulative per lane: a later voucher on a lane replaces the
// earlier ones, so the payee keeps and redeems only its latest. The bugs
// the designs before this one had are closed by construction: the chain,
// contract and channel are signed (no replay across channels), nonces
// only go up per lane, and the lanes together never promise more than the
// deposit (no overdraft across lanes).
//
// The bytes are frozen by docs/vectors/voucher.json.
package voucher

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/identity"
)

// Domain separates voucher signatures from every other signature a member
// key makes (transactions sign "sealnet/tx/v1\0").
const Domain = "sealnet/voucher/v1\x00"

// MaxBytes bounds an encoded voucher; a decoder refuses anything longer
// before parsing it.
const MaxBytes = 512

// MaxLanes bounds the lanes of one channel.
const MaxLanes = 64

// StateAccepted is the job state a conditional voucher waits for.
const StateAccepted = "accepted"

// Voucher is what the payer signs.
type Voucher struct {
	Chain    string     `cbor:"1,keyasint"` // the sealnet channel (CometBFT chain ID)
	Contract string     `cbor:"2,keyasint"` // the payment-channel contract's name
	Channel  []byte     `cbor:"3,keyasint"` // the channel's ID: its opening transaction's ID
	Lane     uint64     `cbor:"4,keyasint"`
	Nonce    uint64     `cbor:"5,keyasint"` // above the lane's last, from 1
	Amount   uint64     `cbor:"6,keyasint"` // cumulative on the lane
	Cond     *Condition `cbor:"7,keyasint,omitempty"`
}

// Condition makes a voucher redeemable only once a compute job reached a
// state on chain.
type Condition struct {
	Job   []byte `cbor:"1,keyasint"` // the job's ID: its posting transaction's ID
	State string `cbor:"2,keyasint"` // StateAccepted
}

// signed is a voucher as it travels.
type signed struct {
	Body      []byte `cbor:"1,keyasint"`
	Signature []byte `cbor:"2,keyasint"`
}

// Errors of Decode, Check and Accept. Each names one reason a voucher is
// refused; the chain's refusals carry the same text.
var (
	ErrMalformed         = errors.New("malformed voucher")
	ErrWrongChain        = errors.New("voucher for another chain")
	ErrWrongContract     = errors.New("voucher for another contract")
	ErrWrongChannel      = errors.New("voucher for another channel")
	ErrStaleNonce        = errors.New("nonce not above the lane's")
	ErrAmountDecreased   = errors.New("amount below the lane's")
	ErrTooManyLanes      = errors.New("too many lanes")
	ErrAboveDeposit      = errors.New("amount above the deposit")
	ErrLanesAboveDeposit = errors.New("lanes add up past the deposit")
	ErrNotPayer          = errors.New("voucher not signed by the payer")
	ErrWrongCondition    = errors.New("voucher's condition is not the one expected")
	ErrTooLittle         = errors.New("voucher pays less than expected")
)

// Validate checks the fields' forms.
func (v *Voucher) Validate() error {
	switch {
	case v.Chain == "" || len(v.Chain) > 64 || !utf8.ValidString(v.Chain):
		return fmt.Errorf("%w: chain must be 1-64 bytes of UTF-8", ErrMalformed)
	case v.Contract == "" || len(v.Contract) > 64 || !utf8.ValidString(v.Contract):
		return fmt.Errorf("%w: contract must be 1-64 bytes of UTF-8", ErrMalformed)
	case len(v.Channel) != 32:
		return fmt.Errorf("%w: channel is %d bytes, want 32", ErrMalformed, len(v.Channel))
	case v.Nonce == 0:
		return fmt.Errorf("%w: nonces start at 1", ErrMalformed)
	}
	if c := v.Cond; c != nil {
		if len(c.Job) != 32 {
			return fmt.Errorf("%w: condition's job is %d bytes, want 32", ErrMalformed, len(c.Job))
		}
		if c.State != StateAccepted {
			return fmt.Errorf("%w: condition's state %q is not %q", ErrMalformed, c.State, StateAccepted)
		}
	}
	return nil
}

// Body returns the voucher's canonical bytes, the ones signed.
func (v *Voucher) Body() ([]byte, error) {
	if err := v.Validate(); err != nil {
		return nil, err
	}
	return canon.Marshal(v)
}

// Digest is what the payer signs: SHA-256(Domain || body).
func Digest(body []byte) []byte {
	h := sha256.New()
	h.Write([]byte(Domain))
	h.Write(body)
	return h.Sum(nil)
}

// Encode joins a voucher's body and its signature into the bytes that
// travel.
func Encode(body, sig []byte) []byte { return canon.MustMarshal(signed{Body: body, Signature: sig}) }

// Sign encodes v and signs it with the payer's key.
func Sign(v Voucher, key *ecdsa.PrivateKey) ([]byte, error) {
	body, err := v.Body()
	if err != nil {
		return nil, err
	}
	sig, err := identity.Sign(key, Digest(body))
	if err != nil {
		return nil, fmt.Errorf("sign voucher: %w", err)
	}
	return Encode(body, sig), nil
}

// Decoded is a voucher read from its bytes, its signature not yet checked.
type Decoded struct {
	Voucher
	Body      []byte // as signed
	Signature []byte
}

// Decode reads a voucher strictly: at most MaxBytes, canonical CBOR
// throughout, a 64-byte signature and well-formed fields. It does not
// check the signature (Check does).
func Decode(raw []byte) (*Decoded, error) {
	if len(raw) > MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(raw), MaxBytes)
	}
	var s signed
	if err := canon.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, describe(err))
	}
	if len(s.Signature) != identity.SignatureSize {
		return nil, fmt.Errorf("%w: signature is %d bytes, want %d", ErrMalformed, len(s.Signature), identity.SignatureSize)
	}
	d := &Decoded{Body: s.Body, Signature: s.Signature}
	if err := canon.Unmarshal(s.Body, &d.Voucher); err != nil {
		return nil, fmt.Errorf("%w: body: %v", ErrMalformed, describe(err))
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}

// Verify checks that the payer's key signed the voucher.
func (d *Decoded) Verify(payer *ecdsa.PublicKey) error {
	if err := identity.Verify(payer, Digest(d.Body), d.Signature); err != nil {
		return fmt.Errorf("%w: %v", ErrNotPayer, err)
	}
	return nil
}

// describe names a decoding failure in words that do not depend on the
// CBOR library's version: the reason goes on chain.
func describe(err error) string {
	if errors.Is(err, canon.ErrNonCanonical) {
		return "not canonical CBOR"
	}
	return "not the CBOR of a voucher"
}
