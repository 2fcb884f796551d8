package model

import "testing"

func TestSerialForms(t *testing.T) {
	for _, tc := range []struct{ stored, openssl, colons string }{
		{"4a603d7f", "4A603D7F", "4A:60:3D:7F"},
		{"4a603d7", "04A603D7", "04:A6:03:D7"},
		{"0", "00", "00"},
	} {
		if got := SerialOpenSSL(tc.stored); got != tc.openssl {
			t.Errorf("SerialOpenSSL(%q) = %q, want %q", tc.stored, got, tc.openssl)
		}
		if got := SerialColons(tc.stored); got != tc.colons {
			t.Errorf("SerialColons(%q) = %q, want %q", tc.stored, got, tc.colons)
		}
	}
}
