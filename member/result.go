package member

import (
	"encoding/json"

	"github.com/sealnet/sealnet/api"
)

func decodeResult(r *api.TxResponse, v any) error { return json.Unmarshal(r.Result, v) }
