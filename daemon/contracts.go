// The contracts every channel runs.

package daemon

import (
	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/contract/builtin"
)

// Contracts returns the contracts every channel of a node runs, fresh
// instances for one channel (contract/builtin lists them).
func Contracts() []contract.Contract { return builtin.Contracts() }
