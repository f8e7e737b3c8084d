package core

// This file holds the label rules (paper 000, 3.2, Algorithms 3-5) and
// the check of what the wire can carry.

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sealnet/sealnet/contract/condition"
	"github.com/sealnet/sealnet/dcmb/wire"
)

// Rule maps a quantitative value to a qualitative label: when Above <
// value < Below, the sender submits hash(label, salt) to the condition
// contract. It submits on entering the range, not for every message;
// leaving the range re-arms it.
type Rule struct {
	Key       string   `toml:"key"` // only messages of this key ("" any)
	Above     *float64 `toml:"above"`
	Below     *float64 `toml:"below"`
	Label     string   `toml:"label"`
	Condition string   `toml:"condition"`  // condition ID registered by the interested org
	LabelSalt string   `toml:"label_salt"` // shared with that org
}

// Matches reports whether v is inside the rule's range.
func (r Rule) Matches(v float64) bool {
	lo, hi := math.Inf(-1), math.Inf(1)
	if r.Above != nil {
		lo = *r.Above
	}
	if r.Below != nil {
		hi = *r.Below
	}
	return v > lo && v < hi
}

// SubmitLabel asks for Tx, the hashed label of a rule's condition, to be
// submitted; no answer. The driver may drop it when too many wait, and
// says so.
type SubmitLabel struct {
	Condition string
	Tx        Tx
}

func (SubmitLabel) action() {}

// applyRules arms and fires the rules on one value. The value itself is
// never logged.
func (s *Sender) applyRules(key string, value []byte) {
	if len(s.cfg.Rules) == 0 {
		return
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(string(value)), 64)
	if err != nil {
		return
	}
	for i, r := range s.cfg.Rules {
		if r.Key != "" && r.Key != key {
			continue
		}
		k := strconv.Itoa(i) + "\x00" + key
		in := r.Matches(v)
		if in && !s.armed[k] {
			s.emit(SubmitLabel{Condition: r.Condition, Tx: Tx{Contract: condition.Name, Method: "submit",
				Args: condition.SubmitArgs{ID: r.Condition, Hash: condition.Hash(r.Label, []byte(r.LabelSalt))}}})
		}
		s.armed[k] = in
	}
}

// Unfit says why a message cannot be carried ("" if it can): a key over
// wire.MaxKey bytes or not UTF-8, or a value over wire.MaxValue.
func Unfit(key string, value []byte) string {
	switch {
	case len(key) > wire.MaxKey || !utf8.ValidString(key):
		return fmt.Sprintf("message key of %d bytes is not UTF-8 of at most %d bytes", len(key), wire.MaxKey)
	case len(value) > wire.MaxValue:
		return fmt.Sprintf("message value of %d bytes exceeds %d", len(value), wire.MaxValue)
	}
	return ""
}
