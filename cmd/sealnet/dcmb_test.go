package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealnet/sealnet/dcmb/source"
)

// run executes a command and returns what it printed.
func runCmd(t *testing.T, g *globals, args ...string) (string, error) {
	t.Helper()
	r, w, _ := os.Pipe()
	stdout := os.Stdout
	os.Stdout = w
	cmd := dcmbCmd(g)
	cmd.SetArgs(args)
	err := cmd.Execute()
	os.Stdout = stdout
	w.Close()
	out, _ := io.ReadAll(r)
	return string(out), err
}

// An unknown server certificate is refused and saved; 'sealnet dcmb
// trust' shows its thumbprint and, given it, trusts it.
func TestDCMBTrust(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "press-7"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"press-7.plant.example"}}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	home := t.TempDir()
	pki := filepath.Join(home, "dcmb", "pki")
	tl := source.TrustList{Dir: pki}
	if err := tl.Check(der, "press-7.plant.example", time.Now()); !errors.Is(err, source.ErrUntrusted) {
		t.Fatalf("an unknown certificate: %v", err)
	}
	thumb := source.Thumbprint(der)

	// from the configuration's OPC UA source (default pki_dir: <home>/dcmb/pki)
	cfg := filepath.Join(home, "dcmb.toml")
	os.WriteFile(cfg, []byte("[[stream]]\nname = \"press-7\"\nreceiver = \"org2\"\n[stream.source]\nkind = \"opcua\"\nendpoint = \"opc.tcp://press-7.plant.example:4840\"\nnodes = [\"ns=1;s=A\"]\n"), 0o600)
	out, err := runCmd(t, &globals{home: home}, "trust", "--config", cfg)
	if err != nil || !strings.Contains(out, "1 refused") || !strings.Contains(out, thumb) || !strings.Contains(out, "sealnet dcmb trust --pki "+pki+" "+thumb[:16]) {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = runCmd(t, &globals{home: home, json: true}, "trust", "--pki", pki)
	var list struct{ Rejected []source.CertInfo }
	if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list.Rejected) != 1 || list.Rejected[0].Thumbprint != thumb {
		t.Fatalf("json list: %v\n%s", err, out)
	}
	if _, err := runCmd(t, &globals{home: home}, "trust", "--pki", pki, "00000000"); err == nil {
		t.Fatal("an unknown thumbprint was trusted")
	}
	out, err = runCmd(t, &globals{home: home}, "trust", "--pki", pki, thumb[:16])
	if err != nil || !strings.Contains(out, "trusted CN=press-7") {
		t.Fatalf("trust: %v\n%s", err, out)
	}
	if err := tl.Check(der, "press-7.plant.example", time.Now()); err != nil {
		t.Fatalf("after trusting: %v", err)
	}

	// two trust lists in one configuration: --stream chooses
	os.WriteFile(cfg, []byte("[[stream]]\nname = \"a\"\nreceiver = \"o\"\n[stream.source]\nkind = \"opcua\"\nendpoint = \"opc.tcp://a:4840\"\nnodes = [\"ns=1;s=A\"]\npki_dir = \"pa\"\n"+
		"[[stream]]\nname = \"b\"\nreceiver = \"o\"\n[stream.source]\nkind = \"opcua\"\nendpoint = \"opc.tcp://b:4840\"\nnodes = [\"ns=1;s=A\"]\npki_dir = \"pb\"\n"), 0o600)
	if _, err := runCmd(t, &globals{home: home}, "trust", "--config", cfg); err == nil || !strings.Contains(err.Error(), "--stream") {
		t.Fatalf("several trust lists: %v", err)
	}
	if out, err := runCmd(t, &globals{home: home}, "trust", "--config", cfg, "--stream", "b"); err != nil || !strings.Contains(out, "trust list pb:") {
		t.Fatalf("--stream: %v\n%s", err, out)
	}
}
