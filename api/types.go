// Package api is the node's one HTTP+JSON interface and its Go client. The
// CLI and any other front end use the client; nothing reaches a node
// another way. openapi.json (served at /openapi.json) documents it.
package api

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
