package manifest

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"github.com/sealnet/sealnet/canon"
)

// Build outcomes a vote reports, kept apart: a module that does not build
// from its source says something else than one that builds to other bytes.
const (
	BuildReproduced = "reproduced" // the rebuilt module is the proposed one, byte for byte
	BuildDiffers    = "differs"    // it builds, to another module
	BuildFails      = "fails"      // it does not build with the recipe
)

// Validation results a vote reports; empty when the certifier did not
// validate (only allowed when the build failed or differs).
const (
	ValidationPassed = "passed"
	ValidationFailed = "failed"
)

// Verdicts: how a vote counts. Only VerdictApprove counts towards
// certification; each other verdict names what went wrong first.
const (
	VerdictApprove  = "approve"
	VerdictNoBuild  = "does not build"
	VerdictDiffers  = "builds but differs"
	VerdictRejected = "validation failed"
)

// Vote is one certifier's finding on a proposal: the arguments of
// certify.vote.
type Vote struct {
	Channel  string `cbor:"channel" json:"channel"`
	Proposal []byte `cbor:"proposal" json:"proposal"` // the proposal's ID
	Name     string `cbor:"name" json:"name"`
	Version  uint64 `cbor:"version" json:"version"`
	Build    string `cbor:"build" json:"build"`
	// Rebuilt is the SHA-256 of the module the certifier built; absent
	// when the build failed.
	Rebuilt    []byte `cbor:"rebuilt,omitempty" json:"rebuilt,omitempty"`
	Validation string `cbor:"validation,omitempty" json:"validation,omitempty"`
	Log        []byte `cbor:"log,omitempty" json:"log,omitempty"`     // HashLog of the validation log
	Tests      []byte `cbor:"tests,omitempty" json:"tests,omitempty"` // CommitTests of the test set
	Note       string `cbor:"note,omitempty" json:"note,omitempty"`
}

// Encode returns the vote's canonical encoding: the arguments of
// certify.vote.
func (v *Vote) Encode() ([]byte, error) { return canon.Marshal(v) }

// Check checks that the vote is consistent in itself and with the module
// hash it was cast on: a rebuilt hash exactly when something was built,
// equal to the module's when it reproduced and different when it differs,
// a validation result on every reproduced build, and the log and test-set
// hashes exactly when something was validated.
func (v *Vote) Check(module []byte) error {
	if len(v.Proposal) != 32 {
		return invalid("proposal ID is %d bytes, want 32", len(v.Proposal))
	}
	switch v.Build {
	case BuildFails:
		if len(v.Rebuilt) != 0 {
			return invalid("a build that fails has no rebuilt hash")
		}
	case BuildReproduced, BuildDiffers:
		if len(v.Rebuilt) != 32 {
			return invalid("rebuilt hash is %d bytes, want 32", len(v.Rebuilt))
		}
		same := bytes.Equal(v.Rebuilt, module)
		if v.Build == BuildReproduced && !same {
			return fmt.Errorf("%w: rebuilt %x, proposed %x (a build to other bytes is voted build=%s)", ErrRebuiltDiffers, v.Rebuilt, module, BuildDiffers)
		}
		if v.Build == BuildDiffers && same {
			return fmt.Errorf("%w: %x (vote build=%s)", ErrRebuiltSame, module, BuildReproduced)
		}
	default:
		return invalid("build %q: want %s, %s or %s", v.Build, BuildReproduced, BuildDiffers, BuildFails)
	}
	switch v.Validation {
	case ValidationPassed, ValidationFailed:
		if len(v.Log) != 32 || len(v.Tests) != 32 {
			return invalid("a validation needs the 32-byte hashes of its log and of its test set")
		}
	case "":
		if v.Build == BuildReproduced {
			return invalid("a reproduced build needs a validation result (%s or %s)", ValidationPassed, ValidationFailed)
		}
		if len(v.Log) != 0 || len(v.Tests) != 0 {
			return invalid("log and test-set hashes come with a validation result")
		}
	default:
		return invalid("validation %q: want %s or %s", v.Validation, ValidationPassed, ValidationFailed)
	}
	if len(v.Note) > MaxNote || !utf8.ValidString(v.Note) {
		return invalid("note: at most %d bytes of UTF-8", MaxNote)
	}
	return nil
}

// Verdict is how a checked vote counts.
func (v *Vote) Verdict() string {
	switch {
	case v.Build == BuildFails:
		return VerdictNoBuild
	case v.Build == BuildDiffers:
		return VerdictDiffers
	case v.Validation != ValidationPassed:
		return VerdictRejected
	}
	return VerdictApprove
}
