package source

// This file holds how sources read secrets: a password from the TOML, a
// file or the environment, and watching the files that can fix a refusal.

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"strings"
)

// Secret is a password given in one of three ways: in the configuration
// itself (Value), in a file of its own (File: the first line, for a file
// only its owner reads), or in an environment variable (Env).
type Secret struct {
	Value string
	File  string
	Env   string
}

// IsSet says whether any of the three is given.
func (s Secret) IsSet() bool { return s.Value != "" || s.File != "" || s.Env != "" }

func (s Secret) check() error {
	n := 0
	for _, v := range []string{s.Value, s.File, s.Env} {
		if v != "" {
			n++
		}
	}
	if n > 1 {
		return fmt.Errorf("%w: give one of password, password_file and password_env", ErrConfig)
	}
	return nil
}

// Read returns the password.
func (s Secret) Read() (string, error) {
	switch {
	case s.File != "":
		raw, err := os.ReadFile(s.File)
		if err != nil {
			return "", fmt.Errorf("%w: password_file: %v", ErrConfig, err)
		}
		line, _, _ := strings.Cut(string(raw), "\n")
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			return "", fmt.Errorf("%w: password_file %s is empty", ErrConfig, s.File)
		}
		return line, nil
	case s.Env != "":
		v, ok := os.LookupEnv(s.Env)
		if !ok || v == "" {
			return "", fmt.Errorf("%w: password_env: the environment variable %s is not set", ErrConfig, s.Env)
		}
		return v, nil
	}
	return s.Value, nil
}

// version changes when the files a login depends on change, so that a
// source refused for its credentials tries again once the operator has
// fixed them, and not before.
func fileVersion(paths ...string) uint64 {
	h := fnv.New64a()
	for _, p := range paths {
		if p == "" {
			continue
		}
		raw, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(h, "%s missing\n", p)
			continue
		}
		fmt.Fprintf(h, "%s %d ", p, len(raw))
		h.Write(raw)
	}
	return h.Sum64()
}
