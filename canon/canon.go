// Package canon is the one canonical encoding of everything sealnet signs or
// hashes: deterministic CBOR (RFC 8949 section 4.2.1 core deterministic
// encoding). Decoding is strict: a value is accepted only if encoding it again
// gives back exactly the bytes received, so two different byte strings never
// decode to the same signed content.
package canon

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// ErrNonCanonical reports bytes that decode but are not the canonical
// encoding of what they decode to.
var ErrNonCanonical = errors.New("not canonical CBOR")

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
	anyMode cbor.DecMode
)

func init() {
	var err error
	encMode, err = cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	strict := cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		MaxNestedLevels:   16,
		MaxArrayElements:  65536,
		MaxMapPairs:       4096,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		UTF8:              cbor.UTF8RejectInvalid,
	}
	if decMode, err = strict.DecMode(); err != nil {
		panic(err)
	}
	loose := strict
	loose.DefaultMapType = nil
	loose.ExtraReturnErrors = cbor.ExtraDecErrorNone
	if anyMode, err = loose.DecMode(); err != nil {
		panic(err)
	}
}

// Marshal returns the canonical encoding of v.
func Marshal(v any) ([]byte, error) { return encMode.Marshal(v) }

// MustMarshal is Marshal for values whose encoding cannot fail (fixed
// structs of sealnet's own types); it panics on a broken invariant.
func MustMarshal(v any) []byte {
	b, err := encMode.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("canon: marshal %T: %v", v, err))
	}
	return b
}

// Unmarshal decodes data into v and rejects it unless data is exactly the
// canonical encoding of the result.
func Unmarshal(data []byte, v any) error {
	if err := decMode.Unmarshal(data, v); err != nil {
		return err
	}
	again, err := encMode.Marshal(v)
	if err != nil {
		return err
	}
	if !bytes.Equal(again, data) {
		return ErrNonCanonical
	}
	return nil
}

// ToJSONable decodes canonical CBOR into maps, slices and scalars that
// encoding/json can print (map keys become strings).
func ToJSONable(data []byte) (any, error) {
	var v any
	if err := anyMode.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	return jsonable(v), nil
}

func jsonable(v any) any {
	switch t := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[fmt.Sprint(k)] = jsonable(x)
		}
		return m
	case []any:
		for i := range t {
			t[i] = jsonable(t[i])
		}
		return t
	default:
		return v
	}
}
