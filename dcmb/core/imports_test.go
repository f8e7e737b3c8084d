package core

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The cores stay free of I/O: no clock, disk, network, chain or node in
// the protocol machines (this package) or the formats (dcmb/wire).
func TestCoreImports(t *testing.T) {
	banned := []string{"os", "net", "syscall", "io/fs", "path/filepath", "github.com/libp2p/", "github.com/sealnet/sealnet/node",
		"github.com/sealnet/sealnet/ledger", "github.com/sealnet/sealnet/p2p", "github.com/cometbft/", "github.com/sealnet/sealnet/dcmb/source"}
	clock := map[string]bool{"Now": true, "Since": true, "Until": true, "Sleep": true, "After": true, "AfterFunc": true, "Tick": true,
		"NewTicker": true, "NewTimer": true}
	for _, dir := range []string{".", "../wire"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				for _, b := range banned {
					if p == b || strings.HasPrefix(p, b+"/") || (strings.HasSuffix(b, "/") && strings.HasPrefix(p, b)) {
						t.Errorf("%s imports %s", name, p)
					}
				}
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok {
					if x, ok := sel.X.(*ast.Ident); ok && x.Name == "time" && clock[sel.Sel.Name] {
						t.Errorf("%s reads the clock: time.%s", name, sel.Sel.Name)
					}
				}
				return true
			})
		}
	}
	// nor do they reach the network, chain or node through what they import
	out, err := exec.Command("go", "list", "-deps", ".", "../wire").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, b := range banned[5:] {
			if strings.HasPrefix(dep, strings.TrimSuffix(b, "/")) {
				t.Errorf("the cores depend on %s", dep)
			}
		}
	}
}
