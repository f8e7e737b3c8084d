package core

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/contract/condition"
	"github.com/sealnet/sealnet/dcmb/wire"
)

// formatAction prints an action as the scenario scripts record it.
func formatAction(now time.Time, a Action) string {
	switch a := a.(type) {
	case Seal:
		b := a.Batch
		if b.Dropped != "" {
			return fmt.Sprintf("seal %s as dropped: %s", span(b.FirstSeq, b.Count), b.Dropped)
		}
		return fmt.Sprintf("seal %s, interval %s-%s", span(b.FirstSeq, b.Count), at(now, b.Start), at(now, b.End))
	case Anchor:
		return fmt.Sprintf("anchor %s: %s", span(a.Batch.FirstSeq, a.Batch.Count), formatTx(a.Tx))
	case Process:
		return "process " + span(a.First, a.Count)
	case Connect:
		return "connect"
	case Send:
		return "send " + span(a.First, a.Count)
	case GiveUp:
		return fmt.Sprintf("give up %s: %s", span(a.First, a.Count), formatTx(a.Tx))
	case Forget:
		if a.Archive {
			return fmt.Sprintf("forget %d: archive", a.First)
		}
		return fmt.Sprintf("forget %d: delete", a.First)
	case SubmitLabel:
		return "submit label: " + formatTx(a.Tx)
	case Log:
		var b strings.Builder
		fmt.Fprintf(&b, "log %s %q", a.Level, a.Msg)
		for i := 0; i+1 < len(a.Attrs); i += 2 {
			v := fmt.Sprint(a.Attrs[i+1])
			if strings.ContainsAny(v, " =\"") || v == "" {
				v = strconv.Quote(v)
			}
			fmt.Fprintf(&b, " %v=%s", a.Attrs[i], v)
		}
		return b.String()
	case Count:
		var parts []string
		for _, c := range []struct {
			name string
			n    uint64
		}{{"anchored", a.Anchored}, {"delivered", a.Delivered}, {"dropped", a.Dropped}, {"received", a.Received}} {
			if c.n > 0 {
				parts = append(parts, fmt.Sprintf("%s=%d", c.name, c.n))
			}
		}
		if a.AnchorDelay != 0 {
			parts = append(parts, "anchor_delay="+a.AnchorDelay.String())
		}
		return "count " + strings.Join(parts, " ")
	case Reply:
		return "reply " + formatFrame(a.F)
	case Output:
		var fired []string
		for _, f := range a.Fired {
			fired = append(fired, fmt.Sprintf("%s@%d", f.Action, f.Seq))
		}
		form := "values"
		if a.Batch.Leaves != nil {
			form = "hashes"
		}
		s := fmt.Sprintf("output %s (%s)", span(a.Batch.FirstSeq, a.Batch.Count), form)
		if len(fired) > 0 {
			s += ", fired " + strings.Join(fired, " ")
		}
		return s
	case ReadStream:
		return "read stream " + a.Stream
	case CheckPeer:
		return "check peer against " + a.Record.Sender
	case Acquire:
		return "acquire " + a.Stream
	case StoreSecret:
		return "store secret " + a.Stream
	case ReadRecord:
		if a.Wait {
			return fmt.Sprintf("read record %s@%d (waiting)", a.Stream, a.First)
		}
		return fmt.Sprintf("read record %s@%d", a.Stream, a.First)
	case SaveNext:
		return fmt.Sprintf("save next %s=%d", a.Stream, a.Next)
	case Store:
		return fmt.Sprintf("store %s, next %d", span(a.Batch.FirstSeq, a.Batch.Count), a.Next)
	}
	return fmt.Sprintf("%T %+v", a, a)
}

func formatTx(tx Tx) string {
	switch a := tx.Args.(type) {
	case audit.AnchorArgs:
		s := fmt.Sprintf("%s.%s %s for %s, %s", tx.Contract, tx.Method, a.Mode, a.Receiver, span(a.FirstSeq, a.Count))
		if len(a.Salt) > 0 {
			s += ", salt published"
		}
		if a.Purpose != "" || len(a.Module) > 0 {
			s += fmt.Sprintf(", purpose %s, module %x", a.Purpose, a.Module[:4])
		}
		return s
	case audit.DropArgs:
		return fmt.Sprintf("%s.%s %s %q", tx.Contract, tx.Method, span(a.FirstSeq, a.Count), a.Reason)
	case condition.SubmitArgs:
		return fmt.Sprintf("%s.%s %s hash=%x", tx.Contract, tx.Method, a.ID, a.Hash[:4])
	}
	return fmt.Sprintf("%s.%s %+v", tx.Contract, tx.Method, tx.Args)
}

func formatFrame(f any) string {
	switch f := f.(type) {
	case *wire.Welcome:
		return fmt.Sprintf("Welcome next=%d", f.Next)
	case *wire.Ack:
		return fmt.Sprintf("Ack next=%d", f.Next)
	case *wire.Reject:
		return fmt.Sprintf("Reject seq=%d %q", f.Seq, f.Reason)
	}
	return fmt.Sprintf("%T", f)
}

// span prints a range of sequence numbers.
func span(first, count uint64) string {
	if count == 1 {
		return fmt.Sprintf("msg %d", first)
	}
	return fmt.Sprintf("msgs %d-%d", first, first+count-1)
}

// at prints a time as its offset from the epoch.
func at(_ time.Time, ns int64) string { return time.Duration(ns - t0.UnixNano()).String() }

func nonEmpty(input string) []string {
	var out []string
	for _, l := range strings.Split(input, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// parseLine reads "cmd key=value key ..." (values may be quoted).
func parseLine(t *testing.T, d *datadriven.TestData, line string) (string, map[string]string) {
	cmd, args, err := datadriven.ParseLine(line)
	if err != nil {
		d.Fatalf(t, "%s: %v", line, err)
	}
	m := map[string]string{}
	for _, a := range args {
		m[a.Key] = strings.Join(a.Vals, ",")
	}
	return cmd, m
}
