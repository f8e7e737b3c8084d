// Package node is a sealnet node's home and its channels: the home
// directory's layout and configuration, creating a consortium (init and
// testnet), and the running node's hosted channels (open, create, join).
// Package daemon assembles a whole node around it.
package node

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/sealnet/sealnet/custodian"
	"github.com/sealnet/sealnet/durable"
	"github.com/sealnet/sealnet/ledger"
	"github.com/sealnet/sealnet/p2p"
)

// ConfigFile is the node configuration's name inside the home.
const ConfigFile = "config.toml"

// Config is a node's configuration (config.toml in the home).
type Config struct {
	Org          string           `toml:"org"`           // this node's organization
	Identity     string           `toml:"identity"`      // keystore name the CLI signs with by default
	NodeIdentity string           `toml:"node_identity"` // keystore name of the node's own certificate
	API          APIConfig        `toml:"api"`
	P2P          p2p.Config       `toml:"p2p"`
	Share        custodian.Policy `toml:"share"`
	Log          LogConfig        `toml:"log"`
	Channels     []ChannelConfig  `toml:"channels"`
}

// APIConfig is the API section.
type APIConfig struct {
	// Listen is the API's host:port, served over TLS with the node's
	// certificate; callers authenticate with their member certificates.
	// 0.0.0.0:PORT lets the org's members reach it over the network.
	Listen string `toml:"listen"`
	// OpsListen serves /healthz and /metrics without authentication;
	// keep it on loopback (or a monitoring network). Empty: off.
	OpsListen string `toml:"ops_listen"`
	// OpsPprof also serves Go's profiler (/debug/pprof/) on OpsListen, to
	// see where a node's time goes under load. Off by default.
	OpsPprof bool `toml:"ops_pprof,omitempty"`
}

// LogConfig is the logging section.
type LogConfig struct {
	Level  string `toml:"level"`  // debug, info, warn or error
	Format string `toml:"format"` // text or json
}

// ChannelConfig is one hosted channel.
type ChannelConfig struct {
	Name            string `toml:"name"`
	P2PListen       string `toml:"p2p_listen"`
	PersistentPeers string `toml:"persistent_peers"`
	TimeoutCommitMS int    `toml:"timeout_commit_ms"` // milliseconds
	EmptyBlocksS    int    `toml:"empty_blocks_s"`    // seconds of idle before an empty block; 0 never
	MempoolSize     int    `toml:"mempool_size"`      // transactions
	// NoPEX keeps the node to its persistent peers: it neither learns nor
	// gossips peer addresses (a consortium whose nodes reach each other
	// only through fixed gateways or relays).
	NoPEX bool `toml:"no_pex"`
}

// DefaultConfig returns a one-org configuration with the default channel.
func DefaultConfig(org string) Config {
	return Config{
		Org: org, Identity: "admin", NodeIdentity: "node",
		API:      APIConfig{Listen: "127.0.0.1:7700", OpsListen: "127.0.0.1:7701"},
		P2P:      p2p.Config{Listen: []string{"/ip4/127.0.0.1/tcp/4001"}},
		Share:    custodian.Policy{Kind: custodian.PolicyChannel},
		Log:      LogConfig{Level: "info", Format: "text"},
		Channels: []ChannelConfig{DefaultChannelConfig("default", "tcp://127.0.0.1:26656")},
	}
}

// Ports are the TCP ports a node listens on; a zero field keeps the
// configuration's.
type Ports struct {
	API       int // api.listen (default 7700)
	Ops       int // api.ops_listen (default 7701)
	LibP2P    int // p2p.listen: storage exchange, key transfer, DCMB (default 4001)
	Consensus int // the channel's CometBFT p2p_listen (default 26656)
}

// BasePorts numbers the four ports from base: API, ops, libp2p and
// consensus are base to base+3, for several nodes on one machine.
func BasePorts(base int) Ports {
	return Ports{API: base, Ops: base + 1, LibP2P: base + 2, Consensus: base + 3}
}

// SetPorts moves the listeners of a configuration made by DefaultConfig
// to the ports of p, keeping their hosts.
func (c *Config) SetPorts(p Ports) error {
	seen := map[int]string{}
	for _, f := range []struct {
		name string
		port int
	}{{"api", p.API}, {"ops", p.Ops}, {"libp2p", p.LibP2P}, {"consensus", p.Consensus}} {
		if f.port == 0 {
			continue
		}
		if f.port < 1 || f.port > 65535 {
			return fmt.Errorf("%s port %d: want 1-65535", f.name, f.port)
		}
		if other, dup := seen[f.port]; dup {
			return fmt.Errorf("%s and %s ports are both %d", other, f.name, f.port)
		}
		seen[f.port] = f.name
	}
	setHostPort := func(addr *string, port int) {
		if port == 0 {
			return
		}
		host, _, err := net.SplitHostPort(*addr)
		if err != nil {
			host = "127.0.0.1"
		}
		*addr = net.JoinHostPort(host, strconv.Itoa(port))
	}
	setHostPort(&c.API.Listen, p.API)
	if c.API.OpsListen != "" {
		setHostPort(&c.API.OpsListen, p.Ops)
	}
	if p.LibP2P != 0 {
		for i, l := range c.P2P.Listen {
			c.P2P.Listen[i] = tcpPort.ReplaceAllString(l, "/tcp/"+strconv.Itoa(p.LibP2P))
		}
	}
	if p.Consensus != 0 {
		for i := range c.Channels {
			addr := strings.TrimPrefix(c.Channels[i].P2PListen, "tcp://")
			setHostPort(&addr, p.Consensus+i)
			c.Channels[i].P2PListen = "tcp://" + addr
		}
	}
	return c.Validate()
}

var tcpPort = regexp.MustCompile(`/tcp/[0-9]+`)

// DefaultChannelConfig returns the defaults for a channel.
func DefaultChannelConfig(name, p2p string) ChannelConfig {
	d := ledger.DefaultChainConfig("")
	return ChannelConfig{Name: name, P2PListen: p2p, TimeoutCommitMS: int(d.TimeoutCommit / time.Millisecond),
		EmptyBlocksS: int(d.EmptyBlocks / time.Second), MempoolSize: d.MempoolSize}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.Org == "" || c.Identity == "" || c.NodeIdentity == "" {
		return errors.New("org, identity and node_identity must be set")
	}
	if _, _, err := net.SplitHostPort(c.API.Listen); err != nil {
		return fmt.Errorf("api.listen %q: %w", c.API.Listen, err)
	}
	if c.API.OpsListen != "" {
		if _, _, err := net.SplitHostPort(c.API.OpsListen); err != nil {
			return fmt.Errorf("api.ops_listen %q: %w", c.API.OpsListen, err)
		}
	}
	if err := c.Share.Validate(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, ch := range c.Channels {
		if err := ledger.ValidateChannelName(ch.Name); err != nil {
			return err
		}
		if seen[ch.Name] {
			return fmt.Errorf("channel %s configured twice", ch.Name)
		}
		seen[ch.Name] = true
		if ch.MempoolSize < 100 || ch.TimeoutCommitMS < 0 || ch.EmptyBlocksS < 0 {
			return fmt.Errorf("channel %s: mempool_size must be >= 100 and durations >= 0", ch.Name)
		}
	}
	return nil
}

// Home is a node's home directory.
type Home string

// Config returns the path of config.toml.
func (h Home) Config() string { return filepath.Join(string(h), ConfigFile) }

// Keys is the member keystore (keys never leave it).
func (h Home) Keys() string { return filepath.Join(string(h), "keys") }

// Root is the org's root certificate: the node's API presents a node
// certificate issued by it, and members' clients accept no other.
func (h Home) Root() string { return filepath.Join(string(h), "root.pem") }

// CA is the org CA's directory (present on the admin's machine only).
func (h Home) CA() string { return filepath.Join(string(h), "ca") }

// P2PKey is the node's libp2p key (Ed25519), bound to its node
// certificate in the registry; a home made before it has none and its
// host runs on the node certificate's P-256 key. It is outside the
// keystore, whose files are named after member IDs.
func (h Home) P2PKey() string { return filepath.Join(string(h), "libp2p.key") }

// Channel is a channel's CometBFT home.
func (h Home) Channel(name string) string { return filepath.Join(string(h), "channels", name) }

// Exists reports whether the home has a configuration.
func (h Home) Exists() bool {
	_, err := os.Stat(h.Config())
	return err == nil
}

// LoadConfig reads and validates config.toml.
func (h Home) LoadConfig() (*Config, error) {
	var c Config
	md, err := toml.DecodeFile(h.Config(), &c)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", h.Config(), err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("%s: unknown setting %s", h.Config(), und[0])
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", h.Config(), err)
	}
	return &c, nil
}

// SaveConfig writes config.toml.
func (h Home) SaveConfig(c *Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if err := durable.MkdirAll(string(h), 0o700); err != nil {
		return err
	}
	return durable.Write(h.Config(), 0o600, func(w io.Writer) error { return toml.NewEncoder(w).Encode(c) })
}

// Chain returns the ledger configuration of channel ch in this home.
func (h Home) Chain(ch ChannelConfig, moniker string) ledger.ChainConfig {
	return ledger.ChainConfig{Home: h.Channel(ch.Name), Moniker: moniker, P2PListen: ch.P2PListen,
		PersistentPeers: ch.PersistentPeers, TimeoutCommit: time.Duration(ch.TimeoutCommitMS) * time.Millisecond,
		EmptyBlocks: time.Duration(ch.EmptyBlocksS) * time.Second, MempoolSize: ch.MempoolSize, NoPEX: ch.NoPEX}
}

// ClientFile is the client configuration of a member's home, one that
// holds the member's keystore but no node (a member's own machine).
const ClientFile = "client.toml"

// ClientConfig names the org node a member's CLI talks to, and as whom.
type ClientConfig struct {
	Node     string `toml:"node"`     // https://HOST:PORT of the org's node
	Identity string `toml:"identity"` // keystore identity the CLI presents and signs with
}

// LoadClientConfig reads client.toml; a home without one gives an empty
// configuration.
func (h Home) LoadClientConfig() (*ClientConfig, error) {
	var c ClientConfig
	p := filepath.Join(string(h), ClientFile)
	md, err := toml.DecodeFile(p, &c)
	if errors.Is(err, os.ErrNotExist) {
		return &c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("%s: unknown setting %s", p, und[0])
	}
	return &c, nil
}

// SaveClientConfig writes client.toml.
func (h Home) SaveClientConfig(c *ClientConfig) error {
	if err := durable.MkdirAll(string(h), 0o700); err != nil {
		return err
	}
	return durable.Write(filepath.Join(string(h), ClientFile), 0o600, func(w io.Writer) error { return toml.NewEncoder(w).Encode(c) })
}
