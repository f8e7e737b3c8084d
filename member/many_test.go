package member

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/contract/index"
)

// A multi-file put stores N files with N index entries, each entry naming
// its own object, size and summary, in a few blocks; every file reads back
// from another company's node as it went in.
func TestPutManyStoresEveryFile(t *testing.T) {
	orgs := twoOrgs(t)
	b, a := orgs[0], orgs[1]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const n = 620 // three batches, the last one short
	data := make([][]byte, n)
	files := make([]File, n)
	for i := range files {
		size := 1 + rand.IntN(4096)
		switch i {
		case 7:
			size = 0
		case 300:
			size = 300 << 10 // two leaves
		}
		data[i] = make([]byte, size)
		rand.NewChaCha8([32]byte{byte(i), byte(i >> 8)}).Read(data[i])
		d := data[i]
		files[i] = File{Name: fmt.Sprintf("f%03d", i), Size: int64(size), Meta: Meta{Keywords: []string{"batch-put"}, Summary: fmt.Sprintf("file %d", i)},
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(d)), nil }}
	}
	var told int
	res, err := PutMany(ctx, b.API, b.Admin, "default", files, func(files int, _ int64) { told = files })
	if err != nil {
		t.Fatal(err)
	}
	if told != n {
		t.Errorf("progress told %d files, want %d", told, n)
	}
	heights := map[int64]bool{}
	cids := map[string]bool{}
	var last int64
	for i, r := range res {
		if r == nil || r.CID == "" || r.TXNumber == "" || r.PlaintextSize != int64(len(data[i])) || r.CiphertextSize <= r.PlaintextSize {
			t.Fatalf("file %d: %+v", i, r)
		}
		heights[r.Height], cids[r.CID] = true, true
		last = max(last, r.Height)
	}
	if len(cids) != n {
		t.Errorf("%d distinct objects for %d files", len(cids), n)
	}
	if len(heights) > 6 {
		t.Errorf("%d files took %d blocks", n, len(heights))
	}
	waitHeight(t, a, last)
	found, err := apiclient.Query[index.FindResult](ctx, a.API, "default", index.Name, "lookup", index.FindArgs{Keyword: "batch-put", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(found.Entries) != n {
		t.Fatalf("%d index entries for %d files", len(found.Entries), n)
	}
	for _, i := range []int{0, 7, 300, n - 1} {
		e, err := Entry(ctx, a.API, "default", res[i].TXNumber)
		if err != nil || e.HashAddress != res[i].CID || e.Size != uint64(len(data[i])) || e.Summary != files[i].Meta.Summary {
			t.Fatalf("entry of file %d: %+v %v", i, e, err)
		}
		var got bytes.Buffer
		if _, err := Get(ctx, a.API, a.Admin, "default", res[i].TXNumber, &got, nil); err != nil || !bytes.Equal(got.Bytes(), data[i]) {
			t.Fatalf("get file %d: %v (%d of %d bytes)", i, err, got.Len(), len(data[i]))
		}
	}
}
