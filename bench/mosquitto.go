package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// mosquitto measures the baseline: the benchmark's messages published at
// QoS 0 through a Mosquitto broker on loopback to one subscriber, what
// users would otherwise use (no evidence, no durability, no verification).
func (res *DCMBResult) mosquitto(ctx context.Context, o DCMBOptions) error {
	bin := o.Mosquitto
	if bin == "" {
		bin, _ = exec.LookPath("mosquitto")
	}
	if bin == "" {
		bin = "/usr/sbin/mosquitto"
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("mosquitto is not installed (apt-get install -y mosquitto; scripts/test.sh does): %w", err)
	}
	if out, _ := exec.Command(bin, "-h").CombinedOutput(); len(out) > 0 {
		res.MosquittoVersion = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	dir, err := os.MkdirTemp("", "sealnet-bench-mosquitto-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	port, err := freePort()
	if err != nil {
		return err
	}
	// unlimited queues, so that the broker drops nothing it could deliver
	cfg := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\nmax_queued_bytes 0\n", port)
	if os.Geteuid() == 0 {
		cfg += "user root\n"
	}
	conf := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin, "-c", conf)
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	broker := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", broker[len("tcp://"):]); err == nil {
			c.Close()
			break
		}
		if i == 100 {
			return fmt.Errorf("mosquitto did not listen on %s", broker)
		}
		time.Sleep(50 * time.Millisecond)
	}

	var got atomic.Int64
	var lastAt atomic.Int64
	n := int64(o.Messages)
	all := make(chan struct{})
	sub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("bench-sub"))
	if err := wait(sub.Connect()); err != nil {
		return fmt.Errorf("subscriber: %w", err)
	}
	defer sub.Disconnect(0)
	if err := wait(sub.Subscribe("bench/m", 0, func(mqtt.Client, mqtt.Message) {
		lastAt.Store(time.Now().UnixNano())
		if got.Add(1) == n {
			close(all)
		}
	})); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("bench-pub"))
	if err := wait(pub.Connect()); err != nil {
		return fmt.Errorf("publisher: %w", err)
	}
	defer pub.Disconnect(0)
	g := newGenerator(0, 0, o.Size)
	t0 := time.Now()
	for i := range o.Messages {
		tok := pub.Publish("bench/m", 0, false, g.pool[i%len(g.pool)])
		if i%1000 == 999 {
			if err := wait(tok); err != nil {
				return fmt.Errorf("publish: %w", err)
			}
		}
	}
	// wait for the last message, or until nothing arrived for 3 s
	for {
		select {
		case <-all:
		case <-time.After(100 * time.Millisecond):
			idle := time.Since(t0)
			if l := lastAt.Load(); l != 0 {
				idle = time.Since(time.Unix(0, l))
			}
			if idle < 3*time.Second {
				continue
			}
		case <-ctx.Done():
			return ctx.Err()
		}
		break
	}
	if got.Load() == 0 {
		return fmt.Errorf("no message reached the subscriber")
	}
	res.MosquittoLost = int(n - got.Load())
	res.MosquittoMsgsPerS = float64(got.Load()) / time.Unix(0, lastAt.Load()).Sub(t0).Seconds()
	return nil
}

func wait(t mqtt.Token) error {
	if !t.WaitTimeout(10 * time.Second) {
		return fmt.Errorf("no answer within 10 s")
	}
	return t.Error()
}
