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
	start(t, sealnet, maker, "dcmb", "run", "--config", makerCfg)
	start(t, sealnet, owner, "dcmb", "run", "--config", ownerCfg)
	waitFor(t, "the manufacturer registers its condition", time.Minute, func() error {
		return run(t, sealnet, nil, "condition", "register", "--home", maker, "--id", "press-7-maintenance",
			"--label", "Maintenance imminent", "--salt", "k8Zq", "--sender", "org1")
	})
	values := []string{"5290.5", "5367.25", "5410.75"}
	for _, v := range values {
		waitFor(t, "the owner's HTTP source takes "+v, 30*time.Second, func() error {
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
	}
	waitFor(t, "three messages received", time.Minute, func() error {
		f, err := os.Open(out)
		if err != nil {
			return err
		}
		defer f.Close()
		var n int
		for sc := bufio.NewScanner(f); sc.Scan(); n++ {
			var l struct {
				Seq   int
				Value string
			}
			json.Unmarshal(sc.Bytes(), &l)
			if l.Seq != n || l.Value != values[n] {
				return fmt.Errorf("line %d: %s", n, sc.Text())
			}
		}
		if n != 3 {
			return fmt.Errorf("%d lines", n)
		}
		return nil
	})

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
}
