package dcmb_test

import (
	"bytes"
	"context"
	"github.com/sealnet/sealnet/apiclient"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/dcmb"
	"github.com/sealnet/sealnet/dcmb/bundle"
	"github.com/sealnet/sealnet/dcmb/source"
	"github.com/sealnet/sealnet/internal/testutil"
)

// Hash delivery (Algorithm 2 on hashes alone): the receiver gets leaf
// hashes, never values, verifies them against the anchored root and fires
// its action when a leaf equals hash(candidate + salt).
func TestHashDelivery(t *testing.T) {
	c, logs := consortium(t, 2)
	owner, maker := c.Orgs[0], c.Orgs[1]
	out := filepath.Join(t.TempDir(), "out.jsonl")
	recv := start(t, maker, &dcmb.Config{Receive: []dcmb.ReceiveConfig{{Stream: "line-4", From: owner.Name, Output: out,
		Actions: []dcmb.Action{{Name: "inspect", Key: "gauge", Equals: value(7)}}}}}, nil)
	src := &chanSource{c: make(chan source.Message)}
	start(t, owner, &dcmb.Config{Streams: []dcmb.StreamConfig{{Name: "line-4", Receiver: maker.Name, Deliver: dcmb.DeliverHashes,
		Interval: dcmb.Duration{Duration: 100 * time.Millisecond}, Source: dcmb.SourceConfig{Kind: "stdin"}}}}, src)
	for i := range 20 {
		src.c <- source.Message{Key: "gauge", Value: []byte(value(i)), Time: time.Now()}
	}
	testutil.WaitFor(t, "20 leaves delivered", time.Minute, func() bool { return recv.rt.Stats.Received.Load() == 20 })
	if !strings.Contains(string(logs.Bytes()), `msg="action fired" org=org2 module=dcmb stream=line-4 from=org1 action=inspect seq=7`) {
		t.Fatal("the action on hashes did not fire for message 7")
	}
	if raw, _ := os.ReadFile(out); len(raw) != 0 {
		t.Fatalf("values were written from a hash delivery: %s", raw)
	}
	if _, err := maker.API.AuditBundle(context.Background(), "default", "line-4", 7); err == nil || !strings.Contains(err.Error(), "only the hashes") {
		t.Fatalf("a receiver of hashes exported a bundle: %v", err)
	}
	for i := range 20 {
		if strings.Contains(string(logs.Bytes()), value(i)) {
			t.Fatalf("value %d in the log", i)
		}
	}
}

// Paper mode end to end: Argon2id over each interval with the salt on
// chain; the receiver verifies the hash, and the bundle of a message
// discloses its whole interval, verified offline; a changed value fails.
func TestPaperMode(t *testing.T) {
	c, _ := consortium(t, 2)
	owner, maker := c.Orgs[0], c.Orgs[1]
	recv := start(t, maker, &dcmb.Config{Receive: []dcmb.ReceiveConfig{{Stream: "line-4", From: owner.Name}}}, nil)
	src := &chanSource{c: make(chan source.Message)}
	send := start(t, owner, &dcmb.Config{Streams: []dcmb.StreamConfig{{Name: "line-4", Receiver: maker.Name, Mode: audit.ModePaper,
		Interval: dcmb.Duration{Duration: 200 * time.Millisecond}, Source: dcmb.SourceConfig{Kind: "stdin"}}}}, src)
	for i := range 12 {
		src.c <- source.Message{Key: "gauge", Value: []byte(value(i)), Time: time.Now()}
	}
	testutil.WaitFor(t, "12 messages delivered", time.Minute, func() bool { return send.rt.Stats.Delivered.Load() == 12 })
	if recv.rt.Stats.Received.Load() != 12 {
		t.Fatalf("received %d", recv.rt.Stats.Received.Load())
	}
	raw, err := owner.API.AuditBundle(context.Background(), "default", "line-4", 5)
	if err != nil {
		t.Fatal(err)
	}
	rep, g := verifyBundle(t, owner, raw)
	if rep.Mode != audit.ModePaper || uint64(len(rep.Messages)) != rep.Batch.Count || rep.Batch.Salt == "" {
		t.Fatalf("report %+v", rep)
	}
	var found bool
	for _, m := range rep.Messages {
		found = found || (m.Seq == 5 && string(m.Value) == value(5))
	}
	if !found {
		t.Fatalf("message 5 not disclosed: %+v", rep.Messages)
	}
	forged := bytes.Replace(raw, []byte(value(5)), []byte("reading-5.7732"), 1)
	fb, err := bundle.Decode(forged)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bundle.Verify(fb, g); err == nil || !strings.Contains(err.Error(), "Argon2id") {
		t.Fatalf("a changed value in a paper-mode bundle: %v", err)
	}
}

// A value too large for the wire, and a message its source could not read
// (a Sparkplug payload that does not decode), each get a sequence number
// recorded on chain as dropped, with the reason; the messages around them
// are delivered.
func TestOversizedValueRecordedAsDropped(t *testing.T) {
	c, logs := consortium(t, 2)
	owner, maker := c.Orgs[0], c.Orgs[1]
	recv := start(t, maker, &dcmb.Config{Receive: []dcmb.ReceiveConfig{{Stream: "line-4", From: owner.Name}}}, nil)
	src := &chanSource{c: make(chan source.Message)}
	send := start(t, owner, &dcmb.Config{Streams: []dcmb.StreamConfig{{Name: "line-4", Receiver: maker.Name,
		Interval: dcmb.Duration{Duration: 100 * time.Millisecond}, Source: dcmb.SourceConfig{Kind: "stdin"}}}}, src)
	for _, v := range [][]byte{[]byte(value(0)), bytes.Repeat([]byte("x"), dcmb.MaxValue+1), []byte(value(2))} {
		src.c <- source.Message{Key: "gauge", Value: v, Time: time.Now()}
	}
	src.c <- source.Message{Key: "spBv1.0/G/NDATA/E", Time: time.Now(), Dropped: "sparkplug payload does not decode: spBv1.0/G/NDATA/E"}
	testutil.WaitFor(t, "two messages delivered", time.Minute, func() bool { return recv.rt.Stats.Received.Load() == 2 })
	testutil.WaitFor(t, "the unreadable message recorded", time.Minute, func() bool { return send.rt.Stats.Dropped.Load() == 2 })
	st, err := apiclient.Query[audit.Stream](context.Background(), owner.API, "default", audit.Name, "stream", map[string]string{"stream": "line-4"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Next != 4 || st.Dropped != 2 || send.rt.Stats.Dropped.Load() != 2 {
		t.Fatalf("chain %+v, sender dropped %d", st, send.rt.Stats.Dropped.Load())
	}
	for _, reason := range []string{"message value of 65537 bytes exceeds 65536", "sparkplug payload does not decode: spBv1.0/G/NDATA/E"} {
		if !strings.Contains(string(logs.Bytes()), `reason="`+reason+`"`) {
			t.Fatalf("the drop was not logged with its reason %q", reason)
		}
	}
}
