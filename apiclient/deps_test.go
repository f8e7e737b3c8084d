package apiclient_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/dcmb/bundle"
)

// The client is what a member's own machine links: none of the node's
// consensus, peer-to-peer or block-exchange code, and not the server.
func TestClientLinksNoNode(t *testing.T) {
	forbidden := []string{
		"github.com/cometbft/", "github.com/libp2p/", "github.com/ipfs/boxo",
		"github.com/sealnet/sealnet/api", "github.com/sealnet/sealnet/node", "github.com/sealnet/sealnet/ledger",
		"github.com/sealnet/sealnet/p2p", "github.com/sealnet/sealnet/store", "github.com/sealnet/sealnet/custodian",
		"github.com/sealnet/sealnet/daemon",
	}
	for _, pkg := range []string{"github.com/sealnet/sealnet/apiclient", "github.com/sealnet/sealnet/member"} {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, f := range forbidden {
				if dep == f || strings.HasPrefix(dep, f) && (strings.HasSuffix(f, "/") || strings.HasPrefix(dep[len(f):], "/")) {
					t.Errorf("%s links %s", pkg, dep)
				}
			}
		}
	}
}

func TestBundleLimitMatches(t *testing.T) {
	if apiclient.MaxBundleSize != bundle.MaxSize {
		t.Fatalf("the client reads bundles up to %d bytes, dcmb/bundle accepts %d", apiclient.MaxBundleSize, bundle.MaxSize)
	}
}
