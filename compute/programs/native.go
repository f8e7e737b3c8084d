package programs

import (
	"io"
	"io/fs"

	"github.com/sealnet/sealnet/compute/programs/internal/analytics"
)

// Native returns the code of the program name compiled into this binary:
// the same functions its module runs, for comparing the sandbox with
// native execution.
func Native(name string) (func(in fs.FS, out io.Writer) error, bool) {
	f, ok := map[string]func(fs.FS, io.Writer) error{"stats": analytics.Stats, "anomaly": analytics.Anomalies}[name]
	return f, ok
}
