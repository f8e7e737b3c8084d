// Package payment is a node's side of paper 004's payment channels
// (contract/paych): the payer's node pays one voucher per accepted
// result over libp2p, and the payee's node checks it against its own
// replica of the chain, stores it durably, acknowledges it, and redeems
// its latest vouchers when the channel settles.
//
// # Wire protocol /sealnet/voucher/1
//
// One stream per channel, opened by the payer's node to a node of the
// payee's org. Frames are length-prefixed (4-byte big-endian length, 1 to
// MaxFrame bytes), a kind byte and varint-encoded fields, decoded
// strictly (minimal varints, bounded fields, no trailing bytes; fuzzed):
//
//	Hello    payer -> payee  chain, channel (32 bytes)
//	Welcome  payee -> payer  the latest voucher the payee holds durably on each lane (at most 64)
//	Voucher  payer -> payee  sequence number (1, 2, ... on the stream), voucher (at most 512 bytes)
//	Ack      payee -> payer  every voucher up to this sequence number is stored durably
//	Reject   payee -> payer  sequence number (0: the stream), Code, reason; the stream ends
//
// The payee's node serves only enrolled members (the libp2p gate refuses
// anyone else before the handshake ends; the handler checks again), and
// on a Hello only a node of the org that pays the channel, on a chain
// both host, for a channel that pays its own org's account and is open.
// It waits a while for its replica to show the channel (the payer's node
// saw it commit). The Welcome lets a payer that lost its state go on
// from what the payee holds: the payer checks each voucher's signature
// first, so a payee cannot make it sign on from an amount it never gave.
//
// Each voucher passes voucher.Accept against the payee's view (the
// chain's record and every voucher accepted before it), and what the
// payee expects: an unconditional voucher adds something; one
// conditional on a job needs the job accepted on the payee's replica,
// the payee's org among those its acceptance pays, and an increment of
// at least the job's price. A refusal carries its own Code; the payee
// acknowledges the vouchers before it, then refuses and closes the
// stream, and the payer starts again from the next Welcome.
//
// # Durability and the acknowledgement rule
//
// Accepted vouchers go to an append-only journal with group commit: one
// write and one fsync for everything appended while the previous fsync
// ran (no timer: an idle node flushes at once, a busy one batches).
// A voucher is acknowledged only after the fsync that covers it
// returned, so an Ack means the voucher survives a crash of the payee's
// node. Payers send vouchers without waiting for earlier Acks, which is
// what lets the batches grow; one Ack frame acknowledges a whole flush.
// A failed write or fsync is sticky: nothing more is acknowledged. The
// journal is compacted to a snapshot of the latest voucher per lane when
// it outgrows its limit (see journal.go for the crash cases).
//
// # On chain
//
// The payee's node watches committed blocks (OnBlock): a settle by the
// payer or by the expiry makes it submit its latest vouchers before
// settle_at (the last one with the payee's settle, which ends the
// redeeming at once) and collect. Cash does the same on demand: with one
// lane a channel costs three transactions (open, settle, collect)
// however many results it paid. CanPay and ChannelFrom tell a worker
// whether a channel can pay for work before it starts it.
package payment
