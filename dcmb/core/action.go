package core

// This file holds what the machines share: the event and action
// interfaces, the log lines and counts they report, and the contract
// calls they ask the driver to submit.

import (
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/dcmb/wire"
)

// Event is something that happened, stepped into a machine.
type Event interface{ event() }

// Action is something a machine asks its driver to do.
type Action interface{ action() }

// Log is a line for the driver's log. Attrs are key, value pairs as slog
// takes them; message values are never among them. Stream names the
// stream a receiving connection's line is about, to be logged in that
// stream's context ("": the machine's own context, a sender's stream or
// a connection).
type Log struct {
	Level  slog.Level
	Msg    string
	Attrs  []any
	Stream string
}

// Count reports progress for the runtime's statistics: messages
// anchored, acknowledged by the receiver, given up (dropped or
// undelivered) or received and verified, and the delay from an
// interval's end to its anchor's commit (0: none measured).
type Count struct {
	Anchored, Delivered, Dropped, Received uint64
	AnchorDelay                            time.Duration
}

// Tx is a contract call the driver signs with the node's identity and
// submits, waiting for its block.
type Tx struct {
	Contract string
	Method   string
	Args     any
}

func (Log) action()   {}
func (Count) action() {}

func logf(level slog.Level, msg string, attrs ...any) Log {
	return Log{Level: level, Msg: msg, Attrs: attrs}
}

// AnchorMatches reports whether the chain's record rec anchors exactly
// the batch b: same range and root, not a dropped range. A restarted
// sender and an audit export use it to find a batch's anchor.
func AnchorMatches(b *wire.Batch, rec *audit.Batch) bool {
	return b.Dropped == "" && rec != nil && rec.Dropped == "" && rec.Count == b.Count && rec.Root == hex.EncodeToString(b.Root)
}

// dropRecorded reports whether rec records the drop marker b (an earlier
// try committed).
func dropRecorded(b *wire.Batch, rec *audit.Batch) bool {
	return rec != nil && rec.Dropped == b.Dropped && rec.Count == b.Count
}
