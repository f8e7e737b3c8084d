// Package wasmtest assembles tiny WebAssembly modules for tests: a
// _start that traps, loops, grows its memory, imports what it should not,
// or writes given bytes to standard output, each a few dozen bytes that
// compile in microseconds.
package wasmtest

import "encoding/binary"

// Import is a function a module imports, of type (i32 x Params) -> i32
// (Results 1) or -> () (Results 0).
type Import struct {
	Module, Name    string
	Params, Results int
}

// Module describes a module with one exported _start and a memory.
type Module struct {
	Imports []Import
	Pages   uint32 // initial memory, 64 KiB pages (default 1)
	Data    []byte // at address 0
	Start   []byte // _start's body, without the final end
}

// Bodies of _start.
var (
	Trap = []byte{0x00}                         // unreachable
	Loop = []byte{0x03, 0x40, 0x0c, 0x00, 0x0b} // loop br 0 end
	Nop  = []byte{}
)

// GrowForever grows memory by a page until refused, then traps.
var GrowForever = []byte{
	0x03, 0x40, // loop
	0x41, 0x01, 0x40, 0x00, // i32.const 1; memory.grow
	0x41, 0x7f, 0x47, // i32.const -1; i32.ne
	0x0d, 0x00, // br_if 0
	0x0b, // end
	0x00, // unreachable
}

// Writing returns a module that writes out to standard output through
// WASI's fd_write and returns.
func Writing(out []byte) Module {
	data := make([]byte, 16, 16+len(out))
	binary.LittleEndian.PutUint32(data[0:], 16)               // iovec.buf
	binary.LittleEndian.PutUint32(data[4:], uint32(len(out))) // iovec.len
	data = append(data, out...)
	// fd_write(1, iovs=0, iovs_len=1, nwritten=8); drop
	body := []byte{0x41, 0x01, 0x41, 0x00, 0x41, 0x01, 0x41, 0x08, 0x10, 0x00, 0x1a}
	return Module{Imports: []Import{{"wasi_snapshot_preview1", "fd_write", 4, 1}}, Data: data, Start: body,
		Pages: uint32(len(data)>>16) + 1}
}

// Bytes assembles the module.
func (m Module) Bytes() []byte {
	if m.Pages == 0 {
		m.Pages = 1
	}
	out := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	// types: one per import, then () -> ()
	var types [][]byte
	for _, imp := range m.Imports {
		t := []byte{0x60}
		t = uv(t, uint64(imp.Params))
		for range imp.Params {
			t = append(t, 0x7f)
		}
		t = uv(t, uint64(imp.Results))
		for range imp.Results {
			t = append(t, 0x7f)
		}
		types = append(types, t)
	}
	types = append(types, []byte{0x60, 0x00, 0x00})
	out = section(out, 1, vec(types))
	var imps [][]byte
	for i, imp := range m.Imports {
		b := str(nil, imp.Module)
		b = str(b, imp.Name)
		b = append(b, 0x00)
		imps = append(imps, uv(b, uint64(i)))
	}
	if len(imps) > 0 {
		out = section(out, 2, vec(imps))
	}
	start := uint64(len(m.Imports)) // the function index of _start
	out = section(out, 3, vec([][]byte{uv(nil, start)}))
	out = section(out, 5, vec([][]byte{uv([]byte{0x00}, uint64(m.Pages))}))
	exports := [][]byte{uv(append(str(nil, "_start"), 0x00), start), append(str(nil, "memory"), 0x02, 0x00)}
	out = section(out, 7, vec(exports))
	body := append([]byte{0x00}, m.Start...) // no locals
	body = append(body, 0x0b)
	out = section(out, 10, vec([][]byte{append(uv(nil, uint64(len(body))), body...)}))
	if len(m.Data) > 0 {
		seg := append([]byte{0x00, 0x41, 0x00, 0x0b}, uv(nil, uint64(len(m.Data)))...)
		out = section(out, 11, vec([][]byte{append(seg, m.Data...)}))
	}
	return out
}

func uv(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

func str(b []byte, s string) []byte { return append(uv(b, uint64(len(s))), s...) }

// vec is a vector of already encoded items.
func vec(items [][]byte) []byte {
	b := uv(nil, uint64(len(items)))
	for _, it := range items {
		b = append(b, it...)
	}
	return b
}

func section(b []byte, id byte, content []byte) []byte {
	b = append(b, id)
	return append(uv(b, uint64(len(content))), content...)
}
