package daemon

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/sealnet/sealnet/node"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func home(t *testing.T) node.Home {
	t.Helper()
	h := node.Home(t.TempDir())
	cfg, err := node.Init(h, "org1")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Channels[0].P2PListen = "tcp://" + l.Addr().String()
	l.Close()
	cfg.P2P.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.API.Listen, cfg.API.OpsListen = "127.0.0.1:0", "127.0.0.1:0"
	if err := h.SaveConfig(cfg); err != nil {
		t.Fatal(err)
	}
	return h
}

// A node comes up whole, and after Close, or after a start that failed
// halfway, its home opens again: every part let go of what it held.
func TestStartCloseAndRestart(t *testing.T) {
	h := home(t)
	d, err := Start(h, Options{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if d.P2P == nil || d.Store == nil || d.Custodian == nil || d.Node.Share() != d.P2P || d.DCMB != nil {
		t.Fatalf("parts: %+v", d)
	}
	resp, err := http.Get("http://" + d.OpsAddr() + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg, _ := h.LoadConfig()
	cfg.API.Listen = busy.Addr().String()
	h.SaveConfig(cfg)
	if _, err := Start(h, Options{Log: quiet()}); err == nil || !strings.Contains(err.Error(), "api listen") {
		t.Fatalf("start on a busy port: %v", err)
	}
	cfg.API.Listen = "127.0.0.1:0"
	h.SaveConfig(cfg)
	d, err = Start(h, Options{Log: quiet()})
	if err != nil {
		t.Fatalf("restart after a failed start: %v", err)
	}
	d.Close()
}

// A second node on a running node's home is refused with the first one's
// PID before it touches anything, and the first one goes on.
func TestHomeInUse(t *testing.T) {
	h := home(t)
	d, err := Start(h, Options{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	_, err = Start(h, Options{Log: quiet()})
	var inUse *node.HomeInUseError
	if !errors.As(err, &inUse) || inUse.PID != os.Getpid() {
		t.Fatalf("second start: %v", err)
	}
	resp, err := http.Get("http://" + d.OpsAddr() + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("first node after the refused start: %v %v", resp, err)
	}
	resp.Body.Close()
}
