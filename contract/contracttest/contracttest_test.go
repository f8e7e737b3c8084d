package contracttest

import (
	"strings"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/ledger"
)

// TestLanguage runs the scenarios that exercise the language itself.
func TestLanguage(t *testing.T) { Run(t, "testdata") }

func outcomeOf(hash string, code uint32, log string, events ...contract.Event) *outcome {
	return &outcome{
		resp:      &abci.ResponseFinalizeBlock{AppHash: []byte(hash), TxResults: []*abci.ExecTxResult{{Code: code, Log: log}}},
		block:     &ledger.Block{Height: 1, Txs: []ledger.TxResult{{Code: 0, Log: log, Events: events}}},
		height:    1,
		committed: []byte(hash),
	}
}

// Every kind of disagreement between the two nodes is reported.
func TestCompareReportsEveryDifference(t *testing.T) {
	ev := contract.Event{Contract: "index", Type: "subfile"}
	same := outcomeOf("h", 0, "")
	cases := []struct {
		name string
		b    *outcome
		want string
	}{
		{"app hash", outcomeOf("x", 0, ""), "app hashes differ"},
		{"code", outcomeOf("h", 14, ""), "results differ: tx 0"},
		{"log", outcomeOf("h", 0, "other"), "results differ: tx 0"},
		{"event", outcomeOf("h", 0, "", ev), "committed results differ"},
	}
	if err := compare(same, outcomeOf("h", 0, "")); err != nil {
		t.Fatalf("equal outcomes: %v", err)
	}
	for _, c := range cases {
		err := compare(same, c.b)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
	data := outcomeOf("h", 0, "")
	data.resp.TxResults[0].Data = []byte{1}
	if err := compare(same, data); err == nil {
		t.Error("differing data not reported")
	}
	later := outcomeOf("h", 0, "")
	later.height = 2
	if err := compare(same, later); err == nil {
		t.Error("differing committed height not reported")
	}
}
