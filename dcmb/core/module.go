package core

// This file holds a certified stream's module (paper 000, 3.3): every
// spooled batch is processed by the module before it is anchored, the
// anchor names the module and the stream's purpose, and the module's
// labels are submitted only once the anchor committed. A module that is
// no longer certified halts the stream: what it has not processed is
// recorded on chain as dropped, with the reason, and nothing more is read.

import (
	"log/slog"
	"unicode/utf8"

	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/contract/condition"
)

// ModuleConfig makes a stream certified: its batches are processed by the
// module with SHA-256 Hash, certified for Purpose on the channel.
type ModuleConfig struct {
	Hash    []byte
	Purpose string
	// Labels map the module's outputs to the condition contract: an
	// output named Output is a label, submitted hashed with LabelSalt to
	// Condition. Outputs without a mapping are not used.
	Labels []LabelMap
}

// LabelMap submits the outputs named Output as hashed labels.
type LabelMap struct {
	Output    string `toml:"output"`
	Condition string `toml:"condition"`  // condition ID registered by the interested org
	LabelSalt string `toml:"label_salt"` // shared with that org
}

// ModuleOutput is one output of the module, about message Seq.
type ModuleOutput struct {
	Seq  uint64
	Key  string
	Name string
	Text string
}

// Process asks the driver to check that the module is still certified for
// the stream's purpose in the next block and, if it is, to run it on the
// spooled batch at First. Answer with Processed. One is outstanding at a
// time.
type Process struct{ First, Count uint64 }

// Processed answers Process: the module's Outputs, or the reason it
// Refused the batch (a trap, a limit, a malformed or undeclared output:
// the batch is recorded as dropped with it and the stream goes on), or
// Halt with the reason the module is no longer certified (this batch and
// every later one are dropped with it, and the stream stops reading).
type Processed struct {
	First   uint64
	Outputs []ModuleOutput
	Refused string
	Halt    bool
}

func (Process) action()  {}
func (Processed) event() {}

// maxReason is the longest reason audit.drop takes.
const maxReason = 128

// Unprocessed is the number of spooled batches the module has not
// processed yet. The driver stops reading while it is MaxBacklog or
// more, so that a slow module holds the source back.
func (s *Sender) Unprocessed() int { return s.unprocessed }

// Halted says why the stream's module stopped it ("" while it runs). The
// driver stops reading the source once it is set.
func (s *Sender) Halted() string { return s.halted }

// startProcess asks for the oldest spooled batch the module has not
// processed.
func (s *Sender) startProcess() {
	if s.cfg.Module == nil || s.processing || s.halted != "" {
		return
	}
	for i := range s.spool {
		if e := &s.spool[i]; !e.processed {
			s.processing = true
			s.emit(Process{First: e.head.FirstSeq, Count: e.head.Count})
			return
		}
	}
}

// processed applies the module's result.
func (s *Sender) processed(t int64, ev Processed) {
	s.processing = false
	i := s.find(ev.First)
	if i < 0 {
		return
	}
	switch {
	case ev.Halt:
		s.halt(t, ev.Refused)
	case ev.Refused != "":
		s.log(slog.LevelWarn, "the module refused a batch: recorded on chain as dropped", "first_seq", ev.First, "reason", ev.Refused)
		s.dropEntry(i, ev.Refused)
	default:
		s.markProcessed(&s.spool[i])
		s.spool[i].outputs = ev.Outputs
	}
}

// halt stops the stream: every batch the module has not processed, and
// every batch cut from now on, is recorded as dropped with reason.
func (s *Sender) halt(t int64, reason string) {
	if s.halted != "" {
		return
	}
	s.halted = clip(reason)
	s.log(slog.LevelError, "module not certified: the stream stops reading, its unprocessed batches are recorded as dropped", "reason", s.halted)
	for i := range s.spool {
		if !s.spool[i].processed && !s.spool[i].anchored {
			s.dropEntry(i, s.halted)
		}
	}
	s.cut(t)
}

// dropEntry turns the spooled batch at i into a drop marker: its range is
// recorded as dropped with reason, and its file deleted once that is on
// chain.
func (s *Sender) dropEntry(i int, reason string) {
	e := &s.spool[i]
	e.head.Dropped = clip(reason)
	e.head.Root, e.head.PaperSalt = nil, nil
	s.markProcessed(e)
	e.outputs = nil
}

func (s *Sender) markProcessed(e *entry) {
	if !e.processed {
		e.processed = true
		s.unprocessed--
	}
}

// addEntry appends a spooled batch.
func (s *Sender) addEntry(e entry) {
	if !e.processed {
		s.unprocessed++
	}
	s.spool = append(s.spool, e)
	s.spoolBytes += e.bytes
}

// moduleArgs adds the stream's purpose and module to an anchor.
func (s *Sender) moduleArgs(a *audit.AnchorArgs) {
	if m := s.cfg.Module; m != nil {
		a.Purpose, a.Module = m.Purpose, m.Hash
	}
}

// submitOutputs asks for the labels among an anchored batch's outputs to
// be submitted.
func (s *Sender) submitOutputs(e *entry) {
	for _, o := range e.outputs {
		for _, l := range s.cfg.Module.Labels {
			if l.Output == o.Name {
				s.emit(SubmitLabel{Condition: l.Condition, Tx: Tx{Contract: condition.Name, Method: "submit",
					Args: condition.SubmitArgs{ID: l.Condition, Hash: condition.Hash(o.Text, []byte(l.LabelSalt))}}})
			}
		}
	}
	e.outputs = nil
}

// clip shortens a reason to what audit.drop takes, on a rune boundary.
func clip(s string) string {
	if len(s) <= maxReason {
		return s
	}
	s = s[:maxReason-3]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "..."
}
