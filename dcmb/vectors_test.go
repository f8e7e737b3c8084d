package dcmb_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/cometbft/cometbft/types"

	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/dcmb"
	"github.com/sealnet/sealnet/dcmb/bundle"
	"github.com/sealnet/sealnet/dcmb/source"
	"github.com/sealnet/sealnet/evidence"
	"github.com/sealnet/sealnet/internal/golden"
	"github.com/sealnet/sealnet/internal/testutil"
)

// The batch of the DCMB vectors: the messages of docs/vectors/evidence.json
// (stream press-7, sequence numbers 76-78, the same secret and paper salt),
// with the times their source read them.
var (
	vecStream    = "press-7"
	vecSecret    = sha256.Sum256([]byte("sealnet test vector: stream secret"))
	vecPaperSalt = sha256.Sum256([]byte("sealnet test vector: paper salt"))
	vecMessages  = []dcmb.Message{
		{Seq: 76, Key: "counter", Value: []byte("5367"), Time: 1_700_000_000_050_000_000},
		{Seq: 77, Key: "temperature/°C", Value: []byte("21.5"), Time: 1_700_000_000_100_000_000},
		{Seq: 78, Key: "status", Value: nil, Time: 1_700_000_000_150_000_000},
	}
)

func vecLeaves() [][]byte {
	b := &dcmb.Batch{Stream: vecStream, Mode: audit.ModeSealed, FirstSeq: 76, Count: 3, Msgs: vecMessages}
	return b.LeafHashes(vecSecret)
}

// vecMessage is a message in the vectors.
type vecMessage struct {
	Seq   uint64     `json:"seq"`
	Key   string     `json:"key"`
	Value golden.Hex `json:"value"`
	Time  int64      `json:"time"`
}

func toVec(ms []dcmb.Message) []vecMessage {
	out := []vecMessage{}
	for _, m := range ms {
		out = append(out, vecMessage{Seq: m.Seq, Key: m.Key, Value: m.Value, Time: m.Time})
	}
	return out
}

func fromVec(ms []vecMessage) []dcmb.Message {
	if len(ms) == 0 {
		return nil
	}
	out := []dcmb.Message{}
	for _, m := range ms {
		out = append(out, dcmb.Message{Seq: m.Seq, Key: m.Key, Value: m.Value, Time: m.Time})
	}
	return out
}

func hexes(bs [][]byte) []golden.Hex {
	out := []golden.Hex{}
	for _, b := range bs {
		out = append(out, b)
	}
	return out
}

func unhex(hs []golden.Hex) [][]byte {
	if len(hs) == 0 {
		return nil
	}
	out := [][]byte{}
	for _, h := range hs {
		out = append(out, h)
	}
	return out
}

// wireVector is docs/vectors/dcmb-wire.json: one of each frame of
// /sealnet/dcmb/1. Frame is the frame's bytes, Framed the same with the
// 4-byte length prefix it travels with.
type wireVector struct {
	Comment string `json:"comment"`
	Hello   struct {
		Channel string     `json:"channel"`
		Stream  string     `json:"stream"`
		Mode    string     `json:"mode"`
		Deliver string     `json:"deliver"`
		Secret  golden.Hex `json:"secret"`
		wireBytes
	} `json:"hello"`
	Welcome struct {
		Next uint64 `json:"next"`
		wireBytes
	} `json:"welcome"`
	Head struct {
		FirstSeq uint64 `json:"first_seq"`
		Count    uint64 `json:"count"`
		wireBytes
	} `json:"head"`
	Chunk struct {
		Messages []vecMessage `json:"messages"`
		wireBytes
	} `json:"chunk"`
	Leaves struct {
		Leaves []golden.Hex `json:"leaves"`
		Keys   []string     `json:"keys"`
		Times  []int64      `json:"times"`
		wireBytes
	} `json:"leaves"`
	Ack struct {
		Next uint64 `json:"next"`
		wireBytes
	} `json:"ack"`
	Reject struct {
		Seq    uint64 `json:"seq"`
		Reason string `json:"reason"`
		wireBytes
	} `json:"reject"`
}

type wireBytes struct {
	Frame  golden.Hex `json:"frame"`
	Framed golden.Hex `json:"framed"`
}

const wireFile = "dcmb-wire.json"

// frames returns the vector's frames built from its fields, and where
// each one's expected bytes are.
func (v *wireVector) frames() []struct {
	name  string
	frame any
	want  *wireBytes
} {
	return []struct {
		name  string
		frame any
		want  *wireBytes
	}{
		{"hello", &dcmb.Hello{Channel: v.Hello.Channel, Stream: v.Hello.Stream, Mode: v.Hello.Mode, Deliver: v.Hello.Deliver, Secret: v.Hello.Secret}, &v.Hello.wireBytes},
		{"welcome", &dcmb.Welcome{Next: v.Welcome.Next}, &v.Welcome.wireBytes},
		{"head", &dcmb.Head{FirstSeq: v.Head.FirstSeq, Count: v.Head.Count}, &v.Head.wireBytes},
		{"chunk", &dcmb.Chunk{Msgs: fromVec(v.Chunk.Messages)}, &v.Chunk.wireBytes},
		{"leaves", &dcmb.Leaves{Leaves: unhex(v.Leaves.Leaves), Keys: v.Leaves.Keys, Times: v.Leaves.Times}, &v.Leaves.wireBytes},
		{"ack", &dcmb.Ack{Next: v.Ack.Next}, &v.Ack.wireBytes},
		{"reject", &dcmb.Reject{Seq: v.Reject.Seq, Reason: v.Reject.Reason}, &v.Reject.wireBytes},
	}
}

func framed(t *testing.T, frame []byte) []byte {
	var b bytes.Buffer
	if err := dcmb.WriteFrame(&b, frame); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func makeWireVector(t *testing.T) wireVector {
	var v wireVector
	v.Comment = "Each frame is a kind byte followed by its fields; uint = unsigned LEB128 varint (minimal), int = zigzag varint (Go binary.AppendVarint), " +
		"string/bytes = uint length || bytes, leaf = 32 raw bytes, lists = uint count || items. On the stream each frame is u32be(len(frame)) || frame. " +
		"Hello 'H' channel, stream, mode, deliver, secret; Welcome 'W' next; Head 'B' first_seq, count; Chunk 'C' count, then per message seq (uint), key, value, time (int); " +
		"Leaves 'L' count, then per message leaf, key, time (int); Ack 'A' next; Reject 'R' seq, reason."
	v.Hello.Channel, v.Hello.Stream, v.Hello.Mode, v.Hello.Deliver, v.Hello.Secret = "default", vecStream, audit.ModeSealed, dcmb.DeliverValues, vecSecret[:]
	v.Welcome.Next = 76
	v.Head.FirstSeq, v.Head.Count = 76, 3
	v.Chunk.Messages = toVec(vecMessages)
	v.Leaves.Leaves = hexes(vecLeaves())
	for _, m := range vecMessages {
		v.Leaves.Keys = append(v.Leaves.Keys, m.Key)
		v.Leaves.Times = append(v.Leaves.Times, m.Time)
	}
	v.Ack.Next = 79
	v.Reject.Seq, v.Reject.Reason = 76, dcmb.ErrRoot.Error()
	for _, f := range v.frames() {
		f.want.Frame = dcmb.EncodeFrame(f.frame)
		f.want.Framed = framed(t, f.want.Frame)
	}
	return v
}

func TestDCMBWireVectors(t *testing.T) {
	if golden.Updating() {
		golden.Save(t, wireFile, makeWireVector(t))
	}
	var v wireVector
	golden.Load(t, wireFile, &v)
	kinds := map[byte]bool{}
	for _, f := range v.frames() {
		got := dcmb.EncodeFrame(f.frame)
		golden.Equal(t, f.name+" frame", got, f.want.Frame)
		golden.Equal(t, f.name+" framed", framed(t, got), f.want.Framed)
		if len(f.want.Frame) > 0 {
			kinds[f.want.Frame[0]] = true
		}
		body, err := dcmb.ReadFrame(bytes.NewReader(f.want.Framed))
		if err != nil {
			t.Errorf("%s: read the framed bytes: %v", f.name, err)
			continue
		}
		golden.Equal(t, f.name+" unframed", body, f.want.Frame)
		dec, err := dcmb.DecodeFrame(f.want.Frame)
		if err != nil {
			t.Errorf("%s: decode: %v", f.name, err)
			continue
		}
		if !reflect.DeepEqual(dec, f.frame) {
			t.Errorf("%s: decoded %+v, want %+v", f.name, dec, f.frame)
		}
	}
	if len(kinds) != 7 {
		t.Errorf("%d distinct frame kinds in the vector, want 7", len(kinds))
	}
	// the leaves frame carries the batch's sealed-mode leaves
	for i, l := range vecLeaves() {
		golden.Equal(t, golden.Label("leaf", i), v.Leaves.Leaves[i], l)
	}
}

// batchFileVector is docs/vectors/dcmb-batch.json: spooled batch files
// (SNDCMB2) of the vector batch in each form.
type batchFileVector struct {
	Comment string          `json:"comment"`
	Secret  golden.Hex      `json:"secret"`
	Batches []batchFileCase `json:"batches"`
}

type batchFileCase struct {
	Name      string       `json:"name"`
	Stream    string       `json:"stream"`
	Mode      string       `json:"mode"`
	FirstSeq  uint64       `json:"first_seq"`
	Count     uint64       `json:"count"`
	Start     int64        `json:"start"`
	End       int64        `json:"end"`
	PaperSalt golden.Hex   `json:"paper_salt"`
	Root      golden.Hex   `json:"root"`
	Created   int64        `json:"created"`
	Dropped   string       `json:"dropped"`
	Messages  []vecMessage `json:"messages"`
	Leaves    []golden.Hex `json:"leaves"`
	File      golden.Hex   `json:"file"`
}

func (c batchFileCase) batch() *dcmb.Batch {
	return &dcmb.Batch{Stream: c.Stream, Mode: c.Mode, FirstSeq: c.FirstSeq, Count: c.Count, Start: c.Start, End: c.End,
		PaperSalt: c.PaperSalt, Root: c.Root, Created: c.Created, Dropped: c.Dropped, Msgs: fromVec(c.Messages), Leaves: unhex(c.Leaves)}
}

const batchFile = "dcmb-batch.json"

func makeBatchFileVector(t *testing.T) batchFileVector {
	v := batchFileVector{
		Comment: "A batch file is \"SNDCMB2\\n\" || body || SHA-256(\"SNDCMB2\\n\" || body). body = stream, mode (strings), first_seq, count (uint), start, end (int, Unix ns), " +
			"paper_salt, root (bytes), created (int), dropped (string), then a form byte: 'v' and per message key (string), value (bytes), time (int), or " +
			"'h' and per message its 32-byte leaf, or 'd' (a dropped range, no content). Encodings as in dcmb-wire.json. " +
			"root is the batch's commitment: in sealed mode the RFC 6962 root of the leaves derived from secret, in paper mode the Argon2id commitment with paper_salt (see evidence.json).",
		Secret: vecSecret[:],
	}
	leaves := vecLeaves()
	sealed := &dcmb.Batch{Stream: vecStream, Mode: audit.ModeSealed, FirstSeq: 76, Count: 3, Start: 1_700_000_000_000_000_000, End: 1_700_000_000_200_000_000,
		Created: 1_700_000_000_200_300_000, Msgs: vecMessages}
	sealed.Root = sealed.ComputeRoot(vecSecret)
	hashes := *sealed
	hashes.Msgs, hashes.Leaves = nil, leaves
	paper := *sealed
	paper.Mode, paper.PaperSalt = audit.ModePaper, vecPaperSalt[:]
	paper.Root = paper.ComputeRoot(vecSecret)
	dropped := &dcmb.Batch{Stream: vecStream, Mode: audit.ModeSealed, FirstSeq: 79, Count: 1, Start: 1_700_000_000_250_000_000, End: 1_700_000_000_250_000_000,
		Created: 1_700_000_000_250_100_000, Dropped: "message value of 65537 bytes exceeds 65536"}
	for _, c := range []struct {
		name string
		b    *dcmb.Batch
	}{{"sealed, values (a sender's spool or archive, a receiver's inbox)", sealed}, {"sealed, leaf hashes (the inbox of a receiver of hashes)", &hashes},
		{"paper, values", &paper}, {"a range recorded as dropped", dropped}} {
		raw, err := c.b.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		b := c.b
		v.Batches = append(v.Batches, batchFileCase{Name: c.name, Stream: b.Stream, Mode: b.Mode, FirstSeq: b.FirstSeq, Count: b.Count, Start: b.Start, End: b.End,
			PaperSalt: b.PaperSalt, Root: b.Root, Created: b.Created, Dropped: b.Dropped, Messages: toVec(b.Msgs), Leaves: hexes(b.Leaves), File: raw})
	}
	return v
}

func TestDCMBBatchFileVectors(t *testing.T) {
	if golden.Updating() {
		golden.Save(t, batchFile, makeBatchFileVector(t))
	}
	var v batchFileVector
	golden.Load(t, batchFile, &v)
	if len(v.Batches) != 4 {
		t.Fatalf("%d batches in the vector, want 4", len(v.Batches))
	}
	var secret evidence.StreamSecret
	copy(secret[:], v.Secret)
	for _, c := range v.Batches {
		want := c.batch()
		raw, err := want.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		golden.Equal(t, c.Name, raw, c.File)
		var got dcmb.Batch
		if err := got.UnmarshalBinary(c.File); err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		if !reflect.DeepEqual(&got, want) {
			t.Errorf("%s: decoded %+v, want %+v", c.Name, got, want)
		}
		if c.Dropped == "" {
			golden.Equal(t, c.Name+": root", want.ComputeRoot(secret), c.Root)
		}
		if len(c.Leaves) != 0 {
			ls := (&dcmb.Batch{Stream: c.Stream, Msgs: v.Batches[0].batch().Msgs}).LeafHashes(secret)
			for i := range ls {
				golden.Equal(t, golden.Label(c.Name+": leaf", i), ls[i], c.Leaves[i])
			}
		}
	}
}

// bundleVector is docs/vectors/bundle.json: an audit bundle of one
// sealed-mode message with the genesis it verifies against. The checking
// test is in dcmb/bundle; this file only generates it.
type bundleVector struct {
	Comment string          `json:"comment"`
	Genesis json.RawMessage `json:"genesis"`
	Bundle  golden.Hex      `json:"bundle"`
	Fields  bundleFields    `json:"fields"`
	Report  bundleReport    `json:"report"`
}

type bundleFields struct {
	Version     int             `json:"version"`
	Stream      string          `json:"stream"`
	Messages    []bundleMessage `json:"messages"`
	Proof       []golden.Hex    `json:"proof"`
	Tx          golden.Hex      `json:"tx"`
	TxProof     bundleProof     `json:"tx_proof"`
	Result      golden.Hex      `json:"result"`
	ResultProof bundleProof     `json:"result_proof"`
	Header      golden.Hex      `json:"header"`
	NextHeader  golden.Hex      `json:"next_header"`
	Commit      golden.Hex      `json:"commit"`
}

type bundleMessage struct {
	Seq   uint64     `json:"seq"`
	Key   string     `json:"key"`
	Value golden.Hex `json:"value"`
	Salt  golden.Hex `json:"salt"`
}

type bundleProof struct {
	Index uint64       `json:"index"`
	Total uint64       `json:"total"`
	Aunts []golden.Hex `json:"aunts"`
}

// bundleReport is what verifying the bundle establishes.
type bundleReport struct {
	ChainID  string     `json:"chain_id"`
	Height   int64      `json:"height"`
	TxID     string     `json:"tx_id"`
	Mode     string     `json:"mode"`
	FirstSeq uint64     `json:"first_seq"`
	Count    uint64     `json:"count"`
	Root     string     `json:"root"`
	Leaf     golden.Hex `json:"leaf"`
}

const bundleFile = "bundle.json"

func toBundleVector(t *testing.T, raw []byte, genesis json.RawMessage) bundleVector {
	b, err := bundle.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	g, err := types.GenesisDocFromJSON(genesis)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := bundle.Verify(b, g)
	if err != nil {
		t.Fatal(err)
	}
	list := func(bs [][]byte) []golden.Hex { // nil stays null, empty stays []
		if bs == nil {
			return nil
		}
		return hexes(bs)
	}
	proof := func(p bundle.MerkleProof) bundleProof {
		return bundleProof{Index: p.Index, Total: p.Total, Aunts: list(p.Aunts)}
	}
	v := bundleVector{
		Comment: "An audit bundle: canonical CBOR (text keys) of fields, verified against genesis alone as dcmb/bundle.Verify does: " +
			"the commit of next_header is signed by more than 2/3 of the genesis validators' power; header is its parent; " +
			"tx is in header's DataHash and its result (code 0, data = result) in next_header's LastResultsHash (CometBFT Merkle proofs); " +
			"tx is an envelope calling audit.anchor whose arguments agree with result; the disclosed message's leaf " +
			"(evidence.json's leaf formula with the given salt) is included under the anchored root by proof (RFC 6962). " +
			"header, next_header and commit are CometBFT v0.38 protobuf. report is what verifying it establishes.",
		Genesis: genesis, Bundle: raw,
		Fields: bundleFields{Version: b.Version, Stream: b.Stream, Proof: list(b.Proof), Tx: b.Tx, TxProof: proof(b.TxProof),
			Result: b.Result, ResultProof: proof(b.ResultProof), Header: b.Header, NextHeader: b.NextHeader, Commit: b.Commit},
		Report: bundleReport{ChainID: rep.ChainID, Height: rep.Height, TxID: rep.TxID, Mode: rep.Mode,
			FirstSeq: rep.Batch.FirstSeq, Count: rep.Batch.Count, Root: rep.Batch.Root},
	}
	for _, m := range b.Messages {
		v.Fields.Messages = append(v.Fields.Messages, bundleMessage{Seq: m.Seq, Key: m.Key, Value: m.Value, Salt: m.Salt})
		var salt [evidence.SaltSize]byte
		copy(salt[:], m.Salt)
		v.Report.Leaf = evidence.LeafHash(salt, m.Seq, evidence.Record(m.Key, m.Value))
	}
	return v
}

// TestBundleVectorsGenerate writes docs/vectors/bundle.json with -update:
// a one-org consortium streams the vector messages in one sealed batch,
// anchors it, and exports the bundle of the middle message. A bundle
// already in the file that still verifies is kept (delete the file to make
// a new one), since each run makes a new chain.
func TestBundleVectorsGenerate(t *testing.T) {
	if !golden.Updating() {
		t.Skip("generates docs/vectors/bundle.json with -update; dcmb/bundle checks it")
	}
	var old bundleVector
	if golden.LoadIfPresent(t, bundleFile, &old) {
		if b, err := bundle.Decode(old.Bundle); err == nil {
			if g, err := types.GenesisDocFromJSON(old.Genesis); err == nil {
				if _, err := bundle.Verify(b, g); err == nil {
					golden.Save(t, bundleFile, toBundleVector(t, old.Bundle, old.Genesis))
					return
				}
			}
		}
		t.Log("the bundle in the file no longer verifies: making a new one")
	}
	c, _ := consortium(t, 1)
	o := c.Orgs[0]
	src := &chanSource{c: make(chan source.Message)}
	send := start(t, o, &dcmb.Config{Streams: []dcmb.StreamConfig{{Name: vecStream, Receiver: o.Name, MaxBatch: len(vecMessages),
		Interval: dcmb.Duration{Duration: time.Minute}, Source: dcmb.SourceConfig{Kind: "stdin"}}}}, src)
	for _, m := range vecMessages {
		src.c <- source.Message{Key: m.Key, Value: m.Value, Time: time.Now()}
	}
	testutil.WaitFor(t, "the batch anchored", time.Minute, func() bool { return send.rt.Stats.Anchored.Load() == uint64(len(vecMessages)) })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var b *bundle.Bundle
	testutil.WaitFor(t, "the bundle exported", 30*time.Second, func() bool {
		var err error
		b, err = send.rt.Export(ctx, vecStream, 1)
		return err == nil
	})
	raw, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	genesis, err := os.ReadFile(filepath.Join(o.Home.Chain(o.Node.Config().Channels[0], "").Home, "config", "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	golden.Save(t, bundleFile, toBundleVector(t, raw, genesis))
}
