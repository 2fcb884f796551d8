package cms

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

func TestNormalizeBER(t *testing.T) {
	tests := []struct {
		name string
		in   string // hex, spaces ignored
		want string // hex; empty means an error is expected
	}{
		{"ok/der-unchanged", "30 06 02 01 05 04 01 aa", "30 06 02 01 05 04 01 aa"},
		{"ok/empty-sequence", "30 00", "30 00"},
		{"ok/indefinite-sequence", "30 80 02 01 05 00 00", "30 03 02 01 05"},
		{"ok/nested-indefinite", "30 80 30 80 05 00 00 00 00 00", "30 04 30 02 05 00"},
		{"ok/constructed-octet-string", "24 80 04 02 01 02 04 01 03 00 00", "04 03 01 02 03"},
		{"ok/constructed-octet-string-definite", "24 07 04 02 01 02 04 01 03", "04 03 01 02 03"},
		{"ok/nested-constructed-octet-string", "24 80 24 80 04 01 01 00 00 04 01 02 00 00", "04 02 01 02"},
		{"ok/empty-constructed-octet-string", "24 80 00 00", "04 00"},
		{"ok/constructed-context-0", "a0 80 04 02 01 02 24 80 04 01 03 00 00 00 00", "a0 07 04 02 01 02 04 01 03"},
		{"ok/non-minimal-long-length", "04 84 00 00 00 02 aa bb", "04 02 aa bb"},
		{"ok/long-form-short-value", "04 81 01 aa", "04 01 aa"},
		{"ok/high-tag-number", "9f 21 01 aa", "9f 21 01 aa"},
		{"ok/high-tag-number-two-bytes", "bf 81 00 80 02 01 01 00 00", "bf 81 00 03 02 01 01"},
		{"ok/long-content", "04 81 80 " + strings.Repeat("ab", 128), "04 81 80 " + strings.Repeat("ab", 128)},
		{"fail/empty", "", ""},
		{"fail/one-byte", "30", ""},
		{"fail/truncated-content", "04 05 01 02", ""},
		{"fail/truncated-long-length", "04 82 01", ""},
		{"fail/length-exceeds-input", "04 84 7f ff ff ff 00", ""},
		{"fail/huge-length", "04 88 ff ff ff ff ff ff ff ff 00", ""},
		{"fail/reserved-length", "04 ff 00", ""},
		{"fail/indefinite-primitive", "04 80 01 00 00", ""},
		{"fail/missing-eoc", "30 80 02 01 05", ""},
		{"fail/eoc-in-definite", "30 02 00 00", ""},
		{"fail/bare-eoc", "00 00", ""},
		{"fail/trailing-data", "05 00 00", ""},
		{"fail/octet-string-segment-wrong-type", "24 80 02 01 01 00 00", ""},
		{"fail/truncated-high-tag", "1f 81", ""},
		{"fail/non-minimal-high-tag", "1f 80 01 00", ""},
		{"fail/high-tag-below-31", "1f 05 00", ""},
		{"fail/high-tag-too-large", "1f ff ff ff ff ff 7f 00", ""},
		{"fail/child-overruns-parent", "30 03 04 05 01 02 03 04 05", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := mustHex(t, tc.in)
			got, err := normalizeBER(in)
			if tc.want == "" {
				if err == nil {
					t.Errorf("normalizeBER(%x): got %x, nil error; want an error", in, got)
				}
				return
			}
			want := mustHex(t, tc.want)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("normalizeBER(%x): got %x, %v; want %x, nil", in, got, err, want)
			}
		})
	}
}

func TestNormalizeBERDepth(t *testing.T) {
	nested := func(depth int) []byte {
		return append(bytes.Repeat([]byte{0x30, 0x80}, depth), bytes.Repeat([]byte{0, 0}, depth)...)
	}
	// maxBERDepth+1 levels (depths 0..maxBERDepth) are accepted.
	if _, err := normalizeBER(nested(maxBERDepth + 1)); err != nil {
		t.Errorf("ok/depth-%d: got error %v, want nil", maxBERDepth+1, err)
	}
	for _, depth := range []int{maxBERDepth + 2, 1000, 100000} {
		if got, err := normalizeBER(nested(depth)); err == nil {
			t.Errorf("fail/depth-%d: got %d bytes, nil error; want an error", depth, len(got))
		}
	}
}

// TestToBER checks the test helper that turns DER into streaming-style BER,
// so that the BER round trips elsewhere test what they claim.
func TestToBER(t *testing.T) {
	der := mustHex(t, "30 0d 06 03 2a 03 04 a0 04 04 02 01 02 80 00")
	ber := toBER(t, der, 1, false)
	want := "3080" + "06032a0304" + "a080" + "2480" + "040101" + "040102" + "0000" + "0000" + "8000" + "0000"
	if got := hex.EncodeToString(ber); got != want {
		t.Errorf("toBER: got %s, want %s", got, want)
	}
	if back, err := normalizeBER(ber); err != nil || !bytes.Equal(back, der) {
		t.Errorf("normalizeBER(toBER(der)): got %x, %v; want %x, nil", back, err, der)
	}
}
