// Running each program in a child process, which the worker kills at the
// job's deadline: the sandbox inside it then needs no checks of the
// deadline in the running code (sandbox.Config.ProcessDeadline), which
// cost tight loops a factor of about four.

package worker

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"time"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/compute/runner"
	"github.com/sealnet/sealnet/contract/compute"
	"github.com/sealnet/sealnet/sandbox"
)

// Process is the Executor that runs each program in a child process: the
// command Path with Args, which must call ServeChild (sealnet's is
// "sealnet worker exec"). Compiled modules are cached in CacheDir, which
// must stay private to the worker, so that each child compiles a program
// once per machine rather than once per job.
type Process struct {
	Path     string
	Args     []string
	CacheDir string
	// Grace is how long past the wall-time limit a child may take to
	// exit before it is killed (default 200 ms).
	Grace time.Duration
}

// childTask is what the worker sends its child on standard input.
type childTask struct {
	Program  []byte         `cbor:"1,keyasint"`
	SHA256   []byte         `cbor:"2,keyasint"`
	Names    []string       `cbor:"3,keyasint"`
	Data     [][]byte       `cbor:"4,keyasint"`
	Limits   compute.Limits `cbor:"5,keyasint"`
	CacheDir string         `cbor:"6,keyasint"`
}

// childResult is what the child writes back after its one-byte "compiled,
// running now" signal.
type childResult struct {
	Output     []byte `cbor:"1,keyasint"`
	Stderr     []byte `cbor:"2,keyasint"`
	Failure    string `cbor:"3,keyasint"`
	Error      string `cbor:"4,keyasint"`
	DurationNs int64  `cbor:"5,keyasint"`
}

const childRunning = 'R'

// Execute implements runner.Executor.
func (p Process) Execute(ctx context.Context, program []byte, sha sandbox.Hash, in sandbox.Files, l compute.Limits) (*runner.Execution, error) {
	t := childTask{Program: program, SHA256: sha[:], Limits: l, CacheDir: p.CacheDir}
	for _, f := range in {
		t.Names, t.Data = append(t.Names, f.Name), append(t.Data, f.Data)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.Path, p.Args...)
	cmd.Stdin = bytes.NewReader(canon.MustMarshal(t))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("worker: start the child: %w", err)
	}
	br := bufio.NewReader(out)
	result := make(chan []byte, 1)
	running := make(chan struct{})
	go func() {
		if b, err := br.ReadByte(); err != nil || b != childRunning {
			result <- nil
			return
		}
		close(running)
		b, _ := io.ReadAll(br)
		result <- b
	}()
	grace := p.Grace
	if grace <= 0 {
		grace = 200 * time.Millisecond
	}
	var raw []byte
	timedOut := false
	select {
	case raw = <-result: // the child ended before running the program
	case <-running:
		deadline := time.NewTimer(time.Duration(l.WallTimeMs)*time.Millisecond + grace)
		select {
		case raw = <-result:
		case <-deadline.C:
			timedOut = true
			cancel() // kills the child
			<-result
		}
		deadline.Stop()
	}
	werr := cmd.Wait()
	switch {
	case timedOut:
		return &runner.Execution{Failure: compute.FailTime, Duration: time.Duration(l.WallTimeMs) * time.Millisecond}, nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case raw == nil:
		return nil, fmt.Errorf("worker: the child failed: %v: %s", werr, bytes.TrimSpace(stderr.Bytes()))
	}
	var r childResult
	if err := canon.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("worker: the child's answer: %w (%v)", err, werr)
	}
	if r.Error != "" {
		return nil, errors.New("worker: the child: " + r.Error)
	}
	return &runner.Execution{Output: r.Output, Stderr: r.Stderr, Failure: r.Failure, Duration: time.Duration(r.DurationNs)}, nil
}

// ServeChild is the child's side of Process: it reads one task from in,
// compiles the program (through the cache), signals that it runs, runs it
// with deadline checks off, and writes the result to out.
func ServeChild(in io.Reader, out io.Writer) error {
	raw, err := io.ReadAll(io.LimitReader(in, 8<<30))
	if err != nil {
		return err
	}
	var t childTask
	if err := canon.Unmarshal(raw, &t); err != nil {
		return fmt.Errorf("task: %w", err)
	}
	answer := func(r childResult) error {
		_, err := out.Write(canon.MustMarshal(r))
		return err
	}
	ctx := context.Background()
	rt, err := sandbox.New(ctx, sandbox.Config{ProcessDeadline: true, CacheDir: t.CacheDir, MaxModules: 1})
	if err != nil {
		out.Write([]byte{childRunning})
		return answer(childResult{Error: err.Error()})
	}
	defer rt.Close(ctx)
	var files []sandbox.File
	for i := range t.Names {
		files = append(files, sandbox.File{Name: t.Names[i], Data: t.Data[i]})
	}
	fsys, err := sandbox.NewFiles(files...)
	if err != nil {
		out.Write([]byte{childRunning})
		return answer(childResult{Error: err.Error()})
	}
	var sha sandbox.Hash
	copy(sha[:], t.SHA256)
	m, err := rt.Compile(ctx, t.Program, sha)
	if _, werr := out.Write([]byte{childRunning}); werr != nil {
		return werr
	}
	if r := runner.Classify(err); r != "" {
		return answer(childResult{Failure: r})
	}
	if err != nil {
		return answer(childResult{Error: err.Error()})
	}
	res, err := rt.Run(ctx, m, sandbox.Spec{Inputs: fsys, Args: []string{"job"}, Limits: runner.SandboxLimits(t.Limits)})
	r := childResult{Failure: runner.Classify(err)}
	if res != nil {
		r.Stderr, r.DurationNs = res.Stderr, int64(res.Duration)
	}
	switch {
	case r.Failure == "" && err != nil:
		r.Error = err.Error()
	case r.Failure == "":
		r.Output = res.Output
	}
	return answer(r)
}
