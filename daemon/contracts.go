// The contracts every channel runs.

package daemon

import (
	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/contract/condition"
	"github.com/sealnet/sealnet/contract/index"
	"github.com/sealnet/sealnet/contract/registry"
)

// Contracts returns the contracts every channel of a node runs, fresh
// instances for one channel. A new contract is added here and nowhere else:
// the ledger runs whatever list it is handed.
func Contracts() []contract.Contract {
	return []contract.Contract{registry.New(), index.New(), audit.New(), condition.New()}
}
