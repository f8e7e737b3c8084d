// The custodian's side of the key-request protocol (share.Protocol): it
// opens and checks a request, gathers what the release decision needs,
// answers with the key or a signed denial, and records the answer's hash
// on chain.

package custodian

import (
	"context"
	"encoding/hex"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract/index"
	"github.com/sealnet/sealnet/envelope"
	"github.com/sealnet/sealnet/ledger"
	"github.com/sealnet/sealnet/share"
	"github.com/sealnet/sealnet/txerr"
)

// Frame kinds on a key-request stream, custodian to requester.
const (
	frameAnswer = 'A' // an HPKE-sealed signed answer follows
	frameError  = 'E' // the request was rejected before it could be answered
)

// handle answers one key request stream.
func (c *Custodian) handle(st network.Stream) {
	defer st.Close()
	st.SetDeadline(time.Now().Add(30 * time.Second))
	sealed, err := share.ReadFrame(st)
	if err != nil {
		c.cfg.Log.Warn("key request unreadable", "peer", st.Conn().RemotePeer(), "err", err)
		return
	}
	if f := c.serve(sealed, st.Conn().RemotePeer()); f != nil {
		if err := share.WriteFrame(st, f); err != nil {
			c.cfg.Log.Warn("send answer", "err", err)
		}
	}
}

// serve opens and decides the sealed request that came from peer and
// returns the frame to send back (nil: none, the failure is logged).
func (c *Custodian) serve(sealed []byte, from peer.ID) []byte {
	in, err := c.ver.OpenRequest(sealed, time.Now())
	if err != nil {
		// no answer can be sealed to an unverified sender; say why in clear
		c.cfg.Log.Warn("key request rejected", "peer", from, "err", err)
		return append([]byte{frameError}, err.Error()...)
	}
	key, code, msg := c.answer(in)
	ans, hash, _, err := c.ver.Answer(in, key, code, msg, time.Now())
	if err != nil {
		c.cfg.Log.Error("seal answer", "err", err)
		return nil
	}
	// the answer goes out at once; its record follows in the next block
	go c.record(in, hash, key != nil, code)
	return append([]byte{frameAnswer}, ans...)
}

// answer decides a verified request (see Decide) and returns the key it
// releases, or the denial's code and reason.
func (c *Custodian) answer(in *share.Incoming) (key []byte, code, msg string) {
	r := &in.Request
	ch, err := c.cfg.Channels.Channel(r.Channel)
	if err != nil {
		return nil, share.DenyUnknown, "channel not hosted here"
	}
	req := Request{ID: hex.EncodeToString(in.Hash), TXNumber: hex.EncodeToString(r.TXNumber), CID: r.HashData,
		Requester: Requester{ID: in.Requester.ID, Org: in.Requester.Org, Fingerprint: in.Requester.Fingerprint.String()}}
	e, key := c.entry(ch, req.TXNumber)
	self, policy := c.cfg.Identity.Member.Fingerprint.String(), c.cfg.Policy()
	v := c.queue.decide(Pending{Request: req, Channel: r.Channel, Time: time.Unix(0, r.Time)}, func(a Approvals) Verdict {
		return Decide(self, req, e, policy, a)
	})
	if !v.Release {
		return nil, v.Code, v.Reason
	}
	return key, "", ""
}

// entry reads the committed index entry txn (nil if there is none) and,
// when this node holds its data key, the key.
func (c *Custodian) entry(ch *ledger.Channel, txn string) (*Entry, []byte) {
	raw, err := ch.App.QueryContract(index.Name, "entry", canon.MustMarshal(index.PurgeArgs{TXNumber: txn}))
	if err != nil {
		return nil, nil
	}
	var ie index.Entry
	if err := canon.Unmarshal(raw, &ie); err != nil {
		return nil, nil
	}
	key, err := c.keys.load(ch.Name, ie.HashAddress)
	return &Entry{CID: ie.HashAddress, Custodian: ie.Custodian, Purged: ie.Purged, PurgedAt: ie.PurgedAt, KeyHeld: err == nil}, key
}

// record puts the answer's hashes on chain (the request's record is the
// requester's to make).
func (c *Custodian) record(in *share.Incoming, answer []byte, granted bool, reason string) {
	ch, err := c.cfg.Channels.Channel(in.Request.Channel)
	if err != nil {
		return
	}
	args := index.KeyAnswerArgs{TXNumber: hex.EncodeToString(in.Request.TXNumber), Request: hex.EncodeToString(in.Hash),
		Answer: hex.EncodeToString(answer), Granted: granted, Reason: reason}
	raw, err := envelope.SignCall(c.cfg.Identity, ch.Name, index.Name, "keyanswer", args, time.Now())
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		var r *ledger.TxResult
		if r, err = ch.Submit(ctx, raw); err == nil && r.Code != txerr.OK {
			err = &txerr.Error{Code: r.Code, Msg: r.Log}
		}
	}
	if err != nil {
		c.cfg.Log.Error("record key answer on chain", "tx_number", args.TXNumber, "err", err)
	}
}
