package paych_test

import (
	"encoding/hex"
	"testing"

	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/contract/contracttest"
	"github.com/sealnet/sealnet/contract/paych"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/txerr"
)

// stubCompute stands in for the compute contract so that a scenario can
// set a job's state in one transaction: an admin sets it. It is
// registered only in tests.
type stubCompute struct{}

type setArgs struct {
	Job   []byte `cbor:"job"`
	State string `cbor:"state"`
}

func (stubCompute) Name() string { return "compute" }

func (stubCompute) Methods() map[string]contract.Method {
	return map[string]contract.Method{"set": {Roles: []identity.Role{identity.RoleAdmin},
		Run: func(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
			var a setArgs
			if err := contract.DecodeArgs("set", raw, &a); err != nil {
				return nil, err
			}
			return nil, st.Set([]byte("j/"+hex.EncodeToString(a.Job)), []byte(a.State))
		}}}
}

func (stubCompute) Query(contract.State, string, []byte) ([]byte, error) {
	return nil, txerr.New(txerr.UnknownMethod, "no queries")
}

// stubJobs reads the stub's jobs as the compute contract's accessor will
// read its own.
type stubJobs struct{}

func (stubJobs) Contract() string { return "compute" }

func (stubJobs) JobState(st contract.State, job string) (string, bool, error) {
	v, err := st.Get([]byte("j/" + job))
	return string(v), v != nil, err
}

func withJobs() []contract.Contract {
	return []contract.Contract{stubCompute{}, paych.NewWithJobs(stubJobs{})}
}

// TestScenarios runs testdata/channels/*.txt with the stub job contract
// in place of the compute contract, and testdata/wired/*.txt with the
// contracts every node runs (contract/builtin), the real compute contract
// among them.
func TestScenarios(t *testing.T) {
	t.Run("channels", func(t *testing.T) { contracttest.RunWith(t, "testdata/channels", withJobs) })
	t.Run("wired", func(t *testing.T) { contracttest.Run(t, "testdata/wired") })
}
