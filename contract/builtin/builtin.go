// Package builtin lists the contracts every channel of a sealnet node
// runs. The composition root (package daemon) hands this list to the
// ledger; the scenario harness (contracttest) runs the same one. A new
// contract is added here and nowhere else.
package builtin

import (
	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/contract/certify"
	"github.com/sealnet/sealnet/contract/compute"
	"github.com/sealnet/sealnet/contract/condition"
	"github.com/sealnet/sealnet/contract/credit"
	"github.com/sealnet/sealnet/contract/index"
	"github.com/sealnet/sealnet/contract/paych"
	"github.com/sealnet/sealnet/contract/registry"
)

// Contracts returns fresh instances of the built-in contracts, for one
// channel. The payment-channel contract reads the compute contract's jobs
// for vouchers that pay once a job is accepted.
func Contracts() []contract.Contract {
	return []contract.Contract{registry.New(), index.New(), audit.New(), condition.New(), compute.New(), certify.New(),
		credit.New(paych.Name), paych.NewWithJobs(compute.Jobs{})}
}
