package contracttest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/sealnet/sealnet/contract/compute"
)

// computeValue evaluates the value forms a compute job's scenario needs:
//
//	key:<member>                          the member's P-256 public key, SEC 1 uncompressed
//	commit:<tx label>:<worker>:<out>:<n>  the commit hash a redundant job's worker submits
//	                                      (compute.CommitHash) for job tx:<tx label>, with
//	                                      output commitment sha256:<out> and nonce sha256:<n>
func (s *Scenario) computeValue(kind, rest, v string) (value, error) {
	switch kind {
	case "key":
		p, err := s.person(rest)
		if err != nil {
			return value{}, err
		}
		pub, err := p.key.PublicKey.Bytes()
		if err != nil {
			return value{}, fmt.Errorf("%s: %v", v, err)
		}
		return both(pub), nil
	case "commit":
		parts := strings.Split(rest, ":")
		if len(parts) != 4 {
			return value{}, fmt.Errorf("%s: want commit:<tx label>:<worker>:<output>:<nonce>", v)
		}
		t, ok := s.txs[parts[0]]
		if !ok {
			return value{}, fmt.Errorf("%s: no transaction labelled %q", v, parts[0])
		}
		w, err := s.person(parts[1])
		if err != nil {
			return value{}, err
		}
		out, nonce := sha256.Sum256([]byte(parts[2])), sha256.Sum256([]byte(parts[3]))
		h := compute.CommitHash(hex.EncodeToString(t.id[:]), w.fp, out[:], nonce[:])
		s.name(hex.EncodeToString(h), v)
		return both(h), nil
	}
	return value{}, fmt.Errorf("%s: unknown value form", v)
}
