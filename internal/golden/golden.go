// Package golden reads and writes the frozen-format vectors of
// docs/vectors for the tests that check the code against them, byte for
// byte. It is imported by tests only.
//
// A normal test run compares and never writes. With -update (or
// SEALNET_UPDATE_VECTORS=1 in the environment) the tests regenerate their
// files from the code instead, and then check them as usual.
package golden

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/vectors from the code instead of checking the code against them")

// Updating reports whether this run regenerates the vectors.
func Updating() bool { return *update || os.Getenv("SEALNET_UPDATE_VECTORS") == "1" }

// Hex is bytes written as lowercase hex in JSON; "" reads as nil.
type Hex []byte

// MarshalText implements encoding.TextMarshaler.
func (h Hex) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h)), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (h *Hex) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*h = nil
		return nil
	}
	v, err := hex.DecodeString(string(b))
	if err != nil {
		return err
	}
	*h = v
	return nil
}

// Dir returns the vectors directory, found from the working directory (a
// package directory during go test) up to the module root.
func Dir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "docs", "vectors")
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("golden: no go.mod above the working directory")
		}
		dir = up
	}
}

// Load reads docs/vectors/name into v, refusing unknown fields.
func Load(t testing.TB, name string, v any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(Dir(t), name))
	if err != nil {
		t.Fatalf("golden: %v (regenerate with -update)", err)
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		t.Fatalf("golden: %s: %v", name, err)
	}
}

// LoadIfPresent is Load for a file that may not exist yet (an update
// reusing parts of the previous vectors); it reports whether it read one.
func LoadIfPresent(t testing.TB, name string, v any) bool {
	t.Helper()
	if _, err := os.Stat(filepath.Join(Dir(t), name)); errors.Is(err, os.ErrNotExist) {
		return false
	}
	Load(t, name, v)
	return true
}

// Save writes v as docs/vectors/name. It refuses unless Updating.
func Save(t testing.TB, name string, v any) {
	t.Helper()
	if !Updating() {
		t.Fatal("golden: Save without -update")
	}
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	e.SetIndent("", "  ")
	if err := e.Encode(v); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(Dir(t), name), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("golden: wrote %s", name)
}

// Equal fails the test unless got and want are the same bytes.
func Equal(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the vector:\n got %x\nwant %x", what, got, want)
	}
}

// Key is a P-256 private key from its 32-byte big-endian scalar.
func Key(t testing.TB, d []byte) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		t.Fatalf("golden: key: %v", err)
	}
	return k
}

// PublicBytes is a P-256 public key's uncompressed SEC 1 encoding.
func PublicBytes(t testing.TB, k *ecdsa.PublicKey) []byte {
	t.Helper()
	b, err := k.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Label names a case in a failure message: Label("leaf", 77) is "leaf 77".
func Label(what string, at ...any) string {
	for _, a := range at {
		what += fmt.Sprintf(" %v", a)
	}
	return what
}
