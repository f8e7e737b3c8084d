package daemon

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sealnet/sealnet/attest"
	"github.com/sealnet/sealnet/compute/keys"
	"github.com/sealnet/sealnet/txerr"
)

// A request whose custodian is the relaying node itself (a member, or a
// worker, of the custodian's own org) is answered by that node, not sent
// out to a peer it cannot dial: both relays reach their custodian's
// checks and are refused there, with the custodian's reason.
func TestRelayToItselfReachesTheCustodian(t *testing.T) {
	d, err := Start(home(t), Options{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	self := d.Node.Identity.Member.Fingerprint
	ch := d.Node.Config().Channels[0].Name

	_, err = d.Custodian.RequestKey(ctx, ch, self, []byte("not a sealed request"))
	if !errors.Is(err, txerr.Sentinel(txerr.Rejected)) || !strings.Contains(err.Error(), "custodian rejected the request") {
		t.Fatalf("key request to this node's own custodian: %v", err)
	}

	ek, err := attest.NewEnclaveKey()
	if err != nil {
		t.Fatal(err)
	}
	req, err := keys.NewRequest(d.Node.Identity, ch, "6a6f62", attest.EncodeKey(&ek.PublicKey), 1, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ans, err := d.Compute.Relay(ctx, ch, self, req)
	if err != nil && (errors.Is(err, txerr.Sentinel(txerr.Unavailable)) || strings.Contains(err.Error(), "dial")) {
		t.Fatalf("compute key request to this node's own custodian: %v", err)
	}
	if err == nil && len(ans) == 0 {
		t.Fatal("an empty answer")
	}
}
