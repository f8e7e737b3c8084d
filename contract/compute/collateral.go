package compute

import (
	"math/big"
	"time"

	"github.com/sealnet/sealnet/attest"
	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/txerr"
)

// CollateralArgs brings fresh vendor collateral to the chain: exactly one
// of TDX (for the FMSPC its TCB info names) and SNP (for a product line).
// Collateral is signed by the vendor, so any worker, node or admin may
// bring it; it is verified against the pinned roots at the block time and
// must not be older than what the chain holds (no rollback to a TCB
// assessment that still called a platform up to date).
type CollateralArgs struct {
	TDX *attest.TDXCollateral `cbor:"tdx,omitempty"`
	SNP *attest.SNPCollateral `cbor:"snp,omitempty"`
}

// TDXRecord is the TDX collateral held for an FMSPC.
type TDXRecord struct {
	Collateral attest.TDXCollateral `cbor:"collateral" json:"collateral"`
	Evaluation int                  `cbor:"evaluation" json:"evaluation"`
	Issued     int64                `cbor:"issued" json:"issued"`           // Unix seconds
	NextUpdate int64                `cbor:"next_update" json:"next_update"` // Unix seconds: expiry
	Height     int64                `cbor:"height" json:"height"`
}

// SNPRecord is the SNP collateral held for a product line.
type SNPRecord struct {
	Collateral attest.SNPCollateral `cbor:"collateral" json:"collateral"`
	Number     string               `cbor:"number" json:"number"` // the CRL number, decimal
	ThisUpdate int64                `cbor:"this_update" json:"this_update"`
	NextUpdate int64                `cbor:"next_update" json:"next_update"`
	Height     int64                `cbor:"height" json:"height"`
}

func tdxKey(fmspc string) []byte { return append(append([]byte{}, pCol...), "tdx/"+fmspc...) }
func snpKey(line string) []byte  { return append(append([]byte{}, pCol...), "snp/"+line...) }

func day(unix int64) string { return time.Unix(unix, 0).UTC().Format("2006-01-02") }

func (c *Contract) collateral(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a CollateralArgs
	if err := contract.DecodeArgs("collateral", raw, &a); err != nil {
		return nil, err
	}
	var kind, platform string
	var next int64
	switch {
	case (a.TDX == nil) == (a.SNP == nil):
		return nil, txerr.New(txerr.BadArgs, "collateral: give either tdx or snp")
	case a.TDX != nil:
		info, err := c.trust.CheckTDXCollateral(a.TDX, ctx.Time)
		if err != nil {
			return nil, rejected("collateral", "%v", err)
		}
		rec := TDXRecord{Collateral: *a.TDX, Evaluation: info.Evaluation, Issued: info.Issued.Unix(), NextUpdate: info.NextUpdate.Unix(), Height: ctx.Height}
		old, err := loadTDX(st, info.FMSPC)
		if err != nil {
			return nil, err
		}
		if old != nil && (rec.Evaluation < old.Evaluation || rec.Issued < old.Issued) {
			return nil, rejected("collateral", "TCB evaluation %d issued %s is older than the chain's (%d, %s)", rec.Evaluation, day(rec.Issued), old.Evaluation, day(old.Issued))
		}
		if err := st.Set(tdxKey(info.FMSPC), canon.MustMarshal(rec)); err != nil {
			return nil, err
		}
		kind, platform, next = "tdx", info.FMSPC, rec.NextUpdate
	default:
		info, err := c.trust.CheckSNPCollateral(a.SNP, ctx.Time)
		if err != nil {
			return nil, rejected("collateral", "%v", err)
		}
		rec := SNPRecord{Collateral: *a.SNP, Number: info.Number.String(), ThisUpdate: info.ThisUpdate.Unix(), NextUpdate: info.NextUpdate.Unix(), Height: ctx.Height}
		old, err := loadSNP(st, a.SNP.ProductLine)
		if err != nil {
			return nil, err
		}
		if old != nil {
			prev, _ := new(big.Int).SetString(old.Number, 10)
			if prev == nil || info.Number.Cmp(prev) < 0 || rec.ThisUpdate < old.ThisUpdate {
				return nil, rejected("collateral", "CRL %s of %s is older than the chain's (%s of %s)", rec.Number, day(rec.ThisUpdate), old.Number, day(old.ThisUpdate))
			}
		}
		if err := st.Set(snpKey(a.SNP.ProductLine), canon.MustMarshal(rec)); err != nil {
			return nil, err
		}
		kind, platform, next = "snp", a.SNP.ProductLine, rec.NextUpdate
	}
	ctx.Emit("collateral_updated", "", contract.Attr{Key: "kind", Value: kind}, contract.Attr{Key: "platform", Value: platform},
		contract.Attr{Key: "next_update", Value: day(next)})
	return contract.Result(map[string]any{"kind": kind, "platform": platform, "next_update": next})
}

func loadTDX(st contract.State, fmspc string) (*TDXRecord, error) {
	raw, err := st.Get(tdxKey(fmspc))
	if err != nil || raw == nil {
		return nil, err
	}
	var r TDXRecord
	if err := canon.Unmarshal(raw, &r); err != nil {
		return nil, txerr.New(txerr.Internal, "tdx collateral record: %v", err)
	}
	return &r, nil
}

func loadSNP(st contract.State, line string) (*SNPRecord, error) {
	raw, err := st.Get(snpKey(line))
	if err != nil || raw == nil {
		return nil, err
	}
	var r SNPRecord
	if err := canon.Unmarshal(raw, &r); err != nil {
		return nil, txerr.New(txerr.Internal, "snp collateral record: %v", err)
	}
	return &r, nil
}

// stateCollateral gives attest.Verify the collateral held in state.
type stateCollateral struct{ st contract.State }

func (s stateCollateral) TDX(fmspc string) (*attest.TDXCollateral, error) {
	r, err := loadTDX(s.st, fmspc)
	if r == nil {
		return nil, err
	}
	return &r.Collateral, nil
}

func (s stateCollateral) SNP(line string) (*attest.SNPCollateral, error) {
	r, err := loadSNP(s.st, line)
	if r == nil {
		return nil, err
	}
	return &r.Collateral, nil
}

// Query implements contract.Contract:
//
//	job {job}                    a job's record
//	open {}                      jobs with a free claim, oldest first by ID
//	collateral {kind, platform}  the collateral held (kind tdx: FMSPC; snp: product line)
func (c *Contract) Query(st contract.State, method string, raw []byte) ([]byte, error) {
	switch method {
	case "job":
		var a JobArgs
		if err := contract.DecodeArgs("job", raw, &a); err != nil {
			return nil, err
		}
		j, err := loadJob(st, a.Job)
		if err != nil {
			return nil, err
		}
		return contract.Result(j)
	case "open":
		var ids []string
		if err := st.Iterate([]byte(pOpen), func(k, _ []byte) bool {
			ids = append(ids, string(k[len(pOpen):]))
			return true
		}); err != nil {
			return nil, err
		}
		jobs := []*Job{}
		for _, id := range ids {
			j, err := loadJob(st, id)
			if err != nil {
				return nil, err
			}
			jobs = append(jobs, j)
		}
		return contract.Result(jobs)
	case "collateral":
		var a struct {
			Kind     string `cbor:"kind"`
			Platform string `cbor:"platform"`
		}
		if err := contract.DecodeArgs("collateral", raw, &a); err != nil {
			return nil, err
		}
		switch a.Kind {
		case "tdx":
			if r, err := loadTDX(st, a.Platform); r != nil || err != nil {
				return resultOr(r, err)
			}
		case "snp":
			if r, err := loadSNP(st, a.Platform); r != nil || err != nil {
				return resultOr(r, err)
			}
		default:
			return nil, txerr.New(txerr.BadArgs, "collateral: kind tdx or snp")
		}
		return nil, txerr.New(txerr.NotFound, "no %s collateral for %q on chain", a.Kind, a.Platform)
	}
	return nil, txerr.New(txerr.UnknownMethod, "compute has no query %q", method)
}

func resultOr(v any, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return contract.Result(v)
}
