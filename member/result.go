package member

import (
	"encoding/json"

	"github.com/sealnet/sealnet/apiclient"
)

func decodeResult(r *apiclient.TxResponse, v any) error { return json.Unmarshal(r.Result, v) }
