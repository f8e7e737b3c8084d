package analytics

import (
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"math/bits"
)

// Summary is the statistics of a set of values, in thousandths.
type Summary struct {
	Count            int64
	Min, Max         int64
	Mean, Stddev     int64 // mean rounded half away from zero; population standard deviation, rounded down
	sum              int64
	sqHi, sqLo       uint64 // the sum of squares, 128 bits: no allocation per value
	haveMin, haveMax bool
}

// Add takes one value.
func (s *Summary) Add(v int64) {
	s.Count++
	s.sum += v
	a := uint64(v)
	if v < 0 {
		a = uint64(-v)
	}
	hi, lo := bits.Mul64(a, a)
	var c uint64
	s.sqLo, c = bits.Add64(s.sqLo, lo, 0)
	s.sqHi += hi + c
	if !s.haveMin || v < s.Min {
		s.Min, s.haveMin = v, true
	}
	if !s.haveMax || v > s.Max {
		s.Max, s.haveMax = v, true
	}
}

// finish computes the mean and the standard deviation:
// sd = sqrt(n*sumSq - sum^2) / n, all in integers.
func (s *Summary) finish() {
	if s.Count == 0 {
		return
	}
	n := s.Count
	half := n / 2
	if s.sum < 0 {
		half = -half
	}
	s.Mean = (s.sum + half) / n
	var v, sum2, nn, sumSq big.Int
	nn.SetInt64(n)
	sumSq.SetUint64(s.sqHi)
	sumSq.Lsh(&sumSq, 64)
	sumSq.Or(&sumSq, new(big.Int).SetUint64(s.sqLo))
	v.Mul(&nn, &sumSq)
	sum2.SetInt64(s.sum)
	sum2.Mul(&sum2, &sum2)
	v.Sub(&v, &sum2)
	v.Sqrt(&v)
	v.Quo(&v, &nn)
	s.Stddev = v.Int64()
}

func (s *Summary) write(w io.Writer, name string) error {
	s.finish()
	if s.Count == 0 {
		_, err := fmt.Fprintf(w, "%s count=0\n", name)
		return err
	}
	_, err := fmt.Fprintf(w, "%s count=%d min=%s max=%s mean=%s stddev=%s\n", name, s.Count,
		FormatFixed(s.Min), FormatFixed(s.Max), FormatFixed(s.Mean), FormatFixed(s.Stddev))
	return err
}

// Stats writes count, minimum, maximum, mean and standard deviation of
// each series of fsys and of all of them together, one line each.
func Stats(fsys fs.FS, w io.Writer) error {
	series, err := ReadAll(fsys)
	if err != nil {
		return err
	}
	var all Summary
	for _, s := range series {
		var one Summary
		for _, x := range s.Samples {
			if x.Value > MaxAbs || x.Value < -MaxAbs {
				return fmt.Errorf("%s: value %s out of range", s.Name, FormatFixed(x.Value))
			}
			one.Add(x.Value)
			all.Add(x.Value)
		}
		if err := one.write(w, s.Name); err != nil {
			return err
		}
	}
	return all.write(w, "all")
}
