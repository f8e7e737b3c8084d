// Package manifest describes a module that certifiers rebuild, validate
// and vote on (paper 000 section 3.3): its descriptor (name, version,
// source hash, build recipe, module hash, the host functions it may import,
// the outputs it may write), the proposal that puts it before a channel's
// certifiers for one purpose, and a certifier's vote on it, each with one
// canonical encoding. It also has the hashes the votes carry: of a source
// tree, of a module, of a validation log, and the commitment to a
// certifier's private test set.
//
// The package is pure: it reads only what it is handed. The certify
// contract checks proposals and votes with it on chain, and the module
// tooling (propose, build, verify, vote) builds them with it off chain, so
// both agree on every byte and every rule.
package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sealnet/sealnet/canon"
)

// Bounds of a descriptor.
const (
	MaxName    = 64  // bytes of a module, purpose or output name
	MaxText    = 256 // bytes of a recipe entry
	MaxImports = 64
	MaxOutputs = 16
	MaxRecipe  = 32 // entries of the recipe's env or flags
	MaxChannel = 48
	MaxNote    = 140
)

// Hash is a SHA-256 value: of a module, a source tree, a proposal, a
// validation log, or a test-set commitment.
type Hash [32]byte

// String is the hash in lowercase hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText encodes the hash as lowercase hex.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText accepts 64 hex digits.
func (h *Hash) UnmarshalText(b []byte) error {
	p, err := ParseHash(string(b))
	if err != nil {
		return err
	}
	*h = p
	return nil
}

// ParseHash parses 64 hex digits in either case.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*len(h) {
		return h, fmt.Errorf("hash %q: want 64 hex digits", s)
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("hash %q: want 64 hex digits", s)
	}
	return h, nil
}

// HashOf returns b as a Hash, if it is 32 bytes.
func HashOf(b []byte) (Hash, bool) {
	var h Hash
	if len(b) != len(h) {
		return h, false
	}
	copy(h[:], b)
	return h, true
}

// Errors. Each error a check returns wraps one of them.
var (
	// ErrInvalid: a descriptor, proposal or vote breaks a rule of its
	// format (a name, a hash length, a list out of order).
	ErrInvalid = errors.New("invalid")
	// ErrRebuiltDiffers: a vote says the build reproduced the module, but
	// the rebuilt hash is another.
	ErrRebuiltDiffers = errors.New("the rebuilt hash differs from the proposed module")
	// ErrRebuiltSame: a vote says the build differs, but the rebuilt hash
	// is the proposed module's.
	ErrRebuiltSame = errors.New("the rebuilt hash is the proposed module's")
	// ErrImport: a module imports a host function its descriptor does not
	// allow.
	ErrImport = errors.New("import not allowed")
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Recipe is how a module is built from its source tree, so that each
// certifier can build it again and compare hashes. Env and Flags must set
// everything that changes the output: a certifier's own environment is not
// part of the recipe.
type Recipe struct {
	Toolchain string   `cbor:"toolchain" json:"toolchain"`             // "go1.26.8"
	Package   string   `cbor:"package" json:"package"`                 // the main package, relative to the source root
	Env       []string `cbor:"env,omitempty" json:"env,omitempty"`     // KEY=value, in this order
	Flags     []string `cbor:"flags,omitempty" json:"flags,omitempty"` // build flags, in this order
}

// Descriptor is a module as its author releases it.
type Descriptor struct {
	Name    string `cbor:"name" json:"name"`
	Version uint64 `cbor:"version" json:"version"` // from 1; only goes up
	Source  []byte `cbor:"source" json:"source"`   // HashSource of the source tree
	Recipe  Recipe `cbor:"recipe" json:"recipe"`
	Module  []byte `cbor:"module" json:"module"` // SHA-256 of the module's bytes
	// Imports are the host functions the module may import, as
	// "module.function" (wasi_snapshot_preview1.fd_write), ascending.
	Imports []string `cbor:"imports,omitempty" json:"imports,omitempty"`
	// Outputs are the named outputs the module may write, ascending.
	Outputs []string `cbor:"outputs,omitempty" json:"outputs,omitempty"`
}

// Proposal puts a module before a channel's certifiers for one purpose.
// Its bytes are the arguments of certify.propose; its ID is what votes
// name.
type Proposal struct {
	Descriptor
	Channel string `cbor:"channel" json:"channel"`
	Purpose string `cbor:"purpose" json:"purpose"`
}

// CheckName accepts 1-64 bytes of a-z, 0-9, '.', '_' and '-', starting
// with a letter or digit: module, purpose and output names.
func CheckName(what, s string) error {
	if s == "" || len(s) > MaxName || !alnum(s[0]) {
		return invalid("%s %q: want 1-%d characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit", what, s, MaxName)
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '.' && c != '_' && c != '-' {
			return invalid("%s %q: want 1-%d characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit", what, s, MaxName)
		}
	}
	return nil
}

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// printable accepts 1-MaxText bytes of printable ASCII.
func printable(what, s string) error {
	if s == "" || len(s) > MaxText {
		return invalid("%s: want 1-%d bytes", what, MaxText)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return invalid("%s %q: want printable ASCII", what, s)
		}
	}
	return nil
}

// ascending checks that list is in strictly ascending order.
func ascending(what string, list []string) error {
	for i := 1; i < len(list); i++ {
		if list[i-1] >= list[i] {
			return invalid("%s must be listed in ascending order without repeats (%q before %q)", what, list[i-1], list[i])
		}
	}
	return nil
}

// Validate checks the descriptor's format.
func (d *Descriptor) Validate() error {
	if err := CheckName("module name", d.Name); err != nil {
		return err
	}
	if d.Version == 0 {
		return invalid("version 0: versions start at 1")
	}
	if len(d.Source) != 32 {
		return invalid("source hash is %d bytes, want 32", len(d.Source))
	}
	if len(d.Module) != 32 {
		return invalid("module hash is %d bytes, want 32", len(d.Module))
	}
	if err := d.Recipe.validate(); err != nil {
		return err
	}
	if len(d.Imports) > MaxImports {
		return invalid("%d imports, at most %d", len(d.Imports), MaxImports)
	}
	for _, imp := range d.Imports {
		if err := checkImport(imp); err != nil {
			return err
		}
	}
	if err := ascending("imports", d.Imports); err != nil {
		return err
	}
	if len(d.Outputs) > MaxOutputs {
		return invalid("%d outputs, at most %d", len(d.Outputs), MaxOutputs)
	}
	for _, o := range d.Outputs {
		if err := CheckName("output", o); err != nil {
			return err
		}
	}
	return ascending("outputs", d.Outputs)
}

func (r *Recipe) validate() error {
	if err := printable("recipe toolchain", r.Toolchain); err != nil {
		return err
	}
	if err := printable("recipe package", r.Package); err != nil {
		return err
	}
	if len(r.Env) > MaxRecipe || len(r.Flags) > MaxRecipe {
		return invalid("recipe has more than %d env entries or flags", MaxRecipe)
	}
	for _, e := range r.Env {
		if err := printable("recipe env entry", e); err != nil {
			return err
		}
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return invalid("recipe env entry %q: want KEY=value", e)
		}
	}
	for _, f := range r.Flags {
		if err := printable("recipe flag", f); err != nil {
			return err
		}
	}
	return nil
}

// checkImport accepts "module.function", each part 1 or more of
// A-Z, a-z, 0-9, '_' and '-'.
func checkImport(s string) error {
	mod, fn, ok := strings.Cut(s, ".")
	if !ok || !importPart(mod) || !importPart(fn) || len(s) > MaxText {
		return invalid("import %q: want module.function", s)
	}
	return nil
}

func importPart(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(alnum(c) || c >= 'A' && c <= 'Z' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// AllowsImports checks that every import a module makes ("module.function")
// is one its descriptor allows, and names the first that is not.
func (d *Descriptor) AllowsImports(used []string) error {
	for _, u := range used {
		allowed := false
		for _, a := range d.Imports {
			allowed = allowed || a == u
		}
		if !allowed {
			return fmt.Errorf("%w: module %s@%d imports %s", ErrImport, d.Name, d.Version, u)
		}
	}
	return nil
}

// Validate checks the proposal's format (not that its channel is the one
// it is sent to: the contract does).
func (p *Proposal) Validate() error {
	if err := p.Descriptor.Validate(); err != nil {
		return err
	}
	if p.Channel == "" || len(p.Channel) > MaxChannel {
		return invalid("channel: want 1-%d bytes", MaxChannel)
	}
	return CheckName("purpose", p.Purpose)
}

// Domain separators of the hashes defined here.
const (
	proposalDomain = "sealnet/module/proposal/v1\x00"
	sourceDomain   = "sealnet/module/source/v1\x00"
	testDomain     = "sealnet/module/tests/v1\x00"
	testLeafDomain = "sealnet/module/test/v1\x00"
	testSaltDomain = "sealnet/module/test-salt/v1\x00"
)

// Encode returns the proposal's canonical encoding: the arguments of
// certify.propose.
func (p *Proposal) Encode() ([]byte, error) { return canon.Marshal(p) }

// ID is SHA-256("sealnet/module/proposal/v1\0" || canonical encoding): what
// votes name, so that a vote counts only for the exact proposal its
// certifier rebuilt.
func (p *Proposal) ID() Hash {
	h := sha256.New()
	h.Write([]byte(proposalDomain))
	h.Write(canon.MustMarshal(p))
	var out Hash
	h.Sum(out[:0])
	return out
}

// HashModule is the SHA-256 of a module's bytes, the hash its descriptor
// names and the sandbox caches compiled code by.
func HashModule(r io.Reader) (Hash, error) { return plain(r) }

// HashLog is the SHA-256 of a validation log's bytes. The certifier keeps
// the log and can show it to an auditor, who checks it against the vote
// with any SHA-256 tool.
func HashLog(r io.Reader) (Hash, error) { return plain(r) }

func plain(r io.Reader) (Hash, error) {
	h := sha256.New()
	var out Hash
	if _, err := io.Copy(h, r); err != nil {
		return out, err
	}
	h.Sum(out[:0])
	return out, nil
}
