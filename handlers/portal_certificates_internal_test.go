package handlers

import "testing"

func TestSearchText(t *testing.T) {
	for _, tc := range []struct{ name, q, want string }{
		{"ok/openssl form", "04A603D7F1", "4a603d7f1"},
		{"ok/colons", "04:a6:03:d7", "4a603d7"},
		{"ok/spaced bytes", "04 A6 03 D7", "4a603d7"},
		{"ok/stored form", "4a603d7f", "4a603d7f"},
		{"ok/short text stays", "cafe", "cafe"},
		{"ok/name stays", "printer1", "printer1"},
		{"ok/words stay", "web server", "web server"},
		{"ok/hyphenated stays", "dead-beef-cafe", "dead-beef-cafe"},
	} {
		if got := searchText(tc.q); got != tc.want {
			t.Errorf("%s: searchText(%q) = %q, want %q", tc.name, tc.q, got, tc.want)
		}
	}
}
