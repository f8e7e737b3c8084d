package analytics

import (
	"fmt"
	"io"
	"io/fs"
)

// Anomaly parameters: a sample is flagged when it lies further than K
// times the mean absolute deviation from the mean of the Window samples
// before it.
const (
	Window = 32
	K      = 4
)

// Anomalies writes each flagged sample as "series,time,value,mean" and a
// final count per series.
//
// With S the sum of the window, the test |x - S/W| > K * mean|x_i - S/W|
// is evaluated multiplied through by W*W, so it stays in integers:
// W * |W*x - S| > K * sum |W*x_i - S|.
func Anomalies(fsys fs.FS, w io.Writer) error {
	series, err := ReadAll(fsys)
	if err != nil {
		return err
	}
	for _, s := range series {
		flagged := 0
		for i, x := range s.Samples {
			if x.Value > MaxAbs || x.Value < -MaxAbs {
				return fmt.Errorf("%s: value %s out of range", s.Name, FormatFixed(x.Value))
			}
			if i < Window {
				continue
			}
			win := s.Samples[i-Window : i]
			var sum int64
			for _, y := range win {
				sum += y.Value
			}
			var dev int64
			for _, y := range win {
				dev += abs(Window*y.Value - sum)
			}
			if Window*abs(Window*x.Value-sum) > K*dev && dev > 0 || dev == 0 && Window*x.Value != sum {
				flagged++
				if _, err := fmt.Fprintf(w, "%s,%d,%s,%s\n", s.Name, x.Time, FormatFixed(x.Value), FormatFixed(sum/Window)); err != nil {
					return err
				}
			}
		}
		if _, err := fmt.Fprintf(w, "%s flagged=%d of %d\n", s.Name, flagged, len(s.Samples)); err != nil {
			return err
		}
	}
	return nil
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
