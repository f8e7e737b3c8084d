package source

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/url"
	"strconv"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"
)

// OPCUA subscribes to the values of OPC UA nodes (gopcua client). Each
// data change becomes a message keyed by the node ID. With security
// SignAndEncrypt the channel uses Basic256Sha256 and a client certificate
// (an ephemeral self-signed one, made once per source and kept across
// reconnects, unless CertFile and KeyFile are given).
// When the server goes away the source reconnects with backoff and
// subscribes again; OPC UA reports the current value on subscribing, so
// the source resumes from the server's present state.
type OPCUA struct {
	Name     string
	Endpoint string        // opc.tcp://host:port/path
	Nodes    []string      // node IDs, e.g. ns=2;s=WorkpieceCounter
	Security string        // None (default) or SignAndEncrypt
	Interval time.Duration // publishing and sampling interval (default 100ms)
	CertFile string        // PEM client certificate (SignAndEncrypt)
	KeyFile  string        // PEM RSA key of CertFile
	Log      *slog.Logger

	cert []byte // the ephemeral certificate and its key, once made
	key  *rsa.PrivateKey
}

// Run implements Source.
func (o *OPCUA) Run(ctx context.Context, out chan<- Message) error {
	if o.Endpoint == "" || len(o.Nodes) == 0 {
		return errors.New("opcua source: endpoint and nodes are required")
	}
	ids := make([]*ua.NodeID, len(o.Nodes))
	for i, n := range o.Nodes {
		id, err := ua.ParseNodeID(n)
		if err != nil {
			return fmt.Errorf("opcua source: node %q: %w", n, err)
		}
		ids[i] = id
	}
	switch o.Security {
	case "", "None", "SignAndEncrypt":
	default:
		return fmt.Errorf("opcua source: security %q: want None or SignAndEncrypt", o.Security)
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return errors.New("opcua source: cert_file and key_file go together")
	}
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	backoff := time.Second
	for ctx.Err() == nil {
		started := time.Now()
		err := o.session(ctx, ids, out, log)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(started) > 10*time.Second {
			backoff = time.Second
		}
		log.Warn("opcua source lost its server, reconnecting", "source", o.Name, "endpoint", o.Endpoint, "err", err, "retry_in", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil
		}
		backoff = min(2*backoff, 5*time.Second)
	}
	return nil
}

func (o *OPCUA) options(ctx context.Context) ([]opcua.Option, error) {
	opts := []opcua.Option{opcua.AutoReconnect(false), opcua.RequestTimeout(5 * time.Second), opcua.DialTimeout(5 * time.Second)}
	if o.Security == "" || o.Security == "None" {
		return append(opts, opcua.SecurityMode(ua.MessageSecurityModeNone), opcua.SecurityPolicy("None"), opcua.AuthAnonymous()), nil
	}
	eps, err := opcua.GetEndpoints(ctx, o.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("endpoints: %w", err)
	}
	ep, err := opcua.SelectEndpoint(eps, ua.SecurityPolicyURIBasic256Sha256, ua.MessageSecurityModeSignAndEncrypt)
	if err != nil {
		return nil, fmt.Errorf("the server offers no Basic256Sha256 SignAndEncrypt endpoint: %w", err)
	}
	ep.EndpointURL = o.Endpoint
	if o.CertFile != "" {
		opts = append(opts, opcua.CertificateFile(o.CertFile), opcua.PrivateKeyFile(o.KeyFile))
	} else {
		if o.key == nil {
			if o.cert, o.key, err = selfSigned(); err != nil {
				return nil, err
			}
		}
		opts = append(opts, opcua.Certificate(o.cert), opcua.PrivateKey(o.key))
	}
	return append(opts, opcua.ApplicationURI(appURI), opcua.SecurityPolicy(ua.SecurityPolicyURIBasic256Sha256),
		opcua.SecurityMode(ua.MessageSecurityModeSignAndEncrypt), opcua.AuthAnonymous(),
		opcua.SecurityFromEndpoint(ep, ua.UserTokenTypeAnonymous)), nil
}

// session connects, subscribes and forwards data changes until the
// connection fails or ctx ends.
func (o *OPCUA) session(ctx context.Context, ids []*ua.NodeID, out chan<- Message, log *slog.Logger) error {
	opts, err := o.options(ctx)
	if err != nil {
		return err
	}
	c, err := opcua.NewClient(o.Endpoint, opts...)
	if err != nil {
		return err
	}
	if err := c.Connect(ctx); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c.Close(cctx)
	}()
	interval := o.Interval
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	notes := make(chan *opcua.PublishNotificationData, 64)
	sub, err := c.Subscribe(ctx, &opcua.SubscriptionParameters{Interval: interval}, notes)
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		sub.Cancel(cctx)
	}()
	reqs := make([]*ua.MonitoredItemCreateRequest, len(ids))
	for i, id := range ids {
		reqs[i] = opcua.NewMonitoredItemCreateRequestWithDefaults(id, ua.AttributeIDValue, uint32(i))
		reqs[i].RequestedParameters.SamplingInterval = float64(interval / time.Millisecond)
		reqs[i].RequestedParameters.QueueSize = 1000
	}
	res, err := sub.Monitor(ctx, ua.TimestampsToReturnBoth, reqs...)
	if err != nil {
		return fmt.Errorf("monitor: %w", err)
	}
	for i, r := range res.Results {
		if r.StatusCode != ua.StatusOK {
			return fmt.Errorf("monitor %s: %v", o.Nodes[i], r.StatusCode)
		}
	}
	log.Info("opcua source subscribed", "source", o.Name, "endpoint", o.Endpoint, "nodes", len(ids), "security", o.security())
	alive := time.NewTicker(time.Second)
	defer alive.Stop()
	for {
		select {
		case n := <-notes:
			if n.Error != nil {
				return n.Error
			}
			dc, ok := n.Value.(*ua.DataChangeNotification)
			if !ok {
				continue
			}
			for _, item := range dc.MonitoredItems {
				h := int(item.ClientHandle)
				if h >= len(o.Nodes) || item.Value == nil || item.Value.Value == nil {
					continue
				}
				t := item.Value.SourceTimestamp
				if t.IsZero() {
					t = time.Now()
				}
				select {
				case out <- Message{Source: o.Name, Key: o.Nodes[h], Value: valueBytes(item.Value.Value.Value()), Time: t}:
				case <-ctx.Done():
					return nil
				}
			}
		case <-alive.C:
			if c.State() != opcua.Connected {
				return fmt.Errorf("connection %s", c.State())
			}
		case <-ctx.Done():
			return nil
		}
	}
}

func (o *OPCUA) security() string {
	if o.Security == "" {
		return "None"
	}
	return o.Security
}

// valueBytes renders a value as text: numbers in decimal, strings and
// byte strings as they are.
func valueBytes(v any) []byte {
	switch x := v.(type) {
	case []byte:
		return x
	case string:
		return []byte(x)
	case float32:
		return strconv.AppendFloat(nil, float64(x), 'g', -1, 32)
	case float64:
		return strconv.AppendFloat(nil, x, 'g', -1, 64)
	case bool:
		return strconv.AppendBool(nil, x)
	case time.Time:
		return []byte(x.UTC().Format(time.RFC3339Nano))
	}
	return fmt.Appendf(nil, "%v", v)
}

const appURI = "urn:sealnet:dcmb"

// selfSigned makes an ephemeral client certificate for SignAndEncrypt.
func selfSigned() ([]byte, *rsa.PrivateKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, nil, err
	}
	u, _ := url.Parse(appURI)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "sealnet DCMB", Organization: []string{"sealnet"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment |
			x509.KeyUsageContentCommitment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		URIs:                  []*url.URL{u},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	return der, key, nil
}
