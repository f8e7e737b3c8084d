// Package requester is what a requester's machine does with compute jobs
// through its org node's API (apiclient only): post a job over data it
// stored with "data put", and fetch, decrypt and verify a result against
// the chain. The result key's private half and the plaintext output never
// leave the requester's machine.
package requester

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/attest"
	"github.com/sealnet/sealnet/compute/result"
	"github.com/sealnet/sealnet/contract/compute"
	"github.com/sealnet/sealnet/envelope"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/txerr"
)

const saltDomain = "sealnet/compute/salt/v1\x00"

// Salt derives a job's output salt from its result key, so that the
// requester keeps one secret per job: SHA-256("sealnet/compute/salt/v1\0"
// || the result key's private scalar || job ID).
func Salt(resultKey *ecdsa.PrivateKey, job string) ([]byte, error) {
	d, err := resultKey.Bytes()
	if err != nil {
		return nil, err
	}
	s := sha256.Sum256(append(append([]byte(saltDomain), d...), job...))
	return s[:], nil
}

// Posted is a job on chain.
type Posted struct {
	Job             string `json:"job"`
	TxID            string `json:"tx_id"`
	Height          int64  `json:"height"`
	Deadline        int64  `json:"deadline"`
	Confidentiality string `json:"confidentiality"`
}

// Post posts job a as id with a fresh result key, which save receives
// (with the job's ID) before anything is sent, so that a result can always
// be opened. The job's output salt is deposited with the node first: the
// job's ID is its post transaction's ID, known before it is submitted.
func Post(ctx context.Context, c *apiclient.Client, id *identity.Identity, channel string, a compute.PostArgs,
	save func(job string, key *ecdsa.PrivateKey) error) (*Posted, error) {
	key, err := identity.NewKey()
	if err != nil {
		return nil, err
	}
	a.ResultKey = attest.EncodeKey(&key.PublicKey)
	raw, err := envelope.SignCall(id, channel, compute.Name, "post", a, time.Now())
	if err != nil {
		return nil, err
	}
	job := envelope.IDOf(raw).String()
	if err := save(job, key); err != nil {
		return nil, fmt.Errorf("keep the result key: %w", err)
	}
	salt, err := Salt(key, job)
	if err != nil {
		return nil, err
	}
	if err := c.DepositSalt(ctx, channel, job, salt); err != nil {
		return nil, fmt.Errorf("deposit the job's output salt with the node: %w", err)
	}
	r, err := c.SubmitRaw(ctx, channel, raw)
	if err != nil {
		return nil, err
	}
	if r.Code != 0 {
		return nil, fmt.Errorf("post refused in block %d: %w", r.Height, &txerr.Error{Code: txerr.Code(r.Code), Msg: r.Error})
	}
	p := &Posted{Job: job, TxID: r.TxID, Height: r.Height}
	var res struct {
		Deadline        int64  `json:"deadline"`
		Confidentiality string `json:"confidentiality"`
	}
	if err := json.Unmarshal(r.Result, &res); err == nil {
		p.Deadline, p.Confidentiality = res.Deadline, res.Confidentiality
	}
	return p, nil
}

// Job reads a job's record.
func Job(ctx context.Context, c *apiclient.Client, channel, job string) (*compute.Job, error) {
	j, err := apiclient.Query[compute.Job](ctx, c, channel, compute.Name, "job", compute.JobArgs{Job: job})
	return &j, err
}

// Errors of Fetch.
var (
	ErrNoResult = errors.New("the job has no accepted or submitted result")
	ErrNotYours = errors.New("the result key does not belong to this job")
)

// Result is a decrypted and verified output with its evidence.
type Result struct {
	Job        string `json:"job"`
	State      string `json:"state"`
	Worker     string `json:"worker"` // fingerprint of the worker whose result it is
	WorkerOrg  string `json:"worker_org"`
	CID        string `json:"cid"`
	Commitment []byte `json:"commitment"` // what the chain holds, which the output matched
	Size       int    `json:"size"`
	Verdict    string `json:"verdict,omitempty"`
	Attested   string `json:"attestation,omitempty"`
	Output     []byte `json:"-"`
}

// Fetch fetches the job's result (the accepted one, or in attested mode
// the one awaiting the requester's decision), decrypts it with the result
// key and checks it against the commitment on chain (for redundant jobs,
// the revealed one the majority agreed on).
func Fetch(ctx context.Context, c *apiclient.Client, channel, job string, key *ecdsa.PrivateKey) (*Result, error) {
	j, err := Job(ctx, c, channel, job)
	if err != nil {
		return nil, err
	}
	if string(attest.EncodeKey(&key.PublicKey)) != string(j.ResultKey) {
		return nil, ErrNotYours
	}
	i := j.Result
	if i < 0 && !j.Redundant() && j.State == compute.StateSubmitted {
		i = 0
	}
	if i < 0 || i >= len(j.Slots) {
		return nil, fmt.Errorf("%w: it is %s", ErrNoResult, j.State)
	}
	s := j.Slots[i]
	commitment := s.Commitment
	if j.Redundant() {
		commitment = s.Reveal
	}
	salt, err := Salt(key, job)
	if err != nil {
		return nil, err
	}
	body, err := c.StoreGet(ctx, channel, s.ResultCID, "")
	if err != nil {
		return nil, fmt.Errorf("fetch the result %s: %w", s.ResultCID, err)
	}
	defer body.Close()
	var fp identity.Fingerprint
	if fp, err = identity.ParseFingerprint(s.Worker); err != nil {
		return nil, err
	}
	out, err := result.Open(io.LimitReader(body, int64(j.Limits.OutputBytes)*2+1<<20), key,
		result.Binding{Chain: channel, Job: job, Worker: fp}, salt, commitment, j.Limits.OutputBytes)
	if err != nil {
		return nil, err
	}
	r := &Result{Job: job, State: j.State, Worker: s.Worker, WorkerOrg: s.Org, CID: s.ResultCID, Commitment: commitment,
		Size: len(out), Verdict: s.Verdict, Output: out}
	if s.Attestation != nil {
		r.Attested = fmt.Sprintf("%s on %s at block %d", s.Attestation.Kind, s.Attestation.Platform, s.Attestation.Height)
	}
	return r, nil
}
