package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/sealnet/sealnet/local"
	"github.com/sealnet/sealnet/member"
)

// latency puts and gets a 1 MB object o.Repeat times between the two
// companies, each a fresh file, and keeps the medians; Kubo adds and gets
// the same bytes.
func (res *ShareResult) latency(ctx context.Context, o ShareOptions, dir string, owner, requester *local.Org, kubo *kuboPair) error {
	repeat := o.Repeat
	if repeat <= 0 {
		repeat = 7
	}
	const n = 1_000_000
	var puts, gets, adds, kgets []time.Duration
	for i := range repeat {
		path := filepath.Join(dir, fmt.Sprintf("lat-%d", i))
		if err := writeRandom(path, n, 1000+i); err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		t0 := time.Now()
		put, err := member.Put(ctx, owner.API, owner.Admin, "default", bytes.NewReader(data), member.Meta{Keywords: []string{"latency"}, Summary: "1 MB"}, nil)
		if err != nil {
			return fmt.Errorf("put 1 MB: %w", err)
		}
		puts = append(puts, time.Since(t0))
		if err := requester.WaitHeight(put.Height, 30*time.Second); err != nil {
			return err
		}
		var got bytes.Buffer
		t0 = time.Now()
		if _, err := member.Get(ctx, requester.API, requester.Admin, "default", put.TXNumber, &got, nil); err != nil {
			return fmt.Errorf("get 1 MB: %w", err)
		}
		gets = append(gets, time.Since(t0))
		if !bytes.Equal(got.Bytes(), data) {
			return fmt.Errorf("get 1 MB: content differs")
		}
		if kubo != nil {
			a, g, err := kubo.timed(ctx, path, n)
			if err != nil {
				return err
			}
			adds, kgets = append(adds, a), append(kgets, g)
		}
		os.Remove(path)
	}
	res.Put1MBms, res.Get1MBms, res.KuboAdd1MBms, res.KuboGet1MBms = median(puts), median(gets), median(adds), median(kgets)
	o.progress("1 MB, median of %d: put %.1f ms, get %.1f ms | kubo add %.1f ms, bitswap get %.1f ms (all: put %s get %s)",
		repeat, res.Put1MBms, res.Get1MBms, res.KuboAdd1MBms, res.KuboGet1MBms, durations(puts), durations(gets))
	return nil
}

// smallFiles puts o.SmallFiles files of o.SmallSize bytes at once with
// member.PutMany, and adds the same directory to Kubo.
func (res *ShareResult) smallFiles(ctx context.Context, o ShareOptions, dir string, owner *local.Org, kubo *kuboPair) error {
	size := o.SmallSize
	if size <= 0 {
		size = 4096
	}
	res.SmallFiles, res.SmallSize = o.SmallFiles, size
	sdir := filepath.Join(dir, "small")
	if err := os.MkdirAll(sdir, 0o700); err != nil {
		return err
	}
	files := make([]member.File, o.SmallFiles)
	for i := range files {
		path := filepath.Join(sdir, fmt.Sprintf("f%06d", i))
		if err := writeRandom(path, int64(size), 1<<20+i); err != nil {
			return err
		}
		files[i] = member.File{Name: path, Size: int64(size), Meta: member.Meta{Keywords: []string{"small"}, Summary: path},
			Open: func() (io.ReadCloser, error) { return os.Open(path) }}
	}
	defer os.RemoveAll(sdir)
	o.progress("small files: putting %d files of %d bytes", len(files), size)
	t0 := time.Now()
	put, err := member.PutMany(ctx, owner.API, owner.Admin, "default", files, nil)
	if err != nil {
		return fmt.Errorf("put %d small files: %w", len(files), err)
	}
	res.SmallFilesPerS = float64(len(files)) / time.Since(t0).Seconds()
	heights := map[int64]bool{}
	for _, r := range put {
		heights[r.Height] = true
	}
	res.SmallFilesBlocks = int64(len(heights))
	o.progress("small files: sealnet %.0f files/s (%d blocks)", res.SmallFilesPerS, res.SmallFilesBlocks)
	if kubo != nil {
		t0 = time.Now()
		if _, err := kubo.ipfs(ctx, 0, "add", "-r", "-Q", "--cid-version", "1", "--raw-leaves", "--chunker", "size-262144", sdir); err != nil {
			return err
		}
		res.KuboSmallFilesPerS = float64(len(files)) / time.Since(t0).Seconds()
		o.progress("small files: kubo add -r %.0f files/s", res.KuboSmallFilesPerS)
	}
	return nil
}

func median(ds []time.Duration) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return ms(s[len(s)/2])
}

func durations(ds []time.Duration) string {
	var b bytes.Buffer
	for i, d := range ds {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.0f", ms(d))
	}
	return b.String()
}
