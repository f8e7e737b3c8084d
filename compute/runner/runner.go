// Package runner is what a worker's enclave does with a job once its keys
// are released: decrypt the program and the inputs (checking each owner's
// signature), check the program's hash, run it in the sandbox under the
// job's limits, and either encrypt the output to the job's result key and
// state the result, or state the failure, signed with the attested
// enclave key.
//
// It does no I/O of its own: the caller fetches ciphertexts (Fetch),
// stores the encrypted output, and sends the statements to the chain (the
// worker package does). The program runs through an Executor: in this
// process (Sandbox), or in a child process the worker kills at the
// deadline.
package runner

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
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

// Execution is what running a program gave: its output, or the failure
// it caused.
type Execution struct {
	Output   []byte
	Stderr   []byte // diagnostics that may hold input data: keep them local
	Duration time.Duration
	Failure  string // one of the contract's program failures; "" on success
}

// Executor runs a program module on its inputs under a job's limits. The
// in-process one is Sandbox; a worker may run each job in a child process
// it kills at the deadline instead.
type Executor interface {
	Execute(ctx context.Context, program []byte, sha sandbox.Hash, in sandbox.Files, l compute.Limits) (*Execution, error)
}

// Sandbox executes programs in this process, with the sandbox's own
// limits.
type Sandbox struct{ RT *sandbox.Runtime }

// Execute implements Executor.
func (s Sandbox) Execute(ctx context.Context, program []byte, sha sandbox.Hash, in sandbox.Files, l compute.Limits) (*Execution, error) {
	m, err := s.RT.Compile(ctx, program, sha)
	if r := Classify(err); r != "" {
		return &Execution{Failure: r}, nil
	}
	if err != nil {
		return nil, err
	}
	res, err := s.RT.Run(ctx, m, sandbox.Spec{Inputs: in, Args: []string{"job"}, Limits: SandboxLimits(l)})
	x := &Execution{}
	if res != nil {
		x.Stderr, x.Duration = res.Stderr, res.Duration
	}
	if x.Failure = Classify(err); x.Failure != "" {
		return x, nil
	}
	if err != nil {
		return nil, err // the caller's context, not the program
	}
	x.Output = res.Output
	return x, nil
}

// SandboxLimits are a job's limits as the sandbox takes them.
func SandboxLimits(l compute.Limits) sandbox.Limits {
	return sandbox.Limits{MemoryBytes: l.MemoryBytes, WallTime: time.Duration(l.WallTimeMs) * time.Millisecond, OutputBytes: int64(l.OutputBytes)}
}

// Classify names the program failure a sandbox error stands for, or ""
// when err is nil or not the program's doing.
func Classify(err error) string {
	if err == nil {
		return ""
	}
	for _, f := range []struct {
		err    error
		reason string
	}{{sandbox.ErrHashMismatch, compute.FailProgramHash}, {sandbox.ErrInvalid, compute.FailExit},
		{sandbox.ErrMemoryLimit, compute.FailMemory}, {sandbox.ErrTimeLimit, compute.FailTime}, {sandbox.ErrOutputLimit, compute.FailOutput},
		{sandbox.ErrTrap, compute.FailTrap}, {sandbox.ErrExit, compute.FailExit}} {
		if errors.Is(err, f.err) {
			return f.reason
		}
	}
	return ""
}

// Run does the task in this process.
func Run(ctx context.Context, rt *sandbox.Runtime, t Task, fetch Fetch) (*Outcome, error) {
	return Do(ctx, t, fetch, Sandbox{RT: rt})
}

// Do does the task: fetch and decrypt, execute with ex, and seal the
// output or state the failure.
func Do(ctx context.Context, t Task, fetch Fetch, ex Executor) (*Outcome, error) {
	j := t.Job
	o := &Outcome{task: t}
	prog, err := open(ctx, fetch, t.Bundle.Program, MaxProgram)
	if err != nil {
		return o.fail(compute.FailInputUnavailable, fmt.Errorf("program: %w", err))
	}
	var want sandbox.Hash
	copy(want[:], j.Program.SHA256)
	if sandbox.Hash(sha256.Sum256(prog)) != want {
		return o.fail(compute.FailProgramHash, nil)
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
	x, err := ex.Execute(ctx, prog, want, in, j.Limits)
	if err != nil {
		return nil, err
	}
	if x.Failure != "" {
		o, err := o.fail(x.Failure, nil)
		if o != nil {
			o.Stderr, o.Duration = append(x.Stderr, o.Stderr...), x.Duration
		}
		return o, err
	}
	o, err = Seal(t, x.Output)
	if o != nil {
		o.Stderr, o.Duration = x.Stderr, x.Duration
	}
	return o, err
}

// Seal encrypts output to the job's result key and commits to it: what
// an enclave submits for the output its program wrote. (A dishonest
// worker calls it with other bytes; redundant execution catches that.)
func Seal(t Task, output []byte) (*Outcome, error) {
	j := t.Job
	o := &Outcome{task: t}
	pub, err := attest.ParseKey(j.ResultKey)
	if err != nil {
		return nil, err
	}
	var ct bytes.Buffer
	w, err := result.Encrypt(&ct, pub, result.Binding{Chain: t.Chain, Job: j.ID, Worker: t.Worker})
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(output); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	o.Ciphertext, o.size = ct.Bytes(), uint64(len(output))
	o.output = compute.OutputCommitment(t.Bundle.Salt, j.ID, output)
	if j.Redundant() {
		o.nonce = make([]byte, 32)
		if _, err := rand.Read(o.nonce); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// Fail states that the task cannot be done for reason (one of the
// contract's failure reasons); program failures are signed by the enclave
// key. cause, if any, is for the operator's log, never for the chain.
func Fail(t Task, reason string, cause error) (*Outcome, error) {
	return (&Outcome{task: t}).fail(reason, cause)
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
