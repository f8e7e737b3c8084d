// The key store: the data keys the org's members deposit with their node,
// one file per object, HPKE-sealed to the node's own key and recording the
// member that deposited it.

package custodian

import (
	"crypto/ecdsa"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sealnet/sealnet/durable"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/share"
)

// keyStore keeps data keys under dir as <channel>/<cid>.key: the wrapped
// key in hex on the first line, the owner's certificate fingerprint on the
// second. A copy of the directory alone opens nothing.
type keyStore struct {
	dir string
	key *ecdsa.PrivateKey // the node's: keys are sealed to it
}

func (k *keyStore) path(channel, c string) string {
	return filepath.Join(k.dir, channel, c+".key")
}

// put seals key to the node and writes it with its owner.
func (k *keyStore) put(channel, c string, key []byte, owner identity.Fingerprint) error {
	wrapped, err := share.SealTo(&k.key.PublicKey, key)
	if err != nil {
		return err
	}
	p := k.path(channel, c)
	if err := durable.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	// replaced whole or not at all: a torn key would read as purged
	return durable.WriteFile(p, []byte(hex.EncodeToString(wrapped)+"\n"+owner.String()+"\n"), 0o600)
}

// read reads a key file: the wrapped key, then its owner's fingerprint
// (files written before owners were recorded have none: their owner is the
// zero fingerprint, which only an admin matches). A missing file is
// os.ErrNotExist.
func (k *keyStore) read(channel, c string) (wrapped []byte, owner identity.Fingerprint, err error) {
	p := k.path(channel, c)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, owner, err
	}
	lines := strings.Fields(string(b))
	if len(lines) == 0 {
		return nil, owner, fmt.Errorf("key file %s is empty", filepath.Base(p))
	}
	if wrapped, err = hex.DecodeString(lines[0]); err != nil {
		return nil, owner, fmt.Errorf("key file %s: %w", filepath.Base(p), err)
	}
	if len(lines) > 1 {
		if owner, err = identity.ParseFingerprint(lines[1]); err != nil {
			return nil, owner, fmt.Errorf("key file %s: owner: %w", filepath.Base(p), err)
		}
	}
	return wrapped, owner, nil
}

// load returns a data key in clear.
func (k *keyStore) load(channel, c string) ([]byte, error) {
	wrapped, _, err := k.read(channel, c)
	if err != nil {
		return nil, err
	}
	return share.OpenWith(k.key, wrapped)
}

// destroy overwrites a key file with zeros, syncs it and removes it; a
// file already gone is no error.
func (k *keyStore) destroy(channel, c string) error {
	p := k.path(channel, c)
	if f, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
		if fi, err := f.Stat(); err == nil {
			f.Write(make([]byte, fi.Size()))
		}
		f.Sync()
		f.Close()
	}
	return durable.Remove(p)
}
