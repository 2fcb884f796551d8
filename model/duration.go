package model

import (
	"strconv"
	"strings"
	"time"
)

// ParseISODuration parses an ISO-8601 duration such as PT15M, PT1H, P1D or
// P1DT12H. Years and months are refused since their length varies.
func ParseISODuration(s string) (time.Duration, error) {
	bad := Errorf(EINVALID, "%q is not an ISO-8601 duration such as PT15M, PT1H or P1D.", s)
	rest, ok := strings.CutPrefix(strings.ToUpper(strings.TrimSpace(s)), "P")
	if !ok || rest == "" {
		return 0, bad
	}
	var d time.Duration
	inTime, seen := false, false
	for rest != "" {
		if rest[0] == 'T' {
			if inTime {
				return 0, bad
			}
			inTime, rest = true, rest[1:]
			if rest == "" {
				return 0, bad
			}
			continue
		}
		i := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
		if i <= 0 {
			return 0, bad
		}
		n, err := strconv.ParseInt(rest[:i], 10, 32)
		if err != nil {
			return 0, bad
		}
		var unit time.Duration
		switch u := rest[i]; {
		case !inTime && u == 'W':
			unit = 7 * 24 * time.Hour
		case !inTime && u == 'D':
			unit = 24 * time.Hour
		case inTime && u == 'H':
			unit = time.Hour
		case inTime && u == 'M':
			unit = time.Minute
		case inTime && u == 'S':
			unit = time.Second
		default:
			return 0, bad
		}
		d += time.Duration(n) * unit
		seen = true
		rest = rest[i+1:]
	}
	if !seen || d <= 0 {
		return 0, bad
	}
	return d, nil
}
