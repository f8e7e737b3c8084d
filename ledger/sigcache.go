package ledger

import (
	"sync"

	"github.com/sealnet/sealnet/envelope"
)

// sigCacheMax bounds the cache: past it, transactions are verified again in
// FinalizeBlock instead of being remembered (correct, only slower).
const sigCacheMax = 200_000

// sigCache remembers transactions whose signatures verified, so each
// signature is checked once per node. Entries leave when their block is
// executed; entries of transactions that never make it into a block (evicted
// from the mempool) are dropped after a few commits.
type sigCache struct {
	mu   sync.Mutex
	cur  map[envelope.ID]*checked
	prev map[envelope.ID]*checked
	gens int
}

func newSigCache() *sigCache {
	return &sigCache{cur: map[envelope.ID]*checked{}, prev: map[envelope.ID]*checked{}}
}

func (s *sigCache) put(c *checked) {
	s.mu.Lock()
	if len(s.cur)+len(s.prev) < sigCacheMax {
		s.cur[c.tx.ID] = c
	}
	s.mu.Unlock()
}

func (s *sigCache) get(id envelope.ID) *checked {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.cur[id]; c != nil {
		return c
	}
	return s.prev[id]
}

func (s *sigCache) take(id envelope.ID) *checked {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.cur[id]; c != nil {
		delete(s.cur, id)
		return c
	}
	if c := s.prev[id]; c != nil {
		delete(s.prev, id)
		return c
	}
	return nil
}

// expire ages the cache by one commit; every 64 commits the oldest
// generation is dropped (two generations are kept, so an entry lives at
// least 64 commits).
func (s *sigCache) expire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gens++
	if s.gens%64 == 0 {
		s.prev, s.cur = s.cur, make(map[envelope.ID]*checked, len(s.cur))
	}
}
