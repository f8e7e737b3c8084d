package module

// This file holds a certifier's validation of a module (paper 000, 3.3):
// its confidentiality test set, the run of every case, the leak check,
// and the validation log whose hash goes into the certifier's vote.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/sealnet/sealnet/certify/manifest"
	"github.com/sealnet/sealnet/dcmb/wire"
)

// A test set is a file of JSON lines, one case a line (blank lines and
// lines starting with # are skipped):
//
//	{"name": "paper's value", "in": [{"key": "press-7/count", "value": "5367"}],
//	 "want": [{"index": 0, "output": "maintenance", "text": "Maintenance imminent"}]}
//
// "in" is the batch, in order; "want", if present, is exactly the outputs
// the module must write, in order ([] for none); without it the case only
// checks that the module runs and leaks nothing. Each case's line, as
// written, is a leaf of the test-set commitment (manifest.CommitTests).

// Case is one test case.
type Case struct {
	Name string      `json:"name"`
	In   []CaseInput `json:"in"`
	Want *[]Output   `json:"want,omitempty"`
}

// CaseInput is one message of a case.
type CaseInput struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	Time  int64  `json:"time,omitempty"`
}

// ErrTestSet reports a test set that cannot be read.
var ErrTestSet = errors.New("test set")

// ReadTests reads a test set, and its cases as the commitment takes them.
func ReadTests(r io.Reader) ([]Case, []manifest.TestCase, error) {
	var cases []Case
	var leaves []manifest.TestCase
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		var c Case
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return nil, nil, fmt.Errorf("%w: line %d: %v", ErrTestSet, n, err)
		}
		if c.Name == "" {
			c.Name = fmt.Sprintf("line %d", n)
		}
		for i, in := range c.In {
			if len(in.Key) > wire.MaxKey || len(in.Value) > wire.MaxValue {
				return nil, nil, fmt.Errorf("%w: line %d: message %d is larger than a stream carries", ErrTestSet, n, i)
			}
		}
		cases = append(cases, c)
		leaves = append(leaves, manifest.TestCase{Name: c.Name, Data: bytes.Clone(line)})
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrTestSet, err)
	}
	if len(cases) == 0 {
		return nil, nil, fmt.Errorf("%w: no cases: an empty test set validates nothing", ErrTestSet)
	}
	return cases, leaves, nil
}

// Validation is the outcome of a module's validation.
type Validation struct {
	Passed  bool
	Failed  int           // cases that failed
	Log     []byte        // the validation log, kept by the certifier
	LogHash manifest.Hash // manifest.HashLog of Log: what the vote carries
	Tests   manifest.Hash // the test-set commitment: what the vote carries
}

// Validate runs every case of a test set through p and checks, per case:
// that the module runs within its limits and writes a well-formed
// response with declared outputs only; that its outputs are the ones
// the case wants, if it says; and that no output carries an input value of
// the case (its text, trimmed, or the number it reads as), except outputs
// named in rawAllowed, which the certifier judged may carry values. It
// writes a log of every step. The leak check catches values copied into
// an output, not values encoded or computed on: certifiers also read the
// source.
func Validate(ctx context.Context, p *Program, cases []Case, leaves []manifest.TestCase, secret manifest.TestSecret, rawAllowed []string) (*Validation, error) {
	commit, err := manifest.CommitTests(secret, leaves)
	if err != nil {
		return nil, err
	}
	for _, name := range rawAllowed {
		if !slices.Contains(p.Outputs, name) {
			return nil, fmt.Errorf("raw values allowed in output %q, which module %s does not declare", name, p)
		}
	}
	v := &Validation{Tests: commit}
	var log bytes.Buffer
	fmt.Fprintf(&log, "sealnet module validation 1\n")
	fmt.Fprintf(&log, "module %s@%d sha256 %s\n", p.Name, p.Version, p.Hash)
	fmt.Fprintf(&log, "imports %s\n", list(p.Imports))
	fmt.Fprintf(&log, "outputs %s; raw values allowed in %s\n", list(p.Outputs), list(rawAllowed))
	l := p.Limits()
	fmt.Fprintf(&log, "limits per batch: memory %d bytes, time %s, output %d bytes\n", l.MemoryBytes, l.WallTime, l.OutputBytes)
	fmt.Fprintf(&log, "test set: %d cases, commitment %s\n", len(cases), commit)
	for i, c := range cases {
		problems := runCase(ctx, p, c, rawAllowed)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if len(problems) == 0 {
			fmt.Fprintf(&log, "case %d %q: %d messages: ok\n", i, c.Name, len(c.In))
			continue
		}
		v.Failed++
		for _, pr := range problems {
			fmt.Fprintf(&log, "case %d %q: FAILED: %s\n", i, c.Name, pr)
		}
	}
	v.Passed = v.Failed == 0
	if v.Passed {
		fmt.Fprintf(&log, "result: %s, %d of %d cases\n", manifest.ValidationPassed, len(cases), len(cases))
	} else {
		fmt.Fprintf(&log, "result: %s, %d of %d cases failed\n", manifest.ValidationFailed, v.Failed, len(cases))
	}
	v.Log = log.Bytes()
	v.LogHash, _ = manifest.HashLog(bytes.NewReader(v.Log))
	return v, nil
}

// runCase runs one case and says what is wrong with the result.
func runCase(ctx context.Context, p *Program, c Case, rawAllowed []string) []string {
	msgs := make([]wire.Message, len(c.In))
	for i, in := range c.In {
		msgs[i] = wire.Message{Seq: uint64(i), Key: in.Key, Value: []byte(in.Value), Time: in.Time}
	}
	outs, _, err := p.Process(ctx, 0, msgs)
	if err != nil {
		return []string{"refused: " + strings.TrimPrefix(err.Error(), "module "+p.String()+": ")}
	}
	var problems []string
	for j, o := range outs {
		if slices.Contains(rawAllowed, o.Name) {
			continue
		}
		for i, in := range c.In {
			if v, ok := leaked(o.Text, in.Value); ok {
				problems = append(problems, fmt.Sprintf("output %d (%s, about message %d) carries the value %q of message %d", j, o.Name, o.Index, v, i))
			}
		}
	}
	if c.Want != nil && !slices.Equal(outs, *c.Want) {
		problems = append(problems, fmt.Sprintf("outputs %s, want %s", formatOutputs(outs), formatOutputs(*c.Want)))
	}
	return problems
}

// leaked reports whether text carries value: its trimmed text, or the
// number it reads as in its shortest form. Values shorter than two
// characters are too common to test.
func leaked(text, value string) (string, bool) {
	v := strings.TrimSpace(value)
	forms := []string{v}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		forms = append(forms, strconv.FormatFloat(f, 'f', -1, 64))
	}
	for _, form := range forms {
		if len(form) >= 2 && strings.Contains(text, form) {
			return form, true
		}
	}
	return "", false
}

func formatOutputs(outs []Output) string {
	if len(outs) == 0 {
		return "none"
	}
	var parts []string
	for _, o := range outs {
		parts = append(parts, fmt.Sprintf("%d:%s=%q", o.Index, o.Name, o.Text))
	}
	return "[" + strings.Join(parts, " ") + "]"
}
