package identity

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// The binding's signed bytes are frozen: a change to the message breaks
// every binding on every chain.
func TestP2PBindingGolden(t *testing.T) {
	seed := sha256.Sum256([]byte("sealnet/test/p2p-key"))
	key := ed25519.NewKeyFromSeed(seed[:])
	fp := FingerprintOf([]byte("a certificate"))
	const (
		wantMsg = "7365616c6e65742f7032702d6b65792f763100" + "81acd762140fa692a142822d2fbe4dc6f54bcaa501f68ab37e5aeed0bafe4d99"
		wantSig = "8c9e096a7f7f6fa6146749b74c372757285a004e99a9232c82c5050ca40a60aa" +
			"a8b5f137caeec38cdc61a27124436905e53303863d745a6b83a38e599d01c206"
	)
	if msg := hex.EncodeToString(P2PBindingMessage(fp)); msg != wantMsg {
		t.Fatalf("message %s, want %s", msg, wantMsg)
	}
	sig := SignP2PBinding(key, fp)
	if hex.EncodeToString(sig) != wantSig {
		t.Fatalf("signature %x, want %s", sig, wantSig)
	}
	pub := key.Public().(ed25519.PublicKey)
	if err := VerifyP2PBinding(pub, fp, sig); err != nil {
		t.Fatal(err)
	}
	other := FingerprintOf([]byte("another certificate"))
	for name, err := range map[string]error{
		"other certificate": VerifyP2PBinding(pub, other, sig),
		"short key":         VerifyP2PBinding(pub[:31], fp, sig),
		"short signature":   VerifyP2PBinding(pub, fp, sig[:63]),
		"flipped bit":       VerifyP2PBinding(pub, fp, append([]byte{sig[0] ^ 1}, sig[1:]...)),
	} {
		if !errors.Is(err, ErrBadP2PBinding) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestP2PKeyFile(t *testing.T) {
	k, err := NewP2PKey()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "libp2p.key")
	if err := SaveP2PKey(path, k); err != nil {
		t.Fatal(err)
	}
	got, err := LoadP2PKey(path)
	if err != nil || !got.Equal(k) {
		t.Fatalf("loaded %v, %v", got, err)
	}
	p256, _ := NewKey()
	pem, _ := EncodeKeyPEM(p256)
	if err := os.WriteFile(path, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadP2PKey(path); err == nil {
		t.Fatal("a P-256 key loaded as a libp2p key")
	}
}
