package payment

import (
	"encoding/json"
	"testing"

	"github.com/sealnet/sealnet/internal/golden"
)

const wireFile = "voucher-wire.json"

// wireVector is docs/vectors/voucher-wire.json: one frame of each kind
// of /sealnet/voucher/1, its fields, its bytes and its bytes on the
// stream. The vouchers are those of voucher.json.
type wireVector struct {
	Comment string      `json:"comment"`
	Frames  []wireFrame `json:"frames"`
}

type wireFrame struct {
	Name     string       `json:"name"`
	Kind     string       `json:"kind"`
	Chain    string       `json:"chain,omitempty"`
	Channel  golden.Hex   `json:"channel,omitempty"`
	Seq      *uint64      `json:"seq,omitempty"`
	Voucher  golden.Hex   `json:"voucher,omitempty"`
	Vouchers []golden.Hex `json:"vouchers,omitempty"`
	Code     uint8        `json:"code,omitempty"`
	Reason   string       `json:"reason,omitempty"`
	Frame    golden.Hex   `json:"frame"`
	Framed   golden.Hex   `json:"framed"`
}

func (w wireFrame) frame() *Frame {
	f := &Frame{Kind: w.Kind[0], Chain: w.Chain, Voucher: w.Voucher, Code: Code(w.Code), Reason: w.Reason}
	copy(f.Channel[:], w.Channel)
	if w.Seq != nil {
		f.Seq = *w.Seq
	}
	if f.Kind == KindWelcome {
		f.Vouchers = [][]byte{}
		for _, v := range w.Vouchers {
			f.Vouchers = append(f.Vouchers, v)
		}
	}
	return f
}

func makeWireVector(t *testing.T) wireVector {
	var vouchers struct {
		Vouchers []struct {
			Fields struct {
				Chain   string     `json:"chain"`
				Channel golden.Hex `json:"channel"`
			} `json:"fields"`
			Voucher golden.Hex `json:"voucher_cbor"`
		} `json:"vouchers"`
	}
	loadLoose(t, "voucher.json", &vouchers)
	v0, v1 := vouchers.Vouchers[0], vouchers.Vouchers[1]
	seq := func(n uint64) *uint64 { return &n }
	frames := []wireFrame{
		{Name: "hello", Kind: "H", Chain: v0.Fields.Chain, Channel: v0.Fields.Channel},
		{Name: "welcome, nothing held", Kind: "W"},
		{Name: "welcome", Kind: "W", Vouchers: []golden.Hex{v0.Voucher, v1.Voucher}},
		{Name: "voucher", Kind: "V", Seq: seq(1), Voucher: v0.Voucher},
		{Name: "voucher, conditional", Kind: "V", Seq: seq(300), Voucher: v1.Voucher},
		{Name: "ack", Kind: "A", Seq: seq(300)},
		{Name: "reject", Kind: "R", Seq: seq(301), Code: uint8(CodeStaleNonce), Reason: "nonce not above the lane's: lane 0 is at nonce 2, the voucher has 2"},
	}
	for i := range frames {
		f := frames[i].frame()
		frames[i].Frame = f.Encode()
		frames[i].Framed = framedBytes(f)
	}
	return wireVector{Comment: "Frames of /sealnet/voucher/1: a kind byte and its fields; uint = unsigned LEB128 varint (minimal), string/bytes = uint length || bytes, channel = 32 raw bytes, lists = uint count || items. " +
		"Hello 'H' chain, channel; Welcome 'W' count, vouchers; Voucher 'V' seq, voucher; Ack 'A' seq; Reject 'R' seq, code, reason. " +
		"On the stream each frame is u32be(len(frame)) || frame, at most 65536 bytes. The vouchers are voucher.json's.", Frames: frames}
}

func framedBytes(f *Frame) []byte {
	var b bytesWriter
	WriteFrame(&b, f)
	return b
}

type bytesWriter []byte

func (b *bytesWriter) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

// loadLoose reads the fields of another vector file that v names.
func loadLoose(t *testing.T, name string, v any) {
	t.Helper()
	var all map[string]json.RawMessage
	golden.Load(t, name, &all)
	raw, _ := json.Marshal(all)
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatal(err)
	}
}

func TestWireVectors(t *testing.T) {
	if golden.Updating() {
		golden.Save(t, wireFile, makeWireVector(t))
	}
	var vec wireVector
	golden.Load(t, wireFile, &vec)
	want := makeWireVector(t)
	if len(vec.Frames) != len(want.Frames) {
		t.Fatalf("%d frames in the file, %d made", len(vec.Frames), len(want.Frames))
	}
	for i, w := range vec.Frames {
		f := w.frame()
		golden.Equal(t, w.Name, f.Encode(), w.Frame)
		golden.Equal(t, w.Name+" framed", framedBytes(f), w.Framed)
		golden.Equal(t, w.Name+" as made", want.Frames[i].Frame, w.Frame)
		d, err := DecodeFrame(w.Frame)
		if err != nil {
			t.Fatalf("%s: %v", w.Name, err)
		}
		golden.Equal(t, w.Name+" decoded", d.Encode(), w.Frame)
	}
}
