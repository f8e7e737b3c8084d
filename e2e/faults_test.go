package e2e

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var crashCycles = flag.Int("crash-cycles", 3, "SIGKILL-and-restart cycles of TestCrashUnderLoad (the long run: 100)")

// A 4-org network under a steady load of transactions goes through each
// perturbation in turn: one validator killed, one paused, one partitioned
// from the others, all four restarted at once. After each, every node
// holds every acknowledged transaction and all agree on the block and app
// hash at every height.
func TestFourOrgPerturbations(t *testing.T) {
	if testing.Short() {
		t.Skip("four node processes")
	}
	c := startCluster(t, 4)
	l := c.startLoad(4)
	var verified int64
	step := func(what string, perturb func() time.Duration) {
		t.Helper()
		before := l.count()
		took := perturb()
		time.Sleep(time.Second) // load after the recovery
		acked := l.end()
		verified = c.verify(acked, verified)
		t.Logf("%s: recovered in %s, %d transactions acknowledged during it", what, took.Round(time.Millisecond), len(acked)-before)
		l = c.startLoad(4)
	}
	time.Sleep(2 * time.Second)
	step("kill org4", func() time.Duration {
		c.kill(3)
		time.Sleep(3 * time.Second)
		if n := l.count(); n == 0 {
			t.Fatal("no transaction acknowledged")
		}
		c.restart(3)
		return c.waitReady(3, 2*time.Minute)
	})
	step("pause org3", func() time.Duration {
		c.signal(2, syscall.SIGSTOP)
		time.Sleep(3 * time.Second)
		c.signal(2, syscall.SIGCONT)
		return c.waitReady(2, 2*time.Minute)
	})
	step("partition org2", func() time.Duration {
		c.partition(1, true)
		time.Sleep(3 * time.Second)
		c.partition(1, false)
		t0 := time.Now()
		// caught up: its height reaches the others'
		waitFor(t, "org2 catches up after the partition", 2*time.Minute, func() error {
			a, err := c.clients[0].Status(t.Context())
			if err != nil {
				return err
			}
			b, err := c.clients[1].Status(t.Context())
			if err != nil {
				return err
			}
			if b.Channels[0].Height+1 < a.Channels[0].Height {
				return fmt.Errorf("org2 at %d, org1 at %d", b.Channels[0].Height, a.Channels[0].Height)
			}
			return nil
		})
		return time.Since(t0)
	})
	step("restart all four at once", func() time.Duration {
		for i := range c.procs {
			c.kill(i)
		}
		for i := range c.procs {
			c.restart(i)
		}
		t0 := time.Now()
		for i := range c.procs {
			c.waitReady(i, 2*time.Minute)
		}
		return time.Since(t0)
	})
	l.end()
}

// A node of a 4-org network under load is killed with SIGKILL at random
// moments and restarted, -crash-cycles times: no restart fails, no
// acknowledged transaction is lost on any node, and all nodes agree on the
// block and app hash at every height.
func TestCrashUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("four node processes")
	}
	c := startCluster(t, 4)
	l := c.startLoad(4)
	var catchUp []time.Duration
	for cycle := range *crashCycles {
		i := rand.IntN(len(c.procs))
		time.Sleep(time.Duration(200+rand.IntN(1300)) * time.Millisecond)
		c.kill(i)
		time.Sleep(time.Duration(rand.IntN(500)) * time.Millisecond)
		c.restart(i)
		catchUp = append(catchUp, c.waitReady(i, 2*time.Minute))
		if (cycle+1)%25 == 0 {
			t.Logf("%d cycles, %d transactions acknowledged", cycle+1, l.count())
		}
	}
	acked := l.end()
	c.verify(acked, 1)
	t.Logf("%d crash cycles; %d transactions acknowledged (%d submissions failed while a node was down); restart to ready: %s",
		*crashCycles, len(acked), l.failed, durations(catchUp))
}

// A node's data directory fills up while it commits: it stops with a
// clear error, and once space is freed it restarts, catches up, and no
// acknowledged transaction is lost on any node.
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("four node processes")
	}
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root (CI runs as root)")
	}
	c := startCluster(t, 4)
	// org4's data directory moves onto a small tmpfs, whose space a
	// ballast file takes until the test frees it
	c.procs[3].stop(t)
	data := filepath.Join(c.homes[3], "channels", "default", "data")
	saved := data + ".saved"
	if err := os.Rename(data, saved); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(data, 0o700)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=96m", "tmpfs", data).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", data).Run() })
	if out, err := exec.Command("cp", "-a", saved+"/.", data).CombinedOutput(); err != nil {
		t.Fatalf("copy data: %v %s", err, out)
	}
	// the ballast leaves 12 MiB free: a few hundred blocks' worth
	ballast := filepath.Join(data, "ballast")
	if out, err := exec.Command("sh", "-c", "dd if=/dev/zero of="+ballast+" bs=1M count=$(( $(df -m --output=avail "+data+" | tail -1) - 12 ))").CombinedOutput(); err != nil {
		t.Fatalf("ballast: %v %s", err, out)
	}
	c.restart(3)
	l := c.startLoad(4)
	// the node writes until the disk is full
	waitFor(t, "org4 runs out of space", 6*time.Minute, func() error {
		b, _ := os.ReadFile(c.procs[3].log)
		if !strings.Contains(string(b), "no space left on device") {
			return fmt.Errorf("%d transactions acknowledged so far", l.count())
		}
		return nil
	})
	// it stops by itself with the cause, instead of staying up deciding
	// nothing
	switch err, ok := c.procs[3].wait(time.Minute); {
	case !ok:
		t.Fatal("org4 keeps running on a full disk")
	case err == nil:
		t.Fatal("org4 exited with status 0 on a full disk")
	}
	b, _ := os.ReadFile(c.procs[3].log)
	var said string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "shutting down: the node cannot go on") && strings.Contains(line, "no space left on device") {
			said = line
		}
	}
	if said == "" {
		t.Fatalf("org4 stopped without saying why:\n%s", tail(b, 2000))
	}
	t.Logf("org4 stopped: %s", tail([]byte(said), 300))
	// space is freed; the node restarts from what it had on disk
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	c.restart(3)
	took := c.waitReady(3, 3*time.Minute)
	time.Sleep(time.Second)
	acked := l.end()
	c.verify(acked, 1)
	t.Logf("org4 restarted after the disk was freed and was ready in %s", took.Round(time.Millisecond))
}
