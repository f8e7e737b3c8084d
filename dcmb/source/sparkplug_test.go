package source

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sealnet/sealnet/internal/syncbuf"
)

// edge runs Eclipse Tahu's JavaScript Sparkplug client as press 7's edge
// node (testdata/sparkplug-edge/edge.js).
type edge struct {
	t     *testing.T
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
}

func startEdge(t *testing.T, broker, user, password string) *edge {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "testdata", "sparkplug-edge")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "sparkplug-client")); err != nil {
		t.Fatalf("sparkplug-client is not installed: run 'npm ci' in %s (scripts/test.sh does)", dir)
	}
	cmd := exec.Command("node", "edge.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BROKER="+broker, "GROUP=Plant1", "EDGE=Press7", "USERNAME="+user, "PASSWORD="+password)
	cmd.Stderr = os.Stderr
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e := &edge{t: t, cmd: cmd, in: in, lines: make(chan string, 100)}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			e.lines <- sc.Text()
		}
		close(e.lines)
	}()
	e.expect("BIRTH")
	return e
}

// expect waits for the edge node to print want, skipping other lines.
func (e *edge) expect(want string) {
	e.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-e.lines:
			if !ok {
				e.t.Fatalf("the edge node ended before printing %s", want)
			}
			if l == want {
				return
			}
			if strings.HasPrefix(l, "ERROR") || strings.HasPrefix(l, "UNKNOWN") {
				e.t.Fatalf("edge node: %s", l)
			}
		case <-deadline:
			e.t.Fatalf("the edge node did not print %s", want)
		}
	}
}

func (e *edge) do(cmd string) {
	e.t.Helper()
	fmt.Fprintln(e.in, cmd)
	e.expect("OK " + strings.Fields(cmd)[0])
}

// next reads messages from out until one satisfies match; the ones
// skipped are returned too.
func next(t *testing.T, out <-chan Message, what string, match func(Message) bool) []Message {
	t.Helper()
	var seen []Message
	deadline := time.After(30 * time.Second)
	for {
		select {
		case m := <-out:
			seen = append(seen, m)
			if match(m) {
				return seen
			}
		case <-deadline:
			t.Fatalf("%s did not arrive; got %+v", what, seen)
		}
	}
}

func value(key, v string) func(Message) bool {
	return func(m Message) bool { return m.Key == key && string(m.Value) == v && m.Dropped == "" }
}

// The Sparkplug source follows an edge node built with Eclipse Tahu's
// JavaScript client through Mosquitto (with user names and passwords):
// births and data map to keys and values by alias; a sequence gap brings a
// rebirth, which the node answers; an alias no birth defined and a payload
// that does not decode are recorded as dropped with their reasons; a host
// that starts after the node's birth records its data as dropped and asks
// for a rebirth; the node's death is logged.
func TestSparkplugAgainstTahu(t *testing.T) {
	dir := t.TempDir()
	passwd := filepath.Join(dir, "passwd")
	for i, up := range [][2]string{{"dcmb", "pl4nt-data"}, {"press-7", "edge"}} {
		args := []string{"-b", passwd, up[0], up[1]}
		if i == 0 {
			args = append([]string{"-c"}, args...)
		}
		if out, err := exec.Command("mosquitto_passwd", args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd: %v %s", err, out)
		}
	}
	port := freePort(t)
	mq := mosquittoWith(t, dir, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous false\npassword_file %s\n", port, passwd), port)
	defer func() { mq.Process.Kill(); mq.Wait() }()

	broker := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// host starts a host application with its own state
	host := func() (*syncbuf.Buffer, <-chan Message, func()) {
		var logs syncbuf.Buffer
		src := &Sparkplug{MQTT: MQTT{Name: "press-7", Broker: broker, ClientID: "sealnet-dcmb-sparkplug",
			Username: "dcmb", Password: Secret{Value: "pl4nt-data"}, Log: slog.New(slog.NewTextHandler(&logs, nil))},
			RebirthEvery: 100 * time.Millisecond}
		hctx, hcancel := context.WithCancel(ctx)
		out := make(chan Message, 1000)
		done := make(chan error, 1)
		go func() { done <- src.Run(hctx, out) }()
		for end := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "sparkplug source connected"); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("the source did not connect:\n%s", logs.String())
			}
		}
		return &logs, out, func() {
			hcancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
	}
	logs, out, stop := host()

	// births, then data by alias
	e := startEdge(t, fmt.Sprintf("mqtt://127.0.0.1:%d", port), "press-7", "edge")
	next(t, out, "the birth's counter", value("Plant1/Press7/WorkpieceCounter", "5290"))
	next(t, out, "the device's birth", value("Plant1/Press7/Hydraulics/Pressure", "180.5"))
	e.do("ndata 5291")
	e.do("ddata 181.25")
	next(t, out, "a counter by its alias", value("Plant1/Press7/WorkpieceCounter", "5291"))
	next(t, out, "a device value by its alias", value("Plant1/Press7/Hydraulics/Pressure", "181.25"))

	// a sequence gap: the data is read, and a rebirth asked for
	e.do("gap 3")
	e.do("ndata 5292")
	next(t, out, "the counter after the gap", value("Plant1/Press7/WorkpieceCounter", "5292"))
	e.expect("REBIRTH")
	next(t, out, "the counter of the rebirth", value("Plant1/Press7/WorkpieceCounter", "5292"))

	// an alias no birth defined, and a payload that does not decode
	e.do("alias 99 7")
	seen := next(t, out, "the drop of an unknown alias", func(m Message) bool { return m.Key == "Plant1/Press7/alias:99" })
	if d := seen[len(seen)-1].Dropped; !strings.Contains(d, "without a birth certificate: Plant1/Press7/alias:99 (alias not in the birth)") {
		t.Fatalf("unknown alias: %+v", seen[len(seen)-1])
	}
	e.do("garbage")
	seen = next(t, out, "the drop of a payload that does not decode", func(m Message) bool { return m.Dropped != "" && m.Key == "spBv1.0/Plant1/NDATA/Press7" })
	if d := seen[len(seen)-1].Dropped; !strings.Contains(d, "payload does not decode") {
		t.Fatalf("garbage: %+v", seen[len(seen)-1])
	}
	e.do("ndata 5293")
	next(t, out, "the counter after the garbage", value("Plant1/Press7/WorkpieceCounter", "5293"))
	for _, want := range []string{"sequence gap: NDATA seq", "Plant1/Press7 born (NBIRTH seq 0, bdSeq 0"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, logs.String())
		}
	}
	stop()

	// a host that starts after the node was born: data without a birth is
	// recorded as dropped, and a rebirth asked for and answered
	time.Sleep(200 * time.Millisecond) // past RebirthEvery
	logs, out, stop = host()
	defer stop()
	e.do("ndata 5294")
	seen = next(t, out, "the drop of data without a birth", func(m Message) bool { return m.Key == "Plant1/Press7/alias:1" })
	if m := seen[len(seen)-1]; !strings.Contains(m.Dropped, "without a birth certificate: Plant1/Press7/alias:1 (no NBIRTH seen)") || len(m.Value) != 0 {
		t.Fatalf("dropped message: %+v", m)
	}
	e.expect("REBIRTH")
	next(t, out, "the rebirth's counter", value("Plant1/Press7/WorkpieceCounter", "5294"))
	next(t, out, "the device's rebirth", value("Plant1/Press7/Hydraulics/Pressure", "181.25"))

	e.do("quit")
	for end := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "Plant1/Press7 died (NDEATH)"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("the death was not logged:\n%s", logs.String())
		}
	}
	if !strings.Contains(logs.String(), "no NBIRTH of Plant1/Press7 was seen; requesting a rebirth") {
		t.Errorf("the rebirth request is not logged:\n%s", logs.String())
	}
}

func TestSparkplugConfigErrors(t *testing.T) {
	s := &Sparkplug{MQTT: MQTT{Broker: "tcp://127.0.0.1:1", ClientID: "c", Topics: []string{"plant/#"}}}
	if err := s.Run(context.Background(), nil); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "spBv1.0/") {
		t.Fatalf("%v", err)
	}
	s.Topics = nil
	if err := s.Validate(); err != nil {
		t.Fatalf("default topics: %v", err)
	}
}
