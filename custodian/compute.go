// What the node's compute key release (package compute/custody) takes
// from the custodian: the data keys it holds, and the output salts the
// org's requesters deposit with it, kept the same way.

package custodian

import (
	"encoding/hex"
	"errors"
	"os"

	"github.com/sealnet/sealnet/contract/compute"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/txerr"
)

// DataKey returns the data key of object obj on channel in clear, for the
// node's own release of a compute job's keys to an attested enclave. It
// is os.ErrNotExist when the custodian holds none.
func (c *Custodian) DataKey(channel, obj string) ([]byte, error) { return c.keys.load(channel, obj) }

// saltName names a job's salt in the key store; no CID starts so.
func saltName(job string) string { return "job-" + job }

// PutSalt keeps a compute job's output salt, deposited by the job's
// requester before it posts (the job's ID is its post's transaction ID).
// Only the member that deposited a salt replaces it.
func (c *Custodian) PutSalt(channel, job string, salt []byte, by *identity.Member) error {
	if b, err := hex.DecodeString(job); err != nil || len(b) != 32 {
		return txerr.New(txerr.BadArgs, "job %q: want 64 hex digits", job)
	}
	if len(salt) != compute.SaltSize {
		return txerr.New(txerr.BadArgs, "salt is %d bytes, want %d", len(salt), compute.SaltSize)
	}
	if _, err := c.cfg.Channels.Channel(channel); err != nil {
		return err
	}
	if by == nil {
		return txerr.New(txerr.UnknownCert, "a salt is deposited by its job's requester, and none was authenticated")
	}
	if _, held, err := c.keys.read(channel, saltName(job)); err == nil && held != by.Fingerprint {
		return txerr.New(txerr.RoleDenied, "the salt of job %s was deposited by certificate %s; only that member may replace it", job, held)
	}
	return c.keys.put(channel, saltName(job), salt, by.Fingerprint)
}

// Salt returns a job's output salt and the member that deposited it; it
// is os.ErrNotExist when none was.
func (c *Custodian) Salt(channel, job string) ([]byte, identity.Fingerprint, error) {
	_, by, err := c.keys.read(channel, saltName(job))
	if err != nil {
		return nil, by, err
	}
	salt, err := c.keys.load(channel, saltName(job))
	return salt, by, err
}

// IsNotHeld reports whether err says the custodian holds no such key or
// salt.
func IsNotHeld(err error) bool { return errors.Is(err, os.ErrNotExist) }
