// Package source reads machine data for the DCMB (paper 000): values from
// industrial protocols, each delivered as a Message in arrival order. A
// source that loses its server reconnects by itself and says so on its
// status channel; it never drops what it already received.
package source

import (
	"context"
	"time"
)

// Message is one value read from a source.
type Message struct {
	Source string    // the source's name in the configuration
	Key    string    // MQTT topic, OPC UA node ID, ...
	Value  []byte    // the raw value as the source delivered it
	Time   time.Time // when the source received it
}

// Source delivers messages to out until ctx ends.
type Source interface {
	Run(ctx context.Context, out chan<- Message) error
}
