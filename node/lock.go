package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// LockFile is the name of the lock a running node holds in its home.
const LockFile = "node.lock"

// ErrHomeInUse reports a home whose lock another process holds.
var ErrHomeInUse = errors.New("home in use")

// HomeInUseError names the process that holds a home (PID 0: it has not
// written its PID yet).
type HomeInUseError struct {
	Home string
	PID  int
}

func (e *HomeInUseError) Error() string {
	who := "another process"
	if e.PID > 0 {
		who = "PID " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("home %s is in use by %s (lock %s): stop that node first", e.Home, who, filepath.Join(e.Home, LockFile))
}

// Is makes errors.Is(err, ErrHomeInUse) hold.
func (e *HomeInUseError) Is(target error) bool { return target == ErrHomeInUse }

// HomeLock is a running node's hold on its home: an exclusive flock on
// node.lock, which holds the node's PID. The kernel releases it when the
// process ends however it ends, so a crashed node leaves no stale lock.
type HomeLock struct{ f *os.File }

// Lock takes the home's lock, or fails with a *HomeInUseError naming the
// process that holds it.
func (h Home) Lock() (*HomeLock, error) {
	path := filepath.Join(string(h), LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock home: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			b, _ := os.ReadFile(path)
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			return nil, &HomeInUseError{Home: string(h), PID: pid}
		}
		return nil, fmt.Errorf("lock home: %w", err)
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock home: %w", err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock home: %w", err)
	}
	return &HomeLock{f: f}, nil
}

// Release empties the lock file and lets go of the lock. The file stays:
// removing it could let two processes lock two different files.
func (l *HomeLock) Release() error {
	l.f.Truncate(0)
	return l.f.Close()
}
