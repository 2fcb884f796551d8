package properties

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	p := func(k, v string, line int) Property { return Property{Key: k, Value: v, Line: line, Separated: true} }
	tests := []struct {
		name string
		in   string
		want []Property
	}{
		{"ok/equals", "a.b = c d \n", []Property{p("a.b", "c d", 1)}},
		{"ok/colon and space separators", "a: 1\nb 2\n", []Property{p("a", "1", 1), p("b", "2", 2)}},
		{"ok/comments and blank lines", "# x = y\n! z\n; p10.subject = a\n\n   \nk=v", []Property{p("k", "v", 6)}},
		{"ok/continuation", "k = one \\\n    two\nnext = 3", []Property{p("k", "one two", 1), p("next", "3", 3)}},
		{"ok/escaped backslash is no continuation", "k = c:\\\\\nn = 1", []Property{p("k", `c:\`, 1), p("n", "1", 2)}},
		{"ok/escapes", `k\ ey = a\tb\u00e9\=`, []Property{p("k ey", "a\tbé=", 1)}},
		{"ok/empty value", "handler.1.filter =\n", []Property{p("handler.1.filter", "", 1)}},
		{"ok/value with equals signs", "p10.subject = cn={0} SEG,o=Company", []Property{p("p10.subject", "cn={0} SEG,o=Company", 1)}},
		{"ok/byte-order mark", "\ufeffworkdir = temp", []Property{p("workdir", "temp", 1)}},
		{"ok/bare word", "lonely\n", []Property{{Key: "lonely", Line: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v; want %+v", got, tt.want)
			}
		})
	}
	for _, bad := range []string{`k = \u12`, "a = 1\nk = \\uZZZZ"} {
		if _, err := Parse(strings.NewReader(bad)); err == nil {
			t.Errorf("fail/%q parsed; want an error", bad)
		} else if !strings.Contains(err.Error(), "line ") {
			t.Errorf("fail/%q: error %q does not name the line", bad, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("handler.3.filter = ndeschallenge/\nhandler.3.format = scep-ndes\n")
	f.Add("p10.subject = cn={0} SEG,o=Company\n; comment\nk = a\\\n b")
	f.Add(`k\ ey = a\tb\u00e9\=`)
	f.Fuzz(func(t *testing.T, in string) {
		props, err := Parse(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, p := range props {
			if p.Line < 1 {
				t.Fatalf("property %+v has no line", p)
			}
		}
	})
}
