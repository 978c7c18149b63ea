package ims

import (
	"errors"
	"fmt"
)

// Error codes. They are deliberately few: each maps to one HTTP status in
// http.ErrorStatusCode and nowhere else.
const (
	EINVALID      = "invalid"      // bad input: the request can never succeed as sent
	ENOTFOUND     = "not_found"    // the resource does not exist
	ECONFLICT     = "conflict"     // the resource is in a state that forbids the action
	EUNAUTHORIZED = "unauthorized" // missing or wrong credentials
	EUNAVAILABLE  = "unavailable"  // a dependency is down; retrying later may work
	EINTERNAL     = "internal"     // a bug or an unexpected failure
)

// Error is an application error meant to be shown to the API user. Message is
// safe to show; anything internal is wrapped in other errors and only logged.
type Error struct {
	Code    string
	Message string
	// Details carries structured context, e.g. field → problem for validation.
	Details any
}

func (e *Error) Error() string {
	return fmt.Sprintf("ims error: code=%s message=%s", e.Code, e.Message)
}

// Errorf builds an *Error with a formatted, user-facing message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err. Internal errors get a
// generic message so that no internal detail leaks to a client.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrorDetails returns the details of the first *Error in err's chain.
func ErrorDetails(err error) any {
	var e *Error
	if errors.As(err, &e) {
		return e.Details
	}
	return nil
}
