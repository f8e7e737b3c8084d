package dcmb

// This file builds a stream's configured source (dcmb/source).

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/sealnet/sealnet/dcmb/source"
)

func buildSource(cfg StreamConfig, dir string, log *slog.Logger) (source.Source, error) {
	c := cfg.Source
	key := c.Key
	if key == "" {
		key = cfg.Name
	}
	if src, err := c.protocolSource(cfg.Name, dir, log); src != nil || err != nil {
		return src, err
	}
	switch c.Kind {
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
