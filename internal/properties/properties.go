// Package properties reads the key=value files scepgate shares with the
// reference product: the server's handler.N.* files and the SCEP test
// client's configuration. It is one reader for both, so that a file that
// works for one is read the same way by the other.
package properties

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
)

// Property is one key and value of a file, with the line it starts on.
type Property struct {
	Key, Value string
	Line       int
	// Separated reports whether the line had a '=' or ':' between key and
	// value (or whitespace followed by a value); a bare word has none.
	Separated bool
}

// MaxLine bounds one logical line, continuations included.
const MaxLine = 1 << 20

// Parse reads a Java properties file: "key = value", "key: value" or
// "key value" lines; comment lines starting with '#', '!' or ';' (the
// reference's client files use ';'); backslash continuations; and the
// escapes \t, \n, \r, \f, \uXXXX and a backslash before any other
// character. A leading byte-order mark is skipped. Errors name the line.
func Parse(r io.Reader) ([]Property, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxLine)
	var props []Property
	lineNo := 0
	for sc.Scan() {
		lineNo++
		start := lineNo
		text := sc.Text()
		if lineNo == 1 {
			text = strings.TrimPrefix(text, "\ufeff")
		}
		line := strings.TrimLeftFunc(text, unicode.IsSpace)
		if line == "" || line[0] == '#' || line[0] == '!' || line[0] == ';' {
			continue
		}
		for continues(line) && sc.Scan() {
			lineNo++
			line = line[:len(line)-1] + strings.TrimLeftFunc(sc.Text(), unicode.IsSpace)
			if len(line) > MaxLine {
				return nil, fmt.Errorf("line %d: the value continues for more than %d bytes", start, MaxLine)
			}
		}
		if continues(line) {
			line = line[:len(line)-1]
		}
		p, err := split(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", start, err)
		}
		p.Line = start
		props = append(props, p)
	}
	if err := sc.Err(); err != nil {
		if err == bufio.ErrTooLong {
			return nil, fmt.Errorf("line %d: longer than %d bytes", lineNo+1, MaxLine)
		}
		return nil, err
	}
	return props, nil
}

// continues reports whether line ends in an odd number of backslashes.
func continues(line string) bool {
	n := 0
	for i := len(line) - 1; i >= 0 && line[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

func split(line string) (Property, error) {
	i := 0
	for i < len(line) {
		ch := line[i]
		if ch == '\\' {
			i += 2
			continue
		}
		if ch == '=' || ch == ':' || ch == ' ' || ch == '\t' || ch == '\f' {
			break
		}
		i++
	}
	i = min(i, len(line))
	rawKey, rest := line[:i], line[i:]
	rest = strings.TrimLeft(rest, " \t\f")
	separated := rest != ""
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	key, err := unescape(rawKey)
	if err != nil {
		return Property{}, err
	}
	value, err := unescape(rest)
	if err != nil {
		return Property{}, err
	}
	return Property{Key: key, Value: strings.TrimRightFunc(value, unicode.IsSpace), Separated: separated}, nil
}

func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+5 > len(s) {
				return "", fmt.Errorf("the escape \\%s is cut short: write \\u and four hex digits", s[i:])
			}
			r, err := strconv.ParseUint(s[i+1:i+5], 16, 16)
			if err != nil {
				return "", fmt.Errorf("the escape \\u%s is not \\u and four hex digits", s[i+1:i+5])
			}
			b.WriteRune(rune(r))
			i += 4
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}
