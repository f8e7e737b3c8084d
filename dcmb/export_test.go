package dcmb

// Test access to the wire format, for tests that play a misbehaving peer.
var (
	EncodeFrame = encodeFrame
	WriteFrame  = writeFrame
	ReadFrame   = readFrame
)

// SenderSecret is a sending stream's secret, for a test that forges
// deliveries in its name.
func SenderSecret(r *Runtime, stream string) []byte {
	s := r.senders[stream].secret
	return s[:]
}
