package ledger

import (
	"context"
	"encoding/binary"
	"strings"

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
	case strings.HasPrefix(req.Path, "/p2p/filter/id/"):
		id := strings.TrimPrefix(req.Path, "/p2p/filter/id/")
		ok, err := a.reg.PeerAllowed(statedb.View{Layer: a.committed, Prefix: contractPrefix(registry.Name)}, id)
		if err != nil {
			return &abci.ResponseQuery{Code: uint32(txerr.Internal), Log: err.Error()}, nil
		}
		if !ok {
			a.log.Warn("refused a peer not allowed on the channel", "node_id", id)
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
	m, _, err := a.reg.Resolve(statedb.View{Layer: a.committed, Prefix: contractPrefix(registry.Name)}, fp)
	return m, err
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
	raw, err := a.db.Get(append(append([]byte{}, pTxByPos...), pos...))
	if err != nil || raw == nil {
		return nil, txerr.New(txerr.Internal, "tx index entry for %s is missing", id)
	}
	var r TxResult
	if err := canon.Unmarshal(raw, &r); err != nil {
		return nil, txerr.New(txerr.Internal, "tx index entry for %s: %v", id, err)
	}
	return &r, nil
}

// Results calls fn with committed transaction results from height on, in
// block order, until fn returns false.
func (a *App) Results(from int64, fn func(*TxResult) bool) error {
	start := binary.BigEndian.AppendUint64(append([]byte{}, pTxByPos...), uint64(max(from, 0)))
	it, err := a.db.Iterator(start, []byte("x/c"))
	if err != nil {
		return err
	}
	defer it.Close()
	for ; it.Valid(); it.Next() {
		var r TxResult
		if err := canon.Unmarshal(it.Value(), &r); err != nil {
			return txerr.New(txerr.Internal, "tx index: %v", err)
		}
		if !fn(&r) {
			return nil
		}
	}
	return nil
}
