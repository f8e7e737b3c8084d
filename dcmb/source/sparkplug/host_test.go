package sparkplug

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	pb "github.com/sealnet/sealnet/dcmb/source/sparkplug/sparkplugpb"
)

var update = flag.Bool("update", false, "rewrite the expected output of testdata/*.txt")

// The host's behaviour is specified by scenario scripts in testdata. A
// script is a sequence of:
//
//	at TIME            set the clock (RFC 3339; the default is 2023-11-14T22:13:20Z)
//	after DURATION     advance the clock
//	recv TOPIC         an MQTT message whose payload is the Payload in
//	PROTOTEXT...       protobuf text format on the following lines,
//	----               then the expected output, up to a blank line
//	OUTPUT...
//	raw TOPIC HEX      an MQTT message with these payload bytes,
//	----               then the expected output
//	OUTPUT...
//
// Output lines: value KEY = "VALUE" @TIME, drop KEY @TIME: REASON,
// publish TOPIC METRIC=VALUE..., event info|warn TEXT. Run with -update
// to rewrite the expected output after a deliberate change.
func TestScenarios(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if len(files) == 0 {
		t.Fatal("no scenarios in testdata")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runScenario(t, f) })
	}
}

func runScenario(t *testing.T, file string) {
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	var rewritten []string
	h := &Host{}
	now := time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC)
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		rewritten = append(rewritten, line)
		cmd, arg, _ := strings.Cut(line, " ")
		switch cmd {
		case "", "#":
			continue
		case "at":
			if now, err = time.Parse(time.RFC3339Nano, arg); err != nil {
				t.Fatalf("%s:%d: %v", file, i+1, err)
			}
			continue
		case "after":
			d, err := time.ParseDuration(arg)
			if err != nil {
				t.Fatalf("%s:%d: %v", file, i+1, err)
			}
			now = now.Add(d)
			continue
		case "recv", "raw":
		default:
			if strings.HasPrefix(line, "#") {
				continue
			}
			t.Fatalf("%s:%d: unknown command %q", file, i+1, line)
		}
		start := i + 1
		var body []string
		for i++; i < len(lines) && lines[i] != "----"; i++ {
			body = append(body, lines[i])
			rewritten = append(rewritten, lines[i])
		}
		if i == len(lines) {
			t.Fatalf("%s:%d: no ---- after the command", file, start)
		}
		rewritten = append(rewritten, "----")
		var want []string
		for i++; i < len(lines) && lines[i] != ""; i++ {
			want = append(want, lines[i])
		}
		topic, payload := arg, []byte(nil)
		if cmd == "raw" {
			var hx string
			topic, hx, _ = strings.Cut(arg, " ")
			if payload, err = hex.DecodeString(hx); err != nil {
				t.Fatalf("%s:%d: %v", file, start, err)
			}
		} else {
			p := new(pb.Payload)
			if err := prototext.Unmarshal([]byte(strings.Join(body, "\n")), p); err != nil {
				t.Fatalf("%s:%d: %v", file, start, err)
			}
			if payload, err = proto.Marshal(p); err != nil {
				t.Fatal(err)
			}
		}
		got := render(t, h.Handle(topic, payload, now))
		rewritten = append(rewritten, got...)
		if i < len(lines) {
			rewritten = append(rewritten, "")
		}
		if !*update && strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:%d: %s %s\ngot:\n%s\nwant:\n%s", file, start, cmd, topic, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	if *update {
		if err := os.WriteFile(file, []byte(strings.Join(rewritten, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func render(t *testing.T, r Result) []string {
	var out []string
	for _, m := range r.Messages {
		at := m.Time.UTC().Format(time.RFC3339Nano)
		if m.Dropped != "" {
			if m.Value != nil {
				t.Errorf("a dropped message carries a value: %+v", m)
			}
			out = append(out, fmt.Sprintf("drop %s @%s: %s", m.Key, at, m.Dropped))
			continue
		}
		out = append(out, fmt.Sprintf("value %s = %q @%s", m.Key, m.Value, at))
	}
	for _, p := range r.Publish {
		cmd := new(pb.Payload)
		if err := proto.Unmarshal(p.Payload, cmd); err != nil {
			t.Errorf("a command does not decode: %v", err)
		}
		var ms []string
		for _, m := range cmd.Metrics {
			v, err := Value(m, m.GetDatatype())
			if err != nil {
				t.Errorf("command metric: %v", err)
			}
			ms = append(ms, m.GetName()+"="+string(v))
		}
		out = append(out, fmt.Sprintf("publish %s %s", p.Topic, strings.Join(ms, " ")))
	}
	for _, e := range r.Events {
		level := "info"
		if e.Warn {
			level = "warn"
		}
		out = append(out, "event "+level+" "+e.Text)
	}
	return out
}

// Whatever bytes arrive on whatever topic, the host answers without
// panicking, and every message it cannot read is reported, not lost.
func FuzzHandle(f *testing.F) {
	ms := uint64(1700000000000)
	seed, _ := proto.Marshal(&pb.Payload{Timestamp: &ms, Seq: proto.Uint64(0), Metrics: []*pb.Payload_Metric{
		{Name: proto.String("Temp"), Alias: proto.Uint64(1), Datatype: proto.Uint32(10), Value: &pb.Payload_Metric_DoubleValue{DoubleValue: 21.5}}}})
	f.Add("spBv1.0/G/NBIRTH/E", seed)
	f.Add("spBv1.0/G/NDATA/E", []byte{0x12, 0x04, 0x10, 0x01, 0x50, 0x07})
	f.Add("spBv1.0/G/DDATA/E/D", []byte{0xff})
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		h := &Host{}
		now := time.Unix(1700000000, 0)
		h.Handle("spBv1.0/G/NBIRTH/E", seed, now)
		r := h.Handle(topic, payload, now)
		if _, err := h.decode(payload); err != nil && strings.HasPrefix(topic, Namespace+"/G/N") && !strings.HasSuffix(topic, "CMD/E") {
			if len(r.Messages) == 0 {
				t.Fatalf("an undecodable payload on %s was not reported", topic)
			}
		}
	})
}

// Tahu's compressed payloads (SPBV1.0_COMPRESSED) are inflated, DEFLATE
// in zlib's wrapping or GZIP, within a bound.
func TestCompressed(t *testing.T) {
	inner, _ := proto.Marshal(&pb.Payload{Seq: proto.Uint64(0), Metrics: []*pb.Payload_Metric{
		{Name: proto.String("Count"), Datatype: proto.Uint32(4), Value: &pb.Payload_Metric_LongValue{LongValue: 7}}}})
	compress := func(algo string, b []byte) []byte {
		var buf bytes.Buffer
		var w io.WriteCloser = zlib.NewWriter(&buf)
		if algo == "GZIP" {
			w = gzip.NewWriter(&buf)
		}
		w.Write(b)
		w.Close()
		p := &pb.Payload{Uuid: proto.String("SPBV1.0_COMPRESSED"), Body: buf.Bytes()}
		if algo != "" {
			p.Metrics = []*pb.Payload_Metric{{Name: proto.String("algorithm"), Datatype: proto.Uint32(12), Value: &pb.Payload_Metric_StringValue{StringValue: algo}}}
		}
		raw, _ := proto.Marshal(p)
		return raw
	}
	for _, algo := range []string{"", "DEFLATE", "GZIP"} {
		h := &Host{}
		r := h.Handle("spBv1.0/G/NBIRTH/E", compress(algo, inner), time.Unix(0, 0))
		if len(r.Messages) != 1 || string(r.Messages[0].Value) != "7" {
			t.Errorf("%q: %+v", algo, r.Messages)
		}
	}
	h := &Host{MaxInflated: 1 << 10}
	r := h.Handle("spBv1.0/G/NBIRTH/E", compress("GZIP", make([]byte, 1<<20)), time.Unix(0, 0))
	if len(r.Messages) != 1 || !strings.Contains(r.Messages[0].Dropped, "inflates beyond 1024 bytes") {
		t.Errorf("a compression bomb: %+v", r.Messages)
	}
}
