package module_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealnet/sealnet/certify/certifier"
	"github.com/sealnet/sealnet/certify/manifest"
	. "github.com/sealnet/sealnet/dcmb/module"
	"github.com/sealnet/sealnet/dcmb/modules"
	"github.com/sealnet/sealnet/dcmb/modules/abi"
	"github.com/sealnet/sealnet/dcmb/wire"
	"github.com/sealnet/sealnet/internal/wasmtest"
	"github.com/sealnet/sealnet/sandbox"
)

// built is the maintenance module, built once for the package's tests
// with sealnet's recipe from its source tree.
var built struct {
	once sync.Once
	wasm []byte
	desc manifest.Descriptor
	err  error
}

func newRuntime(t testing.TB) *sandbox.Runtime {
	t.Helper()
	rt, err := sandbox.New(context.Background(), sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	return rt
}

// buildSource builds the maintenance package of a source tree, after
// edit changes its main.go.
func buildSource(t testing.TB, rt *sandbox.Runtime, edit func(string) string) ([]byte, manifest.Descriptor) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a WebAssembly module")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := modules.WriteSource(src); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		main := filepath.Join(src, "maintenance", "main.go")
		b, _ := os.ReadFile(main)
		if err := os.WriteFile(main, []byte(edit(string(b))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d := manifest.Descriptor{Name: "maintenance", Version: 1, Outputs: []string{"maintenance"}}
	wasm, err := certifier.Describe(context.Background(), rt, src, modules.Maintenance, dir, &d)
	if err != nil {
		t.Fatal(err)
	}
	return wasm, d
}

func maintenance(t testing.TB, rt *sandbox.Runtime) ([]byte, manifest.Descriptor) {
	t.Helper()
	built.once.Do(func() {
		built.wasm, built.desc = buildSource(t, rt, nil)
	})
	if built.wasm == nil {
		t.Fatal("the maintenance module did not build")
	}
	return built.wasm, built.desc
}

func load(t testing.TB, rt *sandbox.Runtime, wasm []byte, d manifest.Descriptor, limits sandbox.Limits) *Program {
	t.Helper()
	p, err := Load(context.Background(), rt, wasm, &d, limits)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func batch(values ...string) []wire.Message {
	msgs := make([]wire.Message, len(values))
	for i, v := range values {
		key := "press-7/count"
		if k, val, ok := strings.Cut(v, "="); ok {
			key, v = k, val
		}
		msgs[i] = wire.Message{Seq: uint64(100 + i), Key: key, Value: []byte(v), Time: int64(i)}
	}
	return msgs
}

// The request as the node encodes it, read by the module side of the ABI,
// and the response as the module side writes it, decoded by the node: a
// round trip through both halves, and their bytes pinned.
func TestABI(t *testing.T) {
	msgs := []wire.Message{{Seq: 7, Key: "k", Value: []byte("5367"), Time: -1}, {Seq: 8, Key: "", Value: nil, Time: 300}}
	var req bytes.Buffer
	req.ReadFrom(NewRequest(7, msgs))
	const wantReq = "534e444d494e3031" + "07" + "02" + "01" + "6b" + "04" + "35333637" + "01" + "00" + "00" + "d804"
	if got := hex.EncodeToString(req.Bytes()); got != wantReq {
		t.Fatalf("request\n got %s\nwant %s", got, wantReq)
	}
	var out bytes.Buffer
	in := bytes.NewReader(append(bytes.Clone(req.Bytes()), req.Bytes()...)) // two requests in one run
	err := abi.Serve(in, &out, func(b *abi.Batch) error {
		if b.First != 7 || b.Count != 2 {
			t.Fatalf("batch %d+%d", b.First, b.Count)
		}
		for b.Next() {
			m := b.Message()
			if want := msgs[m.Index]; string(m.Key) != want.Key || string(m.Value) != string(want.Value) || m.Time != want.Time {
				t.Fatalf("message %d: %q=%q at %d", m.Index, m.Key, m.Value, m.Time)
			}
			b.Emit("maintenance", "Maintenance imminent")
		}
		return b.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	one := out.Bytes()[:out.Len()/2]
	outs, err := DecodeResponse(one, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 2 || outs[1] != (Output{Index: 1, Name: "maintenance", Text: "Maintenance imminent"}) {
		t.Fatalf("outputs %+v", outs)
	}
	const wantResp = "534e444d4f553031" + "01" + "00" + "0b" + "6d61696e74656e616e6365" + "14" + "4d61696e74656e616e636520696d6d696e656e74" +
		"01" + "01" + "0b" + "6d61696e74656e616e6365" + "14" + "4d61696e74656e616e636520696d6d696e656e74" + "00"
	if got := hex.EncodeToString(one); got != wantResp {
		t.Fatalf("response\n got %s\nwant %s", got, wantResp)
	}
	if !bytes.Equal(AppendResponse(nil, outs), one) {
		t.Fatal("AppendResponse differs from the module side's bytes")
	}
	for _, bad := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"no end record", []byte("SNDMOU01")},
		{"bytes after the end", []byte("SNDMOU01\x00\x00")},
		{"index past the batch", AppendResponse(nil, []Output{{Index: 2, Name: "x"}})},
		{"no name", AppendResponse(nil, []Output{{Index: 0, Name: ""}})},
		{"long text", AppendResponse(nil, []Output{{Name: "x", Text: strings.Repeat("x", MaxText+1)}})},
		{"not UTF-8", AppendResponse(nil, []Output{{Name: "x", Text: "\xff"}})},
		{"non-minimal varint", []byte("SNDMOU01\x01\x80\x00\x01x\x00\x00")},
		{"unknown record", []byte("SNDMOU01\x02\x00")},
	} {
		if _, err := DecodeResponse(bad.b, 2); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", bad.name, err)
		}
	}
}

// Whatever DecodeResponse accepts re-encodes to the same bytes.
func FuzzDecodeResponse(f *testing.F) {
	f.Add(AppendResponse(nil, []Output{{Index: 1, Name: "maintenance", Text: "Maintenance imminent"}}), uint64(2))
	f.Add([]byte("SNDMOU01\x00"), uint64(0))
	f.Fuzz(func(t *testing.T, b []byte, count uint64) {
		outs, err := DecodeResponse(b, count)
		if err != nil {
			return
		}
		if !bytes.Equal(AppendResponse(nil, outs), b) {
			t.Fatalf("%x decodes to %+v, which encodes otherwise", b, outs)
		}
	})
}

// The paper's mapping as a module: 5300 < count < 5400 gives the label,
// once per key and batch; nothing else comes out.
func TestMaintenanceModule(t *testing.T) {
	rt := newRuntime(t)
	wasm, d := maintenance(t, rt)
	p := load(t, rt, wasm, d, sandbox.Limits{MemoryBytes: 16 << 20})
	for _, c := range []struct {
		values []string
		want   []uint64
	}{
		{[]string{"5367"}, []uint64{0}},
		{[]string{"5300", "5400", "5299", "warm", "", "-5350", "53670"}, nil},
		{[]string{"5290", " 5301\n", "5302", "b=5399", "b=5350"}, []uint64{1, 3}},
		{nil, nil},
	} {
		outs, _, err := p.Process(context.Background(), 100, batch(c.values...))
		if err != nil {
			t.Fatalf("%q: %v", c.values, err)
		}
		var got []uint64
		for _, o := range outs {
			if o.Name != "maintenance" || o.Text != "Maintenance imminent" {
				t.Fatalf("%q: output %+v", c.values, o)
			}
			got = append(got, o.Index)
		}
		if !equal(got, c.want) {
			t.Fatalf("%q: outputs about %v, want %v", c.values, got, c.want)
		}
	}
	// a batch far larger than the module's memory: it streams
	big := make([]wire.Message, 100_000)
	for i := range big {
		big[i] = wire.Message{Key: "m", Value: bytes.Repeat([]byte{'7'}, 256)}
	}
	big[77_777].Value = []byte("5367")
	outs, _, err := p.Process(context.Background(), 0, big)
	if err != nil || len(outs) != 1 || outs[0].Index != 77_777 {
		t.Fatalf("%d messages in 16 MiB: %+v, %v", len(big), outs, err)
	}
}

func equal(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Every bad module is refused with its own reason: bytes that are not the
// certified ones, an import beyond what its certification or any DCMB
// module may have, a trap, an exit, each limit, a malformed or an
// undeclared output.
func TestRefusals(t *testing.T) {
	rt := newRuntime(t)
	ctx := context.Background()
	descriptor := func(wasm []byte, imports ...string) manifest.Descriptor {
		h, _ := manifest.HashModule(bytes.NewReader(wasm))
		return manifest.Descriptor{Name: "bad", Version: 1, Module: h[:], Imports: imports, Outputs: []string{"maintenance"}}
	}
	fdWrite := "wasi_snapshot_preview1.fd_write"
	good, gd := maintenance(t, rt)

	// refused by Load
	other := bytes.Clone(good)
	other[len(other)-1] ^= 1
	for _, c := range []struct {
		name string
		wasm []byte
		d    manifest.Descriptor
		want error
	}{
		{"bytes not the certified ones", other, gd, ErrHashMismatch},
		{"a socket", wasmtest.Module{Imports: []wasmtest.Import{{Module: "wasi_snapshot_preview1", Name: "sock_accept", Params: 3, Results: 1}}}.Bytes(), manifest.Descriptor{}, ErrImport},
		{"a host function of its own", wasmtest.Module{Imports: []wasmtest.Import{{Module: "env", Name: "leak", Params: 2}}}.Bytes(), manifest.Descriptor{}, ErrImport},
		{"WASI its certification does not list", wasmtest.Writing(nil).Bytes(), manifest.Descriptor{}, ErrImport},
		{"not WebAssembly", []byte("\x00asm\x01\x00\x00\x00garbage"), manifest.Descriptor{}, sandbox.ErrInvalid},
	} {
		d := c.d
		if d.Name == "" {
			d = descriptor(c.wasm, "env.leak", "wasi_snapshot_preview1.sock_accept")
		}
		_, err := Load(ctx, rt, c.wasm, &d, sandbox.Limits{})
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}

	// refused by Process
	limits := sandbox.Limits{MemoryBytes: 1 << 20, WallTime: 300 * time.Millisecond, OutputBytes: 1 << 10}
	for _, c := range []struct {
		name string
		m    wasmtest.Module
		want error
	}{
		{"a trap", wasmtest.Module{Start: wasmtest.Trap}, sandbox.ErrTrap},
		{"past its time", wasmtest.Module{Start: wasmtest.Loop}, sandbox.ErrTimeLimit},
		{"past its memory at start", wasmtest.Module{Pages: 17, Start: wasmtest.Nop}, sandbox.ErrMemoryLimit},
		{"past its memory growing", wasmtest.Module{Start: wasmtest.GrowForever}, sandbox.ErrMemoryLimit},
		{"past its output", wasmtest.Writing(bytes.Repeat([]byte("x"), 2<<10)), sandbox.ErrOutputLimit},
		{"a malformed response", wasmtest.Writing([]byte("5367")), ErrMalformed},
		{"no response", wasmtest.Module{Start: wasmtest.Nop}, ErrMalformed},
		{"an undeclared output", wasmtest.Writing(AppendResponse(nil, []Output{{Index: 0, Name: "raw", Text: "5367"}})), ErrUndeclared},
	} {
		wasm := c.m.Bytes()
		p := load(t, rt, wasm, descriptor(wasm, fdWrite), limits)
		_, _, err := p.Process(ctx, 0, batch("5367"))
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// and a Go module that exits with an error: a malformed request
	m, err := rt.Compile(ctx, good, sandbox.Hash(gd.Module))
	if err != nil {
		t.Fatal(err)
	}
	res, err := rt.Run(ctx, m, sandbox.Spec{Stdin: strings.NewReader("SNDMIN01\x00\x05"), Limits: DefaultLimits})
	if !errors.Is(err, sandbox.ErrExit) || !strings.Contains(string(res.Stderr), "malformed request") {
		t.Errorf("a malformed request: %v, stderr %q", err, res.Stderr)
	}
}

// One batch's cost: an instance per batch (Go's runtime starting in it)
// and each message.
func BenchmarkProcess(b *testing.B) {
	rt := newRuntime(b)
	wasm, d := maintenance(b, rt)
	p := load(b, rt, wasm, d, sandbox.Limits{})
	for _, n := range []int{0, 1000, 50_000} {
		msgs := make([]wire.Message, n)
		for i := range msgs {
			msgs[i] = wire.Message{Key: "m", Value: bytes.Repeat([]byte{'x'}, 256)}
		}
		b.Run(fmt.Sprintf("%dmsgs", n), func(b *testing.B) {
			for b.Loop() {
				if _, _, err := p.Process(context.Background(), 0, msgs); err != nil {
					b.Fatal(err)
				}
			}
			if n > 0 {
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/msg")
			}
		})
	}
}
