package member

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/sealnet/sealnet/internal/parallel"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/contract/index"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/seal"
	"github.com/sealnet/sealnet/txerr"
)

// File is one file of a multi-file put.
type File struct {
	Name string // how results and errors name it
	Size int64  // plaintext bytes, to form batches (a wrong size changes nothing else)
	Open func() (io.ReadCloser, error)
	Meta Meta
}

// Shape of PutMany's pipeline: files go in batches of at most
// manyBatchFiles files and manyBatchBytes plaintext bytes (a larger file
// is a batch of its own, streamed), and manyInFlight batches are under way
// at once, so that one batch encrypts while another uploads and a third
// waits for its block.
const (
	manyBatchFiles = 250
	manyBatchBytes = 16 << 20
	manyInFlight   = 4
)

// ManyProgress is told, after each batch, how many files and plaintext
// bytes are stored and indexed so far.
type ManyProgress func(files int, bytes int64)

// PutMany puts every file as Put would (a fresh data key, the owner's M1
// signature inside the encryption, the ciphertext in the node's store, the
// key with the custodian, one Subfile entry), but pipelined: files travel
// in batches (one store request, one key deposit and one transaction batch
// each, apiclient.StoreBatch, PutDataKeys and SubmitBatch), several
// batches at once, so that N small files take a few dozen requests and as
// few blocks as the chain allows instead of N of each. Results come in the
// order of files. On an error it returns the results of the files done
// (the others' are nil) with the first error, naming its file.
func PutMany(ctx context.Context, c *apiclient.Client, id *identity.Identity, channel string, files []File, tell ManyProgress) ([]*PutResult, error) {
	st, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := make([]*PutResult, len(files))
	var (
		mu       sync.Mutex
		firstErr error
		done     int
		bytes    int64
	)
	batches := make(chan []int)
	var wg sync.WaitGroup
	for range manyInFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				res, err := putBatch(ctx, c, id, channel, st.Fingerprint, files, b)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
					cancel()
				}
				for k, r := range res {
					if r != nil {
						out[b[k]] = r
						done++
						bytes += r.PlaintextSize
					}
				}
				if tell != nil && err == nil {
					tell(done, bytes)
				}
				mu.Unlock()
			}
		}()
	}
	for _, b := range formBatches(files) {
		if ctx.Err() != nil {
			break
		}
		batches <- b
	}
	close(batches)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return out, firstErr
}

// formBatches groups consecutive files by count and size.
func formBatches(files []File) [][]int {
	var out [][]int
	var cur []int
	var size int64
	for i, f := range files {
		if len(cur) > 0 && (len(cur) == manyBatchFiles || size+f.Size > manyBatchBytes) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, i)
		size += f.Size
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// putBatch puts the files at indices idx: ciphertext, keys, entries.
func putBatch(ctx context.Context, c *apiclient.Client, id *identity.Identity, channel, custodian string, files []File, idx []int) ([]*PutResult, error) {
	n := len(idx)
	keys := make([]seal.DataKey, n)
	sizes := make([]int64, n)
	t1 := time.Now().UTC()
	for k := range keys {
		var err error
		if keys[k], err = seal.NewDataKey(); err != nil {
			return nil, err
		}
	}
	// several files: encrypted ahead on every core, then sent; one large
	// file: encrypted while it streams
	var sealed [][]byte
	if n > 1 {
		sealed = make([][]byte, n)
		errs := make([]error, n)
		parallel.For(n, func(k int) {
			var buf bytes.Buffer
			sizes[k], errs[k] = encryptFile(&buf, files[idx[k]], keys[k], id, t1)
			sealed[k] = buf.Bytes()
		})
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
	}
	stored, err := c.StoreBatch(ctx, channel, n, func(k int, w io.Writer) error {
		if sealed != nil {
			_, err := w.Write(sealed[k])
			sealed[k] = nil
			return err
		}
		var err error
		sizes[k], err = encryptFile(w, files[idx[k]], keys[k], id, t1)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store ciphertext of %s and %d more: %w", files[idx[0]].Name, n-1, err)
	}
	deposits := make([]apiclient.DataKeyRequest, n)
	for k := range deposits {
		deposits[k] = apiclient.DataKeyRequest{CID: stored[k].CID, Key: keys[k][:]}
	}
	kept, err := c.PutDataKeys(ctx, channel, deposits)
	if err != nil {
		return nil, fmt.Errorf("hand the data keys to the custodian: %w", err)
	}
	for k, r := range kept {
		if r.Status != http.StatusNoContent {
			return nil, fmt.Errorf("%s: hand the data key to the custodian: %w", files[idx[k]].Name, &txerr.Error{Code: txerr.Code(r.Code), Msg: r.Error})
		}
	}
	txs := make([][]byte, n)
	for k := range txs {
		f := files[idx[k]]
		args := index.SubfileArgs{HashAddress: stored[k].CID, Summary: f.Meta.Summary, Keywords: f.Meta.Keywords,
			Size: uint64(sizes[k]), Type: f.Meta.Type, Custodian: custodian}
		if txs[k], err = apiclient.SignCall(id, channel, index.Name, "subfile", args, time.Now()); err != nil {
			return nil, err
		}
	}
	res, err := c.SubmitBatch(ctx, channel, txs)
	if err != nil {
		return nil, fmt.Errorf("index %s and %d more: %w", files[idx[0]].Name, n-1, err)
	}
	out := make([]*PutResult, n)
	for k, r := range res.Results {
		if r.Status != http.StatusOK {
			return out, fmt.Errorf("%s: index: %w", files[idx[k]].Name, &txerr.Error{Code: txerr.Code(r.Code), Msg: r.Error})
		}
		var receipt index.SubfileReceipt
		_ = decodeResult(&r.TxResponse, &receipt)
		out[k] = &PutResult{CID: stored[k].CID, TXNumber: r.TxID, Height: r.Height, PlaintextSize: sizes[k], CiphertextSize: stored[k].Bytes, T1: t1,
			Custodian: custodian, SubmitB: receipt.SubmitB}
	}
	return out, nil
}

// encryptFile signs and encrypts file f into w and returns its plaintext
// size.
func encryptFile(w io.Writer, f File, key seal.DataKey, id *identity.Identity, t1 time.Time) (int64, error) {
	r, err := f.Open()
	if err != nil {
		return 0, err
	}
	defer r.Close()
	enc, err := seal.Encrypt(w, key, id, t1)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(enc, r)
	if err == nil {
		err = enc.Close()
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", f.Name, err)
	}
	return n, nil
}
