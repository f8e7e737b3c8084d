// Package analytics is the code of the example job programs, importable so
// that the same functions run natively (for comparison and benchmarks) and
// inside the sandbox (through the programs' main packages).
//
// Everything is integer arithmetic on fixed-point values, so a result does
// not depend on floating-point details and redundant workers can compare
// outputs byte for byte.
package analytics

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
)

// Scale is the fixed-point scale: values are held in thousandths.
const Scale = 1000

// MaxAbs bounds a value's magnitude (in thousandths): 10^12, a billion
// units, leaves every intermediate product far inside int64.
const MaxAbs = 1_000_000_000_000

// Sample is one reading of a series.
type Sample struct {
	Time  int64 // as written in the input (e.g. Unix milliseconds)
	Value int64 // thousandths
}

// Series is one input file.
type Series struct {
	Name    string
	Samples []Sample
}

// ReadAll reads every regular file of fsys's root, in name order, as a
// series: one "time,value" line per sample, where value is a decimal with
// at most three fraction digits; blank lines and lines starting with '#'
// are skipped.
func ReadAll(fsys fs.FS) ([]Series, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	var out []Series
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		f, err := fsys.Open(e.Name())
		if err != nil {
			return nil, err
		}
		s, err := Read(e.Name(), f)
		f.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Read parses one series.
func Read(name string, r io.Reader) (Series, error) {
	s := Series{Name: name}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		ts, val, ok := strings.Cut(text, ",")
		if !ok {
			return s, fmt.Errorf("%s:%d: want time,value", name, line)
		}
		t, err := strconv.ParseInt(strings.TrimSpace(ts), 10, 64)
		if err != nil {
			return s, fmt.Errorf("%s:%d: time: %v", name, line, err)
		}
		v, err := ParseFixed(strings.TrimSpace(val))
		if err != nil {
			return s, fmt.Errorf("%s:%d: %v", name, line, err)
		}
		s.Samples = append(s.Samples, Sample{Time: t, Value: v})
	}
	return s, sc.Err()
}

var errValue = errors.New("value must be a decimal with at most 3 fraction digits and magnitude below 10^9")

// ParseFixed parses a decimal into thousandths.
func ParseFixed(s string) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > 3 || len(whole) > 9 {
		return 0, errValue
	}
	frac += strings.Repeat("0", 3-len(frac))
	v := int64(0)
	for _, c := range whole + frac {
		if c < '0' || c > '9' {
			return 0, errValue
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, nil
}

// FormatFixed writes thousandths as a decimal with three fraction digits.
func FormatFixed(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%03d", sign, v/Scale, v%Scale)
}
