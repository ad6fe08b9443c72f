package fortress

import (
	"errors"
	"fmt"
)

// Error codes name the expected ways an operation can fail. The HTTP layer maps each code to one status
// in one table; anything that is not an *Error is an internal failure whose cause is logged, never shown.
const (
	ECONFLICT     = "conflict"     // a unique value is already taken
	EINVALID      = "invalid"      // the input breaks a rule of the domain
	ENOTFOUND     = "not_found"    // the object does not exist or is not the caller's
	EUNAVAILABLE  = "unavailable"  // a dependency (the database) cannot answer right now
	EUNAUTHORIZED = "unauthorized" // credentials are missing or wrong
)

// Error is an expected failure: a code for programs and a message that is safe to show to the client.
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("fortress error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted, client-safe message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or "" when err is nil or unexpected.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// ErrorMessage returns the client-safe message of the first *Error in err's chain, or "" when there is none.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return ""
}

// ErrUnavailable is returned, wrapped around the cause, when the database cannot answer: the client may
// retry later, and readiness reports the instance as not ready.
var ErrUnavailable = &Error{Code: EUNAVAILABLE, Message: "The service is temporarily unavailable; retry later."}
