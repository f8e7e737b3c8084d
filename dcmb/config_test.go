package dcmb

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The documented example configurations load.
func TestExampleConfigs(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "docs", "examples", "dcmb-*.toml"))
	if len(files) < 3 {
		t.Fatalf("examples: %v", files)
	}
	for _, name := range files {
		if _, err := LoadConfig(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct{ toml, want string }{
		{``, "no [[stream]] to send and no [[receive]]"},
		{"[[stream]]\nname = \"s\"\n[stream.source]\nkind = \"stdin\"", "receiver (an org) is required"},
		{"[[stream]]\nname = \"s\"\nreceiver = \"o\"\ninterval = \"1ms\"\n[stream.source]\nkind = \"stdin\"", "below 10ms"},
		{"[[stream]]\nname = \"s\"\nreceiver = \"o\"\nmode = \"paper\"\ndeliver = \"hashes\"\n[stream.source]\nkind = \"stdin\"", "needs deliver = values"},
		{"[[stream]]\nname = \"s\"\nreceiver = \"o\"\n[stream.source]\nkind = \"modbus\"", `source.kind "modbus"`},
		{"[[stream]]\nname = \"s\"\nreceiver = \"o\"\nspool_bytes = 10\n[stream.source]\nkind = \"stdin\"", "at least 64 KiB"},
		{"[[stream]]\nname = \"s\"\nreceiver = \"o\"\n[stream.source]\nkind = \"stdin\"\n[[stream.rule]]\nlabel = \"x\"", "needs label, condition and label_salt"},
		{"[[receive]]\nstream = \"s\"", "needs stream and from"},
		{"[[stream]]\nname = \"s\"\nreceiver = \"o\"\n[stream.source]\nkind = \"opcua\"\nendpoint = \"opc.tcp://m:4840\"\nnodes = [\"ns=1;s=A\"]\npolicy = \"Basic256\"", "policy Basic256 is deprecated"},
		{"[[stream]]\nname = \"s\"\nreceiver = \"o\"\n[stream.source]\nkind = \"opcua\"\nendpoint = \"opc.tcp://m:4840\"\nnodes = [\"ns=1;s=A\"]\nusername = \"op\"\npassword = \"x\"\npassword_file = \"f\"", "one of password, password_file and password_env"},
		{"[[stream]]\nname = \"s\"\nreceiver = \"o\"\n[stream.source]\nkind = \"opcua\"\nendpoint = \"opc.tcp://m:4840\"\nnodes = [\"ns=1;s=A\"]\nsecurity = \"None\"\nusername = \"op\"\npassword_env = \"P\"", "credentials over security None"},
		{"[[stream]]\nname = \"s\"\nreceiver = \"o\"\n[stream.source]\nkind = \"mqtt\"\nbroker = \"tcp://b:1883\"\ntopics = [\"#\"]\nca_file = \"ca.pem\"", "write the broker as ssl://"},
		{"[[stream]]\nname = \"s\"\nreceiver = \"o\"\n[stream.source]\nkind = \"sparkplug\"\nbroker = \"tcp://b:1883\"\ntopics = [\"plant/#\"]", "subscribes under spBv1.0/"},
		{"[[receive]]\nstream = \"s\"\nfrom = \"o\"\ntypo = 1", "unknown setting receive.typo"},
		{"[[stream]]\nname = \"s\"\nreceiver = \"o\"\n[stream.source]\nkind = \"stdin\"\n[stream.module]\npurpose = \"maintenance\"", "module: file (the .wasm) is required"},
		{"[[stream]]\nname = \"s\"\nreceiver = \"o\"\n[stream.source]\nkind = \"stdin\"\n[stream.module]\nfile = \"m.wasm\"\npurpose = \"Maint enance\"", "module purpose"},
		{"[[stream]]\nname = \"s\"\nreceiver = \"o\"\n[stream.source]\nkind = \"stdin\"\n[stream.module]\nfile = \"m.wasm\"\npurpose = \"m\"\nhash = \"12\"", "want 64 hex digits"},
		{"[[stream]]\nname = \"s\"\nreceiver = \"o\"\n[stream.source]\nkind = \"stdin\"\n[stream.module]\nfile = \"m.wasm\"\npurpose = \"m\"\n[[stream.module.label]]\noutput = \"m\"", "label 1 needs output, condition and label_salt"},
		{"[[stream]]\nname = \"s\"\nreceiver = \"o\"\n[stream.source]\nkind = \"stdin\"\n[[stream.rule]]\nlabel = \"x\"\ncondition = \"c\"\nlabel_salt = \"s\"\nabove = 1\n[stream.module]\nfile = \"m.wasm\"\npurpose = \"m\"", "takes its labels from the module"},
	} {
		p := filepath.Join(t.TempDir(), "dcmb.toml")
		os.WriteFile(p, []byte(c.toml), 0o600)
		_, err := LoadConfig(p)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error about %s", c.toml, err, c.want)
		}
	}
}
