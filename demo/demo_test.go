package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestShareDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := Share(ctx, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, step := range []string{"[1]", "[2]", "[3]", "[4]", "[5]", "[6]", "[7]", "[8]", "[9]", "all steps passed"} {
		if !strings.Contains(out.String(), step) {
			t.Fatalf("output lacks %s:\n%s", step, out.String())
		}
	}
}
