package demo

import "encoding/json"

func decode(raw json.RawMessage, v any) error { return json.Unmarshal(raw, v) }
