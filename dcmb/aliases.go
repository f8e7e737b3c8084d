package dcmb

// This file gives the formats of dcmb/wire their names in this package,
// so that callers keep writing dcmb.Batch, dcmb.Hello or dcmb.MaxValue.

import "github.com/sealnet/sealnet/dcmb/wire"

// Protocol is the libp2p protocol of stream delivery (see wire.Protocol).
const Protocol = wire.Protocol

// Delivery forms.
const (
	DeliverValues = wire.DeliverValues // the receiver gets keys and values
	DeliverHashes = wire.DeliverHashes // the receiver gets leaf hashes only and matches candidates (Algorithm 2)
)

// Limits of the wire format and of batch files.
const (
	MaxFrame = wire.MaxFrame
	MaxValue = wire.MaxValue
	MaxKey   = wire.MaxKey
	MaxChunk = wire.MaxChunk
	MaxName  = wire.MaxName
)

// The batch and the frames.
type (
	Batch   = wire.Batch
	Message = wire.Message
	Hello   = wire.Hello
	Welcome = wire.Welcome
	Head    = wire.Head
	Chunk   = wire.Chunk
	Leaves  = wire.Leaves
	Ack     = wire.Ack
	Reject  = wire.Reject
)

// Errors of the formats.
var (
	ErrMalformed = wire.ErrMalformed // every decoding failure of untrusted bytes
	ErrRoot      = wire.ErrRoot      // a batch whose messages do not lead to the expected root
)

// DecodeFrame decodes one frame of untrusted bytes (see wire.Decode).
func DecodeFrame(b []byte) (any, error) { return wire.Decode(b) }
