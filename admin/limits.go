package admin

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
)

// The limits of every field an administrator sets, in one place. Forms
// repeat some of them as hints (maxlength, min, max), but the server
// checks them all whatever the browser did.
const (
	MaxHandlerName   = 64
	MaxFilter        = 64
	MaxProcedureName = 128
	MaxUsername      = 64
	MinUserPassword  = 12
	// MaxPassword is bcrypt's limit: it ignores every byte past the 72nd.
	MaxPassword          = 72
	MinNDESPassword      = 8
	MinChallenge         = 8
	MaxChallenge         = 255 // PKCS #9 ub-challenge-password
	MaxCommonName        = pki.MaxCommonName
	MaxDNSName           = 253
	MaxDNSPatterns       = 100
	MaxSubjectTemplate   = 512
	MinValidityDays      = 1
	MaxValidityDays      = 3650
	MinRSABits           = 1024
	MaxRSABits           = 16384
	MaxRenewalWindowDays = 3650
	MaxInputView         = 1000
	MinNDESValidity      = time.Minute
	MaxNDESValidity      = 30 * 24 * time.Hour
	MaxNDESPasswordCap   = 100000
	MaxPreRegistration   = 366 * 24 * time.Hour
	MaxReason            = 500
	MaxPKCS12            = 1 << 20
)

// fieldErrors collects what is wrong with an input, field by field, in the
// order the checks ran.
type fieldErrors struct {
	order []string
	msgs  map[string]string
}

// add records msg for field, unless the field already has a message.
func (f *fieldErrors) add(field, format string, args ...any) {
	if f.msgs == nil {
		f.msgs = map[string]string{}
	}
	if _, ok := f.msgs[field]; ok {
		return
	}
	f.order = append(f.order, field)
	f.msgs[field] = fmt.Sprintf(format, args...)
}

func (f *fieldErrors) has(field string) bool { _, ok := f.msgs[field]; return ok }

// err returns nil when nothing was wrong, else an EINVALID model.Error
// whose Fields hold each message and whose Message says them all.
func (f *fieldErrors) err() error {
	if len(f.order) == 0 {
		return nil
	}
	return f.errCode(model.EINVALID)
}

func (f *fieldErrors) errCode(code string) error {
	msgs := make([]string, len(f.order))
	for i, k := range f.order {
		msgs[i] = f.msgs[k]
	}
	return &model.Error{Code: code, Message: strings.Join(msgs, " "), Fields: f.msgs}
}

// fieldError returns an error of code about one field.
func fieldError(code, field, format string, args ...any) error {
	var f fieldErrors
	f.add(field, format, args...)
	return f.errCode(code)
}

// checkName checks a name of at most max characters with no control
// characters and no leading or trailing space.
func checkName(f *fieldErrors, field, v string, max int) {
	switch {
	case v == "":
		f.add(field, "Enter a name.")
	case utf8.RuneCountInString(v) > max:
		f.add(field, "Use at most %d characters for the name.", max)
	case strings.TrimSpace(v) != v:
		f.add(field, "Remove the spaces at the start and end of the name.")
	case strings.IndexFunc(v, unicode.IsControl) >= 0 || !utf8.ValidString(v):
		f.add(field, "The name may not contain control characters.")
	}
}

// isWordChar reports whether r may appear in handler names, filters and
// user names: ASCII letters, digits and - _ .
func isWordChar(r rune) bool {
	return r < utf8.RuneSelf && (r == '-' || r == '_' || r == '.' || unicode.IsLetter(r) || unicode.IsDigit(r))
}

// checkDNSName checks a DNS name (at most 253 characters, labels of 1 to
// 63 letters, digits and hyphens, not starting or ending with a hyphen),
// allowing a leading "*." when wildcard is set.
func checkDNSName(name string, wildcard bool) string {
	if wildcard {
		name = strings.TrimPrefix(name, "*.")
	}
	if name == "" {
		return "is empty"
	}
	if len(name) > MaxDNSName {
		return fmt.Sprintf("is longer than %d characters", MaxDNSName)
	}
	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		switch {
		case label == "":
			return "has an empty label"
		case len(label) > 63:
			return "has a label longer than 63 characters"
		case label[0] == '-' || label[len(label)-1] == '-':
			return "has a label that starts or ends with a hyphen"
		}
		for _, r := range label {
			if !(r < utf8.RuneSelf && (r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r))) {
				if r == '*' {
					return "has a '*' that is not a leading \"*.\""
				}
				return fmt.Sprintf("has the character %q, which DNS names do not use", r)
			}
		}
	}
	return ""
}
