package model

import "strings"

// SerialOpenSSL prints a serial stored as lower-case hex without leading
// zeros (Certificate.Serial) as openssl does: upper-case hex, zero-padded
// to whole bytes, such as 04A603D7.
func SerialOpenSSL(stored string) string {
	s := strings.ToUpper(stored)
	if len(s)%2 == 1 {
		s = "0" + s
	}
	return s
}

// SerialColons prints a stored serial as browsers and openssl x509 -text
// do: upper-case bytes separated by colons, such as 04:A6:03:D7.
func SerialColons(stored string) string {
	s := SerialOpenSSL(stored)
	var b strings.Builder
	for i := 0; i < len(s); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(s[i : i+2])
	}
	return b.String()
}
