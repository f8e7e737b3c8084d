// Package custody is a node's side of paper 004's key release (the
// protocol is package compute/keys): as the custodian of its org's jobs it
// answers workers' key requests over libp2p, recording each release
// (compute.grant) and each refusal (compute.deny) on chain; as a lending
// org's node it relays its workers' requests to the requester's custodian.
//
// The data keys come from the node's custodian (its key store) and are
// sealed to the enclave key the chain attested before they leave the
// node; neither they nor the salt are ever logged.
package custody

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/compute/keys"
	"github.com/sealnet/sealnet/compute/release"
	"github.com/sealnet/sealnet/contract/compute"
	"github.com/sealnet/sealnet/custodian"
	"github.com/sealnet/sealnet/envelope"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/ledger"
	"github.com/sealnet/sealnet/p2p"
	"github.com/sealnet/sealnet/seal"
	"github.com/sealnet/sealnet/txerr"
)

// Keys is what the custodian holds for the org's jobs.
type Keys interface {
	DataKey(channel, obj string) ([]byte, error)
	Salt(channel, job string) ([]byte, identity.Fingerprint, error)
}

// Config is what a Service is built from.
type Config struct {
	Identity *identity.Identity // the node's: signs grant and deny
	Channels custodian.Channels
	Host     host.Host
	Keys     Keys
	Log      *slog.Logger
}

// Service answers key requests for the org's jobs and relays its own
// workers' requests.
type Service struct {
	cfg Config

	mu      sync.Mutex
	slots   map[string]*sync.Mutex // one release at a time per claim
	sealed  map[string]sealedFor   // what was released, per claim, to answer a repeated request
	refused map[string]string      // claim|reason -> the deny transaction recording it
}

type sealedFor struct {
	to     []byte
	bytes  []byte
	tx     string
	height int64
}

// New starts answering key requests on cfg.Host.
func New(cfg Config) *Service {
	s := &Service{cfg: cfg, slots: map[string]*sync.Mutex{}, sealed: map[string]sealedFor{}, refused: map[string]string{}}
	cfg.Host.SetStreamHandler(keys.Protocol, s.handle)
	return s
}

// Close stops answering.
func (s *Service) Close() { s.cfg.Host.RemoveStreamHandler(keys.Protocol) }

func writeFrame(w io.Writer, b []byte) error {
	if len(b) > keys.MaxMessage {
		return fmt.Errorf("frame of %d bytes, limit %d", len(b), keys.MaxMessage)
	}
	_, err := w.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...))
	return err
}

func readFrame(r io.Reader) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	l := binary.BigEndian.Uint32(n[:])
	if l > keys.MaxMessage {
		return nil, fmt.Errorf("frame of %d bytes, limit %d", l, keys.MaxMessage)
	}
	b := make([]byte, l)
	_, err := io.ReadFull(r, b)
	return b, err
}

// Frame kinds, custodian to the worker's node.
const (
	frameAnswer = 'A' // a keys.Answer follows
	frameError  = 'E' // the request was not authenticated: why, in clear
)

func (s *Service) handle(st network.Stream) {
	defer st.Close()
	st.SetDeadline(time.Now().Add(30 * time.Second))
	raw, err := readFrame(st)
	if err != nil {
		s.cfg.Log.Warn("compute key request unreadable", "peer", st.Conn().RemotePeer(), "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	ans, err := s.Answer(ctx, raw, time.Now())
	if err != nil {
		s.cfg.Log.Warn("compute key request refused unheard", "peer", st.Conn().RemotePeer(), "err", err)
		writeFrame(st, append([]byte{frameError}, err.Error()...))
		return
	}
	writeFrame(st, append([]byte{frameAnswer}, canon.MustMarshal(ans)...))
}

// Answer decides a signed request received at now and carries out the
// decision: an error means the request was not authenticated (nothing is
// recorded), an answer is a release, a recorded refusal or "ask again".
func (s *Service) Answer(ctx context.Context, raw []byte, now time.Time) (*keys.Answer, error) {
	peek, err := keys.Peek(raw)
	if err != nil {
		return nil, err
	}
	ch, err := s.cfg.Channels.Channel(peek.Chain)
	if err != nil {
		return nil, fmt.Errorf("channel %q is not hosted here", peek.Chain)
	}
	resolve := func(fp identity.Fingerprint) (*identity.Member, error) {
		m, revoked, err := ch.App.Certificate(fp)
		switch {
		case err != nil:
			return nil, err
		case revoked:
			return nil, errors.New("revoked")
		}
		return m, nil
	}
	r, w, err := keys.Open(raw, resolve, now, ledger.DefaultTau)
	if err != nil {
		return nil, err
	}
	if err := caughtUp(ctx, ch, r.Height); err != nil {
		return &keys.Answer{Retry: err.Error()}, nil
	}
	claim := r.Chain + "/" + r.Job + "/" + w.Fingerprint.String()
	lock := s.lock(claim)
	lock.Lock()
	defer lock.Unlock()
	// read under the lock: a release in progress for the claim has committed
	j, err := s.job(ch, r.Job)
	if err != nil {
		return nil, err
	}
	v := keys.Decide(j, s.cfg.Identity.Member.Org, r)
	switch {
	case v.Again:
		s.mu.Lock()
		prev, ok := s.sealed[claim]
		s.mu.Unlock()
		if !ok || string(prev.to) != string(v.To) {
			return s.deny(ctx, ch, j, w, "the keys were released to this claim already and are not held for a new request")
		}
		return &keys.Answer{Sealed: prev.bytes, GrantTx: prev.tx, Height: prev.height}, nil
	case !v.Release && !v.Record:
		return &keys.Answer{Denied: v.Reason}, nil
	case !v.Release:
		return s.deny(ctx, ch, j, w, v.Reason)
	}
	return s.release(ctx, ch, j, w, claim, v.To)
}

// caughtUp waits (a few seconds at most) until this node committed the
// block the request names.
func caughtUp(ctx context.Context, ch *ledger.Channel, height int64) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		h, _ := ch.App.Height()
		if h >= height {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the custodian's node is at block %d, the request names block %d", h, height)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *Service) lock(claim string) *sync.Mutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.slots[claim]
	if !ok {
		l = &sync.Mutex{}
		s.slots[claim] = l
	}
	return l
}

func (s *Service) job(ch *ledger.Channel, id string) (*compute.Job, error) {
	raw, err := ch.App.QueryContract(compute.Name, "job", canon.MustMarshal(compute.JobArgs{Job: id}))
	if err != nil {
		return nil, err
	}
	var j compute.Job
	if err := canon.Unmarshal(raw, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

// release seals the job's keys to the claim's key, records the grant and
// answers once it is committed.
func (s *Service) release(ctx context.Context, ch *ledger.Channel, j *compute.Job, w *identity.Member, claim string, to []byte) (*keys.Answer, error) {
	program, err := s.dataKey(ch.Name, j.Program.CID)
	if err != nil {
		return s.missing(ctx, ch, j, w, "the program", err)
	}
	var inputs []release.Key
	for i, c := range j.Inputs {
		k, err := s.dataKey(ch.Name, c)
		if err != nil {
			return s.missing(ctx, ch, j, w, fmt.Sprintf("input %d", i), err)
		}
		inputs = append(inputs, k)
	}
	salt, by, err := s.cfg.Keys.Salt(ch.Name, j.ID)
	switch {
	case custodian.IsNotHeld(err):
		return &keys.Answer{Retry: "the requester has not deposited the job's output salt with its node yet"}, nil
	case err != nil:
		return nil, err
	case by.String() != j.Requester:
		return s.deny(ctx, ch, j, w, "the job's output salt was deposited by another member than its requester")
	}
	sealed, grant, err := release.Seal(release.Claim{Chain: ch.Name, Job: j.ID, Worker: w.Fingerprint, EnclaveKey: to}, j, program, inputs, salt)
	if err != nil {
		return nil, err
	}
	r, err := s.submit(ctx, ch, "grant", compute.GrantArgs{Job: j.ID, Worker: w.Fingerprint.String(), Grant: grant})
	if err != nil {
		return &keys.Answer{Retry: "recording the grant: " + err.Error()}, nil
	}
	s.cfg.Log.Info("compute keys released", "job", j.ID, "worker", w.ID+"@"+w.Org, "grant", hex.EncodeToString(grant), "tx", r.ID, "height", r.Height)
	prev := sealedFor{to: to, bytes: sealed, tx: r.ID.String(), height: r.Height}
	s.mu.Lock()
	s.sealed[claim] = prev
	s.mu.Unlock()
	return &keys.Answer{Sealed: sealed, GrantTx: prev.tx, Height: r.Height}, nil
}

func (s *Service) dataKey(channel, obj string) (release.Key, error) {
	k, err := s.cfg.Keys.DataKey(channel, obj)
	if err != nil {
		return release.Key{}, err
	}
	if len(k) != seal.KeySize {
		return release.Key{}, fmt.Errorf("data key of %d bytes", len(k))
	}
	return release.Key{CID: obj, Key: seal.DataKey(k)}, nil
}

// missing refuses a release for a key this custodian does not hold.
func (s *Service) missing(ctx context.Context, ch *ledger.Channel, j *compute.Job, w *identity.Member, what string, err error) (*keys.Answer, error) {
	if !custodian.IsNotHeld(err) {
		return nil, fmt.Errorf("data key of %s: %w", what, err)
	}
	return s.deny(ctx, ch, j, w, fmt.Sprintf("this custodian holds no data key for %s of the job", what))
}

// deny records a refusal once per claim and reason and answers with it.
func (s *Service) deny(ctx context.Context, ch *ledger.Channel, j *compute.Job, w *identity.Member, reason string) (*keys.Answer, error) {
	key := ch.Name + "/" + j.ID + "/" + w.Fingerprint.String() + "|" + reason
	s.mu.Lock()
	tx, done := s.refused[key]
	s.mu.Unlock()
	if !done {
		r, err := s.submit(ctx, ch, "deny", compute.DenyArgs{Job: j.ID, Worker: w.Fingerprint.String(), Reason: reason})
		if err != nil {
			// the refusal stands; only its record failed (a job's record keeps a few)
			s.cfg.Log.Warn("record compute key refusal", "job", j.ID, "worker", w.ID+"@"+w.Org, "err", err)
		} else {
			tx = r.ID.String()
			s.mu.Lock()
			s.refused[key] = tx
			s.mu.Unlock()
		}
		s.cfg.Log.Info("compute keys refused", "job", j.ID, "worker", w.ID+"@"+w.Org, "reason", reason, "tx", tx)
	}
	return &keys.Answer{Denied: reason, DenyTx: tx}, nil
}

func (s *Service) submit(ctx context.Context, ch *ledger.Channel, method string, args any) (*ledger.TxResult, error) {
	raw, err := envelope.SignCall(s.cfg.Identity, ch.Name, compute.Name, method, args, time.Now())
	if err != nil {
		return nil, err
	}
	r, err := ch.Submit(ctx, raw)
	if err != nil {
		return nil, err
	}
	if r.Code != txerr.OK {
		return nil, &txerr.Error{Code: r.Code, Msg: r.Log}
	}
	return r, nil
}

// Relay sends a worker's signed request to the node of the custodian with
// certificate fingerprint custodianFP and returns its answer, encoded
// (keys.Answer). The request's keys are sealed, so this node learns
// nothing from either.
func (s *Service) Relay(ctx context.Context, channel string, custodianFP identity.Fingerprint, signed []byte) ([]byte, error) {
	if _, err := keys.Peek(signed); err != nil {
		return nil, txerr.New(txerr.Malformed, "%v", err)
	}
	ch, err := s.cfg.Channels.Channel(channel)
	if err != nil {
		return nil, err
	}
	m, err := ch.App.Member(custodianFP)
	if err != nil {
		return nil, err
	}
	rec, err := ch.App.CertRecord(custodianFP)
	if err != nil {
		return nil, err
	}
	pid, err := p2p.PeerOfCert(*rec) // the libp2p key the registry binds to it
	if err != nil {
		return nil, err
	}
	if pid == s.cfg.Host.ID() {
		// the custodian is this node: a worker of the requester's own org
		ans, err := s.Answer(ctx, signed, time.Now())
		if err != nil {
			return nil, txerr.New(txerr.Rejected, "custodian refused the request unheard: %v", err)
		}
		return canon.MustMarshal(ans), nil
	}
	st, err := s.cfg.Host.NewStream(network.WithAllowLimitedConn(ctx, "computekeys"), pid, keys.Protocol)
	if err != nil {
		return nil, txerr.New(txerr.Unavailable, "custodian node %s (%s@%s) is not reachable: %v", pid, m.ID, m.Org, err)
	}
	defer st.Close()
	if dl, ok := ctx.Deadline(); ok {
		st.SetDeadline(dl)
	}
	if err := writeFrame(st, signed); err != nil {
		return nil, err
	}
	st.CloseWrite()
	f, err := readFrame(st)
	if err != nil {
		return nil, txerr.New(txerr.Unavailable, "custodian closed the stream: %v", err)
	}
	if len(f) == 0 {
		return nil, txerr.New(txerr.Malformed, "empty answer")
	}
	switch f[0] {
	case frameAnswer:
		return f[1:], nil
	case frameError:
		return nil, txerr.New(txerr.Rejected, "custodian refused the request unheard: %s", f[1:])
	}
	return nil, txerr.New(txerr.Malformed, "unknown answer frame %q", f[0])
}
