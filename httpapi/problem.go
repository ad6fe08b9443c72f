package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/fortress-dev/fortress"
)

// problem is an RFC 9457 problem document. detail is always a string, because the original web UI and
// its clients display it as is.
type problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail"`
	RequestID string       `json:"request_id,omitempty"`
	Errors    []fieldError `json:"errors,omitempty"`
}

// fieldError names one invalid input and what is wrong with it, without repeating the value.
type fieldError struct {
	Location string `json:"location"` // body, query, path or header
	Field    string `json:"field"`
	Message  string `json:"message"`
}

// writeProblem sends a problem document with the given status and detail.
func writeProblem(w http.ResponseWriter, r *http.Request, status int, detail string, errs ...fieldError) {
	p := problem{
		Type:      "about:blank",
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    detail,
		RequestID: requestIDFrom(r.Context()),
		Errors:    errs,
	}
	body, err := json.Marshal(p)
	if err != nil { // cannot happen: every field is a plain string or int
		body = []byte(`{"type":"about:blank","status":500,"detail":"Internal Server Error"}`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// maxFieldErrors bounds the errors listed in one 422: a body of many unknown keys must not turn into a
// response many times its size.
const maxFieldErrors = 20

// writeValidation sends a 422 whose detail repeats the first field error, so a client that shows only
// detail still tells the user what to fix. At most maxFieldErrors are listed.
func writeValidation(w http.ResponseWriter, r *http.Request, errs ...fieldError) {
	errs = errs[:min(len(errs), maxFieldErrors)]
	detail := "The request is invalid."
	if len(errs) > 0 {
		detail = errs[0].Field + ": " + errs[0].Message
		if errs[0].Field == "" {
			detail = errs[0].Message
		}
	}
	writeProblem(w, r, http.StatusUnprocessableEntity, detail, errs...)
}

// errorStatus is the one table that maps domain error codes to HTTP statuses.
var errorStatus = map[string]int{
	fortress.ECONFLICT:     http.StatusConflict,
	fortress.EINVALID:      http.StatusUnprocessableEntity,
	fortress.ENOTFOUND:     http.StatusNotFound,
	fortress.EUNAUTHORIZED: http.StatusUnauthorized,
	fortress.EUNAVAILABLE:  http.StatusServiceUnavailable,
}

// statusClientClosedRequest records a request whose client disconnected before the answer.
const statusClientClosedRequest = 499

// writeError answers with the problem that err's code maps to. An unexpected error becomes a generic 500
// whose cause goes to the log only, next to the request id that the client sees.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	code := fortress.ErrorCode(err)
	status, ok := errorStatus[code]
	if !ok && r.Context().Err() != nil && errors.Is(err, r.Context().Err()) {
		// The client hung up and its request's work was cancelled: nothing failed on our side, and nobody
		// reads the answer. 499 (nginx's "client closed request") keeps it out of the 5xx error ratio.
		log.DebugContext(r.Context(), "client went away", "request_id", requestIDFrom(r.Context()))
		w.WriteHeader(statusClientClosedRequest)
		return
	}
	if !ok {
		log.ErrorContext(r.Context(), "request failed", "err", err, "request_id", requestIDFrom(r.Context()))
		writeProblem(w, r, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	if status == http.StatusServiceUnavailable {
		log.WarnContext(r.Context(), "dependency unavailable", "err", err, "request_id", requestIDFrom(r.Context()))
		w.Header().Set("Retry-After", "1")
	}
	writeProblem(w, r, status, fortress.ErrorMessage(err))
}

// writeJSON sends v as JSON with the given status.
func writeJSON(w http.ResponseWriter, r *http.Request, log *slog.Logger, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, r, log, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
