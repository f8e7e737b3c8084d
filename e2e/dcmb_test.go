package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Two companies' nodes as separate processes, each run by 'sealnet dcmb
// run': the owner's values pushed over HTTP reach the manufacturer,
// verified; the hashed label meets the condition registered with 'sealnet
// condition register'; 'sealnet audit export' and 'audit verify' prove one
// message offline, and an altered bundle is refused.
func TestDCMBCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two node processes")
	}
	sealnet := bin(t)
	dir, first := testnet(t, sealnet, 2)
	owner, maker := filepath.Join(dir, "org1"), filepath.Join(dir, "org2")
	push := fmt.Sprintf("%s:%d", first, freePort(t, first))
	out := filepath.Join(dir, "press-7.jsonl")
	ownerCfg := filepath.Join(dir, "owner.toml")
	os.WriteFile(ownerCfg, []byte(fmt.Sprintf(`
[[stream]]
name = "press-7"
receiver = "org2"
interval = "300ms"
  [stream.source]
  kind = "http"
  listen = %q
  key = "counter"
  [[stream.rule]]
  key = "counter"
  above = 5300
  below = 5400
  label = "Maintenance imminent"
  condition = "press-7-maintenance"
  label_salt = "k8Zq"
`, push)), 0o600)
	makerCfg := filepath.Join(dir, "maker.toml")
	os.WriteFile(makerCfg, []byte(fmt.Sprintf(`
[[receive]]
stream = "press-7"
from = "org1"
output = %q
`, out)), 0o600)
	makerProc := start(t, sealnet, maker, "dcmb", "run", "--config", makerCfg)
	ownerProc := start(t, sealnet, owner, "dcmb", "run", "--config", ownerCfg)
	waitFor(t, "the manufacturer registers its condition", time.Minute, func() error {
		return run(t, sealnet, nil, "condition", "register", "--home", maker, "--id", "press-7-maintenance",
			"--label", "Maintenance imminent", "--salt", "k8Zq", "--sender", "org1")
	})
	var values []string
	send := func(vs ...string) {
		t.Helper()
		for _, v := range vs {
			waitFor(t, "the owner's HTTP source takes "+v, time.Minute, func() error {
				r, err := http.Post("http://"+push, "text/plain", strings.NewReader(v))
				if err != nil {
					return err
				}
				r.Body.Close()
				if r.StatusCode != http.StatusAccepted {
					return fmt.Errorf("status %s", r.Status)
				}
				return nil
			})
			values = append(values, v)
		}
	}
	// received reports whether the output holds every value sent, once, in order
	received := func() error {
		f, err := os.Open(out)
		if err != nil {
			return err
		}
		defer f.Close()
		// sequence numbers rise by one, except across a crash of the
		// sender, whose unused reservation the chain records as dropped
		var n, prev int
		for sc := bufio.NewScanner(f); sc.Scan(); n++ {
			var l struct {
				Seq   int
				Value string
			}
			json.Unmarshal(sc.Bytes(), &l)
			if n >= len(values) || (n > 0 && l.Seq <= prev) || (n == 0 && l.Seq != 0) || l.Value != values[n] {
				return fmt.Errorf("line %d: %s", n, sc.Text())
			}
			prev = l.Seq
		}
		if n != len(values) {
			return fmt.Errorf("%d of %d lines", n, len(values))
		}
		return nil
	}
	send("5290.5", "5367.25", "5410.75")
	waitFor(t, "three messages received", time.Minute, received)

	// the condition met, addressed to the manufacturer
	waitFor(t, "condition_met in the manufacturer's events", 30*time.Second, func() error {
		b, err := exec.Command(sealnet, "events", "--home", maker, "--to", "org2", "--json").Output()
		if err != nil {
			return err
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var e struct {
				Event struct {
					Type string `json:"type"`
					To   string `json:"to"`
				} `json:"event"`
			}
			if json.Unmarshal([]byte(line), &e) == nil && e.Event.Type == "condition_met" && e.Event.To == "org2" {
				return nil
			}
		}
		return fmt.Errorf("no condition_met among:\n%s", b)
	})

	bundle := filepath.Join(dir, "m1.bundle")
	if err := run(t, sealnet, nil, "audit", "export", "--home", maker, "--stream", "press-7", "--seq", "1", "-o", bundle); err != nil {
		t.Fatal(err)
	}
	genesis := filepath.Join(maker, "channels", "default", "config", "genesis.json")
	var rep struct {
		Messages []struct {
			Seq   int
			Value []byte
		}
		Steps []string
	}
	if err := run(t, sealnet, &rep, "audit", "verify", bundle, "--genesis", genesis); err != nil {
		t.Fatal(err)
	}
	if len(rep.Messages) != 1 || rep.Messages[0].Seq != 1 || string(rep.Messages[0].Value) != "5367.25" || len(rep.Steps) < 5 {
		t.Fatalf("verify reported %+v", rep)
	}
	raw, _ := os.ReadFile(bundle)
	i := strings.Index(string(raw), "5367.25")
	raw[i+3] = '8'
	os.WriteFile(bundle, raw, 0o600)
	err := run(t, sealnet, nil, "audit", "verify", bundle, "--genesis", genesis)
	if err == nil || !strings.Contains(err.Error(), "INVALID") {
		t.Fatalf("an altered bundle: %v", err)
	}

	// the manufacturer's DCMB stops (its node keeps validating: two
	// validators need both); the owner's anchors and spools, and is killed;
	// both come back and nothing spooled is lost
	makerProc.stop(t)
	makerProc = start(t, sealnet, maker)
	send("5411.5", "5412.5", "5413.5")
	waitFor(t, "six messages anchored", time.Minute, func() error {
		var st struct {
			Stream struct {
				Next int `json:"next"`
			} `json:"stream"`
		}
		if err := run(t, sealnet, &st, "audit", "stream", "press-7", "--home", owner); err != nil {
			return err
		}
		if st.Stream.Next != 6 {
			return fmt.Errorf("next %d", st.Stream.Next)
		}
		return nil
	})
	ownerProc.kill(t)
	ownerProc = start(t, sealnet, owner, "dcmb", "run", "--config", ownerCfg)
	makerProc.stop(t)
	start(t, sealnet, maker, "dcmb", "run", "--config", makerCfg)
	send("5414.5")
	waitFor(t, "every message received after the crash", 2*time.Minute, received)
	// what the crash may have taken is on chain: the rest of the killed
	// sender's reservation, from 6 on, as dropped
	var rec struct {
		Batches []struct {
			FirstSeq int    `json:"first_seq"`
			Dropped  string `json:"dropped"`
		} `json:"batches"`
	}
	if err := run(t, sealnet, &rec, "audit", "stream", "press-7", "--batches", "--home", owner); err != nil {
		t.Fatal(err)
	}
	crashed := false
	for _, b := range rec.Batches {
		crashed = crashed || (b.FirstSeq == 6 && strings.Contains(b.Dropped, "without sealing"))
	}
	if !crashed {
		t.Fatalf("no dropped range from 6 on after the sender's crash: %+v", rec.Batches)
	}
	if l, _ := os.ReadFile(ownerProc.log); !strings.Contains(string(l), `msg="spool recovered" module=dcmb stream=press-7 batches=`) {
		t.Fatalf("the restarted owner did not recover its spool:\n%s", tail(l, 3000))
	}
}
