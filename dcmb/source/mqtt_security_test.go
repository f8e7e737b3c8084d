package source

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealnet/sealnet/internal/syncbuf"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // its certificate, PEM
}

func newTestCA(t *testing.T, dir, name string) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{cert: cert, key: key, file: filepath.Join(dir, name+".pem")}
	os.WriteFile(ca.file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	return ca
}

// issue writes a certificate for cn (a server for 127.0.0.1 and
// localhost, or a client) and its key, PEM.
func (ca *testCA) issue(t *testing.T, dir, cn string, server bool) (certFile, keyFile string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames, tmpl.IPAddresses = []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(dir, cn+".pem"), filepath.Join(dir, cn+".key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

// probe publishes on topic until the source delivers one message.
func probe(t *testing.T, pub mqtt.Client, topic string, out <-chan Message) Message {
	t.Helper()
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); {
		pub.Publish(topic, 1, false, "probe").WaitTimeout(time.Second)
		select {
		case m := <-out:
			return m
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Fatal("the source received nothing")
	return Message{}
}

// A broker that admits users by password (Mosquitto's password_file, made
// with mosquitto_passwd): the right password is read; a wrong one is
// reported once as an authentication failure, and the broker is not asked
// again until the password file changes.
func TestMQTTUserPassword(t *testing.T) {
	FastRetry(t)
	dir := t.TempDir()
	passwd := filepath.Join(dir, "passwd")
	for i, up := range [][2]string{{"dcmb", "pl4nt-data"}, {"machine-7", "press"}} {
		args := []string{"-b", passwd, up[0], up[1]}
		if i == 0 {
			args = append([]string{"-c"}, args...)
		}
		if out, err := exec.Command("mosquitto_passwd", args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd: %v %s", err, out)
		}
	}
	port := freePort(t)
	mq := mosquittoWith(t, dir, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous false\npassword_file %s\n", port, passwd), port)
	defer func() { mq.Process.Kill(); mq.Wait() }()
	broker := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("machine-7").SetUsername("machine-7").SetPassword("press"))
	if tok := pub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher: %v", tok.Error())
	}
	defer pub.Disconnect(100)

	pwFile := filepath.Join(dir, "dcmb-password")
	os.WriteFile(pwFile, []byte("wrong\n"), 0o600)
	var logs syncbuf.Buffer
	src := &MQTT{Name: "press", Broker: broker, ClientID: "sealnet-dcmb", Topics: []string{"plant/#"}, QoS: 1,
		Username: "dcmb", Password: Secret{File: pwFile}, Log: slog.New(slog.NewTextHandler(&logs, nil))}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := make(chan Message, 100)
	go src.Run(ctx, out)
	for end := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "refused") && time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)
	if n := strings.Count(logs.String(), `msg="mqtt source refused`); n != 1 || !strings.Contains(logs.String(), `err="authentication refused: the broker refused user \"dcmb\"`) ||
		strings.Contains(logs.String(), "reconnecting") {
		t.Fatalf("want one authentication failure:\n%s", logs.String())
	}
	os.WriteFile(pwFile, []byte("pl4nt-data\n"), 0o600)
	if m := probe(t, pub, "plant/press-7/counter", out); m.Key != "plant/press-7/counter" {
		t.Fatalf("got %+v", m)
	}

	// no credentials at all: the broker wants some, and says so
	anon := &MQTT{Name: "press", Broker: broker, ClientID: "anon", Topics: []string{"#"}}
	if _, _, err := anon.connect(ctx, map[string]byte{"#": 0}, nil); !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "source.username") {
		t.Fatalf("anonymous: %v", err)
	}
}

// TLS to the broker: its certificate must chain to ca_file and name its
// host; a broker that requires client certificates gets cert_file. Each
// refusal is an error naming the setting to change.
func TestMQTTTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, dir, "plant-ca")
	other := newTestCA(t, dir, "other-ca")
	srvCert, srvKey := ca.issue(t, dir, "broker", true)
	cliCert, cliKey := ca.issue(t, dir, "sealnet-dcmb", false)
	strangerCert, strangerKey := other.issue(t, dir, "stranger", false)
	tlsPort, plainPort := freePort(t), freePort(t)
	tlsListener := fmt.Sprintf("cafile %s\ncertfile %s\nkeyfile %s\nrequire_certificate true\nuse_identity_as_username true\n", ca.file, srvCert, srvKey)
	// the second TLS listener's address is not in the broker's certificate
	conf := fmt.Sprintf("per_listener_settings false\nallow_anonymous true\nlistener %d 127.0.0.1\n%slistener %d 127.0.0.2\n%slistener %d 127.0.0.1\n",
		tlsPort, tlsListener, tlsPort, tlsListener, plainPort)
	mq := mosquittoWith(t, dir, conf, tlsPort)
	defer func() { mq.Process.Kill(); mq.Wait() }()
	tlsBroker := fmt.Sprintf("ssl://127.0.0.1:%d", tlsPort)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	src := &MQTT{Name: "press", Broker: tlsBroker, ClientID: "sealnet-dcmb", Topics: []string{"plant/#"}, QoS: 1,
		CAFile: ca.file, CertFile: cliCert, KeyFile: cliKey, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	out := make(chan Message, 100)
	go src.Run(ctx, out)
	kp, _ := tls.LoadX509KeyPair(cliCert, cliKey)
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(tlsBroker).SetClientID("machine-7").
		SetTLSConfig(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{kp}}))
	if tok := pub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher: %v", tok.Error())
	}
	defer pub.Disconnect(100)
	if m := probe(t, pub, "plant/press-7/counter", out); string(m.Value) != "probe" {
		t.Fatalf("got %+v", m)
	}

	for _, c := range []struct {
		name string
		mod  func(*MQTT)
		is   error
		want string
	}{
		{"system roots", func(m *MQTT) { m.CAFile = "" }, ErrUntrusted, "not signed by a CA in source.ca_file"},
		{"another CA", func(m *MQTT) { m.CAFile = other.file }, ErrUntrusted, "source.ca_file (" + other.file},
		{"host not named", func(m *MQTT) { m.Broker = fmt.Sprintf("ssl://127.0.0.2:%d", tlsPort) }, ErrUntrusted, "does not name 127.0.0.2"},
		{"no client certificate", func(m *MQTT) { m.CertFile, m.KeyFile = "", "" }, ErrRefused, "source.cert_file"},
		{"client certificate of another CA", func(m *MQTT) { m.CertFile, m.KeyFile = strangerCert, strangerKey }, ErrRefused, "source.cert_file"},
		{"TLS to a plain port", func(m *MQTT) { m.Broker = fmt.Sprintf("ssl://127.0.0.1:%d", plainPort) }, ErrRefused, "does not speak TLS"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := *src
			c.mod(&m)
			_, _, err := m.connect(ctx, map[string]byte{"plant/#": 1}, nil)
			if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("%v: want %v about %s", err, c.is, c.want)
			}
		})
	}
}

func TestMQTTConfigErrors(t *testing.T) {
	ok := MQTT{Broker: "tcp://127.0.0.1:1883", ClientID: "c", Topics: []string{"#"}}
	for _, c := range []struct {
		mod  func(*MQTT)
		want string
	}{
		{func(m *MQTT) { m.Topics = nil }, "topics are required"},
		{func(m *MQTT) { m.Broker = "http://x:1" }, "want tcp://"},
		{func(m *MQTT) { m.QoS = 3 }, "qos 3"},
		{func(m *MQTT) { m.CAFile = "ca.pem" }, "ssl://"},
		{func(m *MQTT) { m.Broker, m.CertFile = "ssl://x:8883", "c.pem" }, "cert_file and key_file"},
		{func(m *MQTT) { m.Password = Secret{Value: "x"} }, "needs a username"},
		{func(m *MQTT) { m.Username, m.Password = "u", Secret{Value: "x", Env: "E"} }, "one of password"},
	} {
		m := ok
		c.mod(&m)
		if err := m.Run(context.Background(), nil); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error about %s", m, err, c.want)
		}
	}
}
