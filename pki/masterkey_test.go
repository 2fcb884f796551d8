package pki

import "testing"

func TestKeyedHash(t *testing.T) {
	mk, err := NewMasterKey("0123456789abcdef0123456789abcdef-one")
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewMasterKey("0123456789abcdef0123456789abcdef-two")
	if err != nil {
		t.Fatal(err)
	}
	h := mk.KeyedHash("attempts", "alice")
	for _, c := range []struct {
		name string
		got  string
		same bool
	}{
		{"ok/stable", mk.KeyedHash("attempts", "alice"), true},
		{"ok/another value", mk.KeyedHash("attempts", "bob"), false},
		{"ok/another purpose", mk.KeyedHash("audit", "alice"), false},
		{"ok/another master key", other.KeyedHash("attempts", "alice"), false},
		{"ok/not the challenge hash", mk.ChallengeHash("alice"), false},
	} {
		if (c.got == h) != c.same {
			t.Errorf("%s: %s vs %s, want same=%v", c.name, c.got, h, c.same)
		}
	}
	if len(h) != 64 {
		t.Errorf("hash %q has %d hex digits, want 64", h, len(h))
	}
}
