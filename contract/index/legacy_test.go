package index

import (
	"strings"
	"testing"
	"time"

	dbm "github.com/cometbft/cometbft-db"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/statedb"
	"github.com/sealnet/sealnet/txerr"
)

// An entry stored before custodians were normalized, with its custodian in
// upper case, is answered by that custodian: identifiers are compared in
// canonical form.
func TestUpperCaseCustodianOfAnOldEntryAnswers(t *testing.T) {
	st := statedb.View{Layer: statedb.NewOverlay(statedb.Base{DB: dbm.NewMemDB()}), Prefix: []byte("s/index/")}
	var node identity.Fingerprint
	node[0] = 0xab
	var txid [32]byte
	txid[0] = 0xcd
	e := Entry{Holder: "org1", Custodian: strings.ToUpper(node.String()), TXNumber: contract.TxIDOf(txid).String()}
	if err := st.Set(entryKey(txid[:]), canon.MustMarshal(e)); err != nil {
		t.Fatal(err)
	}
	caller := contract.Caller{ID: "node", Org: "org1", Role: identity.RoleNode, Fingerprint: node}
	ctx := contract.NewContext(Name, caller, "default", 2, time.Unix(2, 0), [32]byte{1}, make([]byte, 64))
	args := canon.MustMarshal(KeyAnswerArgs{TXNumber: e.TXNumber, Request: strings.Repeat("ab", 32), Answer: strings.Repeat("cd", 32)})
	if _, err := (Contract{}).keyAnswer(ctx, st, args); err != nil {
		t.Fatalf("custodian refused: %v", err)
	}
	other := caller
	other.Fingerprint[0] = 0xac
	ctx = contract.NewContext(Name, other, "default", 2, time.Unix(2, 0), [32]byte{2}, make([]byte, 64))
	args = canon.MustMarshal(KeyAnswerArgs{TXNumber: e.TXNumber, Request: strings.Repeat("ef", 32), Answer: strings.Repeat("cd", 32)})
	if _, err := (Contract{}).keyAnswer(ctx, st, args); txerr.CodeOf(err) != txerr.RoleDenied {
		t.Fatalf("another node answered: %v", err)
	}
}
