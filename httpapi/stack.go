package httpapi

import "runtime/debug"

// stackTrace is for the server log only; it never reaches a response.
func stackTrace() string { return string(debug.Stack()) }
