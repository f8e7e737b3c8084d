package dcmb

import (
	"errors"

	"github.com/sealnet/sealnet/dcmb/source"
)

func newOPCUA(cfg StreamConfig) (source.Source, error) { return nil, errors.New("opcua pending") }
