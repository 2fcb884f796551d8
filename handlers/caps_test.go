package handlers

import (
	"testing"

	"github.com/scepgate/scepgate/model"
)

// TestCaps: GetCACaps lists what the handler's configuration does, and
// nothing it does not.
func TestCaps(t *testing.T) {
	const common = "SHA-1\nSHA-256\nSHA-512\nAES\nDES3\nSCEPStandard\n"
	tests := []struct {
		name    string
		tp      *model.TokenProcedure
		hasNext bool
		want    string
	}{
		{"ok/renews", &model.TokenProcedure{RenewalWindowDays: 30}, false, "POSTPKIOperation\nRenewal\n" + common},
		{"ok/renews, next CA prepared", &model.TokenProcedure{RenewalWindowDays: 1}, true, "POSTPKIOperation\nRenewal\nGetNextCACert\n" + common},
		{"ok/no renewal window", &model.TokenProcedure{RenewalWindowDays: 0}, false, "POSTPKIOperation\n" + common},
		{"ok/no renewal window, next CA prepared", &model.TokenProcedure{}, true, "POSTPKIOperation\nGetNextCACert\n" + common},
		{"ok/no token procedure", nil, false, "POSTPKIOperation\n" + common},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := caps(tt.tp, tt.hasNext); got != tt.want {
				t.Errorf("caps = %q; want %q", got, tt.want)
			}
		})
	}
}
