package api_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/txerr"
)

// A batch store gives every object the CID a single store gives it, and a
// batch deposit answers each key as a single deposit would: the owner's
// keys kept, another member's key refused, malformed items refused, all in
// one request.
func TestStoreAndDepositBatches(t *testing.T) {
	tn := startTestNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	alice := tn.enroll(t, "alice", identity.RoleClient)
	ac := tn.client(t, alice)

	big := make([]byte, 600<<10) // three leaves and a root, imported aside
	rand.NewChaCha8([32]byte{1}).Read(big)
	bigger := make([]byte, 3<<19) // past the size imported aside: streamed
	rand.NewChaCha8([32]byte{2}).Read(bigger)
	objects := [][]byte{[]byte("one"), big, {}, bigger, []byte("two")}
	stored, err := ac.StoreBatch(ctx, "default", len(objects), func(i int, w io.Writer) error {
		_, err := w.Write(objects[i])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range objects {
		single, err := ac.StorePut(ctx, "default", bytes.NewReader(o))
		if err != nil {
			t.Fatal(err)
		}
		if stored[i].CID != single.CID || stored[i].Bytes != int64(len(o)) {
			t.Errorf("object %d: batch stored %+v, a single store %+v", i, stored[i], single)
		}
		rd, err := ac.StoreGet(ctx, "default", stored[i].CID, "")
		if err != nil {
			t.Fatal(err)
		}
		back, _ := io.ReadAll(rd)
		rd.Close()
		if !bytes.Equal(back, o) {
			t.Errorf("object %d reads back %d bytes, stored %d", i, len(back), len(o))
		}
	}

	admins := stored[4].CID
	if err := tn.c.PutDataKey(ctx, "default", admins, bytes.Repeat([]byte{7}, 32)); err != nil {
		t.Fatal(err)
	}
	key := bytes.Repeat([]byte{1}, 32)
	res, err := ac.PutDataKeys(ctx, "default", []apiclient.DataKeyRequest{
		{CID: stored[0].CID, Key: key},
		{CID: admins, Key: key},
		{CID: "not a cid", Key: key},
		{CID: stored[1].CID, Key: key[:16]},
		{CID: stored[1].CID, Key: key},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		status int
		code   txerr.Code
	}{{204, txerr.OK}, {403, txerr.RoleDenied}, {400, txerr.BadArgs}, {400, txerr.BadArgs}, {204, txerr.OK}}
	for i, w := range want {
		if res[i].Status != w.status || txerr.Code(res[i].Code) != w.code || (w.status != 204) != (res[i].Error != "") {
			t.Errorf("key %d: got %+v, want HTTP %d %s", i, res[i], w.status, w.code)
		}
	}

	tooMany := make([]apiclient.DataKeyRequest, apiclient.MaxBatchTxs+1)
	_, err = ac.PutDataKeys(ctx, "default", tooMany)
	refusedWith(t, "a deposit of too many keys", err, http.StatusBadRequest, txerr.Oversized, "at most")
	_, err = ac.StoreBatch(ctx, "default", apiclient.MaxBatchTxs+1, func(int, io.Writer) error { return nil })
	refusedWith(t, "a store of too many objects", err, http.StatusBadRequest, txerr.Oversized, "more than")
	_, err = ac.StoreBatch(ctx, "quality", 1, func(_ int, w io.Writer) error { _, err := io.Copy(w, strings.NewReader("x")); return err })
	refusedWith(t, "a store for an unknown channel", err, http.StatusNotFound, txerr.WrongChannel, "quality")
}

// Batches splits a long list of transactions within both bounds, in order.
func TestBatches(t *testing.T) {
	var txs [][]byte
	for i := range 2500 {
		txs = append(txs, []byte{byte(i)})
	}
	big := bytes.Repeat([]byte{1}, apiclient.MaxBatchBytes/2)
	txs = append(txs, big, big, big)
	got := apiclient.Batches(txs)
	var flat [][]byte
	for _, b := range got {
		size := 0
		for _, tx := range b {
			size += len(tx)
		}
		if len(b) == 0 || len(b) > apiclient.MaxBatchTxs || size > apiclient.MaxBatchBytes {
			t.Errorf("batch of %d transactions, %d bytes", len(b), size)
		}
		flat = append(flat, b...)
	}
	if len(got) != 4 || len(flat) != len(txs) || &flat[2500][0] != &big[0] {
		t.Errorf("%d batches holding %d transactions", len(got), len(flat))
	}
}
