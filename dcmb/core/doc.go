// Package core is the DCMB's protocol without I/O: a Sender state machine
// per sending stream and a Receiver (with one Session per delivery
// connection) for the receiving side. They keep no goroutines, read no
// clock and touch no disk, chain or network: the driver (package dcmb)
// feeds them events stamped with the current time and performs the
// actions they return, in the manner of etcd's raft RawNode and Ready.
//
// # The driver's duties
//
// For a Sender:
//
//  1. Build it with NewSender from what it read at start: this node's
//     org, the chain's record of the stream and the spooled batches with
//     the chain's record of each one's range.
//  2. Call Step with every event as it happens (ReadMessage for a
//     message: the same without boxing it), and Step Tick once Deadline
//     has come, whatever else happened: retries and timeouts fall due
//     only then. Every call passes the current time; the Sender keeps no
//     other clock.
//  3. After Step, while HasReady, take Ready's actions, hand each to
//     whoever performs it, then call Advance. Perform the actions of one
//     kind in the order given: Seal and Forget touch the spool, Anchor,
//     GiveUp and SubmitLabel the chain, Connect and Send the receiver.
//  4. Answer Seal with Sealed, Process with Processed, Anchor with
//     Anchored, Connect with Welcomed or ConnectFailed, Send with Acked or
//     SendFailed, GiveUp with GaveUp. At most one Seal, one Process, one
//     Anchor and one delivery action (Connect, Send, GiveUp) are
//     outstanding at a time; Forget, SubmitLabel, Log and Count need no
//     answer. On a certified stream, answer Process only after asking
//     the chain whether the module is certified for the next block, and
//     after an anchor the chain refused, say in Anchored whether the
//     module is still certified.
//  5. Stop reading the source while Backlog or Unprocessed is MaxBacklog
//     or more, so that a slow sealer or module holds the source back
//     instead of memory filling, and for good once Halted says why the
//     stream's module stopped it.
//  6. To stop, Step Stop: the open interval is cut; keep performing Seal
//     until Backlog is zero. Nothing more is anchored or sent.
//
// For a Receiver, per delivery connection:
//
//  1. Open a Session and Step Peer with the peer's org as the membership
//     gate knows it.
//  2. Perform Ready's actions in order, then Advance. A request (ReadStream,
//     CheckPeer, Acquire, StoreSecret, ReadRecord, SaveNext, Store) is
//     always the last action of a Ready; Step its answer before anything
//     else.
//  3. When a Ready holds no request, read the frame Waiting asks for
//     (WaitHello, WaitHead or WaitBody) and Step it as Frame, or end the
//     connection at WaitNone. Release what Acquire took when it ends.
//
// Everything a machine decides is visible in its actions, so its
// behaviour is tested as data: testdata/sender/*.txt and
// testdata/receiver/*.txt replay scripts of events against the recorded
// actions (go test ./dcmb/core -rewrite updates them).
package core
