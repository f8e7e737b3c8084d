package dcmb

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/sealnet/sealnet/contract"
)

// A webhook receives one schema: its JSON is pinned here, an event with
// the fields of the API's event stream, an action with message 0 named.
func TestNoticeJSON(t *testing.T) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 8, time.FixedZone("CET", 3600))
	e := contract.Event{Contract: "condition", Type: "condition_met", To: "org2", Attrs: []contract.Attr{{Key: "id", Value: "press-7"}}}
	for _, c := range []struct {
		n    Notice
		want string
	}{
		{eventNotice("default", 12, at, "ab12", e),
			`{"type":"event","channel":"default","height":12,"tx_id":"ab12","time":"2025-03-04T04:06:07.000000008Z","event":{"contract":"condition","type":"condition_met","to":"org2","attrs":[{"key":"id","value":"press-7"}]}}`},
		{actionNotice("plan a technician visit", "press-7", 0),
			`{"type":"action","action":"plan a technician visit","stream":"press-7","seq":0}`},
	} {
		got, err := json.Marshal(c.n)
		if err != nil || string(got) != c.want {
			t.Errorf("notice %s:\n got %s %v\nwant %s", c.n.Type, got, err, c.want)
		}
	}
}
