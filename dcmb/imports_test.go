package dcmb

import (
	"os/exec"
	"strings"
	"testing"
)

// The runtime needs of its node only Deps: the daemon builds them, and
// the DCMB does not depend on package node.
func TestNoNodeDependency(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "github.com/sealnet/sealnet/node" {
			t.Error("package dcmb depends on package node")
		}
	}
}
