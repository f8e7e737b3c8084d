package payment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

func sampleFrames() []*Frame {
	var ch [32]byte
	ch[0], ch[31] = 1, 0xff
	return []*Frame{
		{Kind: KindHello, Chain: "default", Channel: ch},
		{Kind: KindWelcome, Vouchers: [][]byte{}},
		{Kind: KindWelcome, Vouchers: [][]byte{{1, 2, 3}, bytes.Repeat([]byte{7}, 512)}},
		{Kind: KindVoucher, Seq: 1, Voucher: []byte{0xa2, 1, 2}},
		{Kind: KindVoucher, Seq: 1 << 40, Voucher: bytes.Repeat([]byte{9}, 300)},
		{Kind: KindAck, Seq: 0},
		{Kind: KindAck, Seq: 12345},
		{Kind: KindReject, Seq: 3, Code: CodeStaleNonce, Reason: "nonce not above the lane's"},
	}
}

func TestFrameRoundTrip(t *testing.T) {
	for _, f := range sampleFrames() {
		var buf bytes.Buffer
		if err := WriteFrame(&buf, f); err != nil {
			t.Fatal(err)
		}
		g, err := ReadFrame(&buf)
		if err != nil {
			t.Fatalf("%c: %v", f.Kind, err)
		}
		if !bytes.Equal(g.Encode(), f.Encode()) {
			t.Fatalf("%c: %+v read back as %+v", f.Kind, f, g)
		}
	}
}

func TestFrameRefusals(t *testing.T) {
	long := func(n int) []byte { return binary.AppendUvarint(nil, uint64(n)) }
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "truncated"},
		{"unknown kind", []byte{'X'}, "unknown kind"},
		{"hello without channel", append([]byte{'H', 7}, "default"...), "truncated channel"},
		{"hello with an empty chain", append([]byte{'H', 0}, make([]byte, 32)...), "empty chain"},
		{"hello with a long chain", append(append([]byte{'H'}, long(65)...), make([]byte, 65+32)...), "chain of 65 bytes"},
		{"hello with trailing bytes", append(append([]byte{'H', 1, 'd'}, make([]byte, 32)...), 0), "trailing"},
		{"non-minimal varint", []byte{'A', 0x80, 0x00}, "non-minimal"},
		{"welcome of 65 vouchers", append([]byte{'W'}, long(65)...), "65 vouchers"},
		{"oversized voucher", append(append([]byte{'V', 1}, long(513)...), make([]byte, 513)...), "voucher of 513 bytes"},
		{"truncated voucher", []byte{'V', 1, 5, 1, 2}, "truncated voucher"},
		{"reject with code 0", []byte{'R', 1, 0, 0}, "refusal code 0"},
		{"reason not UTF-8", []byte{'R', 1, 1, 1, 0xff}, "not UTF-8"},
		{"frame too long", make([]byte, MaxFrame+1), "limit"},
	} {
		_, err := DecodeFrame(c.b)
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want malformed: %s", c.name, err, c.want)
		}
	}
}

func TestReadFrameLengths(t *testing.T) {
	for _, n := range []uint32{0, MaxFrame + 1, 1 << 31} {
		b := binary.BigEndian.AppendUint32(nil, n)
		if _, err := ReadFrame(bytes.NewReader(b)); !errors.Is(err, ErrMalformed) {
			t.Errorf("length %d: %v, want malformed before reading on", n, err)
		}
	}
	b := append(binary.BigEndian.AppendUint32(nil, 10), 'A', 1)
	if _, err := ReadFrame(bytes.NewReader(b)); !errors.Is(err, ErrMalformed) {
		t.Errorf("truncated frame: %v", err)
	}
}

// FuzzDecodeFrame: whatever the decoder accepts encodes back to the same
// bytes.
func FuzzDecodeFrame(f *testing.F) {
	for _, fr := range sampleFrames() {
		f.Add(fr.Encode())
	}
	f.Add([]byte{'R', 0, 19, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := DecodeFrame(b)
		if err != nil {
			return
		}
		if again := fr.Encode(); !bytes.Equal(again, b) {
			t.Fatalf("%x decoded to %+v, which encodes to %x", b, fr, again)
		}
	})
}
