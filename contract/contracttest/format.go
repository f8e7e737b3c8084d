package contracttest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/ledger"
	"github.com/sealnet/sealnet/txerr"
)

// width is where a result breaks into one field per line.
const width = 100

// name makes the output show text as token: a fingerprint as fp:org1/alice,
// a transaction ID as tx:label, and so on.
func (s *Scenario) name(text, token string) {
	if text != "" && text != token {
		s.names[text] = token
	}
}

// substitute replaces every named value in text by its token, longest
// first so that a certificate is named before any hash inside it.
func (s *Scenario) substitute(text string) string {
	if len(s.order) != len(s.names) {
		s.order = s.order[:0]
		for k := range s.names {
			s.order = append(s.order, k)
		}
		sort.Slice(s.order, func(i, j int) bool {
			a, b := s.order[i], s.order[j]
			return len(a) > len(b) || len(a) == len(b) && a < b
		})
	}
	for _, k := range s.order {
		if strings.Contains(text, k) {
			text = strings.ReplaceAll(text, k, s.names[k])
		}
	}
	return text
}

// outcome prints a transaction's or query's code and result.
func (s *Scenario) outcome(code txerr.Code, msg string, data []byte) string {
	if code != txerr.OK {
		return fmt.Sprintf("%s (%d): %s", code, uint32(code), s.substitute(msg))
	}
	if len(data) == 0 {
		return "ok"
	}
	return "ok " + s.render(data)
}

// render prints canonical CBOR as JSON: byte strings in hex, named values
// by their tokens, one field per line where a value is too long for one.
func (s *Scenario) render(data []byte) string {
	v, err := canon.ToJSONable(data)
	if err != nil {
		return fmt.Sprintf("<undecodable %x: %v>", data, err)
	}
	return layout(s.leaves(v), "")
}

func (s *Scenario) leaves(v any) any {
	switch t := v.(type) {
	case []byte:
		return s.substitute(hex.EncodeToString(t))
	case string:
		return s.substitute(t)
	case map[string]any:
		for k, x := range t {
			t[k] = s.leaves(x)
		}
	case []any:
		for i, x := range t {
			t[i] = s.leaves(x)
		}
	}
	return v
}

func compactJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func layout(v any, indent string) string {
	c := compactJSON(v)
	if len(indent)+len(c) <= width {
		return c
	}
	in := indent + "  "
	var b strings.Builder
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("{\n")
		for i, k := range keys {
			b.WriteString(in + compactJSON(k) + ": " + layout(t[k], in))
			if i < len(keys)-1 {
				b.WriteString(",")
			}
			b.WriteString("\n")
		}
		b.WriteString(indent + "}")
	case []any:
		b.WriteString("[\n")
		for i, x := range t {
			b.WriteString(in + layout(x, in))
			if i < len(t)-1 {
				b.WriteString(",")
			}
			b.WriteString("\n")
		}
		b.WriteString(indent + "]")
	default:
		return c
	}
	return b.String()
}

// event prints one event: contract.type, its addressee and attributes.
func (s *Scenario) event(e contract.Event) string {
	var b strings.Builder
	b.WriteString("event " + e.Contract + "." + e.Type)
	if e.To != "" {
		b.WriteString(" to=" + e.To)
	}
	for _, a := range e.Attrs {
		b.WriteString(" " + a.Key + "=" + s.substitute(a.Value))
	}
	return b.String()
}

// results prints a block's transactions, then the events of its end
// (contract.EndBlocker) prefixed "end: "; with prefix set, each line of a
// transaction starts with its label.
func (s *Scenario) results(b *ledger.Block, labels []string, prefix bool) string {
	var out strings.Builder
	for i, r := range b.Txs {
		p := ""
		if prefix {
			p = labels[i] + ": "
		}
		out.WriteString(p + s.outcome(r.Code, r.Log, r.Data) + "\n")
		for _, e := range r.Events {
			out.WriteString(p + s.event(e) + "\n")
		}
	}
	for _, e := range b.Events {
		out.WriteString("end: " + s.event(e) + "\n")
	}
	return out.String()
}
