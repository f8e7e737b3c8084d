package source

// This file holds the MQTT source: Eclipse Paho with a persistent session,
// logins and TLS as brokers are run, and its honest errors.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// MQTT subscribes to topics on a broker (Eclipse Paho client). Each
// message becomes a Message keyed by its topic. It reconnects with
// backoff and resubscribes after every reconnection; with QoS 1 or 2 and
// a persistent session the broker keeps what arrives meanwhile. QoS 1 is
// at least once: after a reconnection the broker may deliver a message
// again; QoS 2 delivers exactly once.
//
// The broker is reached over TLS when its URL is ssl://, tls:// or
// mqtts://: its certificate must chain to CAFile (default: the system's
// roots) and name its host; CertFile and KeyFile are a client certificate
// for brokers that require one. Username and Password log in. A refused
// login, an untrusted broker certificate or a refused TLS handshake is
// reported once as what it is and not retried in a loop (see retry).
type MQTT struct {
	Name     string
	Broker   string // tcp://host:port, or ssl://host:port for TLS
	ClientID string // also the session name the broker keeps messages under
	Topics   []string
	QoS      byte
	Username string
	Password Secret
	CAFile   string // PEM CA certificates for the broker's certificate (TLS)
	CertFile string // PEM client certificate (TLS client authentication)
	KeyFile  string // its key
	Log      *slog.Logger
}

func (m *MQTT) tls() bool {
	u, err := url.Parse(m.Broker)
	return err == nil && (u.Scheme == "ssl" || u.Scheme == "tls" || u.Scheme == "mqtts" || u.Scheme == "tcps")
}

// Validate checks the settings without contacting the broker.
func (m *MQTT) Validate() error {
	if m.Broker == "" || len(m.Topics) == 0 || m.ClientID == "" {
		return fmt.Errorf("%w: broker, client_id and topics are required", ErrConfig)
	}
	u, err := url.Parse(m.Broker)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%w: broker %q: want tcp://host:port or ssl://host:port", ErrConfig, m.Broker)
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts", "tcps":
	default:
		return fmt.Errorf("%w: broker %q: want tcp://host:port or ssl://host:port", ErrConfig, m.Broker)
	}
	if m.QoS > 2 {
		return fmt.Errorf("%w: qos %d: want 0, 1 or 2", ErrConfig, m.QoS)
	}
	if (m.CAFile != "" || m.CertFile != "") && !m.tls() {
		return fmt.Errorf("%w: ca_file and cert_file are for TLS: write the broker as ssl://host:port", ErrConfig)
	}
	if (m.CertFile == "") != (m.KeyFile == "") {
		return fmt.Errorf("%w: cert_file and key_file go together", ErrConfig)
	}
	if err := m.Password.check(); err != nil {
		return err
	}
	if m.Password.IsSet() && m.Username == "" {
		return fmt.Errorf("%w: a password needs a username", ErrConfig)
	}
	return nil
}

// Run implements Source.
func (m *MQTT) Run(ctx context.Context, out chan<- Message) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("mqtt source %s: %w", m.Name, err)
	}
	onMessage := func(_ mqtt.Client, msg mqtt.Message) {
		select {
		case out <- Message{Source: m.Name, Key: msg.Topic(), Value: msg.Payload(), Time: time.Now()}:
		case <-ctx.Done():
		}
	}
	filters := map[string]byte{}
	for _, t := range m.Topics {
		filters[t] = m.QoS
	}
	return m.serve(ctx, "mqtt source", filters, onMessage)
}

// serve connects, subscribes to filters and hands messages to onMessage
// until ctx ends, reconnecting as retry says. Each connection is a new
// Paho client (the persistent session lives in the broker).
func (m *MQTT) serve(ctx context.Context, what string, filters map[string]byte, onMessage mqtt.MessageHandler) error {
	log := m.Log
	if log == nil {
		log = slog.Default()
	}
	r := newRetry(log, what, "source", m.Name, "broker", m.Broker)
	watch := func() uint64 { return fileVersion(m.Password.File, m.CAFile, m.CertFile, m.KeyFile) }
	for ctx.Err() == nil {
		started := time.Now()
		c, lost, err := m.connect(ctx, filters, onMessage)
		if err == nil {
			r.connected()
			log.Info(what+" connected", "source", m.Name, "broker", m.Broker)
			select {
			case err = <-lost:
			case <-ctx.Done():
			}
			c.Disconnect(250)
			if ctx.Err() != nil {
				return nil
			}
		}
		if !r.pause(ctx, err, started, watch) {
			return nil
		}
	}
	return nil
}

// connect makes one connection and its subscriptions; lost reports its end.
func (m *MQTT) connect(ctx context.Context, filters map[string]byte, onMessage mqtt.MessageHandler) (mqtt.Client, <-chan error, error) {
	opts := mqtt.NewClientOptions().AddBroker(m.Broker).SetClientID(m.ClientID).SetProtocolVersion(4).
		SetCleanSession(false).SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(10 * time.Second).
		SetOrderMatters(true).SetDefaultPublishHandler(onMessage)
	if m.Username != "" {
		pw, err := m.Password.Read()
		if err != nil {
			return nil, nil, err
		}
		opts.SetUsername(m.Username).SetPassword(pw)
	}
	var tlsCfg *tls.Config
	if m.tls() {
		var err error
		if tlsCfg, err = m.tlsConfig(); err != nil {
			return nil, nil, err
		}
	}
	// the connection is dialed here so that what TLS says (a refused
	// client certificate arrives after the handshake in TLS 1.3) is kept
	// for the error, which Paho reports as a bare network error
	var conn *recConn
	opts.SetCustomOpenConnectionFn(func(u *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
		d := net.Dialer{Timeout: 10 * time.Second}
		nc, err := d.DialContext(ctx, "tcp", u.Host)
		if err != nil {
			return nil, err
		}
		if tlsCfg != nil {
			tc := tls.Client(nc, tlsCfg)
			hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := tc.HandshakeContext(hctx); err != nil {
				nc.Close()
				return nil, &handshakeError{err}
			}
			nc = tc
		}
		conn = &recConn{Conn: nc}
		return conn, nil
	})
	lost := make(chan error, 1)
	opts.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		select {
		case lost <- err:
		default:
		}
	})
	c := mqtt.NewClient(opts)
	if err := wait(ctx, c.Connect(), 15*time.Second); err != nil {
		c.Disconnect(0)
		if conn != nil && conn.err.Load() != nil {
			err = fmt.Errorf("%w: %w", err, *conn.err.Load())
			var op *net.OpError
			alert := errors.As(err, &op) && op.Op == "remote error"
			if tlsCfg != nil && !alert && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF)) {
				// TLS 1.3 judges the client's certificate after the
				// handshake: a broker that refuses it may just close
				return nil, nil, fmt.Errorf("%w: the broker closed the connection after the TLS handshake (%v): it may not accept this client's certificate (source.cert_file and key_file)", ErrRefused, err)
			}
		}
		return nil, nil, m.classify(err)
	}
	tok := c.SubscribeMultiple(filters, onMessage)
	if err := wait(ctx, tok, 10*time.Second); err != nil {
		c.Disconnect(0)
		return nil, nil, fmt.Errorf("subscribe: %w", err)
	}
	for topic, qos := range tok.(*mqtt.SubscribeToken).Result() {
		if qos == 0x80 {
			c.Disconnect(0)
			return nil, nil, fmt.Errorf("%w: the broker refused the subscription to %s: allow it to user %q in the broker's ACL, or change source.topics", ErrRefused, topic, m.Username)
		}
	}
	return c, lost, nil
}

// handshakeError is a TLS handshake that failed without an alert or a
// certificate error: the other end is most likely not TLS.
type handshakeError struct{ err error }

func (e *handshakeError) Error() string { return "tls handshake: " + e.err.Error() }
func (e *handshakeError) Unwrap() error { return e.err }

// recConn keeps the first error of a connection's reads and writes.
type recConn struct {
	net.Conn
	err atomic.Pointer[error]
}

func (c *recConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil {
		c.err.CompareAndSwap(nil, &err)
	}
	return n, err
}

func (c *recConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if err != nil {
		c.err.CompareAndSwap(nil, &err)
	}
	return n, err
}

func wait(ctx context.Context, tok mqtt.Token, limit time.Duration) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-time.After(limit):
		return fmt.Errorf("no answer from the broker within %s", limit)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m *MQTT) tlsConfig() (*tls.Config, error) {
	u, _ := url.Parse(m.Broker)
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: u.Hostname()}
	if m.CAFile != "" {
		raw, err := os.ReadFile(m.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: ca_file: %v", ErrConfig, err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(raw) {
			return nil, fmt.Errorf("%w: ca_file %s holds no PEM certificate", ErrConfig, m.CAFile)
		}
	}
	if m.CertFile != "" {
		kp, err := tls.LoadX509KeyPair(m.CertFile, m.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: cert_file and key_file: %v", ErrConfig, err)
		}
		cfg.Certificates = []tls.Certificate{kp}
	}
	return cfg, nil
}

// classify names what a failed connection means, and the setting to change.
func (m *MQTT) classify(err error) error {
	var unknownCA x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var rec tls.RecordHeaderError
	var op *net.OpError
	var hs *handshakeError
	switch {
	case errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword):
		if m.Username == "" {
			return fmt.Errorf("%w: the broker wants a user name and password: set source.username and password (or password_file, password_env)", ErrAuth)
		}
		return fmt.Errorf("%w: the broker refused user %q and its password: check source.username and password (or password_file, password_env)", ErrAuth, m.Username)
	case errors.Is(err, packets.ErrorRefusedNotAuthorised):
		// Mosquitto answers a wrong password with "not authorized" too
		if m.Username == "" {
			return fmt.Errorf("%w: the broker does not admit anonymous clients: set source.username and password (or password_file, password_env)", ErrAuth)
		}
		return fmt.Errorf("%w: the broker refused user %q (not authorized): check source.username and password (or password_file, password_env), and the broker's user list", ErrAuth, m.Username)
	case errors.Is(err, packets.ErrorRefusedIDRejected):
		return fmt.Errorf("%w: the broker rejected client_id %q", ErrRefused, m.ClientID)
	case errors.As(err, &unknownCA):
		return fmt.Errorf("%w: the broker's certificate %q is not signed by a CA in source.ca_file (%s)", ErrUntrusted, unknownCA.Cert.Subject, orSystem(m.CAFile))
	case errors.As(err, &host):
		return fmt.Errorf("%w: the broker's certificate does not name %s (it names %s): write the broker's name as its certificate does in source.broker", ErrUntrusted, host.Host, strings.Join(host.Certificate.DNSNames, ", "))
	case errors.As(err, &invalid):
		return fmt.Errorf("%w: the broker's certificate is invalid (%v)", ErrUntrusted, invalid)
	case errors.As(err, &op) && op.Op == "remote error":
		return fmt.Errorf("%w: the broker refused the TLS handshake (%v): it may require a client certificate it trusts (source.cert_file and key_file)", ErrRefused, op.Err)
	case errors.As(err, &rec), errors.As(err, &hs):
		return fmt.Errorf("%w: the broker does not speak TLS on this port (%v): write its TLS port in source.broker, or tcp:// for an unencrypted broker", ErrRefused, err)
	}
	return err
}

func orSystem(caFile string) string {
	if caFile == "" {
		return "not set: the system's roots"
	}
	return caFile
}
