package model

import (
	"testing"
	"time"
)

func TestParseISODuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"PT15M", 15 * time.Minute, true},
		{"PT1H", time.Hour, true},
		{"P1D", 24 * time.Hour, true},
		{"P1DT12H", 36 * time.Hour, true},
		{"pt90s", 90 * time.Second, true},
		{"P2W", 14 * 24 * time.Hour, true},
		{"PT1H30M", 90 * time.Minute, true},
		{"15M", 0, false},
		{"P", 0, false},
		{"PT", 0, false},
		{"P1M", 0, false}, // months vary in length
		{"PT0S", 0, false},
		{"PTXM", 0, false},
		{"P1DT", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		name := "ok/" + tt.in
		if !tt.ok {
			name = "fail/" + tt.in
		}
		t.Run(name, func(t *testing.T) {
			got, err := ParseISODuration(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("ParseISODuration(%q) = %v, %v; want %v (ok=%v)", tt.in, got, err, tt.want, tt.ok)
			}
			if err != nil && ErrorCode(err) != EINVALID {
				t.Errorf("error code %q; want %q", ErrorCode(err), EINVALID)
			}
		})
	}
}
