package analytics

import (
	"fmt"
	"io"
	"io/fs"
	"math/big"
)

// Summary is the statistics of a set of values, in thousandths.
type Summary struct {
	Count            int64
	Min, Max         int64
	Mean, Stddev     int64 // mean rounded half away from zero; population standard deviation, rounded down
	sum              int64
	sumSq            big.Int
	haveMin, haveMax bool
}

// Add takes one value.
func (s *Summary) Add(v int64) {
	s.Count++
	s.sum += v
	var sq big.Int
	sq.SetInt64(v)
	sq.Mul(&sq, &sq)
	s.sumSq.Add(&s.sumSq, &sq)
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
	var v, sum2, nn big.Int
	nn.SetInt64(n)
	v.Mul(&nn, &s.sumSq)
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
