package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/internal/wasmbuild"
)

// The compute flow between separate processes: org1's analyst posts a job
// over a series it stored (CLI), org2's worker ('sealnet worker run', each
// program in a child process) claims, attests, gets the keys from org1's
// node, runs and submits; the analyst waits for the result, decrypts and
// checks it, and accepts it. A second job nobody claims is cancelled.
func TestComputeBetweenProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts node and worker processes and builds a WebAssembly module")
	}
	sealnet := bin(t)
	dir, org1, org2 := startTwoOrgs(t, sealnet)
	analyst := memberHome(t, sealnet, dir, org1, "analyst", identity.RoleClient)
	lender := memberHome(t, sealnet, dir, org2, "w1", identity.RoleWorker)

	wd, _ := os.Getwd()
	root, err := wasmbuild.ModuleRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	program := filepath.Join(dir, "stats.wasm")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := wasmbuild.Build(ctx, root, "./compute/programs/stats", program); err != nil {
		t.Fatal(err)
	}
	series := filepath.Join(dir, "series.csv")
	os.WriteFile(series, []byte("1767225600000,41.250\n1767225660000,41.500\n1767225720000,43.750\n1767225780000,40.125\n"), 0o600)
	var put struct {
		CID string `json:"cid"`
	}
	if err := run(t, sealnet, &put, "data", "put", series, "--keyword", "sensors", "--home", analyst); err != nil {
		t.Fatal(err)
	}

	// a job nobody claims yet: cancelled by its requester
	var idle struct {
		Job             string `json:"job"`
		Confidentiality string `json:"confidentiality"`
	}
	if err := run(t, sealnet, &idle, "compute", "post", "--program", program, "--input", put.CID, "--tee", "software",
		"--home", analyst); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(idle.Confidentiality, "NOT CONFIDENTIAL") {
		t.Fatalf("a software-attested job posted as %q", idle.Confidentiality)
	}
	if err := run(t, sealnet, nil, "compute", "cancel", idle.Job, "--home", analyst); err != nil {
		t.Fatal(err)
	}
	code, msg := runErr(t, sealnet, "compute", "cancel", idle.Job, "--home", analyst)
	if code != 2 || !strings.Contains(msg, "cancelled already") {
		t.Fatalf("cancelling twice: exit %d: %s", code, msg)
	}

	// the lender's worker, then the job it takes
	wk := start(t, sealnet, lender, "worker", "run", "--isolate", "process", "--cores", "1", "--memory", "512MiB")
	var job struct {
		Job string `json:"job"`
	}
	if err := run(t, sealnet, &job, "compute", "post", "--program", program, "--input", put.CID, "--tee", "software",
		"--memory", "64MiB", "--wall-time", "30s", "--lender", "org2", "--home", analyst); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, sealnet, "compute", "result", job.Job, "--wait", "--accept", "--home", analyst)
	out, err := cmd.Output()
	var stderr string
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = string(ee.Stderr)
	}
	if err != nil {
		b, _ := os.ReadFile(wk.log)
		t.Fatalf("compute result: %v\n%s\nworker:\n%s", err, stderr, tail(b, 3000))
	}
	want := "00 count=4 min=40.125 max=43.750 mean=41.656 stddev=1.315\nall count=4 min=40.125 max=43.750 mean=41.656 stddev=1.315\n"
	if string(out) != want {
		t.Fatalf("result %q, want %q", out, want)
	}
	var status struct {
		State string `json:"state"`
		Slots []struct {
			Org   string `json:"org"`
			Grant []byte `json:"grant"`
		} `json:"slots"`
	}
	if err := run(t, sealnet, &status, "compute", "status", job.Job, "--home", analyst); err != nil {
		t.Fatal(err)
	}
	if status.State != "accepted" || len(status.Slots) != 1 || status.Slots[0].Org != "org2" || len(status.Slots[0].Grant) != 32 {
		t.Fatalf("job after accept: %+v", status)
	}
	b, _ := os.ReadFile(wk.log)
	for _, step := range []string{"claimed in block", "attested in block", "keys released by the custodian", "submitted in block", "NOT CONFIDENTIAL"} {
		if !strings.Contains(string(b), step) {
			t.Fatalf("the worker's output lacks %q:\n%s", step, tail(b, 3000))
		}
	}
	if strings.Contains(string(b), "41.250") {
		t.Fatal("an input value in the worker's output")
	}
}
