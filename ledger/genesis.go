package ledger

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/sealnet/sealnet/contract/registry"
	"github.com/sealnet/sealnet/envelope"
)

// DefaultTau is the default window within which a transaction's timestamp
// must lie around the block time, and within which nonces are remembered.
const DefaultTau = 60 * time.Second

// AppState is the application part of a channel's genesis (CometBFT's
// app_state). Every field is consensus-relevant: all nodes must agree on it.
type AppState struct {
	Channel    string           `json:"channel"`
	TauSeconds int              `json:"tau_seconds"`
	MaxTxBytes int              `json:"max_tx_bytes"`
	Registry   registry.Genesis `json:"registry"`
}

// Tau returns the timestamp and replay window.
func (a AppState) Tau() time.Duration { return time.Duration(a.TauSeconds) * time.Second }

// Validate checks the parameters.
func (a *AppState) Validate() error {
	if err := ValidateChannelName(a.Channel); err != nil {
		return err
	}
	if a.TauSeconds <= 0 || a.TauSeconds > 3600 {
		return fmt.Errorf("tau_seconds %d: want 1-3600", a.TauSeconds)
	}
	if a.MaxTxBytes < 1024 || a.MaxTxBytes > 4<<20 {
		return fmt.Errorf("max_tx_bytes %d: want 1024-4194304", a.MaxTxBytes)
	}
	if len(a.Registry.Orgs) == 0 {
		return fmt.Errorf("genesis names no member org")
	}
	return nil
}

// DefaultAppState returns parameters with defaults for a channel.
func DefaultAppState(channel string) AppState {
	return AppState{Channel: channel, TauSeconds: int(DefaultTau / time.Second), MaxTxBytes: envelope.DefaultMaxBytes}
}

// ParseAppState decodes and validates app_state JSON.
func ParseAppState(raw []byte) (AppState, error) {
	var a AppState
	if err := json.Unmarshal(raw, &a); err != nil {
		return a, fmt.Errorf("app_state: %w", err)
	}
	return a, a.Validate()
}

// ValidateChannelName accepts 1-48 characters of [a-z0-9-], starting with a
// letter (channel names are also CometBFT chain IDs and directory names).
func ValidateChannelName(s string) error {
	if len(s) == 0 || len(s) > 48 || s[0] < 'a' || s[0] > 'z' {
		return fmt.Errorf("channel name %q: want 1-48 characters of a-z, 0-9 and -, starting with a letter", s)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return fmt.Errorf("channel name %q: want 1-48 characters of a-z, 0-9 and -, starting with a letter", s)
		}
	}
	return nil
}
