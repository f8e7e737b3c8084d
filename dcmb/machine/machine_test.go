package machine

import (
	"context"
	"testing"
	"time"

	"github.com/sealnet/sealnet/dcmb/source"
)

// The demo's simulated machine serves its counter to the OPC UA source.
func TestMachineServesCounter(t *testing.T) {
	m, err := Start(0, 5300)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := make(chan source.Message, 100)
	src := &source.OPCUA{Name: "m", Endpoint: m.Endpoint(), Nodes: []string{m.NodeID()}, Security: "None", Interval: 20 * time.Millisecond}
	go src.Run(ctx, out)
	want := []string{"5300", "5301", "5302", "5367"}
	got := 0
	for got < len(want) {
		select {
		case msg := <-out:
			if string(msg.Value) != want[got] {
				continue
			}
			got++
			if got < len(want) {
				var v uint32
				switch want[got] {
				case "5301":
					v = 5301
				case "5302":
					v = 5302
				case "5367":
					v = 5367
				}
				m.Set(v)
			}
		case <-ctx.Done():
			t.Fatalf("received %d of %v", got, want)
		}
	}
}
