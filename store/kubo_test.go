package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	kuboOnce sync.Once
	kuboBin  string
	kuboErr  error
)

// kubo returns the reference Kubo binary, building it on first use
// (scripts/kubo.sh caches it), or $SEALNET_KUBO if set.
func kubo(t *testing.T) string {
	t.Helper()
	kuboOnce.Do(func() {
		if b := os.Getenv("SEALNET_KUBO"); b != "" {
			kuboBin = b
			return
		}
		out, err := exec.Command("bash", "../scripts/kubo.sh").Output()
		if err != nil {
			kuboErr = err
			if ee, ok := err.(*exec.ExitError); ok {
				kuboErr = &buildError{err, string(ee.Stderr)}
			}
			return
		}
		kuboBin = strings.TrimSpace(string(out))
	})
	if kuboErr != nil {
		t.Fatalf("build Kubo: %v", kuboErr)
	}
	return kuboBin
}

type buildError struct {
	err    error
	stderr string
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.stderr }

// kuboRepo initializes an empty, offline Kubo repository.
func kuboRepo(t *testing.T, bin string) []string {
	t.Helper()
	env := append(os.Environ(), "IPFS_PATH="+t.TempDir())
	cmd := exec.Command(bin, "init", "--empty-repo", "--profile", "test")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ipfs init: %v\n%s", err, out)
	}
	return env
}

// sample writes n deterministic pseudo-random bytes to a file.
func sample(t *testing.T, n int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "data")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rng := rand.NewChaCha8([32]byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)})
	if _, err := io.CopyN(f, rng, n); err != nil {
		t.Fatal(err)
	}
	return p
}

// The same bytes give the same CID as Kubo's
// `ipfs add --cid-version 1 --raw-leaves --chunker size-262144`.
func TestCIDsEqualKubo(t *testing.T) {
	bin := kubo(t)
	env := kuboRepo(t, bin)
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sizes := []int64{0, 1, 256<<10 - 1, 256 << 10, 256<<10 + 1, 10 << 20, 100 << 20}
	for _, n := range sizes {
		path := sample(t, n)
		cmd := exec.Command(bin, "add", "-Q", "--only-hash", "--cid-version", "1", "--raw-leaves", "--chunker", "size-262144", path)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%d bytes: ipfs add: %v", n, err)
		}
		want := strings.TrimSpace(string(out))
		f, _ := os.Open(path)
		got, err := s.Add(context.Background(), f, AddOptions{})
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got.String() != want {
			t.Fatalf("%d bytes: sealnet %s, Kubo %s", n, got, want)
		}
		// and it reads back byte for byte
		r, err := s.Open(context.Background(), got)
		if err != nil {
			t.Fatal(err)
		}
		h1, h2 := sha256.New(), sha256.New()
		io.Copy(h1, r)
		f, _ = os.Open(path)
		io.Copy(h2, f)
		f.Close()
		if !bytes.Equal(h1.Sum(nil), h2.Sum(nil)) {
			t.Fatalf("%d bytes: content read back differs", n)
		}
		t.Logf("%9d bytes  %s", n, got)
	}
}
