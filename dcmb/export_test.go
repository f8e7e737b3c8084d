package dcmb

import "github.com/sealnet/sealnet/dcmb/wire"

// Test access to the wire format, for tests that play a misbehaving peer.
var (
	EncodeFrame = wire.Encode
	WriteFrame  = wire.WriteFrame
	ReadFrame   = wire.ReadFrame
)

// SenderSecret is a sending stream's secret, for a test that forges
// deliveries in its name.
func SenderSecret(r *Runtime, stream string) []byte {
	s := r.senders[stream].secret
	return s[:]
}
