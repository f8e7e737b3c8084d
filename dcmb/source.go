package dcmb

// This file builds a stream's configured source (dcmb/source).

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/sealnet/sealnet/dcmb/source"
)

func buildSource(cfg StreamConfig, log *slog.Logger) (source.Source, error) {
	c := cfg.Source
	key := c.Key
	if key == "" {
		key = cfg.Name
	}
	switch c.Kind {
	case "mqtt":
		if c.QoS < 0 || c.QoS > 2 {
			return nil, fmt.Errorf("source.qos %d: want 0, 1 or 2", c.QoS)
		}
		id := c.ClientID
		if id == "" {
			id = "sealnet-" + cfg.Name
		}
		return &source.MQTT{Name: cfg.Name, Broker: c.Broker, ClientID: id, Topics: c.Topics, QoS: byte(c.QoS), Log: log}, nil
	case "opcua":
		if c.Endpoint == "" || len(c.Nodes) == 0 {
			return nil, errors.New("an opcua source needs endpoint and nodes")
		}
		return &source.OPCUA{Name: cfg.Name, Endpoint: c.Endpoint, Nodes: c.Nodes, Security: c.Security,
			CertFile: c.CertFile, KeyFile: c.KeyFile, Interval: c.Sampling.Duration, Log: log}, nil
	case "file":
		if c.Path == "" {
			return nil, errors.New("source.path is required for a file source")
		}
		return &source.File{Name: cfg.Name, Key: key, Path: c.Path}, nil
	case "stdin":
		return &source.Lines{Name: cfg.Name, Key: key, Reader: os.Stdin}, nil
	case "http":
		if c.Listen == "" {
			return nil, errors.New("source.listen is required for an http source")
		}
		return &source.HTTP{Name: cfg.Name, Key: key, Listen: c.Listen}, nil
	}
	return nil, fmt.Errorf("source.kind %q unknown", c.Kind)
}
