package contract_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The contract runtime and the contracts are deterministic by construction:
// this test reads their Go sources (not their tests) and refuses what could
// make a result depend on the node or on the process's history:
//
//   - imports of randomness, I/O, the network, the runtime or logging
//     (math/rand, crypto/rand, os, net, io/ioutil, log, unsafe, ...);
//   - references to the clock (time.Now, Since, Until, Sleep, After,
//     timers and tickers) and to printing (fmt.Print*);
//   - package-level variables, except errors (sentinels) and the names
//     listed in allowedVars with a reason: constants and functions hold
//     no state, a variable may;
//   - init functions, go statements and select statements;
//   - range over a map, or over maps.Keys, Values or All, unless the
//     statement carries a "//contract:unordered <reason>" comment (on its
//     line or the line above) saying why the order cannot matter.
//
// It sees only these packages' own code: what they call in other packages
// (canon, identity, the standard library) is trusted, and a map ranged
// inside such a call, or through reflect, is not seen.
var purePackages = []string{
	"github.com/sealnet/sealnet/contract",
	"github.com/sealnet/sealnet/contract/audit",
	"github.com/sealnet/sealnet/contract/builtin",
	"github.com/sealnet/sealnet/contract/certify",
	"github.com/sealnet/sealnet/contract/compute",
	"github.com/sealnet/sealnet/contract/condition",
	"github.com/sealnet/sealnet/contract/credit",
	"github.com/sealnet/sealnet/contract/index",
	"github.com/sealnet/sealnet/contract/paych",
	"github.com/sealnet/sealnet/contract/paych/voucher",
	"github.com/sealnet/sealnet/contract/registry",
}

// notPure lists the directories under contract/ that are not contracts.
var notPure = []string{"contracttest"}

// allowedVars are package-level variables allowed anyway: "package.name"
// and why it holds no state. Keep it empty if you can.
var allowedVars = map[string]string{}

var forbiddenImports = map[string]string{
	"math/rand":    "randomness",
	"math/rand/v2": "randomness",
	"crypto/rand":  "randomness",
	"hash/maphash": "randomly seeded hashing",
	"os":           "I/O",
	"io/ioutil":    "I/O",
	"io/fs":        "I/O",
	"net":          "the network",
	"syscall":      "the operating system",
	"runtime":      "the runtime",
	"unsafe":       "unsafe memory access",
	"plugin":       "loading code",
	"log":          "logging",
	"log/slog":     "logging",
}

var forbiddenFuncs = map[string][]string{
	"time": {"Now", "Since", "Until", "Sleep", "After", "AfterFunc", "Tick", "NewTimer", "NewTicker"},
	"fmt":  {"Print", "Printf", "Println"},
}

func forbiddenImport(path string) (string, bool) {
	if why, ok := forbiddenImports[path]; ok {
		return why, true
	}
	for _, root := range []string{"os", "net", "runtime"} {
		if strings.HasPrefix(path, root+"/") {
			return forbiddenImports[root], true
		}
	}
	return "", false
}

// listed is what `go list -export -deps -json` says of one package.
type listed struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Export     string
	DepOnly    bool
	ImportMap  map[string]string
	Error      *struct{ Err string }
}

// loadPackages type-checks the packages matching patterns from source, with
// their dependencies read from the export data `go list` builds.
func loadPackages(dir string, patterns ...string) ([]*checked, error) {
	cmd := exec.Command("go", append([]string{"list", "-export", "-deps",
		"-json=ImportPath,Dir,GoFiles,Export,DepOnly,ImportMap,Error"}, patterns...)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %v\n%s", err, stderr.Bytes())
	}
	exports := map[string]string{}
	var targets []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p listed
		if err := dec.Decode(&p); err != nil {
			return nil, err
		}
		if p.Error != nil {
			return nil, fmt.Errorf("%s: %s", p.ImportPath, p.Error.Err)
		}
		exports[p.ImportPath] = p.Export
		if !p.DepOnly {
			targets = append(targets, p)
		}
	}
	var pkgs []*checked
	for _, p := range targets {
		c, err := typeCheck(p, exports)
		if err != nil {
			return nil, err
		}
		pkgs = append(pkgs, c)
	}
	return pkgs, nil
}

type checked struct {
	path  string
	fset  *token.FileSet
	files []*ast.File
	info  *types.Info
}

func typeCheck(p listed, exports map[string]string) (*checked, error) {
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range p.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	lookup := func(path string) (io.ReadCloser, error) {
		if mapped, ok := p.ImportMap[path]; ok {
			path = mapped
		}
		file, ok := exports[path]
		if !ok || file == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(file)
	}
	info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}, Defs: map[*ast.Ident]types.Object{}, Uses: map[*ast.Ident]types.Object{}}
	conf := types.Config{Importer: importer.ForCompiler(fset, "gc", lookup)}
	if _, err := conf.Check(p.ImportPath, fset, files, info); err != nil {
		return nil, fmt.Errorf("type-check %s: %v", p.ImportPath, err)
	}
	return &checked{path: p.ImportPath, fset: fset, files: files, info: info}, nil
}

// violations lists everything in pkg that could make a result depend on
// more than its inputs, as "file:line: what".
func violations(pkg *checked) []string {
	var out []string
	report := func(pos token.Pos, format string, args ...any) {
		p := pkg.fset.Position(pos)
		out = append(out, fmt.Sprintf("%s:%d: %s", filepath.Base(p.Filename), p.Line, fmt.Sprintf(format, args...)))
	}
	errType := types.Universe.Lookup("error").Type().Underlying().(*types.Interface)
	pkgName := pkg.path[strings.LastIndex(pkg.path, "/")+1:]
	for _, f := range pkg.files {
		unordered := map[int]bool{} // lines a //contract:unordered comment covers
		for _, cg := range f.Comments {
			for _, c := range cg.List {
				if strings.HasPrefix(c.Text, "//contract:unordered ") {
					line := pkg.fset.Position(c.Pos()).Line
					unordered[line], unordered[line+1] = true, true
				}
			}
		}
		for _, imp := range f.Imports {
			path := strings.Trim(imp.Path.Value, `"`)
			if why, bad := forbiddenImport(path); bad {
				report(imp.Pos(), "imports %s (%s)", path, why)
			}
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil && d.Name.Name == "init" {
					report(d.Pos(), "init function: package state set up at load time")
				}
			case *ast.GenDecl:
				if d.Tok != token.VAR {
					continue
				}
				for _, spec := range d.Specs {
					for _, name := range spec.(*ast.ValueSpec).Names {
						if name.Name == "_" {
							continue
						}
						obj := pkg.info.Defs[name]
						if obj != nil && types.Implements(obj.Type(), errType) {
							continue // an error sentinel
						}
						if _, ok := allowedVars[pkgName+"."+name.Name]; ok {
							continue
						}
						report(name.Pos(), "package-level variable %s: make it a constant or a function, or list it in allowedVars with why it holds no state", name.Name)
					}
				}
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.GoStmt:
				report(x.Pos(), "go statement: concurrent execution")
			case *ast.SelectStmt:
				report(x.Pos(), "select statement: order of readiness")
			case *ast.Ident:
				fn, ok := pkg.info.Uses[x].(*types.Func)
				if !ok || fn.Pkg() == nil {
					return true
				}
				if slices.Contains(forbiddenFuncs[fn.Pkg().Path()], fn.Name()) {
					if sig, _ := fn.Type().(*types.Signature); sig != nil && sig.Recv() == nil {
						report(x.Pos(), "uses %s.%s", fn.Pkg().Path(), fn.Name())
					}
				}
			case *ast.RangeStmt:
				if unordered[pkg.fset.Position(x.Pos()).Line] {
					return true
				}
				if t := pkg.info.TypeOf(x.X); t != nil {
					if _, isMap := t.Underlying().(*types.Map); isMap {
						report(x.Pos(), "range over a map: iteration order is random (sort the keys, or say why it cannot matter with //contract:unordered)")
						return true
					}
				}
				if call, ok := x.X.(*ast.CallExpr); ok {
					if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
						if fn, ok := pkg.info.Uses[sel.Sel].(*types.Func); ok && fn.Pkg() != nil && fn.Pkg().Path() == "maps" {
							report(x.Pos(), "range over maps.%s: iteration order is random", fn.Name())
						}
					}
				}
			}
			return true
		})
	}
	return out
}

func TestContractsArePure(t *testing.T) {
	if testing.Short() {
		t.Skip("builds export data of the contracts' dependencies")
	}
	pkgs, err := loadPackages(".", purePackages...)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != len(purePackages) {
		t.Fatalf("loaded %d packages, want %d", len(pkgs), len(purePackages))
	}
	for _, p := range pkgs {
		for _, v := range violations(p) {
			t.Errorf("%s: %s", p.path, v)
		}
	}
}

// Every package under contract/ is checked, unless listed as not a contract.
func TestEveryContractIsChecked(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "testdata" || slices.Contains(notPure, e.Name()) {
			continue
		}
		if !slices.Contains(purePackages, "github.com/sealnet/sealnet/contract/"+e.Name()) {
			t.Errorf("contract/%s is not in purePackages (or notPure)", e.Name())
		}
	}
}

// The checker finds each kind of violation planted in a package of its own.
func TestPurityCheckerFindsPlantedViolations(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module planted\n\ngo 1.26\n",
		"planted.go": `package planted

import (
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"os"
	"sync"
	"time"
)

var ErrFine = errors.New("sentinel errors are fine")

var prefix = []byte("p/")

var cache sync.Map

func init() { prefix = append(prefix, 'x') }

const fine = "constants are fine"

func clock() int64 { return time.Now().UnixNano() }

var now = time.Now

func since(t time.Time) time.Duration { return time.Since(t) }

func shout() { fmt.Println("hi") }

func host() string { h, _ := os.Hostname(); return h }

func random() byte { var b [1]byte; rand.Read(b[:]); return b[0] }

func keys(m map[string]int) (out []string) {
	for k := range m {
		out = append(out, k)
	}
	for k := range maps.Keys(m) {
		out = append(out, k)
	}
	//contract:unordered a sum does not depend on the order
	for _, v := range m {
		_ = v
	}
	return out
}

func spawn(c chan int) {
	go func() { c <- 1 }()
	select {
	case <-c:
	default:
	}
}

func pure(d time.Duration, t time.Time) time.Time { return t.Add(d).Truncate(time.Second) }
`,
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pkgs, err := loadPackages(dir, ".")
	if err != nil {
		t.Fatal(err)
	}
	got := violations(pkgs[0])
	want := []string{
		"planted.go:4: imports crypto/rand",
		"planted.go:8: imports os",
		"planted.go:15: package-level variable prefix",
		"planted.go:17: package-level variable cache",
		"planted.go:19: init function",
		"planted.go:23: uses time.Now",
		"planted.go:25: package-level variable now",
		"planted.go:25: uses time.Now",
		"planted.go:27: uses time.Since",
		"planted.go:29: uses fmt.Println",
		"planted.go:36: range over a map",
		"planted.go:39: range over maps.Keys",
		"planted.go:50: go statement",
		"planted.go:51: select statement",
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || strings.HasPrefix(g, w)
		}
		if !found {
			t.Errorf("missed %q", w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("found %d violations, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
}
