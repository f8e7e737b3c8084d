package ledger

import (
	"context"
	"encoding/binary"
	"strings"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract/registry"
	"github.com/sealnet/sealnet/envelope"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/statedb"
	"github.com/sealnet/sealnet/txerr"
)

// QueryContract runs a contract's read-only query against committed state. It is
// not recorded on chain.
func (a *App) QueryContract(contractName, method string, args []byte) ([]byte, error) {
	ct, ok := a.contracts[contractName]
	if !ok {
		return nil, txerr.New(txerr.UnknownContract, "no contract %q", contractName)
	}
	view := statedb.View{Layer: a.committed, Prefix: contractPrefix(contractName)}
	return ct.Query(view, method, args)
}

// Query implements abci.Application for CometBFT's peer filter: a node ID
// is admitted only if the registry lists it.
func (a *App) Query(_ context.Context, req *abci.RequestQuery) (*abci.ResponseQuery, error) {
	switch {
	case a.closing.Load() && strings.HasPrefix(req.Path, "/p2p/filter/"):
		// CometBFT's switch, once stopped, leaves connections it still
		// accepts open without serving them; peers would keep such a
		// connection as a live peer and refuse the node when it restarts.
		return &abci.ResponseQuery{Code: uint32(txerr.Unavailable), Log: "node is shutting down"}, nil
	case strings.HasPrefix(req.Path, "/p2p/filter/id/"):
		id := strings.TrimPrefix(req.Path, "/p2p/filter/id/")
		ok, err := a.reg.PeerAllowed(statedb.View{Layer: a.committed, Prefix: contractPrefix(registry.Name)}, id)
		if err != nil {
			return &abci.ResponseQuery{Code: uint32(txerr.Internal), Log: err.Error()}, nil
		}
		if !ok {
			// a refused persistent peer redials in a tight loop: warn once a minute
			if last, seen := a.refused.Load(id); !seen || time.Since(last.(time.Time)) > time.Minute {
				a.refused.Store(id, time.Now())
				a.log.Warn("refused a peer not allowed on the channel", "node_id", id)
			}
			return &abci.ResponseQuery{Code: uint32(txerr.RoleDenied), Log: "node " + id + " is not allowed on this channel"}, nil
		}
		return &abci.ResponseQuery{}, nil
	case strings.HasPrefix(req.Path, "/p2p/filter/addr/"):
		return &abci.ResponseQuery{}, nil
	}
	return &abci.ResponseQuery{Code: uint32(txerr.UnknownMethod), Log: "use the node API for queries"}, nil
}

// Member resolves a certificate fingerprint against committed state.
func (a *App) Member(fp identity.Fingerprint) (*identity.Member, error) {
	m, _, err := a.Certificate(fp)
	return m, err
}

// Certificate resolves a fingerprint against committed state and tells
// whether the certificate is revoked.
func (a *App) Certificate(fp identity.Fingerprint) (*identity.Member, bool, error) {
	return a.reg.Resolve(statedb.View{Layer: a.committed, Prefix: contractPrefix(registry.Name)}, fp)
}

// CertRecord returns the registry's committed record of a certificate:
// its enrolment, revocation and libp2p key binding.
func (a *App) CertRecord(fp identity.Fingerprint) (*registry.Cert, error) {
	raw, err := a.QueryContract(registry.Name, "cert", canon.MustMarshal(registry.GetArgs{Fingerprint: fp.String()}))
	if err != nil {
		return nil, err
	}
	var rec registry.Cert
	if err := canon.Unmarshal(raw, &rec); err != nil {
		return nil, txerr.New(txerr.Internal, "certificate record %s: %v", fp, err)
	}
	return &rec, nil
}

// TxResult returns the committed result of transaction id.
func (a *App) TxResult(id envelope.ID) (*TxResult, error) {
	pos, err := a.db.Get(append(append([]byte{}, pTxByID...), id[:]...))
	if err != nil {
		return nil, txerr.New(txerr.Internal, "read tx index: %v", err)
	}
	if pos == nil {
		return nil, txerr.New(txerr.NotFound, "no committed transaction %s on this channel", id)
	}
	if len(pos) != 12 {
		return nil, txerr.New(txerr.Internal, "tx index entry for %s is corrupt", id)
	}
	txs, err := a.blockResults(int64(binary.BigEndian.Uint64(pos)))
	if err != nil {
		return nil, err
	}
	i := int(binary.BigEndian.Uint32(pos[8:]))
	if i >= len(txs) || txs[i].ID != id {
		return nil, txerr.New(txerr.Internal, "tx index entry for %s points at the wrong result", id)
	}
	return &txs[i], nil
}

func (a *App) blockResults(height int64) ([]TxResult, error) {
	raw, err := a.db.Get(blockKey(height))
	if err != nil || raw == nil {
		return nil, txerr.New(txerr.Internal, "results of block %d are missing", height)
	}
	var txs []TxResult
	if err := canon.Unmarshal(raw, &txs); err != nil {
		return nil, txerr.New(txerr.Internal, "results of block %d: %v", height, err)
	}
	return txs, nil
}

// Results calls fn with committed transaction results from height on, in
// block order, until fn returns false.
func (a *App) Results(from int64, fn func(*TxResult) bool) error {
	start := blockKey(max(from, 0))
	it, err := a.db.Iterator(start, []byte("x/c"))
	if err != nil {
		return err
	}
	defer it.Close()
	for ; it.Valid(); it.Next() {
		var txs []TxResult
		if err := canon.Unmarshal(it.Value(), &txs); err != nil {
			return txerr.New(txerr.Internal, "tx index: %v", err)
		}
		for i := range txs {
			if !fn(&txs[i]) {
				return nil
			}
		}
	}
	return nil
}
