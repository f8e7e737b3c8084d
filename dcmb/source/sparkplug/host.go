// Package sparkplug follows Sparkplug B edge nodes as a host application
// does (Eclipse Sparkplug 3.0), without I/O: Host.Handle takes one MQTT
// message as it arrived and returns the metric values to deliver, what
// could not be read and why, the commands to publish, and what to log.
//
// The caller's duties:
//
//  1. Subscribe to spBv1.0/# (or a group's spBv1.0/GROUP/#) and hand every
//     message to Handle in the order of arrival, with the time it arrived.
//  2. Deliver Result.Messages in order. A Message with Dropped set is one
//     the host could not read (a payload that does not decode, a metric
//     whose alias no birth certificate defined); record it as dropped with
//     that reason rather than losing it.
//  3. Publish Result.Publish (QoS 0, not retained): rebirth requests, sent
//     when a node's sequence numbers skip or when data arrives from a node
//     or device whose birth this host has not seen.
//
// A metric becomes a key and a value: the key is GROUP/EDGE/NAME for a
// node's metric and GROUP/EDGE/DEVICE/NAME for a device's (a template
// instance's members add /MEMBER), the value is text (see Value). Names
// come from the metric itself or, for an alias, from the last birth
// certificate of its node. The birth's bdSeq and the Node and Device
// Control metrics are protocol, not data, and are not delivered.
package sparkplug

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/sealnet/sealnet/dcmb/source/sparkplug/sparkplugpb"
)

// Namespace is the first topic level of Sparkplug B.
const Namespace = "spBv1.0"

// Errors that make a message or metric unreadable; a Message's Dropped
// reason starts with one of them.
var (
	ErrUndecodable = errors.New("sparkplug payload does not decode")
	ErrNoBirth     = errors.New("sparkplug metric without a birth certificate")
	ErrTopic       = errors.New("not a Sparkplug B topic")
	ErrValue       = errors.New("sparkplug metric value unreadable")
)

// Message is a metric value or an unreadable message or metric.
type Message struct {
	Key     string
	Value   []byte
	Time    time.Time
	Dropped string // why it could not be read ("" for a value): the error, then the key; details are in Events
}

// Publish is an MQTT message to send.
type Publish struct {
	Topic   string
	Payload []byte
}

// Event is something worth logging.
type Event struct {
	Warn bool
	Text string
}

// Result is what one MQTT message gives.
type Result struct {
	Messages []Message
	Publish  []Publish
	Events   []Event
}

// Host is the state of the edge nodes seen.
type Host struct {
	// RebirthEvery is the least time between two rebirth requests to one
	// node (default 5s), so a node that keeps skipping is not flooded.
	RebirthEvery time.Duration
	// MaxInflated bounds a compressed payload once inflated (default 16 MiB).
	MaxInflated int64

	nodes map[string]*node // by GROUP/EDGE
}

type metricDef struct {
	device, name string
	datatype     uint32
}

type node struct {
	group, edge string
	born        bool
	bdSeq       uint64
	hasBdSeq    bool
	seq         uint64
	aliases     map[uint64]metricDef
	types       map[string]uint32 // DEVICE\x00NAME to datatype
	devices     map[string]bool   // devices born and not dead
	rebirthAt   time.Time         // last rebirth request
}

func (n *node) id() string { return n.group + "/" + n.edge }

type topic struct {
	group, kind, edge, device string
}

func parseTopic(t string) (topic, bool) {
	p := strings.Split(t, "/")
	if len(p) < 4 || len(p) > 5 || p[0] != Namespace || p[1] == "" || p[3] == "" {
		return topic{}, false
	}
	tp := topic{group: p[1], kind: p[2], edge: p[3]}
	if len(p) == 5 {
		tp.device = p[4]
	}
	switch tp.kind {
	case "NBIRTH", "NDATA", "NDEATH", "NCMD":
		return tp, len(p) == 4
	case "DBIRTH", "DDATA", "DDEATH", "DCMD":
		return tp, len(p) == 5 && tp.device != ""
	}
	return topic{}, false
}

// Handle processes one MQTT message that arrived at now.
func (h *Host) Handle(topicName string, payload []byte, now time.Time) Result {
	var r Result
	if strings.HasPrefix(topicName, Namespace+"/STATE/") || strings.HasPrefix(topicName, "STATE/") {
		return r // host applications' state: not data
	}
	t, ok := parseTopic(topicName)
	if !ok {
		r.drop(topicName, now, "%v: %s", ErrTopic, topicName)
		return r
	}
	if t.kind == "NCMD" || t.kind == "DCMD" {
		return r // commands to edge nodes, ours among them
	}
	p, err := h.decode(payload)
	if err != nil {
		r.drop(topicName, now, "%v: %s: %v", ErrUndecodable, topicName, err)
		return r
	}
	if h.nodes == nil {
		h.nodes = map[string]*node{}
	}
	n := h.nodes[t.group+"/"+t.edge]
	if n == nil {
		n = &node{group: t.group, edge: t.edge}
		h.nodes[n.id()] = n
	}
	at := now
	if p.Timestamp != nil {
		at = time.UnixMilli(int64(p.GetTimestamp())).UTC()
	}
	switch t.kind {
	case "NBIRTH":
		n.born, n.hasBdSeq, n.seq = true, false, p.GetSeq()
		n.aliases, n.types, n.devices = map[uint64]metricDef{}, map[string]uint32{}, map[string]bool{}
		for _, m := range p.Metrics {
			if m.GetName() == "bdSeq" {
				n.bdSeq, n.hasBdSeq = m.GetLongValue(), true
			}
		}
		h.metrics(&r, n, "", p.Metrics, at, now, true)
		r.event(false, "%s born (NBIRTH seq %d, bdSeq %s, %d metrics)", n.id(), p.GetSeq(), n.bdSeqText(), len(p.Metrics))
	case "NDEATH":
		var bd *uint64
		for _, m := range p.Metrics {
			if m.GetName() == "bdSeq" {
				v := m.GetLongValue()
				bd = &v
			}
		}
		if n.born && n.hasBdSeq && bd != nil && *bd != n.bdSeq {
			r.event(true, "%s: NDEATH with bdSeq %d ignored: the node was born with bdSeq %d since", n.id(), *bd, n.bdSeq)
			return r
		}
		n.born = false
		r.event(false, "%s died (NDEATH)", n.id())
	default: // NDATA, DBIRTH, DDATA, DDEATH
		if !n.born {
			h.unborn(&r, n, t, p, at, now, "no NBIRTH of "+n.id()+" was seen")
			return r
		}
		h.sequence(&r, n, t, p, now)
		key := n.id()
		if t.device != "" {
			key += "/" + t.device
		}
		switch t.kind {
		case "DBIRTH":
			n.devices[t.device] = true
			h.metrics(&r, n, t.device, p.Metrics, at, now, true)
			r.event(false, "%s born (DBIRTH, %d metrics)", key, len(p.Metrics))
		case "DDEATH":
			delete(n.devices, t.device)
			r.event(false, "%s died (DDEATH)", key)
		case "DDATA":
			if !n.devices[t.device] {
				h.unborn(&r, n, t, p, at, now, "no DBIRTH of "+key+" was seen")
				return r
			}
			h.metrics(&r, n, t.device, p.Metrics, at, now, false)
		case "NDATA":
			h.metrics(&r, n, "", p.Metrics, at, now, false)
		}
	}
	return r
}

func (n *node) bdSeqText() string {
	if !n.hasBdSeq {
		return "none"
	}
	return fmt.Sprint(n.bdSeq)
}

// sequence checks a message's seq against the node's last and asks for a
// rebirth when messages were lost.
func (h *Host) sequence(r *Result, n *node, t topic, p *pb.Payload, now time.Time) {
	want := (n.seq + 1) % 256
	if p.Seq == nil {
		r.event(true, "%s: %s without a sequence number", n.id(), t.kind)
		h.rebirth(r, n, now, "a message without a sequence number")
		return
	}
	got := p.GetSeq()
	n.seq = got
	if got != want {
		lost := (got + 256 - want) % 256
		h.rebirth(r, n, now, fmt.Sprintf("sequence gap: %s seq %d, expected %d (%d lost, or out of order)", t.kind, got, want, lost))
	}
}

// unborn records the metrics of a message whose node or device has no
// birth as dropped, and asks for a rebirth.
func (h *Host) unborn(r *Result, n *node, t topic, p *pb.Payload, at, now time.Time, why string) {
	key := n.id()
	if t.device != "" {
		key += "/" + t.device
	}
	seen := "no NBIRTH seen"
	if n.born {
		seen = "no DBIRTH seen"
	}
	if len(p.Metrics) == 0 {
		r.drop(key, at, "%v: %s %s (%s)", ErrNoBirth, t.kind, key, seen)
	}
	for _, m := range p.Metrics {
		name := m.GetName()
		if name == "" {
			name = fmt.Sprintf("alias:%d", m.GetAlias())
		}
		r.drop(key+"/"+name, metricTime(m, at), "%v: %s/%s (%s)", ErrNoBirth, key, name, seen)
	}
	h.rebirth(r, n, now, why)
}

// rebirth asks the node to publish its births again (NCMD Node
// Control/Rebirth), at most once per RebirthEvery.
func (h *Host) rebirth(r *Result, n *node, now time.Time, why string) {
	every := h.RebirthEvery
	if every <= 0 {
		every = 5 * time.Second
	}
	if !n.rebirthAt.IsZero() && now.Sub(n.rebirthAt) < every {
		r.event(true, "%s: %s; a rebirth was requested %s ago", n.id(), why, now.Sub(n.rebirthAt).Round(time.Millisecond))
		return
	}
	n.rebirthAt = now
	ms := uint64(now.UnixMilli())
	cmd := &pb.Payload{Timestamp: &ms, Metrics: []*pb.Payload_Metric{{
		Name: proto.String("Node Control/Rebirth"), Timestamp: &ms, Datatype: proto.Uint32(uint32(pb.DataType_Boolean)),
		Value: &pb.Payload_Metric_BooleanValue{BooleanValue: true},
	}}}
	raw, err := proto.Marshal(cmd)
	if err != nil {
		panic(err) // a fixed message always encodes
	}
	r.Publish = append(r.Publish, Publish{Topic: Namespace + "/" + n.group + "/NCMD/" + n.edge, Payload: raw})
	r.event(true, "%s: %s; requesting a rebirth (NCMD Node Control/Rebirth)", n.id(), why)
}

// metrics maps a birth's or data message's metrics to messages; a birth
// also defines aliases and datatypes.
func (h *Host) metrics(r *Result, n *node, device string, ms []*pb.Payload_Metric, at, now time.Time, birth bool) {
	prefix := n.id()
	if device != "" {
		prefix += "/" + device
	}
	rebirth := ""
	for _, m := range ms {
		name, dt := m.GetName(), m.GetDatatype()
		if name == "" {
			def, ok := n.aliases[m.GetAlias()]
			if m.Alias == nil || !ok || def.device != device {
				key := fmt.Sprintf("%s/alias:%d", prefix, m.GetAlias())
				why, short := fmt.Sprintf("metric alias %d has no birth certificate", m.GetAlias()), "alias not in the birth"
				if m.Alias == nil {
					why, short = "a metric has neither a name nor an alias", "neither name nor alias"
				}
				r.drop(key, metricTime(m, at), "%v: %s (%s)", ErrNoBirth, key, short)
				rebirth = why
				continue
			}
			name = def.name
			if m.Datatype == nil {
				dt = def.datatype
			}
		} else if m.Datatype == nil {
			dt = n.types[device+"\x00"+name]
		}
		if birth {
			if m.Alias != nil {
				n.aliases[m.GetAlias()] = metricDef{device: device, name: name, datatype: dt}
			}
			n.types[device+"\x00"+name] = dt
		}
		if protocolMetric(name) {
			continue
		}
		h.value(r, prefix+"/"+name, m, dt, metricTime(m, at))
	}
	if rebirth != "" {
		h.rebirth(r, n, now, rebirth)
	}
}

// value renders one metric, flattening template instances.
func (h *Host) value(r *Result, key string, m *pb.Payload_Metric, dt uint32, at time.Time) {
	if tmpl := m.GetTemplateValue(); tmpl != nil && dt == uint32(pb.DataType_Template) && !m.GetIsNull() {
		if tmpl.GetIsDefinition() {
			return // a definition describes instances; it holds no values
		}
		for _, sub := range tmpl.Metrics {
			if sub.GetName() == "" {
				r.drop(key+"/?", metricTime(sub, at), "%v: %s: a template member without a name", ErrValue, key)
				continue
			}
			h.value(r, key+"/"+sub.GetName(), sub, sub.GetDatatype(), metricTime(sub, at))
		}
		return
	}
	v, err := Value(m, dt)
	if err != nil {
		r.drop(key, at, "%v: %s: %v", ErrValue, key, err)
		return
	}
	r.Messages = append(r.Messages, Message{Key: key, Value: v, Time: at})
}

func protocolMetric(name string) bool {
	return name == "bdSeq" || strings.HasPrefix(name, "Node Control/") || strings.HasPrefix(name, "Device Control/")
}

func metricTime(m *pb.Payload_Metric, at time.Time) time.Time {
	if m.Timestamp != nil {
		return time.UnixMilli(int64(m.GetTimestamp())).UTC()
	}
	return at
}

func (r *Result) drop(key string, at time.Time, format string, args ...any) {
	r.Messages = append(r.Messages, Message{Key: key, Time: at, Dropped: fmt.Sprintf(format, args...)})
}

func (r *Result) event(warn bool, format string, args ...any) {
	r.Events = append(r.Events, Event{Warn: warn, Text: fmt.Sprintf(format, args...)})
}

// decode reads a payload, inflating a compressed one (Tahu's
// SPBV1.0_COMPRESSED: DEFLATE, zlib-wrapped, or GZIP in its body).
func (h *Host) decode(raw []byte) (*pb.Payload, error) {
	p := new(pb.Payload)
	if err := proto.Unmarshal(raw, p); err != nil {
		// protobuf's own messages vary from run to run by design; the
		// reason goes on chain, so it says what is stable
		return nil, fmt.Errorf("%d bytes are no Sparkplug B protobuf message", len(raw))
	}
	if p.GetUuid() != "SPBV1.0_COMPRESSED" {
		return p, nil
	}
	algo := "DEFLATE"
	for _, m := range p.Metrics {
		if m.GetName() == "algorithm" {
			algo = strings.ToUpper(m.GetStringValue())
		}
	}
	var zr io.Reader
	var err error
	switch algo {
	case "DEFLATE":
		zr, err = zlib.NewReader(bytes.NewReader(p.Body))
	case "GZIP":
		zr, err = gzip.NewReader(bytes.NewReader(p.Body))
	default:
		return nil, fmt.Errorf("compression %q: want DEFLATE or GZIP", algo)
	}
	if err != nil {
		return nil, fmt.Errorf("compressed body: %w", err)
	}
	limit := h.MaxInflated
	if limit <= 0 {
		limit = 16 << 20
	}
	body, err := io.ReadAll(io.LimitReader(zr, limit+1))
	if err != nil {
		return nil, fmt.Errorf("compressed body: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("compressed body inflates beyond %d bytes", limit)
	}
	inner := new(pb.Payload)
	if err := proto.Unmarshal(body, inner); err != nil {
		return nil, fmt.Errorf("the compressed body's %d bytes are no Sparkplug B protobuf message", len(body))
	}
	if inner.GetUuid() == "SPBV1.0_COMPRESSED" {
		return nil, errors.New("compressed twice")
	}
	return inner, nil
}
