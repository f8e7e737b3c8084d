package source_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/sealnet/sealnet/dcmb/source"
	"github.com/sealnet/sealnet/dcmb/source/opcuatest"
)

// counters reads n strictly increasing counter values from out.
func counters(t *testing.T, out <-chan Message, n int, after uint64) uint64 {
	t.Helper()
	last := after
	deadline := time.After(60 * time.Second)
	for got := 0; got < n; {
		select {
		case m := <-out:
			v, err := strconv.ParseUint(string(m.Value), 10, 32)
			if err != nil {
				t.Fatalf("value %q of %s is not a counter", m.Value, m.Key)
			}
			if v <= last && last != 0 {
				t.Fatalf("counter went from %d to %d", last, v)
			}
			last = v
			got++
		case <-deadline:
			t.Fatalf("only some of %d counter values arrived", n)
		}
	}
	return last
}

// run starts src and returns its messages and a stop function that
// checks Run's result.
func run(t *testing.T, src Source) (<-chan Message, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan Message, 1000)
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, out) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(cancel)
	return out, stop
}

const (
	operator = "operator"
	opPass   = "s3cret-of-the-press"
)

// The OPC UA source reads the work-piece counter of node-opcua's server,
// an implementation independent of gopcua: unsecured, then with each
// current policy in SignAndEncrypt (and one in Sign) with the server's
// certificate in the trust list, logging in anonymously, with a user name
// and password, and with an X.509 user certificate; it resumes after the
// server restarts.
func TestOPCUAAgainstNodeOPCUA(t *testing.T) {
	port := opcuatest.FreePort(t)
	srvPKI, pki, keys := t.TempDir(), t.TempDir(), t.TempDir()
	userDER, userCertFile, userKeyFile := userCert(t, keys, "maintenance-planner")
	pwFile := filepath.Join(keys, "opcua-password")
	os.WriteFile(pwFile, []byte(opPass+"\n"), 0o600)
	opt := opcuatest.Options{Users: map[string]string{operator: opPass}, UserCerts: [][]byte{userDER}}
	srv := opcuatest.StartWith(t, port, srvPKI, 5290, 50*time.Millisecond, opt)
	srv.TrustIn(t, pki)
	for _, c := range []struct {
		name string
		src  OPCUA
	}{
		{"None anonymous", OPCUA{Security: "None"}},
		{"Basic256Sha256 SignAndEncrypt password", OPCUA{Policy: "Basic256Sha256", Username: operator, Password: Secret{Value: opPass}}},
		{"Aes128_Sha256_RsaOaep SignAndEncrypt password_file", OPCUA{Security: "SignAndEncrypt", Policy: "Aes128_Sha256_RsaOaep", Username: operator, Password: Secret{File: pwFile}}},
		{"Aes256_Sha256_RsaPss SignAndEncrypt password_env", OPCUA{Security: "SignAndEncrypt", Policy: "Aes256_Sha256_RsaPss", Username: operator, Password: Secret{Env: "SEALNET_TEST_OPCUA_PASSWORD"}}},
		{"Basic256Sha256 Sign anonymous", OPCUA{Security: "Sign"}},
		{"Basic256Sha256 SignAndEncrypt X.509 user", OPCUA{UserCert: userCertFile, UserKey: userKeyFile}},
		{"Aes256_Sha256_RsaPss SignAndEncrypt X.509 user", OPCUA{Policy: "Aes256_Sha256_RsaPss", UserCert: userCertFile, UserKey: userKeyFile}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("SEALNET_TEST_OPCUA_PASSWORD", opPass)
			src := c.src
			src.Name, src.Endpoint, src.Nodes, src.Interval, src.PKI = "press-7", srv.Endpoint, []string{srv.Node}, 50*time.Millisecond, pki
			var logs logBuf
			src.Log = logs.logger()
			out, stop := run(t, &src)
			last := counters(t, out, 10, 0)
			if last < 5290 {
				t.Fatalf("counter %d below the server's start", last)
			}
			stop()
			if logs.count("refused") > 0 {
				t.Fatalf("refused:\n%s", logs.String())
			}
		})
	}
	own, err := filepath.Glob(filepath.Join(pki, "own", "certs", "*.der"))
	if err != nil || len(own) != 1 {
		t.Fatalf("the client's own certificate is not kept in the trust list's own/certs: %v %v", own, err)
	}

	t.Run("server restart", func(t *testing.T) {
		src := &OPCUA{Name: "press-7", Endpoint: srv.Endpoint, Nodes: []string{srv.Node}, PKI: pki, Interval: 50 * time.Millisecond,
			Username: operator, Password: Secret{Value: opPass}}
		out, stop := run(t, src)
		defer stop()
		counters(t, out, 5, 0)
		srv.Stop()
		for len(out) > 0 {
			<-out
		}
		// the same server (same PKI, same certificate) comes back
		srv = opcuatest.StartWith(t, port, srvPKI, 5290, 50*time.Millisecond, opt)
		// the restarted machine counts from its start again: values arrive and increase
		counters(t, out, 10, 0)
	})
}

// An unknown server certificate is refused, saved under rejected, and
// reported once; once the operator trusts it (by its thumbprint), the
// source connects without being restarted.
func TestOPCUAUntrustedServer(t *testing.T) {
	FastRetry(t)
	srv := opcuatest.Start(t, opcuatest.FreePort(t), t.TempDir(), 5290, 50*time.Millisecond)
	pki := t.TempDir()
	src := &OPCUA{Name: "press-7", Endpoint: srv.Endpoint, Nodes: []string{srv.Node}, PKI: pki, Interval: 50 * time.Millisecond}

	err := src.Check(context.Background())
	var ue *UntrustedError
	if !errors.As(err, &ue) || !errors.Is(err, ErrUntrusted) {
		t.Fatalf("check against an unknown server: %v, want an UntrustedError", err)
	}
	if ue.Cert.Thumbprint != Thumbprint(srv.Cert) || !strings.Contains(err.Error(), "sealnet dcmb trust --pki "+pki+" "+Thumbprint(srv.Cert)[:16]) ||
		!strings.Contains(err.Error(), "pki_dir") {
		t.Fatalf("the refusal does not say how to trust the certificate: %v", err)
	}
	rejected, err := TrustList{Dir: pki}.Rejected()
	if err != nil || len(rejected) != 1 || rejected[0].Thumbprint != Thumbprint(srv.Cert) {
		t.Fatalf("rejected: %+v %v", rejected, err)
	}

	var logs logBuf
	src.Log = logs.logger()
	out, stop := run(t, src)
	defer stop()
	waitFor(t, 20*time.Second, "the refusal", func() bool { return logs.count("refused") > 0 })
	time.Sleep(time.Second) // a tight loop would log again, or try again
	if n := logs.count(`msg="opcua source refused`); n != 1 || logs.count("level=ERROR") != 1 || len(out) != 0 {
		t.Fatalf("%d refusals logged, %d messages; want one and none:\n%s", n, len(out), logs.String())
	}
	if !strings.Contains(logs.String(), ErrUntrusted.Error()) {
		t.Fatalf("the refusal is not reported as an untrusted certificate:\n%s", logs.String())
	}

	// the operator compares the thumbprint and trusts it
	got, err := TrustList{Dir: pki}.Trust(Thumbprint(srv.Cert)[:12])
	if err != nil || got.Thumbprint != Thumbprint(srv.Cert) {
		t.Fatalf("trust: %+v %v", got, err)
	}
	counters(t, out, 5, 0)
	if err := src.Check(context.Background()); err != nil {
		t.Fatalf("check after trusting: %v", err)
	}
	if logs.count("connected after a refusal") != 1 {
		t.Fatalf("the recovery is not logged:\n%s", logs.String())
	}
}

// A wrong password is reported once as an authentication failure, and
// the server is not asked again until the password file changes.
func TestOPCUAWrongPassword(t *testing.T) {
	FastRetry(t)
	pki, dir := t.TempDir(), t.TempDir()
	srv := opcuatest.StartWith(t, opcuatest.FreePort(t), t.TempDir(), 5290, 50*time.Millisecond,
		opcuatest.Options{Users: map[string]string{operator: opPass}, NoAnonymous: true})
	srv.TrustIn(t, pki)
	pwFile := filepath.Join(dir, "password")
	os.WriteFile(pwFile, []byte("wrong\n"), 0o600)
	src := &OPCUA{Name: "press-7", Endpoint: srv.Endpoint, Nodes: []string{srv.Node}, PKI: pki, Interval: 50 * time.Millisecond,
		Username: operator, Password: Secret{File: pwFile}}
	if err := src.Check(context.Background()); !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "password_file") {
		t.Fatalf("check with a wrong password: %v, want ErrAuth naming the setting", err)
	}
	var logs logBuf
	src.Log = logs.logger()
	out, stop := run(t, src)
	defer stop()
	waitFor(t, 20*time.Second, "the refusal", func() bool { return logs.count("refused") > 0 })
	time.Sleep(1500 * time.Millisecond)
	if logs.count(`msg="opcua source refused`) != 1 || logs.count("level=ERROR") != 1 || logs.count(`err="authentication refused`) != 1 || logs.count("lost its server") != 0 {
		t.Fatalf("want one authentication failure and no reconnection loop:\n%s", logs.String())
	}

	// an anonymous login is refused for what it is, too
	anon := &OPCUA{Name: "press-7", Endpoint: srv.Endpoint, Nodes: []string{srv.Node}, PKI: pki}
	if err := anon.Check(context.Background()); !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "source.username") {
		t.Fatalf("anonymous check: %v", err)
	}

	// so is a user certificate the server does not trust
	_, certFile, keyFile := userCert(t, dir, "stranger")
	stranger := &OPCUA{Name: "press-7", Endpoint: srv.Endpoint, Nodes: []string{srv.Node}, PKI: pki, UserCert: certFile, UserKey: keyFile}
	if err := stranger.Check(context.Background()); !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "source.user_cert_file") {
		t.Fatalf("check with an untrusted user certificate: %v", err)
	}

	os.WriteFile(pwFile, []byte(opPass+"\n"), 0o600)
	counters(t, out, 5, 0)
}

// A policy the server does not offer is refused with what it offers.
func TestOPCUAPolicyNotOffered(t *testing.T) {
	pki := t.TempDir()
	srv := opcuatest.StartWith(t, opcuatest.FreePort(t), t.TempDir(), 5290, 50*time.Millisecond,
		opcuatest.Options{Policies: []string{"None", "Basic256Sha256"}, Modes: []string{"None", "SignAndEncrypt"}})
	srv.TrustIn(t, pki)
	src := &OPCUA{Name: "press-7", Endpoint: srv.Endpoint, Nodes: []string{srv.Node}, PKI: pki, Policy: "Aes256_Sha256_RsaPss"}
	err := src.Check(context.Background())
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "Basic256Sha256/SignAndEncrypt") || !strings.Contains(err.Error(), "source.policy") {
		t.Fatalf("%v: want ErrRefused listing what the server offers", err)
	}
	src.Policy, src.Security = "", "Sign"
	if err := src.Check(context.Background()); !errors.Is(err, ErrRefused) {
		t.Fatalf("Sign against a server without it: %v", err)
	}
	src.Security = ""
	if err := src.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestOPCUAConfigErrors(t *testing.T) {
	ctx := context.Background()
	ok := OPCUA{Endpoint: "opc.tcp://127.0.0.1:1", Nodes: []string{"ns=2;s=A"}, PKI: "pki"}
	for _, c := range []struct {
		mod  func(*OPCUA)
		want string
	}{
		{func(o *OPCUA) { o.Nodes = nil }, "endpoint and nodes"},
		{func(o *OPCUA) { o.Endpoint = "http://x" }, "opc.tcp://"},
		{func(o *OPCUA) { o.Nodes = []string{"ns=x;s=?"} }, "node"},
		{func(o *OPCUA) { o.Security = "Encrypt" }, "security"},
		{func(o *OPCUA) { o.Policy = "Basic128Rsa15" }, "deprecated"},
		{func(o *OPCUA) { o.Policy = "Basic256" }, "deprecated"},
		{func(o *OPCUA) { o.Policy = "Aes512" }, "policy"},
		{func(o *OPCUA) { o.Policy = "None" }, "security None only"},
		{func(o *OPCUA) { o.Security, o.Policy = "None", "Basic256Sha256" }, "needs security Sign"},
		{func(o *OPCUA) { o.CertFile = "c.pem" }, "cert_file and key_file"},
		{func(o *OPCUA) { o.UserCert = "u.pem" }, "user_cert_file and user_key_file"},
		{func(o *OPCUA) { o.Username = "op" }, "needs password"},
		{func(o *OPCUA) { o.Password = Secret{Value: "x"} }, "needs a username"},
		{func(o *OPCUA) { o.Username, o.Password = "op", Secret{Value: "x", File: "f"} }, "one of password"},
		{func(o *OPCUA) { o.Security, o.Username, o.Password = "None", "op", Secret{Value: "x"} }, "security None"},
		{func(o *OPCUA) { o.PKI = "" }, "pki_dir"},
	} {
		src := ok
		c.mod(&src)
		err := src.Run(ctx, make(chan Message))
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error about %s", src, err, c.want)
		}
	}
}
