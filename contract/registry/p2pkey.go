package registry

import (
	"encoding/hex"
	"fmt"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/txerr"
)

// BindP2PKeyArgs binds the caller's node certificate to the Ed25519 key
// of its libp2p host: Sig is the key's signature over
// identity.P2PBindingMessage(the caller's fingerprint), so nobody can
// claim a libp2p key it does not hold, nor bind one to a certificate its
// holder did not choose.
type BindP2PKeyArgs struct {
	Key []byte `cbor:"key"` // Ed25519 public key, 32 bytes
	Sig []byte `cbor:"sig"` // Ed25519 signature, 64 bytes
}

// GenesisP2PKey is a binding in the genesis, in hex: a genesis node's
// libp2p key, so that nodes reach each other from the first block.
type GenesisP2PKey struct {
	Fingerprint string `json:"fingerprint"`
	Key         string `json:"key"`
	Sig         string `json:"sig"`
}

// bindP2PKey is the method: a node binds its own certificate, again to
// another key when it rotates it; the newer binding replaces the older.
func (c *Contract) bindP2PKey(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a BindP2PKeyArgs
	if err := contract.DecodeArgs("bind_p2p_key", raw, &a); err != nil {
		return nil, err
	}
	rec, err := c.bind(st, ctx.Caller.Fingerprint, a.Key, a.Sig)
	if err != nil {
		return nil, err
	}
	ctx.Emit("p2p_key_bound", "", contract.Attr{Key: "id", Value: rec.ID}, contract.Attr{Key: "org", Value: rec.Org},
		contract.Attr{Key: "fingerprint", Value: rec.Fingerprint}, contract.Attr{Key: "key", Value: hex.EncodeToString(a.Key)})
	return contract.Result(rec)
}

// bind checks a binding of the node certificate fp and records it.
func (c *Contract) bind(st contract.State, fp identity.Fingerprint, key, sig []byte) (*Cert, error) {
	if err := identity.VerifyP2PBinding(key, fp, sig); err != nil {
		return nil, txerr.New(txerr.BadArgs, "bind_p2p_key: %v", err)
	}
	rec, err := c.cert(st, fp)
	if err != nil {
		return nil, err
	}
	if rec.Role != string(identity.RoleNode) {
		return nil, txerr.New(txerr.RoleDenied, "bind_p2p_key: certificate %s has role %s; only nodes run libp2p hosts", fp, rec.Role)
	}
	if rec.Revoked != nil {
		return nil, txerr.New(txerr.RevokedCert, "bind_p2p_key: certificate %s is revoked", fp)
	}
	if string(rec.P2PKey) == string(key) {
		return nil, txerr.New(txerr.Rejected, "bind_p2p_key: certificate %s is already bound to this key", fp)
	}
	rec.P2PKey = key
	if err := st.Set(certKey(fp), canon.MustMarshal(rec)); err != nil {
		return nil, err
	}
	return rec, nil
}

// genesisBindings records the genesis's bindings (after its members).
func (c *Contract) genesisBindings(st contract.State, bs []GenesisP2PKey) error {
	for i, b := range bs {
		fp, err := identity.ParseFingerprint(b.Fingerprint)
		if err != nil {
			return fmt.Errorf("p2p key %d: %w", i, err)
		}
		key, err := hex.DecodeString(b.Key)
		if err != nil {
			return fmt.Errorf("p2p key %d: key: %w", i, err)
		}
		sig, err := hex.DecodeString(b.Sig)
		if err != nil {
			return fmt.Errorf("p2p key %d: sig: %w", i, err)
		}
		if _, err := c.bind(st, fp, key, sig); err != nil {
			return fmt.Errorf("p2p key %d: %w", i, err)
		}
	}
	return nil
}
