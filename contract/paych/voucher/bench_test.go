package voucher

import (
	"testing"

	"github.com/sealnet/sealnet/identity"
)

// The payee's costs per result: making (the payer) and taking (the payee)
// a voucher, on all cores. Report vouchers/s.

func BenchmarkSignAndAccept(b *testing.B) {
	payer := testKey(b, "payer")
	b.RunParallel(func(pb *testing.PB) {
		ch := view(payer, 1<<64-1)
		v := base()
		for pb.Next() {
			v.Nonce++
			v.Amount += 7
			raw, err := Sign(v, payer)
			if err != nil {
				b.Fatal(err)
			}
			d, err := Decode(raw)
			if err != nil {
				b.Fatal(err)
			}
			e, err := Accept(d, ch, Expect{Increment: 7})
			if err != nil {
				b.Fatal(err)
			}
			ch.Apply(e)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "vouchers/s")
}

func BenchmarkAccept(b *testing.B) {
	payer := testKey(b, "payer")
	const n = 1024
	raws := make([][]byte, n)
	v := base()
	for i := range raws {
		v.Nonce, v.Amount = uint64(i+1), uint64(i+1)*7
		raw, err := Sign(v, payer)
		if err != nil {
			b.Fatal(err)
		}
		raws[i] = raw
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ch := view(payer, 1<<64-1) // every voucher is the first this view sees
		i := 0
		for pb.Next() {
			d, err := Decode(raws[i%n])
			if err != nil {
				b.Fatal(err)
			}
			if _, err := Accept(d, ch, Expect{Increment: 7}); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "vouchers/s")
}

// BenchmarkVerifyBaseline is the floor under Accept: one low-S P-256
// signature check (identity.Verify) of a ready digest, nothing decoded.
func BenchmarkVerifyBaseline(b *testing.B) {
	payer := testKey(b, "payer")
	v := base()
	raw, err := Sign(v, payer)
	if err != nil {
		b.Fatal(err)
	}
	d, err := Decode(raw)
	if err != nil {
		b.Fatal(err)
	}
	digest := Digest(d.Body)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := identity.Verify(&payer.PublicKey, digest, d.Signature); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "vouchers/s")
}
