package apiclient

import (
	"encoding/json"

	"github.com/sealnet/sealnet/contract"
)

// SubmitRequest carries a signed envelope.
type SubmitRequest struct {
	Tx []byte `json:"tx"` // envelope bytes (base64 in JSON)
}

// TxResponse is a committed transaction's outcome.
type TxResponse struct {
	TxID     string           `json:"tx_id"`
	Height   int64            `json:"height"`
	Index    int              `json:"index"`
	Time     string           `json:"time"`
	Code     uint32           `json:"code"`
	CodeName string           `json:"code_name"`
	Error    string           `json:"error,omitempty"`
	Result   json.RawMessage  `json:"result,omitempty"`
	Events   []contract.Event `json:"events,omitempty"`
	Envelope *EnvelopeView    `json:"envelope,omitempty"`
}

// EnvelopeView is a signed envelope and its decoded content.
type EnvelopeView struct {
	Raw       []byte          `json:"raw"`
	Signature string          `json:"signature"`
	Channel   string          `json:"channel"`
	Contract  string          `json:"contract"`
	Method    string          `json:"method"`
	Args      json.RawMessage `json:"args"`
	Creator   string          `json:"creator"`
	CreatorID string          `json:"creator_id,omitempty"`
	Nonce     uint64          `json:"nonce"`
	Timestamp string          `json:"timestamp"`
	Verified  bool            `json:"signature_verified"`
}

// ErrorResponse is every non-2xx answer.
type ErrorResponse struct {
	Code     uint32 `json:"code"`
	CodeName string `json:"code_name"`
	Error    string `json:"error"`
	TxID     string `json:"tx_id,omitempty"`
	Height   int64  `json:"height,omitempty"`
}

// QueryRequest carries canonical CBOR arguments for a read-only query.
type QueryRequest struct {
	Args []byte `json:"args"`
}

// ChannelInfo describes a hosted channel.
type ChannelInfo struct {
	Name       string `json:"name"`
	Height     int64  `json:"height"`
	AppHash    string `json:"app_hash"`
	BlockHash  string `json:"block_hash,omitempty"`
	Peers      int    `json:"peers"`
	Validators int    `json:"validators"`
	NodeID     string `json:"p2p_node_id"`
	P2PListen  string `json:"p2p_listen"`
	Tau        int    `json:"tau_seconds"`
}

// Status is the node's status.
type Status struct {
	Org         string        `json:"org"`
	NodeID      string        `json:"node_member_id"`
	Fingerprint string        `json:"node_fingerprint"`
	Version     string        `json:"version"`
	Channels    []ChannelInfo `json:"channels"`
	// P2P is the node's libp2p host (absent without p2p.listen): what a
	// Kubo or Helia node dials, /p2p/<peer ID> appended to an address.
	P2P *P2PInfo `json:"p2p,omitempty"`
}

// P2PInfo is a node's libp2p identity and addresses.
type P2PInfo struct {
	PeerID string `json:"peer_id"`
	// KeyType is ed25519 (reachable by every libp2p implementation) or
	// p256 (a home made before libp2p keys: Go peers and Kubo only).
	KeyType string   `json:"key_type"`
	Addrs   []string `json:"addrs"` // multiaddrs ending in /p2p/<peer ID>
}

// ChannelRequest creates (Genesis empty) or joins (Genesis set) a channel.
type ChannelRequest struct {
	Name      string          `json:"name,omitempty"`
	Genesis   json.RawMessage `json:"genesis,omitempty"`
	P2PListen string          `json:"p2p_listen"`
	Peers     string          `json:"peers,omitempty"`
}

// ChannelResponse answers a ChannelRequest.
type ChannelResponse struct {
	Name    string          `json:"name"`
	NodeID  string          `json:"p2p_node_id"`
	Genesis json.RawMessage `json:"genesis"`
}

// BlockResponse summarises a committed block.
type BlockResponse struct {
	Height          int64    `json:"height"`
	Hash            string   `json:"hash"`
	Time            string   `json:"time"`
	ChainID         string   `json:"chain_id"`
	Proposer        string   `json:"proposer"`
	AppHash         string   `json:"app_hash"`
	DataHash        string   `json:"data_hash"`
	LastBlockID     string   `json:"last_block_id"`
	LastCommitSigs  int      `json:"last_commit_signatures"`
	TxIDs           []string `json:"tx_ids"`
	ValidatorsHash  string   `json:"validators_hash"`
	LastResultsHash string   `json:"last_results_hash"`
}

// EventMessage is one item of the event stream.
type EventMessage struct {
	Channel string         `json:"channel"`
	Height  int64          `json:"height"`
	TxID    string         `json:"tx_id"`
	Time    string         `json:"time"`
	Event   contract.Event `json:"event"`
}

// StoreResponse answers an upload.
type StoreResponse struct {
	CID   string `json:"cid"`
	Bytes int64  `json:"bytes"`
}

// DataKeyRequest hands an object's data key to the org's custodian node.
type DataKeyRequest struct {
	CID string `json:"cid"`
	Key []byte `json:"key"`
}

// KeyRequest is a sealed key request to relay to a custodian.
type KeyRequest struct {
	Custodian string `json:"custodian"` // certificate fingerprint
	Sealed    []byte `json:"sealed"`
}

// KeyAnswer is the custodian's sealed answer.
type KeyAnswer struct {
	Sealed []byte `json:"sealed"`
}

// Decision approves or denies a pending key request.
type Decision struct {
	Approve bool `json:"approve"`
}

// PendingRequest is a key request waiting for the owner's decision.
type PendingRequest struct {
	ID        string `json:"id"` // request hash
	Channel   string `json:"channel"`
	TXNumber  string `json:"tx_number"`
	CID       string `json:"cid"`
	Requester string `json:"requester"` // id@org
	RequestFP string `json:"requester_fingerprint"`
	Time      string `json:"time"` // when the requester signed it, RFC 3339, UTC
}

// Readiness is the answer of /readyz on the operations listener: each
// check with what it found.
type Readiness struct {
	Ready  bool              `json:"ready"`
	Checks map[string]string `json:"checks"` // check name -> "ok" or what is wrong
}
