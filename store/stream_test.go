package store

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/internal/lpframe"
	"github.com/sealnet/sealnet/p2p"
)

func pairOfHosts(t *testing.T) (host.Host, host.Host) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var hs [2]host.Host
	var gates [2]*p2p.Gate
	var ids [2]peer.ID
	for i := range hs {
		key, _ := identity.NewKey()
		ids[i], _ = p2p.PeerID(&key.PublicKey)
		gates[i] = p2p.NewGate(log)
		h, err := p2p.NewHost(key, []string{"/ip4/127.0.0.1/tcp/0"}, gates[i])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		hs[i] = h
	}
	gates[0].Allow(ids[1])
	gates[1].Allow(ids[0])
	if err := hs[1].Connect(context.Background(), peer.AddrInfo{ID: ids[0], Addrs: hs[0].Addrs()}); err != nil {
		t.Fatal(err)
	}
	return hs[0], hs[1]
}

func TestDAGStream(t *testing.T) {
	holder, fetcher := pairOfHosts(t)
	src, _ := Open(t.TempDir())
	dst, _ := Open(t.TempDir())
	defer src.Close()
	defer dst.Close()
	allowed := true
	src.ServeDAG(holder, func(peer.ID, cid.Cid) bool { return allowed })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// repeated content makes a DAG whose leaves repeat
	data := append(bytes.Repeat([]byte{0}, 3<<20), bytes.Repeat([]byte("x"), 5<<20+3)...)
	root, err := src.Add(ctx, bytes.NewReader(data), AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var streamed bytes.Buffer
	if err := dst.FetchDAG(ctx, fetcher, holder.ID(), root, &streamed); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(streamed.Bytes(), data) {
		t.Fatalf("streamed %d bytes, want %d", streamed.Len(), len(data))
	}
	r, err := dst.Open(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	if !bytes.Equal(got, data) {
		t.Fatalf("fetched %d bytes, want %d", len(got), len(data))
	}
	allowed = false
	other, _ := src.Add(ctx, bytes.NewReader([]byte("confidential")), AddOptions{})
	if err := dst.FetchDAG(ctx, fetcher, holder.ID(), other, nil); !errors.Is(err, ErrRefused) {
		t.Fatalf("refused root: %v", err)
	}
}

// A holder that sends a block whose bytes do not match its CID, or a block
// nobody asked for, is caught on receipt and nothing of it is stored.
func TestDAGStreamRejectsForgedBlocks(t *testing.T) {
	holder, fetcher := pairOfHosts(t)
	dst, _ := Open(t.TempDir())
	defer dst.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	good, _ := cid.V1Builder{Codec: cid.Raw, MhType: 0x12}.Sum([]byte("counter=5367"))
	stranger, _ := cid.V1Builder{Codec: cid.Raw, MhType: 0x12}.Sum([]byte("unrelated"))
	serve := func(c cid.Cid, data []byte) {
		holder.SetStreamHandler(DAGProtocol, func(st network.Stream) {
			defer st.Close()
			readCID(bufio.NewReader(st))
			w := bufio.NewWriter(st)
			w.WriteByte(0)
			lpframe.WriteVarint(w, c.Bytes())
			lpframe.WriteVarint(w, data)
			lpframe.WriteVarint(w, nil)
			w.Flush()
		})
	}
	serve(good, []byte("counter=9999"))
	if err := dst.FetchDAG(ctx, fetcher, holder.ID(), good, nil); !errors.Is(err, ErrTampered) {
		t.Fatalf("tampered block: %v", err)
	}
	serve(stranger, []byte("unrelated"))
	if err := dst.FetchDAG(ctx, fetcher, holder.ID(), good, nil); !errors.Is(err, ErrUnexpected) {
		t.Fatalf("substituted block: %v", err)
	}
	if ok, _ := dst.Has(ctx, good); ok {
		t.Fatal("a rejected block was stored")
	}
}
