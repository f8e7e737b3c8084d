package custodian

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sealnet/sealnet/identity"
)

// A key file is the sealed key in hex and its owner's fingerprint, one per
// line; files of before owners were recorded have the key alone.
func TestKeyFileFormat(t *testing.T) {
	nodeKey, err := identity.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	k := &keyStore{dir: t.TempDir(), key: nodeKey}
	key := bytes.Repeat([]byte{7}, 32)
	var owner identity.Fingerprint
	owner[0] = 0xab
	if err := k.put("default", obj, key, owner); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(k.dir, "default", obj+".key"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	if len(lines) != 3 || lines[1] != owner.String() || lines[2] != "" {
		t.Fatalf("key file %q", raw)
	}
	if _, err := hex.DecodeString(lines[0]); err != nil || strings.Contains(lines[0], hex.EncodeToString(key)) {
		t.Fatalf("first line is not the sealed key in hex: %q", lines[0])
	}
	if got, err := k.load("default", obj); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("load: %x %v", got, err)
	}
	// the format without an owner: the zero fingerprint
	if err := os.WriteFile(filepath.Join(k.dir, "default", obj+".key"), []byte(lines[0]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, o, err := k.read("default", obj); err != nil || o != (identity.Fingerprint{}) {
		t.Fatalf("old file: owner %s %v", o, err)
	}
	if err := k.destroy("default", obj); err != nil {
		t.Fatal(err)
	}
	if _, _, err := k.read("default", obj); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after destroy: %v", err)
	}
	if err := k.destroy("default", obj); err != nil {
		t.Fatalf("destroying twice: %v", err)
	}
}

// A write that fails midway (here: the file-size limit, as a full disk or
// an I/O error would) leaves the key that was there whole: the custodian
// never reads a torn key as a purged one.
func TestFailedPutKeepsTheOldKey(t *testing.T) {
	nodeKey, err := identity.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	k := &keyStore{dir: t.TempDir(), key: nodeKey}
	old := bytes.Repeat([]byte{1}, 32)
	var owner identity.Fingerprint
	if err := k.put("default", obj, old, owner); err != nil {
		t.Fatal(err)
	}
	// writes past 100 bytes fail with EFBIG instead of raising SIGXFSZ
	signal.Ignore(syscall.SIGXFSZ)
	defer signal.Reset(syscall.SIGXFSZ)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	small := lim
	small.Cur = 100
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &small); err != nil {
		t.Fatal(err)
	}
	err = k.put("default", obj, bytes.Repeat([]byte{2}, 32), owner)
	if rerr := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); rerr != nil {
		t.Fatal(rerr)
	}
	if err == nil {
		t.Fatal("a put whose write failed returned nil")
	}
	got, err := k.load("default", obj)
	if err != nil || !bytes.Equal(got, old) {
		t.Fatalf("after a failed put the key reads %x, %v; want the old key whole", got, err)
	}
	if ents, _ := os.ReadDir(filepath.Join(k.dir, "default")); len(ents) != 1 {
		t.Fatalf("left behind: %v", ents)
	}
}
