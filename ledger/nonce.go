package ledger

import (
	"encoding/binary"
	"time"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/identity"
)

// Replay protection. A creator's nonce is spent when its transaction is
// authenticated in a block, and stays spent while a transaction carrying it
// could still pass the timestamp check. A transaction included at block
// time B has a timestamp within tau of B, so it passes no check after
// B + 2 tau: each block records the nonces it spent under its block time,
// and the block that reaches B + 2 tau forgets them. One record per block
// rather than one expiry key per transaction halves the writes.

const nonceEntry = 32 + 8 // fingerprint || nonce

func nonceKey(fp identity.Fingerprint, nonce uint64) []byte {
	k := make([]byte, 0, len(pNonce)+nonceEntry)
	k = append(append(k, pNonce...), fp[:]...)
	return binary.BigEndian.AppendUint64(k, nonce)
}

// spendNonce marks a nonce used in the block being executed.
func (a *App) spendNonce(fp identity.Fingerprint, nonce uint64) {
	k := nonceKey(fp, nonce)
	a.block.Set(k, []byte{1})
	a.spent = append(a.spent, k[len(pNonce):]...)
}

// closeNonces records the block's spent nonces and forgets those of blocks
// older than 2 tau.
func (a *App) closeNonces(height int64, blockTime time.Time, tau time.Duration) error {
	if len(a.spent) > 0 {
		k := binary.BigEndian.AppendUint64(append([]byte{}, pNonceExp...), uint64(blockTime.UnixNano()))
		k = binary.BigEndian.AppendUint64(k, uint64(height))
		a.block.Set(k, canon.MustMarshal(a.spent))
		a.spent = a.spent[:0]
	}
	cut := uint64(blockTime.Add(-2 * tau).UnixNano())
	it, err := a.block.Iterator(pNonceExp)
	if err != nil {
		return err
	}
	defer it.Close()
	var expired [][]byte
	for ; it.Valid(); it.Next() {
		k := it.Key()
		if len(k) != len(pNonceExp)+16 || binary.BigEndian.Uint64(k[len(pNonceExp):]) >= cut {
			break
		}
		var spent []byte
		if err := canon.Unmarshal(it.Value(), &spent); err != nil {
			return err
		}
		for e := 0; e+nonceEntry <= len(spent); e += nonceEntry {
			expired = append(expired, append(append([]byte{}, pNonce...), spent[e:e+nonceEntry]...))
		}
		expired = append(expired, append([]byte{}, k...))
	}
	for _, k := range expired {
		a.block.Delete(k)
	}
	return nil
}
