package contracttest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/contract/certify"
	"github.com/sealnet/sealnet/contract/compute"
	"github.com/sealnet/sealnet/contract/condition"
	"github.com/sealnet/sealnet/contract/credit"
	"github.com/sealnet/sealnet/contract/index"
	"github.com/sealnet/sealnet/contract/paych"
	"github.com/sealnet/sealnet/contract/registry"
	"github.com/sealnet/sealnet/identity"
)

// Argument types of the queries that take an unnamed struct.
type (
	certsQuery struct {
		WithDER bool `cbor:"der,omitempty"`
	}
	cidQuery struct {
		CID string `cbor:"cid"`
	}
	streamQuery struct {
		Stream   string `cbor:"stream"`
		FirstSeq uint64 `cbor:"first_seq,omitempty"`
	}
	idQuery struct {
		ID string `cbor:"id"`
	}
)

// argTypes gives each method and query the Go type its arguments decode
// into, so key=value pairs are typed by the field they fill. A method that
// is not listed gets a map of its pairs, typed by their look.
var argTypes = map[string]any{
	"registry.enroll":       registry.EnrollArgs{},
	"registry.revoke":       registry.RevokeArgs{},
	"registry.vote_org":     registry.VoteOrgArgs{},
	"registry.allow_peer":   registry.AllowPeerArgs{},
	"registry.bind_p2p_key": registry.BindP2PKeyArgs{},
	"registry?certs":        certsQuery{},
	"registry?cert":         registry.GetArgs{},

	"index.subfile":    index.SubfileArgs{},
	"index.querfile":   index.FindArgs{},
	"index.keyrequest": index.KeyRequestArgs{},
	"index.keyanswer":  index.KeyAnswerArgs{},
	"index.purge":      index.PurgeArgs{},
	"index?lookup":     index.FindArgs{},
	"index?entry":      index.PurgeArgs{},
	"index?by_cid":     cidQuery{},
	"index?transfers":  index.PurgeArgs{},

	"audit.anchor":       audit.AnchorArgs{},
	"audit.drop":         audit.DropArgs{},
	"audit?stream":       streamQuery{},
	"audit?batch":        streamQuery{},
	"audit?batches":      streamQuery{},
	"condition.register": condition.RegisterArgs{},
	"condition.submit":   condition.SubmitArgs{},
	"condition?get":      idQuery{},

	"credit.transfer":     credit.TransferArgs{},
	"credit.open_account": credit.OpenAccountArgs{},
	"credit.vote_mint":    credit.VoteMintArgs{},
	"credit?balance":      credit.BalanceArgs{},
	"credit?accounts":     credit.BalanceArgs{},
	"credit?mint":         credit.MintIDArgs{},

	"paych.open":     paych.OpenArgs{},
	"paych.top_up":   paych.TopUpArgs{},
	"paych.redeem":   paych.VoucherArgs{},
	"paych.settle":   paych.VoucherArgs{},
	"paych.collect":  paych.ChannelArgs{},
	"paych?channel":  paych.ChannelArgs{},
	"paych?channels": paych.ListArgs{},

	"compute.post":   compute.PostArgs{},
	"compute.claim":  compute.JobArgs{},
	"compute.grant":  compute.GrantArgs{},
	"compute.submit": compute.SubmitArgs{},
	"compute.reveal": compute.RevealArgs{},
	"compute.fail":   compute.FailArgs{},
	"compute.accept": compute.JobArgs{},
	"compute.reject": compute.RejectArgs{},
	"compute?job":    compute.JobArgs{},

	"certify.set_policy":  certify.SetPolicyArgs{},
	"certify.propose":     certify.ProposeArgs{},
	"certify.vote":        certify.VoteArgs{},
	"certify.revoke":      certify.RevokeArgs{},
	"certify?modules":     certify.ModuleQuery{},
	"certify?module":      certify.ModuleQuery{},
	"certify?votes":       certify.ModuleQuery{},
	"certify?revocations": certify.ModuleQuery{},
	"certify?status":      certify.ModuleQuery{},
	"certify?certified":   certify.CertifiedQuery{},
}

// value is an argument value in both its forms: text for string fields,
// bytes for byte fields. hasBytes is false for plain literals, which byte
// fields refuse.
type value struct {
	s        string
	b        []byte
	hasBytes bool
}

func both(b []byte) value { return value{s: hex.EncodeToString(b), b: b, hasBytes: true} }

// resolve evaluates one value form (see the package documentation).
func (s *Scenario) resolve(v string) (value, error) {
	kind, rest, ok := strings.Cut(v, ":")
	if !ok {
		return value{s: v}, nil
	}
	switch kind {
	case "fp":
		p, err := s.person(rest)
		if err != nil {
			return value{}, err
		}
		return both(p.fp[:]), nil
	case "cert":
		p, err := s.person(rest)
		if err != nil {
			return value{}, err
		}
		return both(p.der), nil
	case "root":
		a, err := s.authority(rest)
		if err != nil {
			return value{}, err
		}
		return both(a.cert.Raw), nil
	case "tx", "sig", "hrs":
		t, ok := s.txs[rest]
		if !ok {
			return value{}, fmt.Errorf("no transaction labelled %q", rest)
		}
		switch kind {
		case "tx":
			return both(t.id[:]), nil
		case "sig":
			return both(t.sig), nil
		}
		h := sha256.Sum256(t.sig)
		return both(h[:]), nil
	case "result":
		label, field, _ := strings.Cut(rest, ".")
		t, ok := s.txs[label]
		if !ok || t.result == nil {
			return value{}, fmt.Errorf("%s: transaction %q has no result", v, label)
		}
		res, err := canon.ToJSONable(t.result)
		if err != nil {
			return value{}, fmt.Errorf("%s: %v", v, err)
		}
		m, _ := res.(map[string]any)
		text, ok := m[field].(string)
		if !ok {
			return value{}, fmt.Errorf("%s: the result has no text field %q", v, field)
		}
		s.name(text, v)
		b, err := hex.DecodeString(text)
		return value{s: text, b: b, hasBytes: err == nil}, nil
	case "sha256":
		h := sha256.Sum256([]byte(rest))
		s.name(hex.EncodeToString(h[:]), v)
		return both(h[:]), nil
	case "hex":
		b, err := hex.DecodeString(rest)
		if err != nil {
			return value{}, fmt.Errorf("%s: %v", v, err)
		}
		return value{s: rest, b: b, hasBytes: true}, nil
	case "text":
		return value{s: rest, b: []byte(rest), hasBytes: true}, nil
	case "esc":
		t, err := strconv.Unquote(`"` + rest + `"`)
		if err != nil {
			return value{}, fmt.Errorf("%s: %v", v, err)
		}
		return value{s: t, b: []byte(t), hasBytes: true}, nil
	case "zeros":
		n, err := strconv.Atoi(rest)
		if err != nil || n < 0 {
			return value{}, fmt.Errorf("%s: want a byte count", v)
		}
		if n >= 16 {
			s.name(strings.Repeat("00", n), v)
		}
		return both(make([]byte, n)), nil
	case "repeat":
		ns, str, ok := strings.Cut(rest, ":")
		n, err := strconv.Atoi(ns)
		if !ok || err != nil || n < 0 {
			return value{}, fmt.Errorf("%s: want repeat:<count>:<text>", v)
		}
		r := strings.Repeat(str, n)
		if len(r) >= 32 {
			s.name(r, v) // long enough not to occur by chance
		}
		return value{s: r, b: []byte(r), hasBytes: true}, nil
	case "cid":
		mh, err := multihash.Sum([]byte(rest), multihash.SHA2_256, -1)
		if err != nil {
			return value{}, err
		}
		c := cid.NewCidV1(cid.Raw, mh)
		s.name(c.String(), v)
		return value{s: c.String(), b: c.Bytes(), hasBytes: true}, nil
	case "voucher":
		raw, ok := s.vouchers[rest]
		if !ok {
			return value{}, fmt.Errorf("no voucher labelled %q", rest)
		}
		return both(raw), nil
	case "p2pkey":
		pub := deriveP2PKey(rest).Public().(ed25519.PublicKey)
		s.name(hex.EncodeToString(pub), v)
		return both(pub), nil
	case "p2psig":
		key, member, ok := strings.Cut(rest, "@")
		p, err := s.person(member)
		if !ok || err != nil {
			return value{}, fmt.Errorf("%s: want p2psig:<key>@<member> (%v)", v, err)
		}
		return both(identity.SignP2PBinding(deriveP2PKey(key), p.fp)), nil
	case "key", "commit":
		return s.computeValue(kind, rest, v)
	case "upper":
		in, err := s.resolve(rest)
		if err != nil {
			return value{}, err
		}
		in.s = strings.ToUpper(in.s)
		s.name(in.s, v)
		return in, nil
	}
	return value{s: v}, nil // a literal that happens to hold a colon
}

// integer parses a number or a time: "now", "now+2s", "now-1m" is the next
// block's time in Unix nanoseconds.
func (s *Scenario) integer(v string) (int64, error) {
	if rest, ok := strings.CutPrefix(v, "now"); ok {
		t := s.next()
		if rest != "" {
			d, err := time.ParseDuration(strings.TrimPrefix(rest, "+"))
			if err != nil {
				return 0, fmt.Errorf("%s: %v", v, err)
			}
			t = t.Add(d)
		}
		return t.UnixNano(), nil
	}
	return strconv.ParseInt(v, 10, 64)
}

// encodeArgs builds the canonical CBOR arguments of contract.method (sep is
// "." for a method, "?" for a query) from key=value pairs, or from a JSON
// object given as the directive's input.
func (s *Scenario) encodeArgs(target string, pairs []pair, input string) ([]byte, error) {
	if strings.TrimSpace(input) != "" {
		if len(pairs) > 0 {
			return nil, fmt.Errorf("give arguments as key=value pairs or as JSON input, not both")
		}
		return jsonArgs(input)
	}
	proto, typed := argTypes[target]
	if !typed {
		m := map[string]any{}
		for _, p := range pairs {
			v, err := s.untyped(p)
			if err != nil {
				return nil, err
			}
			m[p.key] = v
		}
		return canon.Marshal(m)
	}
	rv := reflect.New(reflect.TypeOf(proto)).Elem()
	for _, p := range pairs {
		f, ok := fieldByTag(rv, p.key)
		if !ok {
			return nil, fmt.Errorf("%s has no argument %q", target, p.key)
		}
		if err := s.fill(f, p); err != nil {
			return nil, fmt.Errorf("%s: %w", p.key, err)
		}
	}
	return canon.Marshal(rv.Interface())
}

// splitArgs takes out of pairs those that fill a field of target's
// argument type, before the rest are read as options.
func splitArgs(target string, pairs []pair) (args, rest []pair) {
	proto, typed := argTypes[target]
	if !typed {
		return nil, pairs
	}
	rv := reflect.New(reflect.TypeOf(proto)).Elem()
	for _, p := range pairs {
		if _, ok := fieldByTag(rv, p.key); ok {
			args = append(args, p)
		} else {
			rest = append(rest, p)
		}
	}
	return args, rest
}

type pair struct {
	key  string
	vals []string
}

// fieldByTag finds the field a key names: by its CBOR name, in the struct
// or in a struct it embeds; "a.b" is field b of the struct in field a.
func fieldByTag(rv reflect.Value, key string) (reflect.Value, bool) {
	head, rest, nested := strings.Cut(key, ".")
	t := rv.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			if v, ok := fieldByTag(rv.Field(i), key); ok {
				return v, true
			}
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("cbor"), ",")
		switch {
		case name != head:
		case !nested:
			return rv.Field(i), true
		case f.Type.Kind() == reflect.Struct:
			return fieldByTag(rv.Field(i), rest)
		default:
			return reflect.Value{}, false
		}
	}
	return reflect.Value{}, false
}

func (s *Scenario) one(p pair) (string, error) {
	if len(p.vals) != 1 {
		return "", fmt.Errorf("want one value, got %d", len(p.vals))
	}
	return p.vals[0], nil
}

// fill sets a struct field from a pair, typed by the field.
func (s *Scenario) fill(f reflect.Value, p pair) error {
	switch {
	case f.Kind() == reflect.String:
		raw, err := s.one(p)
		if err != nil {
			return err
		}
		v, err := s.resolve(raw)
		if err != nil {
			return err
		}
		f.SetString(v.s)
	case f.Kind() == reflect.Bool:
		raw, err := s.one(p)
		if err != nil {
			return err
		}
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return err
		}
		f.SetBool(b)
	case f.CanInt() || f.CanUint():
		raw, err := s.one(p)
		if err != nil {
			return err
		}
		if f.CanUint() {
			if u, err := strconv.ParseUint(raw, 10, 64); err == nil {
				f.SetUint(u) // the whole range of an unsigned field
				return nil
			}
		}
		n, err := s.integer(raw)
		if err != nil {
			return err
		}
		if f.CanInt() {
			f.SetInt(n)
		} else {
			f.SetUint(uint64(n))
		}
	case f.Type() == reflect.TypeOf([]byte(nil)):
		raw, err := s.one(p)
		if err != nil {
			return err
		}
		v, err := s.bytesOf(raw)
		if err != nil {
			return err
		}
		f.SetBytes(v)
	case f.Type() == reflect.TypeOf([]string(nil)):
		out := []string{}
		for _, raw := range p.vals {
			v, err := s.resolve(raw)
			if err != nil {
				return err
			}
			out = append(out, v.s)
		}
		f.Set(reflect.ValueOf(out))
	case f.Type() == reflect.TypeOf([][]byte(nil)):
		out := [][]byte{}
		for _, raw := range p.vals {
			v, err := s.bytesOf(raw)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		f.Set(reflect.ValueOf(out))
	default:
		return fmt.Errorf("cannot fill a field of type %s", f.Type())
	}
	return nil
}

func (s *Scenario) bytesOf(raw string) ([]byte, error) {
	v, err := s.resolve(raw)
	if err != nil {
		return nil, err
	}
	if !v.hasBytes {
		return nil, fmt.Errorf("%q is not a byte value (hex:, text:, sha256:, zeros:, cert:, root:, ...)", raw)
	}
	return v.b, nil
}

// untyped types a value by its look, for methods without a known type.
func (s *Scenario) untyped(p pair) (any, error) {
	if len(p.vals) != 1 {
		var out []string
		for _, raw := range p.vals {
			v, err := s.resolve(raw)
			if err != nil {
				return nil, err
			}
			out = append(out, v.s)
		}
		return out, nil
	}
	raw := p.vals[0]
	if n, err := strconv.ParseInt(raw, 10, 64); err == nil {
		return n, nil
	}
	if b, err := strconv.ParseBool(raw); err == nil {
		return b, nil
	}
	v, err := s.resolve(raw)
	if err != nil {
		return nil, err
	}
	if v.hasBytes && raw != v.s {
		return v.b, nil
	}
	return v.s, nil
}

// jsonArgs encodes a JSON object as CBOR: numbers become integers, the
// rest keeps its JSON type. It is for arguments no Go type describes.
func jsonArgs(input string) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(input)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("JSON arguments: %v", err)
	}
	v, err := integers(v)
	if err != nil {
		return nil, err
	}
	return canon.Marshal(v)
}

func integers(v any) (any, error) {
	switch t := v.(type) {
	case json.Number:
		return t.Int64()
	case map[string]any:
		for k, x := range t {
			y, err := integers(x)
			if err != nil {
				return nil, err
			}
			t[k] = y
		}
	case []any:
		for i, x := range t {
			y, err := integers(x)
			if err != nil {
				return nil, err
			}
			t[i] = y
		}
	}
	return v, nil
}
