// Package modules holds the sources of DCMB modules (see dcmb/module for
// what a module is): abi, the module side of the module ABI for modules
// written in Go, and maintenance, paper 000's section 5 mapping.
//
// A module's source tree, as certifiers receive, hash and rebuild it, is
// this directory's abi and maintenance packages with a go.mod of their
// own (module github.com/sealnet/sealnet/dcmb/modules), written out by
// WriteSource; the same files compile in the sealnet module too, so they
// are vetted and tested with it. Build a module reproducibly with
// scripts/build-modules.sh, or sealnet module build.
package modules

import (
	"embed"
	"io/fs"
	"os"
	"path/filepath"
)

//go:embed abi/*.go maintenance/*.go
var files embed.FS

// GoMod is the go.mod of the source tree.
const GoMod = "module github.com/sealnet/sealnet/dcmb/modules\n\ngo 1.26\n"

// Packages of the source tree, as a recipe names them.
const (
	Maintenance = "./maintenance"
)

// WriteSource writes the modules' source tree into dir, which must be
// empty or absent.
func WriteSource(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(GoMod), 0o644); err != nil {
		return err
	}
	return fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == "." {
			return err
		}
		out := filepath.Join(dir, filepath.FromSlash(path))
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		b, err := files.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(out, b, 0o644)
	})
}
