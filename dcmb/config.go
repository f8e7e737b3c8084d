package dcmb

// This file holds the DCMB configuration (dcmb.toml): its sections,
// defaults and validation, and the stream secrets kept beside it.

import (
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/sealnet/sealnet/certify/manifest"
	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/dcmb/core"
	"github.com/sealnet/sealnet/dcmb/source"
	"github.com/sealnet/sealnet/dcmb/wire"
	"github.com/sealnet/sealnet/durable"
)

// Config is a DCMB configuration (dcmb.toml): the streams this node sends
// and the ones it receives.
type Config struct {
	Channel string          `toml:"channel"` // the channel whose audit and condition contracts are used
	Dir     string          `toml:"dir"`     // state: spools, archives, inboxes, secrets (default: <home>/dcmb)
	Streams []StreamConfig  `toml:"stream"`
	Receive []ReceiveConfig `toml:"receive"`
	Notify  NotifyConfig    `toml:"notify"`
}

// StreamConfig is one sending pipeline: a source, its evidence and its
// delivery to one receiving org.
type StreamConfig struct {
	Name         string        `toml:"name"`
	Receiver     string        `toml:"receiver"`      // receiving org
	ReceiverPeer string        `toml:"receiver_peer"` // optional: the receiver node's peer ID (default: its org's node among the enrolled peers)
	Interval     Duration      `toml:"interval"`      // one batch, one anchoring transaction per interval
	Mode         string        `toml:"mode"`          // sealed (default) or paper
	Deliver      string        `toml:"deliver"`       // values (default) or hashes
	MaxBatch     int           `toml:"max_batch"`     // messages; a fuller interval is split
	SpoolBytes   int64         `toml:"spool_bytes"`   // bytes of undelivered batches kept on disk
	SpoolTimeout Duration      `toml:"spool_timeout"` // an undelivered batch is given up after this long
	Archive      *bool         `toml:"archive"`       // keep delivered batches for audits (default true)
	Keep         Duration      `toml:"keep"`          // archived batches are deleted this long after they were sealed (default: kept)
	Source       SourceConfig  `toml:"source"`
	Rules        []Rule        `toml:"rule"`   // uncertified labels, for development
	Module       *ModuleConfig `toml:"module"` // a certified module processes the batches (no rules then)
}

// ModuleConfig makes a stream certified (paper 000, 3.3): every batch is
// processed by a WebAssembly module the channel's certifiers certified
// for Purpose, and its labels are what the stream submits. The node
// refuses to start the stream unless the module is certified, and checks
// again before each batch.
type ModuleConfig struct {
	File        string     `toml:"file"`         // the module (.wasm); relative paths from the working directory
	Purpose     string     `toml:"purpose"`      // what it is certified for
	Hash        string     `toml:"hash"`         // optional: the SHA-256 the file must have, hex
	MemoryBytes uint64     `toml:"memory_bytes"` // per batch (default 256 MiB)
	TimeLimit   Duration   `toml:"time_limit"`   // per batch (default 30s)
	Labels      []LabelMap `toml:"label"`        // which outputs are labels, for which condition
}

// LabelMap submits a module's outputs named Output as hashed labels to
// the condition contract: H(label, label_salt) to condition.
type LabelMap = core.LabelMap

func (m *ModuleConfig) validate() error {
	if m.File == "" {
		return errors.New("module: file (the .wasm) is required")
	}
	if err := manifest.CheckName("module purpose", m.Purpose); err != nil {
		return fmt.Errorf("module: %w", err)
	}
	if m.Hash != "" {
		if _, err := manifest.ParseHash(m.Hash); err != nil {
			return fmt.Errorf("module: %w", err)
		}
	}
	if m.MemoryBytes != 0 && (m.MemoryBytes < 1<<20 || m.MemoryBytes > 4<<30) {
		return fmt.Errorf("module: memory_bytes %d: want 1 MiB to 4 GiB", m.MemoryBytes)
	}
	if m.TimeLimit.Duration < 0 {
		return fmt.Errorf("module: time_limit %s: want a positive duration", m.TimeLimit)
	}
	for i, l := range m.Labels {
		if l.Output == "" || l.Condition == "" || l.LabelSalt == "" {
			return fmt.Errorf("module: label %d needs output, condition and label_salt", i+1)
		}
	}
	return nil
}

// SourceConfig selects and configures a source. Relative paths are read
// from the working directory. A password is given in one of three ways:
// password (in this file), password_file (its first line) or
// password_env (an environment variable).
type SourceConfig struct {
	Kind string `toml:"kind"` // opcua, mqtt, sparkplug, file, stdin or http
	// opcua
	Endpoint     string   `toml:"endpoint"`
	Nodes        []string `toml:"nodes"`
	Security     string   `toml:"security"`       // SignAndEncrypt (default), Sign or None
	Policy       string   `toml:"policy"`         // Basic256Sha256 (default), Aes128_Sha256_RsaOaep or Aes256_Sha256_RsaPss
	PKIDir       string   `toml:"pki_dir"`        // trust list: own, trusted, issuers, rejected (default <dir>/pki)
	UserCertFile string   `toml:"user_cert_file"` // X.509 user certificate to log in with, PEM or DER
	UserKeyFile  string   `toml:"user_key_file"`  // its RSA key
	Sampling     Duration `toml:"sampling"`       // sampling and publishing interval (default 100ms)
	// opcua, mqtt and sparkplug
	Username     string `toml:"username"`
	Password     string `toml:"password"`
	PasswordFile string `toml:"password_file"`
	PasswordEnv  string `toml:"password_env"`
	CertFile     string `toml:"cert_file"` // client certificate: OPC UA application certificate (default: pki_dir/own), MQTT TLS client certificate
	KeyFile      string `toml:"key_file"`
	// mqtt and sparkplug
	Broker   string   `toml:"broker"` // tcp://host:port, or ssl://host:port for TLS
	Topics   []string `toml:"topics"` // sparkplug: default spBv1.0/#
	QoS      int      `toml:"qos"`
	ClientID string   `toml:"client_id"`
	CAFile   string   `toml:"ca_file"` // PEM CA certificates for the broker's TLS certificate (default: the system's)
	// file (one value a line; follows appends), http (POST a body, one value)
	Path   string `toml:"path"`
	Listen string `toml:"listen"`
	Key    string `toml:"key"` // the key given to values of file, stdin and http sources
}

// protocolSource builds the opcua, mqtt or sparkplug source of stream
// name; dir is the DCMB's state directory, home of the default trust list.
// It returns nil for the other kinds.
func (c SourceConfig) protocolSource(name, dir string, log *slog.Logger) (source.Source, error) {
	pw := source.Secret{Value: c.Password, File: c.PasswordFile, Env: c.PasswordEnv}
	var src interface {
		source.Source
		Validate() error
	}
	switch c.Kind {
	case "opcua":
		pki := c.PKIDir
		if pki == "" {
			pki = filepath.Join(dir, "pki")
		}
		src = &source.OPCUA{Name: name, Endpoint: c.Endpoint, Nodes: c.Nodes, Security: c.Security, Policy: c.Policy, PKI: pki,
			CertFile: c.CertFile, KeyFile: c.KeyFile, Username: c.Username, Password: pw, UserCert: c.UserCertFile, UserKey: c.UserKeyFile,
			Interval: c.Sampling.Duration, Log: log}
	case "mqtt", "sparkplug":
		if c.QoS < 0 || c.QoS > 2 {
			return nil, fmt.Errorf("source.qos %d: want 0, 1 or 2", c.QoS)
		}
		id := c.ClientID
		if id == "" {
			id = "sealnet-" + name
		}
		m := source.MQTT{Name: name, Broker: c.Broker, ClientID: id, Topics: c.Topics, QoS: byte(c.QoS),
			Username: c.Username, Password: pw, CAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile, Log: log}
		if c.Kind == "mqtt" {
			src = &m
		} else {
			src = &source.Sparkplug{MQTT: m}
		}
	default:
		return nil, nil
	}
	if err := src.Validate(); err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	return src, nil
}

// Rule maps a quantitative value to a qualitative label (paper 000, 3.2):
// when Above < value < Below, the DCMB submits hash(label, salt) to the
// condition contract. It submits on entering the range, not for every
// message; leaving the range re-arms it.
type Rule = core.Rule

// ReceiveConfig accepts one stream from a sending org.
type ReceiveConfig struct {
	Stream  string   `toml:"stream"`
	From    string   `toml:"from"`    // sending org
	Output  string   `toml:"output"`  // optional JSON-lines file of delivered messages
	Webhook string   `toml:"webhook"` // optional URL POSTed when an action fires
	Keep    Duration `toml:"keep"`    // received batches are deleted this long after they arrived (default: kept)
	Actions []Action `toml:"action"`
}

// Action fires when a delivered message equals a candidate, tested as
// Algorithm 2 does: leaf == hash(candidate + salt), so it works on hashes
// alone.
type Action struct {
	Name   string `toml:"name"`
	Key    string `toml:"key"` // the message key the candidate is for
	Equals string `toml:"equals"`
}

// NotifyConfig forwards events addressed to this node's org.
type NotifyConfig struct {
	Webhook string `toml:"webhook"`
}

// Duration is a time.Duration written as "1s", "12h".
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	d.Duration = v
	return err
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Defaults.
const (
	DefaultInterval     = time.Second
	DefaultMaxBatch     = 200_000
	DefaultSpoolBytes   = 1 << 30
	DefaultSpoolTimeout = 24 * time.Hour
)

// LoadConfig reads and validates a configuration file.
func LoadConfig(path string) (*Config, error) {
	var c Config
	md, err := toml.DecodeFile(path, &c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("%s: unknown setting %s", path, und[0])
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

// Validate fills defaults and checks the configuration.
func (c *Config) Validate() error {
	if c.Channel == "" {
		c.Channel = "default"
	}
	if len(c.Streams) == 0 && len(c.Receive) == 0 {
		return errors.New("no [[stream]] to send and no [[receive]]")
	}
	seen := map[string]bool{}
	for i := range c.Streams {
		s := &c.Streams[i]
		if err := s.validate(); err != nil {
			return fmt.Errorf("stream %q: %w", s.Name, err)
		}
		if seen[s.Name] {
			return fmt.Errorf("stream %q configured twice", s.Name)
		}
		seen[s.Name] = true
	}
	for _, r := range c.Receive {
		if r.Stream == "" || r.From == "" {
			return errors.New("[[receive]] needs stream and from")
		}
		for _, a := range r.Actions {
			if a.Name == "" || a.Equals == "" {
				return fmt.Errorf("receive %q: an action needs name and equals", r.Stream)
			}
		}
	}
	return nil
}

func (s *StreamConfig) validate() error {
	if s.Name == "" || len(s.Name) > MaxName {
		return fmt.Errorf("name must be 1-%d bytes", MaxName)
	}
	if s.Receiver == "" {
		return errors.New("receiver (an org) is required")
	}
	if s.Interval.Duration == 0 {
		s.Interval.Duration = DefaultInterval
	}
	if s.Interval.Duration < 10*time.Millisecond {
		return fmt.Errorf("interval %s is below 10ms", s.Interval)
	}
	switch s.Mode {
	case "":
		s.Mode = audit.ModeSealed
	case audit.ModeSealed, audit.ModePaper:
	default:
		return fmt.Errorf("mode %q: want sealed or paper", s.Mode)
	}
	switch s.Deliver {
	case "":
		s.Deliver = DeliverValues
	case DeliverValues, DeliverHashes:
	default:
		return fmt.Errorf("deliver %q: want values or hashes", s.Deliver)
	}
	if s.Mode == audit.ModePaper && s.Deliver == DeliverHashes {
		return errors.New("paper mode commits to the whole interval: it needs deliver = values")
	}
	if s.MaxBatch == 0 {
		s.MaxBatch = DefaultMaxBatch
	}
	if s.MaxBatch < 1 || s.MaxBatch > wire.MaxBatchLen {
		return fmt.Errorf("max_batch %d: want 1-%d", s.MaxBatch, wire.MaxBatchLen)
	}
	if s.SpoolBytes == 0 {
		s.SpoolBytes = DefaultSpoolBytes
	}
	if s.SpoolBytes < 1<<16 {
		return fmt.Errorf("spool_bytes %d: want at least 64 KiB", s.SpoolBytes)
	}
	if s.SpoolTimeout.Duration == 0 {
		s.SpoolTimeout.Duration = DefaultSpoolTimeout
	}
	if s.Archive == nil {
		t := true
		s.Archive = &t
	}
	switch s.Source.Kind {
	case "opcua", "mqtt", "sparkplug":
		if _, err := s.Source.protocolSource(s.Name, "dcmb", nil); err != nil {
			return err
		}
	case "file", "stdin", "http":
	default:
		return fmt.Errorf("source.kind %q: want opcua, mqtt, sparkplug, file, stdin or http", s.Source.Kind)
	}
	if s.Module != nil {
		if len(s.Rules) > 0 {
			return errors.New("a stream with a module takes its labels from the module: [[stream.rule]] is the uncertified way, for development")
		}
		if err := s.Module.validate(); err != nil {
			return err
		}
	}
	for i, r := range s.Rules {
		if r.Label == "" || r.Condition == "" || r.LabelSalt == "" {
			return fmt.Errorf("rule %d needs label, condition and label_salt", i+1)
		}
		if r.Above == nil && r.Below == nil {
			return fmt.Errorf("rule %d needs above or below", i+1)
		}
	}
	return nil
}

// readSecret loads a stream secret, creating a random one if absent.
func readSecret(path string, create func() ([]byte, error)) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err == nil {
		b, err := hex.DecodeString(string(trimNL(raw)))
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("%s: not a 32-byte hex secret", path)
		}
		return b, nil
	}
	if !os.IsNotExist(err) || create == nil {
		return nil, err
	}
	b, err := create()
	if err != nil {
		return nil, err
	}
	return b, writeSecret(path, b)
}

// writeSecret stores a stream secret durably: every batch's salts derive
// from it, so it must not be lost in a crash after batches were sealed.
func writeSecret(path string, b []byte) error {
	return durable.WriteFile(path, []byte(hex.EncodeToString(b)+"\n"), 0o600)
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
