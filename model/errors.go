// Package model holds the domain types and errors shared by every layer of
// scepgate. It depends on the standard library only.
package model

import (
	"errors"
	"fmt"
)

// Error codes. A code says what kind of failure happened; the message of an
// Error with one of these codes is safe to show to the person who caused it.
const (
	ECONFLICT     = "conflict"     // the action conflicts with existing data
	EINTERNAL     = "internal"     // anything the application did not create
	EINVALID      = "invalid"      // the input is not acceptable
	ENOTFOUND     = "not_found"    // the thing asked for does not exist
	EUNAUTHORIZED = "unauthorized" // credentials are missing or wrong
	EFORBIDDEN    = "forbidden"    // the caller may not do this
)

// Error is an application error with a code and a message safe to show.
type Error struct {
	Code    string
	Message string
	// Fields, when set, says what is wrong with each input, by field name
	// (the names forms and the API use, such as "name" or "ndes_password");
	// Message then says all of it in sentences, for doors without fields.
	Fields map[string]string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("scepgate error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code string, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err if it is, or wraps, an *Error; EINTERNAL
// for any other non-nil error; "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the human-readable message of err if it is an
// *Error; "Internal error." for any other error; "" for nil.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// ErrorFields returns the field messages of err if it is, or wraps, an
// *Error that has them; nil otherwise.
func ErrorFields(err error) map[string]string {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}
