package views

import "testing"

func TestAuditDetail(t *testing.T) {
	names := map[int64]string{2: "Device", 3: "Router"}
	for _, tc := range []struct{ name, in, want string }{
		{"ok/procedure ids", "storage PKCS10, certificate procedures [2 3]", `storage PKCS10, certificate procedures "Device", "Router"`},
		{"ok/one id", "certificate procedures [2]", `certificate procedure "Device"`},
		{"ok/unknown id", "certificate procedures [9]", "certificate procedure #9"},
		{"ok/reason", "reason 1", "reason key compromise"},
		{"ok/reason hold", "reason 6", "reason certificate hold"},
		{"ok/other text", "renews 4a6, subject \"CN=x\"", "renews 4a6, subject \"CN=x\""},
	} {
		if got := AuditDetail(tc.in, names); got != tc.want {
			t.Errorf("%s: AuditDetail(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}
