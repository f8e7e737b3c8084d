package source

// This file holds the OPC UA source: endpoint selection, security policies
// and modes, logins, subscriptions and reconnects (gopcua).

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"
)

// OPCUA subscribes to the values of OPC UA nodes (gopcua client). Each
// data change becomes a message keyed by the node ID.
//
// Security is SignAndEncrypt unless set otherwise; None is used only when
// configured. The channel's policy is Basic256Sha256 (default),
// Aes128_Sha256_RsaOaep or Aes256_Sha256_RsaPss; the deprecated
// Basic128Rsa15 and Basic256 are refused. The server's certificate, as
// its endpoint describes it, is checked against the trust list in PKI
// before anything else is sent, and the channel is opened to that
// certificate's key: only the holder of the trusted certificate's private
// key can read the nonce the channel's keys derive from. The client's own
// certificate is CertFile and KeyFile, else one made once and kept in
// PKI/own.
//
// The user logs in anonymously, with Username and Password, or with the
// X.509 certificate UserCertFile and its key UserKeyFile. Credentials
// are refused with security None: they would go to a server nobody
// authenticated.
//
// When the server goes away the source reconnects with backoff and
// subscribes again; OPC UA reports the current value on subscribing, so
// the source resumes from the server's present state. A refusal (of the
// login, of the server's certificate, of a policy) is logged once and is
// not retried in a loop; see retry.
type OPCUA struct {
	Name     string
	Endpoint string        // opc.tcp://host:port/path
	Nodes    []string      // node IDs, e.g. ns=2;s=WorkpieceCounter
	Security string        // SignAndEncrypt (default), Sign or None
	Policy   string        // Basic256Sha256 (default), Aes128_Sha256_RsaOaep or Aes256_Sha256_RsaPss
	Interval time.Duration // publishing and sampling interval (default 100ms)
	PKI      string        // the trust list's folder (see TrustList); required unless Security is None
	CertFile string        // PEM or DER client application certificate (default: PKI/own)
	KeyFile  string        // its RSA key
	Username string        // user-name login
	Password Secret        // its password
	UserCert string        // PEM or DER X.509 user certificate login
	UserKey  string        // its RSA key
	Log      *slog.Logger
}

// Policies accepted for Security Sign and SignAndEncrypt.
var opcuaPolicies = map[string]string{
	"Basic256Sha256":        ua.SecurityPolicyURIBasic256Sha256,
	"Aes128_Sha256_RsaOaep": ua.SecurityPolicyURIAes128Sha256RsaOaep,
	"Aes256_Sha256_RsaPss":  ua.SecurityPolicyURIAes256Sha256RsaPss,
}

func (o *OPCUA) mode() ua.MessageSecurityMode {
	switch o.Security {
	case "None":
		return ua.MessageSecurityModeNone
	case "Sign":
		return ua.MessageSecurityModeSign
	}
	return ua.MessageSecurityModeSignAndEncrypt
}

func (o *OPCUA) modeName() string {
	return strings.TrimPrefix(o.mode().String(), "MessageSecurityMode")
}

func (o *OPCUA) policy() string {
	if o.mode() == ua.MessageSecurityModeNone {
		return "None"
	}
	if o.Policy == "" {
		return "Basic256Sha256"
	}
	return o.Policy
}

// Validate checks the settings without contacting the server.
func (o *OPCUA) Validate() error {
	if o.Endpoint == "" || len(o.Nodes) == 0 {
		return fmt.Errorf("%w: endpoint and nodes are required", ErrConfig)
	}
	if u, err := url.Parse(o.Endpoint); err != nil || u.Scheme != "opc.tcp" || u.Host == "" {
		return fmt.Errorf("%w: endpoint %q: want opc.tcp://host:port[/path]", ErrConfig, o.Endpoint)
	}
	for _, n := range o.Nodes {
		if _, err := ua.ParseNodeID(n); err != nil {
			return fmt.Errorf("%w: node %q: %v", ErrConfig, n, err)
		}
	}
	switch o.Security {
	case "", "SignAndEncrypt", "Sign", "None":
	default:
		return fmt.Errorf("%w: security %q: want SignAndEncrypt, Sign or None", ErrConfig, o.Security)
	}
	switch p := o.Policy; {
	case p == "Basic128Rsa15" || p == "Basic256":
		return fmt.Errorf("%w: policy %s is deprecated (SHA-1, broken padding) and refused: set policy to Basic256Sha256, Aes128_Sha256_RsaOaep or Aes256_Sha256_RsaPss, and the server to offer it", ErrConfig, p)
	case o.mode() == ua.MessageSecurityModeNone:
		if p != "" && p != "None" {
			return fmt.Errorf("%w: policy %s needs security Sign or SignAndEncrypt", ErrConfig, p)
		}
	case p == "None":
		return fmt.Errorf("%w: policy None goes with security None only (set security = \"None\" to run unsecured)", ErrConfig)
	case p != "" && opcuaPolicies[p] == "":
		return fmt.Errorf("%w: policy %q: want Basic256Sha256, Aes128_Sha256_RsaOaep or Aes256_Sha256_RsaPss", ErrConfig, p)
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return fmt.Errorf("%w: cert_file and key_file go together", ErrConfig)
	}
	if (o.UserCert == "") != (o.UserKey == "") {
		return fmt.Errorf("%w: user_cert_file and user_key_file go together", ErrConfig)
	}
	if err := o.Password.check(); err != nil {
		return err
	}
	if o.Username != "" && !o.Password.IsSet() {
		return fmt.Errorf("%w: username %q needs password, password_file or password_env", ErrConfig, o.Username)
	}
	if o.Username == "" && o.Password.IsSet() {
		return fmt.Errorf("%w: a password needs a username", ErrConfig)
	}
	if o.Username != "" && o.UserCert != "" {
		return fmt.Errorf("%w: log in with username or with user_cert_file, not both", ErrConfig)
	}
	if o.mode() == ua.MessageSecurityModeNone {
		if o.Username != "" || o.UserCert != "" {
			return fmt.Errorf("%w: credentials over security None would go to a server nobody authenticated: set security to SignAndEncrypt", ErrConfig)
		}
	} else if o.PKI == "" {
		return fmt.Errorf("%w: security %s needs pki_dir, the trust list of server certificates", ErrConfig, o.Security)
	}
	return nil
}

// Run implements Source.
func (o *OPCUA) Run(ctx context.Context, out chan<- Message) error {
	if err := o.Validate(); err != nil {
		return fmt.Errorf("opcua source %s: %w", o.Name, err)
	}
	ids := make([]*ua.NodeID, len(o.Nodes))
	for i, n := range o.Nodes {
		ids[i], _ = ua.ParseNodeID(n)
	}
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	r := newRetry(log, "opcua source", "source", o.Name, "endpoint", o.Endpoint)
	for ctx.Err() == nil {
		started := time.Now()
		err := o.session(ctx, ids, out, log, r)
		if ctx.Err() != nil {
			return nil
		}
		if !r.pause(ctx, err, started, o.watch) {
			return nil
		}
	}
	return nil
}

// watch is what a refused source waits to change.
func (o *OPCUA) watch() uint64 {
	v := fileVersion(o.Password.File, o.UserCert, o.UserKey, o.CertFile, o.KeyFile)
	if o.PKI != "" {
		v ^= TrustList{Dir: o.PKI}.version()
	}
	return v
}

// Check connects once and reports what Run would refuse: an untrusted
// server certificate, a policy the server does not offer, a login it
// refuses. It subscribes to nothing.
func (o *OPCUA) Check(ctx context.Context) error {
	if err := o.Validate(); err != nil {
		return fmt.Errorf("opcua source %s: %w", o.Name, err)
	}
	c, err := o.connect(ctx)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return c.Close(cctx)
}

// connect opens a secure channel and an activated session.
func (o *OPCUA) connect(ctx context.Context) (*opcua.Client, error) {
	opts, err := o.options(ctx)
	if err != nil {
		return nil, err
	}
	c, err := opcua.NewClient(o.Endpoint, opts...)
	if err != nil {
		return nil, err
	}
	if err := c.Connect(ctx); err != nil {
		return nil, o.classify(err)
	}
	return c, nil
}

func (o *OPCUA) options(ctx context.Context) ([]opcua.Option, error) {
	opts := []opcua.Option{opcua.AutoReconnect(false), opcua.RequestTimeout(5 * time.Second), opcua.DialTimeout(5 * time.Second)}
	if o.mode() == ua.MessageSecurityModeNone {
		return append(opts, opcua.SecurityMode(ua.MessageSecurityModeNone), opcua.SecurityPolicy("None"), opcua.AuthAnonymous()), nil
	}
	eps, err := opcua.GetEndpoints(ctx, o.Endpoint, opcua.DialTimeout(5*time.Second), opcua.RequestTimeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("endpoints: %w", err)
	}
	policyURI := opcuaPolicies[o.policy()]
	var ep *ua.EndpointDescription
	var offered []string
	for _, e := range eps {
		name := strings.TrimPrefix(e.SecurityPolicyURI, ua.SecurityPolicyURIPrefix)
		offered = append(offered, name+"/"+strings.TrimPrefix(e.SecurityMode.String(), "MessageSecurityMode"))
		if e.SecurityPolicyURI == policyURI && e.SecurityMode == o.mode() && ep == nil {
			ep = e
		}
	}
	if ep == nil {
		return nil, fmt.Errorf("%w: the server offers no %s/%s endpoint (it offers %s): set source.policy and source.security to one it offers",
			ErrRefused, o.policy(), o.modeName(), strings.Join(offered, ", "))
	}
	u, _ := url.Parse(o.Endpoint)
	if err := (TrustList{Dir: o.PKI}).Check(ep.ServerCertificate, u.Hostname(), time.Now()); err != nil {
		return nil, err
	}
	ep.EndpointURL = o.Endpoint
	cert, key, err := o.own()
	if err != nil {
		return nil, err
	}
	opts = append(opts, opcua.Certificate(cert), opcua.PrivateKey(key), opcua.ApplicationURI(appURI))
	tokType, tokName := ua.UserTokenTypeAnonymous, "anonymous"
	switch {
	case o.Username != "":
		pw, err := o.Password.Read()
		if err != nil {
			return nil, err
		}
		tokType, tokName = ua.UserTokenTypeUserName, "user-name"
		opts = append(opts, opcua.AuthUsername(o.Username, pw))
	case o.UserCert != "":
		ucert, ukey, err := loadCertKey(o.UserCert, o.UserKey)
		if err != nil {
			return nil, fmt.Errorf("%w: user_cert_file: %v", ErrConfig, err)
		}
		tokType, tokName = ua.UserTokenTypeCertificate, "X.509 certificate"
		opts = append(opts, opcua.AuthCertificate(ucert), opcua.AuthPrivateKey(ukey))
	default:
		opts = append(opts, opcua.AuthAnonymous())
	}
	var tokens []string
	found := false
	for _, t := range ep.UserIdentityTokens {
		tokens = append(tokens, strings.TrimPrefix(t.TokenType.String(), "UserTokenType"))
		found = found || t.TokenType == tokType
	}
	if !found {
		return nil, fmt.Errorf("%w: the server's %s/%s endpoint admits no %s login (it admits %s): set source.username or source.user_cert_file accordingly",
			ErrAuth, o.policy(), o.modeName(), tokName, strings.Join(tokens, ", "))
	}
	return append(opts, opcua.SecurityFromEndpoint(ep, tokType)), nil
}

// own is the client's application certificate.
func (o *OPCUA) own() ([]byte, *rsa.PrivateKey, error) {
	if o.CertFile != "" {
		der, key, err := loadCertKey(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: cert_file: %v", ErrConfig, err)
		}
		return der, key, nil
	}
	return TrustList{Dir: o.PKI}.Own()
}

// classify names what a failed connection means.
func (o *OPCUA) classify(err error) error {
	var code ua.StatusCode
	if !errors.As(err, &code) {
		return err
	}
	switch code {
	case ua.StatusBadUserAccessDenied, ua.StatusBadIdentityTokenInvalid, ua.StatusBadIdentityTokenRejected, ua.StatusBadUserSignatureInvalid:
		switch {
		case o.Username != "":
			return fmt.Errorf("%w: the server refused user %q (%v): check source.username and its password (password, password_file or password_env)", ErrAuth, o.Username, code)
		case o.UserCert != "":
			return fmt.Errorf("%w: the server refused the user certificate %s (%v): check source.user_cert_file and that the server trusts it", ErrAuth, o.UserCert, code)
		}
		return fmt.Errorf("%w: the server refused an anonymous login (%v): set source.username or source.user_cert_file", ErrAuth, code)
	case ua.StatusBadSecurityChecksFailed, ua.StatusBadCertificateUntrusted, ua.StatusBadCertificateInvalid, ua.StatusBadCertificateUseNotAllowed,
		ua.StatusBadCertificateURIInvalid, ua.StatusBadCertificateTimeInvalid, ua.StatusBadCertificateRevoked:
		thumb := "?"
		if der, _, err := o.own(); err == nil {
			thumb = Thumbprint(der)
		}
		return fmt.Errorf("%w: the server refused the secure channel (%v): most likely it does not trust this client's certificate (SHA-1 thumbprint %s): trust it on the server (source.cert_file, or pki_dir/own)", ErrRefused, code, thumb)
	case ua.StatusBadSecurityPolicyRejected, ua.StatusBadSecurityModeRejected:
		return fmt.Errorf("%w: the server rejected %s/%s (%v): set source.policy and source.security to what it offers", ErrRefused, o.policy(), o.modeName(), code)
	}
	return err
}

// session connects, subscribes and forwards data changes until the
// connection fails or ctx ends.
func (o *OPCUA) session(ctx context.Context, ids []*ua.NodeID, out chan<- Message, log *slog.Logger, r *retry) error {
	c, err := o.connect(ctx)
	if err != nil {
		return err
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
	r.connected()
	log.Info("opcua source subscribed", "source", o.Name, "endpoint", o.Endpoint, "nodes", len(ids), "security", o.modeName(), "policy", o.policy())
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
