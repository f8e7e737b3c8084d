package source

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// mosquitto starts a real Mosquitto broker (Debian's package; the test
// script installs it) on a free loopback port, with persistence so that a
// restart keeps queued QoS 1 messages.
func mosquitto(t *testing.T, port int, dir string) *exec.Cmd {
	t.Helper()
	return mosquittoWith(t, dir, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n", port), port)
}

// mosquittoWith starts Mosquitto with the listeners and settings in
// listeners; it waits until port accepts connections.
func mosquittoWith(t *testing.T, dir, listeners string, port int) *exec.Cmd {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		bin = "/usr/sbin/mosquitto"
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("mosquitto is not installed (scripts/test.sh installs it): %v", err)
	}
	conf := filepath.Join(dir, "mosquitto.conf")
	cfg := listeners + fmt.Sprintf("persistence true\npersistence_location %s/\n", dir)
	if os.Geteuid() == 0 {
		cfg += "user root\n" // else it drops to user mosquitto, who cannot write the test's private directory
	}
	os.WriteFile(conf, []byte(cfg), 0o600)
	cmd := exec.Command(bin, "-c", conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return cmd
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("mosquitto did not start")
	return nil
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func publisher(t *testing.T, broker string) mqtt.Client {
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("machine-7"))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher connect: %v", tok.Error())
	}
	return c
}

func TestMQTTSourceSurvivesBrokerRestart(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	broker := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	mq := mosquitto(t, port, dir)
	defer func() { mq.Process.Kill(); mq.Wait() }()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out := make(chan Message, 1000)
	src := &MQTT{Name: "press", Broker: broker, ClientID: "sealnet-dcmb-test", Topics: []string{"plant/press-7/#"}, QoS: 1,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	go src.Run(ctx, out)
	recv := func(n int) []Message {
		var got []Message
		for len(got) < n {
			select {
			case m := <-out:
				got = append(got, m)
			case <-ctx.Done():
				t.Fatalf("received %d of %d messages", len(got), n)
			}
		}
		return got
	}
	// wait until subscribed: publish probes until one arrives
	pub := publisher(t, broker)
	for {
		pub.Publish("plant/press-7/probe", 1, false, "probe").WaitTimeout(time.Second)
		select {
		case <-out:
		case <-time.After(200 * time.Millisecond):
			continue
		}
		break
	}
	for i := range 100 {
		pub.Publish("plant/press-7/counter", 1, false, fmt.Sprint(5300+i)).Wait()
	}
	got := recv(100)
	for i, m := range got {
		if string(m.Value) != fmt.Sprint(5300+i) || m.Key != "plant/press-7/counter" || m.Source != "press" {
			t.Fatalf("message %d: %s=%s", i, m.Key, m.Value)
		}
	}
	pub.Disconnect(100)

	// the broker goes away and comes back; messages published meanwhile
	// are kept for the source's session and arrive after it reconnects
	mq.Process.Signal(os.Interrupt)
	mq.Wait()
	mq = mosquitto(t, port, dir)
	pub = publisher(t, broker)
	defer pub.Disconnect(100)
	for i := range 20 {
		pub.Publish("plant/press-7/counter", 1, false, fmt.Sprint(6000+i)).Wait()
	}
	// QoS 1 is at least once: a message the source had not acknowledged
	// before the restart may come again; all new ones arrive, in order
	next := 6000
	for next < 6020 {
		m := recv(1)[0]
		var v int
		fmt.Sscan(string(m.Value), &v)
		switch {
		case v < 6000:
			continue // a redelivery from before the restart
		case v != next:
			t.Fatalf("after restart: got %d, want %d", v, next)
		}
		next++
	}
}
