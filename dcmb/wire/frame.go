package wire

// This file holds the frames of /sealnet/dcmb/1, their encoding, and how
// a batch is split into them.

import (
	"fmt"
	"iter"

	"github.com/sealnet/sealnet/internal/lpframe"
)

// Protocol is the libp2p protocol of stream delivery. One libp2p stream
// carries one DCMB stream: the sender says Hello, the receiver answers
// Welcome with the next sequence number it lacks, then the sender sends
// each anchored batch as a Head and its Chunks (or Leaves), and the
// receiver answers each batch with an Ack once it verified the batch
// against the root anchored on chain and stored it, or with a Reject.
const Protocol = "/sealnet/dcmb/1"

// Frame kinds.
const (
	kindHello   = 'H'
	kindWelcome = 'W'
	kindHead    = 'B'
	kindChunk   = 'C'
	kindLeaves  = 'L'
	kindAck     = 'A'
	kindReject  = 'R'
)

// Delivery forms.
const (
	DeliverValues = "values" // the receiver gets keys and values
	DeliverHashes = "hashes" // the receiver gets leaf hashes only and matches candidates (Algorithm 2)
)

// Hello opens a stream.
type Hello struct {
	Channel string
	Stream  string
	Mode    string // sealed or paper
	Deliver string // values or hashes
	Secret  []byte // sealed mode: the per-stream secret salts derive from
}

// Welcome answers Hello.
type Welcome struct{ Next uint64 }

// Head announces a batch.
type Head struct {
	FirstSeq uint64
	Count    uint64
}

// Chunk carries consecutive messages of the announced batch.
type Chunk struct{ Msgs []Message }

// Leaves carries consecutive leaf hashes of the announced batch (hash
// delivery), with each message's key and time.
type Leaves struct {
	Leaves [][]byte
	Keys   []string
	Times  []int64
}

// Ack acknowledges every sequence number below Next.
type Ack struct{ Next uint64 }

// Reject refuses the batch at Seq; Reason says why.
type Reject struct {
	Seq    uint64
	Reason string
}

// Message is one value of a stream. The leaf commits to the sequence
// number, key and value (Record); Time is when the source received it,
// bounded on chain by the batch's interval.
type Message struct {
	Seq   uint64 `json:"seq"`
	Key   string `json:"key"`
	Value []byte `json:"value"`
	Time  int64  `json:"time"` // Unix ns
}

// Encode encodes a *Hello, *Welcome, *Head, *Chunk, *Leaves, *Ack or
// *Reject; any other value is a programming error.
func Encode(f any) []byte {
	var e enc
	switch f := f.(type) {
	case *Hello:
		e.byte(kindHello)
		e.string(f.Channel)
		e.string(f.Stream)
		e.string(f.Mode)
		e.string(f.Deliver)
		e.bytes(f.Secret)
	case *Welcome:
		e.byte(kindWelcome)
		e.uint(f.Next)
	case *Head:
		e.byte(kindHead)
		e.uint(f.FirstSeq)
		e.uint(f.Count)
	case *Chunk:
		e.b = make([]byte, 0, 16+len(f.Msgs)*(16+chunkValueHint(f.Msgs)))
		e.byte(kindChunk)
		e.uint(uint64(len(f.Msgs)))
		for _, m := range f.Msgs {
			e.uint(m.Seq)
			e.string(m.Key)
			e.bytes(m.Value)
			e.int(m.Time)
		}
	case *Leaves:
		e.byte(kindLeaves)
		e.uint(uint64(len(f.Leaves)))
		for i, l := range f.Leaves {
			e.b = append(e.b, l...)
			e.string(f.Keys[i])
			e.int(f.Times[i])
		}
	case *Ack:
		e.byte(kindAck)
		e.uint(f.Next)
	case *Reject:
		e.byte(kindReject)
		e.uint(f.Seq)
		e.string(f.Reason)
	default:
		panic(fmt.Sprintf("dcmb/wire: no frame %T", f))
	}
	return e.b
}

func chunkValueHint(ms []Message) int {
	if len(ms) == 0 {
		return 0
	}
	return len(ms[0].Value) + len(ms[0].Key)
}

// Decode decodes one frame of untrusted bytes into *Hello, *Welcome,
// *Head, *Chunk, *Leaves, *Ack or *Reject.
func Decode(b []byte) (any, error) {
	d := lpframe.NewDecoder(b)
	var out any
	switch k := d.Byte("frame kind"); k {
	case kindHello:
		h := &Hello{Channel: d.String(MaxName, "channel"), Stream: d.String(MaxName, "stream"),
			Mode: d.String(16, "mode"), Deliver: d.String(16, "delivery form"), Secret: d.Bytes(32, "secret")}
		out = h
	case kindWelcome:
		out = &Welcome{Next: d.Uint("next sequence number")}
	case kindHead:
		out = &Head{FirstSeq: d.Uint("first sequence number"), Count: d.Uint("count")}
	case kindChunk:
		n := d.Uint("message count")
		if n == 0 || n > MaxChunk {
			d.Fail("chunk of %d messages, want 1-%d", n, MaxChunk)
		}
		c := &Chunk{}
		for i := uint64(0); i < n && d.Err() == nil; i++ {
			c.Msgs = append(c.Msgs, Message{Seq: d.Uint("sequence number"), Key: d.String(MaxKey, "key"), Value: d.Bytes(MaxValue, "value"), Time: d.Int("time")})
		}
		out = c
	case kindLeaves:
		n := d.Uint("leaf count")
		if n == 0 || n > MaxChunk {
			d.Fail("chunk of %d leaves, want 1-%d", n, MaxChunk)
		}
		l := &Leaves{}
		for i := uint64(0); i < n && d.Err() == nil; i++ {
			l.Leaves = append(l.Leaves, d.Fixed(32, "leaf"))
			l.Keys = append(l.Keys, d.String(MaxKey, "key"))
			l.Times = append(l.Times, d.Int("time"))
		}
		out = l
	case kindAck:
		out = &Ack{Next: d.Uint("next sequence number")}
	case kindReject:
		out = &Reject{Seq: d.Uint("sequence number"), Reason: d.String(512, "reason")}
	default:
		if d.Err() == nil {
			d.Fail("unknown frame kind %q", k)
		}
	}
	if err := d.End(); err != nil {
		return nil, err
	}
	return out, nil
}

// Chunks splits a batch's messages into the Chunk frames that carry them:
// at most MaxChunk messages, and about chunkBytes of keys and values, a
// frame.
func Chunks(msgs []Message) iter.Seq[*Chunk] {
	return func(yield func(*Chunk) bool) {
		for i := 0; i < len(msgs); {
			j, size := i, 0
			for j < len(msgs) && j-i < MaxChunk && size < chunkBytes {
				size += len(msgs[j].Value) + len(msgs[j].Key) + 24
				j++
			}
			if !yield(&Chunk{Msgs: msgs[i:j]}) {
				return
			}
			i = j
		}
	}
}

// LeafChunks splits a batch's leaf hashes, with its messages' keys and
// times, into the Leaves frames that carry them (hash delivery).
func LeafChunks(msgs []Message, leaves [][]byte) iter.Seq[*Leaves] {
	return func(yield func(*Leaves) bool) {
		for i := 0; i < len(leaves); i += MaxChunk {
			j := min(i+MaxChunk, len(leaves))
			f := &Leaves{Leaves: leaves[i:j]}
			for _, m := range msgs[i:j] {
				f.Keys = append(f.Keys, m.Key)
				f.Times = append(f.Times, m.Time)
			}
			if !yield(f) {
				return
			}
		}
	}
}
