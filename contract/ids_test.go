package contract

import (
	"strings"
	"testing"

	"github.com/sealnet/sealnet/identity"
)

func TestIdentifiersAreCanonical(t *testing.T) {
	lower := strings.Repeat("0a", 32)
	for _, in := range []string{lower, strings.ToUpper(lower), "0A" + lower[2:]} {
		fp, err := ParseFingerprint(in)
		if err != nil || string(fp) != lower {
			t.Errorf("ParseFingerprint(%q) = %q, %v", in, fp, err)
		}
		tx, err := ParseTxID(in)
		if err != nil || string(tx) != lower {
			t.Errorf("ParseTxID(%q) = %q, %v", in, tx, err)
		}
		h, err := ParseHash(in)
		if err != nil || string(h) != lower {
			t.Errorf("ParseHash(%q) = %q, %v", in, h, err)
		}
	}
	for _, bad := range []string{"", lower[:63], lower + "0", lower[:62] + "0g", lower[:62] + " 0", "0x" + lower[2:], lower[:63] + "\x00"} {
		if _, err := ParseFingerprint(bad); err == nil {
			t.Errorf("ParseFingerprint(%q) accepted", bad)
		}
		if _, err := ParseTxID(bad); err == nil {
			t.Errorf("ParseTxID(%q) accepted", bad)
		}
		if _, err := ParseHash(bad); err == nil {
			t.Errorf("ParseHash(%q) accepted", bad)
		}
	}
	var raw identity.Fingerprint
	for i := range raw {
		raw[i] = byte(i * 7)
	}
	fp := FingerprintOf(raw)
	if fp.Identity() != raw || fp.String() != raw.String() {
		t.Errorf("fingerprint %s does not round-trip", fp)
	}
	if TxIDOf(raw).Bytes() != [32]byte(raw) || HashOf(raw).Bytes() != [32]byte(raw) {
		t.Error("tx ID or hash does not round-trip")
	}
	if up, _ := ParseFingerprint(strings.ToUpper(fp.String())); up != fp {
		t.Errorf("upper-case %s parsed to %s", fp, up)
	}
}
