package certify_test

import (
	"testing"

	"github.com/sealnet/sealnet/contract/contracttest"
)

// TestScenarios runs testdata/*.txt on a running and a restarted node.
func TestScenarios(t *testing.T) { contracttest.Run(t, "testdata") }
