package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// routeTable builds the server's route table without a node.
func routeTable() []Route {
	s := &Server{mux: http.NewServeMux()}
	s.register()
	return s.Routes()
}

// opsRoutes are served on the operations listener, not through the table.
var opsRoutes = []string{"GET /healthz", "GET /livez", "GET /readyz", "GET /metrics"}

// The route table, openapi.json and docs/API.md list the same routes with
// the same access: a route added without its entry fails here.
func TestRouteTableIsDocumented(t *testing.T) {
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.0.3" {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	want := map[string]string{} // "METHOD path" -> access
	for _, r := range routeTable() {
		key := r.Method + " " + r.Path
		if _, dup := want[key]; dup {
			t.Errorf("%s registered twice", key)
		}
		want[key] = string(r.Access)
		if r.Access == "" {
			t.Errorf("%s has no access level", key)
		}
	}
	if len(want) < 15 {
		t.Fatalf("only %d routes in the table", len(want))
	}
	for _, k := range opsRoutes {
		want[k] = "ops"
	}

	inSpec := map[string]string{}
	for path, ops := range doc.Paths {
		for m, op := range ops {
			a, _ := op["x-sealnet-access"].(string)
			inSpec[strings.ToUpper(m)+" "+path] = a
		}
	}
	compare(t, "openapi.json", want, inSpec)

	md, err := os.ReadFile("../docs/API.md")
	if err != nil {
		t.Fatal(err)
	}
	inDocs := map[string]string{}
	row := regexp.MustCompile("(?m)^\\| `([A-Z]+) ([^`]+)` \\| (\\w+) \\|")
	for _, m := range row.FindAllStringSubmatch(string(md), -1) {
		inDocs[m[1]+" "+m[2]] = m[3]
	}
	compare(t, "docs/API.md", want, inDocs)
}

func compare(t *testing.T, where string, want, got map[string]string) {
	t.Helper()
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		w, inWant := want[k]
		g, inGot := got[k]
		switch {
		case !inGot:
			t.Errorf("%s: %s (%s) is not listed", where, k, w)
		case !inWant:
			t.Errorf("%s: %s is listed but the server has no such route", where, k)
		case w != g:
			t.Errorf("%s: %s is listed as %q, the server enforces %q", where, k, g, w)
		}
	}
	if t.Failed() {
		fmt.Fprintf(os.Stderr, "route table: %v\n", want)
	}
}
