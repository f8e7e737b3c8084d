package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/cometbft/cometbft/consensus"
	"github.com/cometbft/cometbft/types"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/durable"
	"github.com/sealnet/sealnet/ledger"
)

// livez answers while the process serves.
func (s *Server) livez(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) }

// readyz answers 200 when the node can do its work: every channel has
// caught up with its peers (no block sync running), its home is writable
// (a probe file is written durably and removed, at most once every
// storageTTL), and its p2p host is up. Otherwise 503, with each check's
// finding.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	r := apiclient.Readiness{Ready: true, Checks: map[string]string{}}
	fail := func(name, why string) { r.Ready, r.Checks[name] = false, why }
	for _, c := range s.n.Channels() {
		name := "channel " + c.Name
		switch {
		case c.App.Failure() != nil:
			fail(name, "stopped: "+c.App.Failure().Error())
		case c.Host.Node == nil || !c.Host.Node.IsRunning():
			fail(name, "not running")
		case c.Host.Node.ConsensusReactor().WaitSync():
			h, _ := c.App.Height()
			fail(name, fmt.Sprintf("catching up with its peers (block sync at height %d)", h))
		case behind(c) > 0:
			h, _ := c.App.Height()
			fail(name, fmt.Sprintf("catching up with its peers (height %d, %d blocks behind)", h, behind(c)))
		default:
			r.Checks[name] = "ok"
		}
	}
	if err := s.storage.check(time.Now()); err != nil {
		fail("storage", err.Error())
	} else {
		r.Checks["storage"] = "ok"
	}
	if s.n.Config().P2P.Listen != nil {
		if sh := s.n.Share(); sh == nil || len(sh.Host.Addrs()) == 0 {
			fail("p2p", "the libp2p host is not listening")
		} else {
			r.Checks["p2p"] = "ok"
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if !r.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(r)
}

// storageTTL is how long a finding of the storage check stands. Probes
// may poll /readyz every second or more often; the check syncs a file
// and a directory, which on a busy disk is no longer cheap.
const storageTTL = 5 * time.Second

// storageCheck finds whether a directory is writable: it writes a probe
// file durably (synced, as the node's own state is) and removes it. A
// finding is reused for ttl; concurrent callers share one probe.
type storageCheck struct {
	dir string
	ttl time.Duration

	mu  sync.Mutex
	at  time.Time // when err was found; zero before the first probe
	err error
}

func newStorageCheck(dir string, ttl time.Duration) *storageCheck {
	return &storageCheck{dir: dir, ttl: ttl}
}

// check returns the finding of a probe made at most ttl before now,
// probing again if the last one is older.
func (c *storageCheck) check(now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if age := now.Sub(c.at); !c.at.IsZero() && age >= 0 && age < c.ttl {
		return c.err
	}
	probe := filepath.Join(c.dir, ".readyz")
	c.err = durable.WriteFile(probe, []byte("probe\n"), 0o600)
	if c.err == nil {
		c.err = durable.Remove(probe)
	}
	c.at = now
	return c.err
}

// behind says how many blocks the channel's committed height trails the
// highest height its peers work on, less one block of slack for the block
// being decided.
func behind(c *ledger.Channel) int64 {
	h, _ := c.App.Height()
	var top int64
	for _, p := range c.Host.Node.Switch().Peers().List() {
		if ps, ok := p.Get(types.PeerStateKey).(*consensus.PeerState); ok {
			top = max(top, ps.GetHeight())
		}
	}
	// a peer deciding height top has committed top-1
	return max(0, top-1-h-1)
}
