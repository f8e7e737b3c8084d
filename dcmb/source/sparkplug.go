package source

// This file holds the Sparkplug B source: MQTT to a broker, with the host
// application of package sparkplug deciding what each payload means.

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/sealnet/sealnet/dcmb/source/sparkplug"
)

// Sparkplug reads Sparkplug B edge nodes through an MQTT broker, as a
// host application: each metric value becomes a Message keyed
// GROUP/EDGE[/DEVICE]/NAME, with names taken from the birth certificates
// for the aliases in data messages. A payload that does not decode and a
// metric whose alias no birth defined become Messages with Dropped set
// (the DCMB records them as dropped, with the reason). A gap in a node's
// sequence numbers, or data from a node or device whose birth this host
// has not seen, makes it ask the node for a rebirth (NCMD Node
// Control/Rebirth) and log why. See package sparkplug for the mapping.
//
// The broker connection (TLS, credentials, reconnection, honest errors)
// is MQTT's; Topics default to spBv1.0/#, and each must lie under spBv1.0/.
type Sparkplug struct {
	MQTT
	RebirthEvery time.Duration // least time between two rebirth requests to one node (default 5s)
}

// Validate checks the settings without contacting the broker.
func (s *Sparkplug) Validate() error {
	m := s.withDefaults()
	if err := m.Validate(); err != nil {
		return err
	}
	for _, t := range m.Topics {
		if !strings.HasPrefix(t, sparkplug.Namespace+"/") {
			return fmt.Errorf("%w: topic %q: a sparkplug source subscribes under %s/ (e.g. %s/GROUP/#)", ErrConfig, t, sparkplug.Namespace, sparkplug.Namespace)
		}
	}
	return nil
}

func (s *Sparkplug) withDefaults() MQTT {
	m := s.MQTT
	if len(m.Topics) == 0 {
		m.Topics = []string{sparkplug.Namespace + "/#"}
	}
	return m
}

// Run implements Source.
func (s *Sparkplug) Run(ctx context.Context, out chan<- Message) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("sparkplug source %s: %w", s.Name, err)
	}
	m := s.withDefaults()
	log := m.Log
	if log == nil {
		log = slog.Default()
	}
	host := &sparkplug.Host{RebirthEvery: s.RebirthEvery}
	var mu sync.Mutex // one host state, whichever connection delivers
	onMessage := func(c mqtt.Client, msg mqtt.Message) {
		mu.Lock()
		r := host.Handle(msg.Topic(), msg.Payload(), time.Now())
		mu.Unlock()
		for _, e := range r.Events {
			if e.Warn {
				log.Warn("sparkplug source: "+e.Text, "source", s.Name)
			} else {
				log.Info("sparkplug source: "+e.Text, "source", s.Name)
			}
		}
		for _, p := range r.Publish {
			c.Publish(p.Topic, 0, false, p.Payload) // not waited for: this is Paho's delivery goroutine
		}
		dropped := 0
		for _, v := range r.Messages {
			if v.Dropped != "" {
				if dropped == 0 {
					log.Warn("sparkplug source: recorded as dropped", "source", s.Name, "key", v.Key, "reason", v.Dropped)
				}
				dropped++
			}
			select {
			case out <- Message{Source: s.Name, Key: v.Key, Value: v.Value, Time: v.Time, Dropped: clip(v.Dropped, MaxDropped)}:
			case <-ctx.Done():
				return
			}
		}
	}
	filters := map[string]byte{}
	for _, t := range m.Topics {
		filters[t] = m.QoS
	}
	return m.serve(ctx, "sparkplug source", filters, onMessage)
}

// clip shortens s to at most n bytes, at a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
