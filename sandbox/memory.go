package sandbox

import (
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// limitedMemory allocates one run's linear memory and refuses to grow it
// past limit. wazero asks it through the allocator hook of the context the
// module is instantiated with, so each run has its own limit while all
// runs share one runtime and its compiled code.
type limitedMemory struct {
	limit   uint64
	buf     []byte
	refused bool
	length  atomic.Uint64
}

// Allocate implements experimental.MemoryAllocator. The module's declared
// maximum still applies: wazero never asks for more than max.
func (m *limitedMemory) Allocate(_, _ uint64) experimental.LinearMemory { return m }

// Reallocate implements experimental.LinearMemory: nil refuses the growth,
// which the module sees as memory.grow returning -1.
func (m *limitedMemory) Reallocate(size uint64) []byte {
	if size > m.limit {
		m.refused = true
		return nil
	}
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
	} else {
		// Double to amortise copies, but never reserve past the limit.
		grown := make([]byte, size, min(max(size, 2*uint64(cap(m.buf))), m.limit))
		copy(grown, m.buf)
		m.buf = grown
	}
	m.length.Store(size)
	return m.buf
}

// Free implements experimental.LinearMemory.
func (m *limitedMemory) Free() { m.buf = nil }

func (m *limitedMemory) size() uint64 { return m.length.Load() }
