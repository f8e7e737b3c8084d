package dcmb

import (
	"errors"

	"github.com/sealnet/sealnet/dcmb/source"
)

func newOPCUA(cfg StreamConfig) (source.Source, error) {
	c := cfg.Source
	if c.Endpoint == "" || len(c.Nodes) == 0 {
		return nil, errors.New("an opcua source needs endpoint and nodes")
	}
	return &source.OPCUA{Name: cfg.Name, Endpoint: c.Endpoint, Nodes: c.Nodes, Security: c.Security,
		CertFile: c.CertFile, KeyFile: c.KeyFile}, nil
}
