package ledger

import (
	"testing"
	"time"

	"github.com/sealnet/sealnet/contract/registry"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/txerr"
)

// A vote that admits an org but fails on one of its first members leaves no
// trace, so a later vote for the same name with another root is judged the
// same way by a node that ran all along and by one that restarted in
// between. The registry once cached the failed vote's root by org name and
// verified the second vote's members against it on the running node only:
// the two nodes then disagreed on the result and on the app hash.
func TestRestartedNodeAgreesAfterFailedOrgAdmission(t *testing.T) {
	running := newChain(t)
	restarted := newChainFrom(t, running.ca, running.admin)
	valid := func(ca *identity.CA, name string, role identity.Role) *identity.Identity {
		return member(t, ca, name, role, genesisTime.Add(-time.Hour), 365*24*time.Hour)
	}

	caA, err := identity.NewCA("org2", genesisTime.Add(-time.Hour), 10*365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	adminA := valid(caA, "admin", identity.RoleAdmin)
	caB, err := identity.NewCA("org2", genesisTime.Add(-time.Hour), 10*365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	adminB := valid(caB, "admin", identity.RoleAdmin)

	blocks := []struct {
		tx   []byte
		want txerr.Code
	}{
		// one org: one vote admits; the second copy of the admin once
		// failed inside the admission, dropping it (vote_org now refuses
		// the proposal before counting it)
		{running.sign(running.admin, registry.Name, "vote_org", registry.VoteOrgArgs{Name: "org2", RootDER: caA.Cert.Raw,
			Members: [][]byte{adminA.CertDER, adminA.CertDER}}), txerr.BadArgs},
		// the same name with another root and its own admin
		{running.sign(running.admin, registry.Name, "vote_org", registry.VoteOrgArgs{Name: "org2", RootDER: caB.Cert.Raw,
			Members: [][]byte{adminB.CertDER}}), txerr.OK},
		// org2's admin acts under root B on both nodes
		{running.sign(adminB, registry.Name, "allow_peer", registry.AllowPeerArgs{NodeID: "00112233445566778899aabbccddeeff00112233"}), txerr.OK},
	}
	for _, b := range blocks {
		restarted.open() // a node restarted at every height
		rr := running.block(b.tx)[0]
		rs := restarted.block(b.tx)[0]
		if rr.Code != rs.Code || rr.Log != rs.Log {
			t.Fatalf("height %d: the running node says %s %q, the restarted one %s %q", running.height, rr.Code, rr.Log, rs.Code, rs.Log)
		}
		_, hr := running.app.Height()
		_, hs := restarted.app.Height()
		if string(hr) != string(hs) {
			t.Fatalf("height %d: app hashes differ: %x vs %x", running.height, hr, hs)
		}
		running.expect(rr, b.want)
	}
}
