// Package analytics is the code of the example job programs, importable so
// that the same functions run natively (for comparison and benchmarks) and
// inside the sandbox (through the programs' main packages).
//
// Everything is integer arithmetic on fixed-point values, so a result does
// not depend on floating-point details and redundant workers can compare
// outputs byte for byte.
package analytics

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
		data, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, err
		}
		s, err := Parse(e.Name(), data)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Read parses one series from r.
func Read(name string, r io.Reader) (Series, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return Series{Name: name}, err
	}
	return Parse(name, data)
}

// Parse parses one series held in memory. It works on the bytes directly,
// one pass and one allocation for the samples, because a job's cost is
// mostly this parse: under WebAssembly every allocation and every call
// through the standard library's general parsers costs several times what
// it costs natively.
func Parse(name string, data []byte) (Series, error) {
	s := Series{Name: name, Samples: make([]Sample, 0, len(data)/16+1)}
	line, i, n := 0, 0, len(data)
	for i < n {
		line++
		// the common line, "digits,digits.ddd\n", is read in one pass
		// without calls; anything else goes through the general path
		start := i
		var t int64
		j := i
		for j < n && data[j] >= '0' && data[j] <= '9' && j-i < 18 {
			t = t*10 + int64(data[j]-'0')
			j++
		}
		if j > i && j < n && data[j] == ',' {
			k := j + 1
			var v int64
			w := k
			for k < n && data[k] >= '0' && data[k] <= '9' && k-w < 9 {
				v = v*10 + int64(data[k]-'0')
				k++
			}
			if k > w && k+4 < n && data[k] == '.' && data[k+4] == '\n' &&
				data[k+1]-'0' < 10 && data[k+2]-'0' < 10 && data[k+3]-'0' < 10 {
				v = v*1000 + int64(data[k+1]-'0')*100 + int64(data[k+2]-'0')*10 + int64(data[k+3]-'0')
				s.Samples = append(s.Samples, Sample{Time: t, Value: v})
				i = k + 5
				continue
			}
		}
		// the general path: the line's end and its first comma in one pass
		end, comma := n, -1
		for k := start; k < n; k++ {
			c := data[k]
			if c == '\n' {
				end = k
				break
			}
			if c == ',' && comma < 0 {
				comma = k - start
			}
		}
		text := data[start:end]
		i = min(end+1, n)
		lead := 0
		for lead < len(text) && space(text[lead]) {
			lead++
		}
		text = trim(text[lead:])
		if len(text) == 0 || text[0] == '#' {
			continue
		}
		if comma < 0 || comma-lead >= len(text) {
			return s, fmt.Errorf("%s:%d: want time,value", name, line)
		}
		comma -= lead
		tt, ok := parseInt(trim(text[:comma]))
		if !ok {
			return s, fmt.Errorf("%s:%d: time: not a 64-bit integer", name, line)
		}
		v, err := parseFixed(trim(text[comma+1:]))
		if err != nil {
			return s, fmt.Errorf("%s:%d: %v", name, line, err)
		}
		s.Samples = append(s.Samples, Sample{Time: tt, Value: v})
	}
	return s, nil
}

func space(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' }

func trim(b []byte) []byte {
	for len(b) > 0 && space(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && space(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// parseInt parses a decimal int64 with an optional sign, as
// strconv.ParseInt(s, 10, 64) does.
func parseInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg, b = b[0] == '-', b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' || u > (1<<63)/10 {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	switch {
	case !neg && u > 1<<63-1, neg && u > 1<<63:
		return 0, false
	case neg:
		return -int64(u), true
	}
	return int64(u), true
}

var errValue = errors.New("value must be a decimal with at most 3 fraction digits and magnitude below 10^9")

// ParseFixed parses a decimal into thousandths.
func ParseFixed(s string) (int64, error) { return parseFixed([]byte(s)) }

func parseFixed(b []byte) (int64, error) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) > 0 && b[0] == '+' {
		b = b[1:]
	}
	whole, frac := b, []byte(nil)
	if i := bytes.IndexByte(b, '.'); i >= 0 {
		whole, frac = b[:i], b[i+1:]
	}
	if len(whole) == 0 || len(frac) > 3 || len(whole) > 9 {
		return 0, errValue
	}
	v := int64(0)
	for _, c := range whole {
		if c < '0' || c > '9' {
			return 0, errValue
		}
		v = v*10 + int64(c-'0')
	}
	for i := range 3 {
		v *= 10
		if i < len(frac) {
			c := frac[i]
			if c < '0' || c > '9' {
				return 0, errValue
			}
			v += int64(c - '0')
		}
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
