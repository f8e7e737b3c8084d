// Package runner is what a worker's enclave does with a job once its keys
// are released: decrypt the program and the inputs (checking each owner's
// signature), check the program's hash, run it in the sandbox under the
// job's limits, and either encrypt the output to the job's result key and
// state the result, or state the failure, signed with the attested
// enclave key.
//
// It does no I/O of its own: the caller fetches ciphertexts (Fetch),
// stores the encrypted output, and sends the statements to the chain. The
// worker daemon that does so is phase 2's.
package runner

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sealnet/sealnet/attest"
	"github.com/sealnet/sealnet/compute/release"
	"github.com/sealnet/sealnet/compute/result"
	"github.com/sealnet/sealnet/contract/compute"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/sandbox"
	"github.com/sealnet/sealnet/seal"
)

// MaxProgram bounds a program module.
const MaxProgram = 64 << 20

// Object is a stored ciphertext and the member whose signature it carries
// (the owner the chain's index names for it).
type Object struct {
	Data  io.ReadCloser
	Owner *identity.Member
}

// Fetch returns the object stored under a CID.
type Fetch func(ctx context.Context, cid string) (Object, error)

// Task is one claim of a job, inside the enclave.
type Task struct {
	Chain  string
	Job    *compute.Job
	Worker identity.Fingerprint
	Key    *ecdsa.PrivateKey // the enclave key the chain attested
	Bundle *release.Bundle   // opened with Key
}

// Outcome is a run's result: Failure is set when the job cannot be done
// (send compute.fail), otherwise Ciphertext is to be stored and Submit
// called with its CID.
type Outcome struct {
	Failure    *compute.FailArgs
	Ciphertext []byte // the output encrypted to the job's result key
	Stderr     []byte // the program's diagnostics: may hold input data, keep them local
	Duration   time.Duration

	task   Task
	size   uint64
	output []byte // the output commitment
	nonce  []byte // redundant modes: hides it until the reveal
}

// Run does the task.
func Run(ctx context.Context, rt *sandbox.Runtime, t Task, fetch Fetch) (*Outcome, error) {
	j := t.Job
	o := &Outcome{task: t}
	prog, err := open(ctx, fetch, t.Bundle.Program, MaxProgram)
	if err != nil {
		return o.fail(compute.FailInputUnavailable, fmt.Errorf("program: %w", err))
	}
	var want sandbox.Hash
	copy(want[:], j.Program.SHA256)
	m, err := rt.Compile(ctx, prog, want)
	if errors.Is(err, sandbox.ErrHashMismatch) {
		return o.fail(compute.FailProgramHash, nil)
	}
	if err != nil {
		return o.fail(compute.FailExit, fmt.Errorf("program does not compile: %w", err))
	}
	var files []sandbox.File
	for i, k := range t.Bundle.Inputs {
		data, err := open(ctx, fetch, k, int64(j.Limits.MemoryBytes))
		if err != nil {
			return o.fail(compute.FailInputUnavailable, fmt.Errorf("input %d: %w", i, err))
		}
		files = append(files, sandbox.File{Name: fmt.Sprintf("%02d", i), Data: data})
	}
	in, err := sandbox.NewFiles(files...)
	if err != nil {
		return nil, err
	}
	res, err := rt.Run(ctx, m, sandbox.Spec{Inputs: in, Args: []string{"job"}, Limits: sandbox.Limits{
		MemoryBytes: j.Limits.MemoryBytes, WallTime: time.Duration(j.Limits.WallTimeMs) * time.Millisecond, OutputBytes: int64(j.Limits.OutputBytes)}})
	if res != nil {
		o.Stderr, o.Duration = res.Stderr, res.Duration
	}
	for _, f := range []struct {
		err    error
		reason string
	}{{sandbox.ErrMemoryLimit, compute.FailMemory}, {sandbox.ErrTimeLimit, compute.FailTime}, {sandbox.ErrOutputLimit, compute.FailOutput},
		{sandbox.ErrTrap, compute.FailTrap}, {sandbox.ErrExit, compute.FailExit}} {
		if errors.Is(err, f.err) {
			return o.fail(f.reason, nil)
		}
	}
	if err != nil {
		return nil, err // the caller's context, not the program
	}
	pub, err := attest.ParseKey(j.ResultKey)
	if err != nil {
		return nil, err
	}
	var ct bytes.Buffer
	w, err := result.Encrypt(&ct, pub, result.Binding{Chain: t.Chain, Job: j.ID, Worker: t.Worker})
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(res.Output); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	o.Ciphertext, o.size = ct.Bytes(), uint64(len(res.Output))
	o.output = compute.OutputCommitment(t.Bundle.Salt, j.ID, res.Output)
	if j.Redundant() {
		o.nonce = make([]byte, 32)
		if _, err := rand.Read(o.nonce); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// open fetches and decrypts one object, checking its owner's signature
// over the whole of it.
func open(ctx context.Context, fetch Fetch, k release.Key, limit int64) ([]byte, error) {
	obj, err := fetch(ctx, k.CID)
	if err != nil {
		return nil, err
	}
	defer obj.Data.Close()
	r, err := seal.Decrypt(obj.Data, k.Key, obj.Owner)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if _, err := io.Copy(&out, io.LimitReader(r, limit+1)); err != nil {
		return nil, err
	}
	if int64(out.Len()) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return out.Bytes(), nil
}

// fail states a failure; program failures are signed by the enclave key.
// cause, if any, is for the operator's log, never for the chain.
func (o *Outcome) fail(reason string, cause error) (*Outcome, error) {
	o.Failure = &compute.FailArgs{Job: o.task.Job.ID, Reason: reason}
	if reason != compute.FailWithdrawn && reason != compute.FailInputUnavailable {
		stmt := compute.FailStatement{Chain: o.task.Chain, Job: o.task.Job.ID, Worker: o.task.Worker[:], Reason: reason}
		sig, err := identity.Sign(o.task.Key, stmt.Digest())
		if err != nil {
			return nil, err
		}
		o.Failure.Signature = sig
	}
	if cause != nil {
		o.Stderr = append(o.Stderr, []byte(cause.Error()+"\n")...)
	}
	return o, nil
}

// Submit states the result stored under cid, signed by the enclave key:
// the output commitment in attested mode, the commit hash in redundant
// modes.
func (o *Outcome) Submit(cid string) (*compute.SubmitArgs, error) {
	if o.Failure != nil {
		return nil, errors.New("runner: the job failed, there is nothing to submit")
	}
	j := o.task.Job
	a := &compute.SubmitArgs{Job: j.ID, CID: cid, Size: o.size, Commitment: o.output}
	if j.Redundant() {
		a.Commitment = compute.CommitHash(j.ID, o.task.Worker, o.output, o.nonce)
	}
	if !j.Attested() {
		return a, nil
	}
	stmt := compute.ResultStatement{Chain: o.task.Chain, Job: j.ID, Worker: o.task.Worker[:], CID: cid, Size: o.size, Commitment: a.Commitment}
	sig, err := identity.Sign(o.task.Key, stmt.Digest())
	if err != nil {
		return nil, err
	}
	a.Signature = sig
	return a, nil
}

// Reveal is a redundant job's reveal, once every worker committed.
func (o *Outcome) Reveal() (*compute.RevealArgs, error) {
	if o.Failure != nil || o.nonce == nil {
		return nil, errors.New("runner: nothing to reveal")
	}
	return &compute.RevealArgs{Job: o.task.Job.ID, Output: o.output, Nonce: o.nonce}, nil
}
