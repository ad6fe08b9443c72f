package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"
)

// decodeJSON reads r's body into dst, a pointer to a request struct, and validates it against the
// struct's tags. It is the one place where request bodies enter: the size is capped, the media type,
// UTF-8, syntax, duplicate keys, unknown fields and types are checked before any handler sees a value.
// It returns the top-level keys of the body (true when the value was null), or ok=false after it has
// answered the client with a 4xx problem.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) (seen map[string]bool, ok bool) {
	if !hasMediaType(r, "application/json") {
		writeProblem(w, r, http.StatusUnsupportedMediaType, "The request body must be application/json.")
		return nil, false
	}
	body, ok := readBody(w, r)
	if !ok {
		return nil, false
	}
	seen, ferr := topLevelKeys(body)
	if ferr != nil {
		writeValidation(w, r, *ferr)
		return nil, false
	}
	// encoding/json matches keys case-insensitively; insisting on the exact names first means "NAME"
	// cannot smuggle a second value for "name" past the duplicate check.
	if errs := unknownKeys(dst, seen); len(errs) > 0 {
		writeValidation(w, r, errs...)
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		writeValidation(w, r, jsonFieldError(err))
		return nil, false
	}
	if errs := validateStruct(dst, seen); len(errs) > 0 {
		writeValidation(w, r, errs...)
		return nil, false
	}
	return seen, true
}

// readBody reads the whole (capped) body and insists that it is UTF-8: encoding/json would otherwise
// silently replace invalid bytes, and the stored text would differ from what the client sent.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeProblem(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("The request body must not exceed %d bytes.", tooBig.Limit))
		return nil, false
	case err != nil:
		writeProblem(w, r, http.StatusBadRequest, "The request body could not be read.")
		return nil, false
	case !utf8.Valid(body):
		writeValidation(w, r, fieldError{Location: "body", Message: "The request body must be valid UTF-8."})
		return nil, false
	}
	return body, true
}

// topLevelKeys checks that body is exactly one JSON object with no duplicate keys (two parsers could
// disagree on which duplicate wins) and returns its keys, true for those whose value is null.
func topLevelKeys(body []byte) (map[string]bool, *fieldError) {
	bad := func(msg string) (map[string]bool, *fieldError) {
		return nil, &fieldError{Location: "body", Message: msg}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err == io.EOF {
		return bad("A JSON object is required.")
	}
	if err != nil {
		return bad("The request body is not valid JSON.")
	}
	if d, isDelim := tok.(json.Delim); !isDelim || d != '{' {
		return bad("The request body must be a JSON object.")
	}
	keys := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return bad("The request body is not valid JSON.")
		}
		key, _ := tok.(string)
		if _, dup := keys[key]; dup {
			return bad(fmt.Sprintf("The key %q appears more than once.", truncate(key, 64)))
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return bad("The request body is not valid JSON.")
		}
		keys[key] = string(value) == "null"
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return bad("The request body is not valid JSON.")
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad("The request body must hold one JSON object and nothing after it.")
	}
	return keys, nil
}

// unknownKeys lists the keys of seen that are not, exactly, JSON fields of dst's struct type.
func unknownKeys(dst any, seen map[string]bool) []fieldError {
	known := map[string]bool{}
	for _, f := range fieldsOf(reflect.TypeOf(dst).Elem()) {
		known[f.name] = true
	}
	var errs []fieldError
	for key := range seen {
		if !known[key] {
			errs = append(errs, fieldError{Location: "body", Field: truncate(key, 64), Message: "is not a field of this request"})
		}
	}
	slices.SortFunc(errs, func(a, b fieldError) int { return strings.Compare(a.Field, b.Field) })
	return errs
}

// jsonFieldError explains a decoding error without echoing the input.
func jsonFieldError(err error) fieldError {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return fieldError{Location: "body", Field: typeErr.Field, Message: "must be of type " + jsonType(typeErr.Type.Kind().String())}
	}
	return fieldError{Location: "body", Message: "The request body is not valid JSON for this request."}
}

func jsonType(goKind string) string {
	switch goKind {
	case "string", "ptr":
		return "string"
	case "int", "int64":
		return "integer"
	case "bool":
		return "boolean"
	}
	return goKind
}

// decodeForm parses an application/x-www-form-urlencoded body, refusing repeated and unexpected keys.
func decodeForm(w http.ResponseWriter, r *http.Request, allowed ...string) (url.Values, bool) {
	if !hasMediaType(r, "application/x-www-form-urlencoded") {
		writeProblem(w, r, http.StatusUnsupportedMediaType, "The request body must be application/x-www-form-urlencoded.")
		return nil, false
	}
	body, ok := readBody(w, r)
	if !ok {
		return nil, false
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeValidation(w, r, fieldError{Location: "body", Message: "The form is not valid."})
		return nil, false
	}
	var errs []fieldError
	for key, values := range form {
		switch {
		case !slices.Contains(allowed, key):
			errs = append(errs, fieldError{Location: "body", Field: truncate(key, 64), Message: "is not a field of this request"})
		case len(values) > 1:
			errs = append(errs, fieldError{Location: "body", Field: key, Message: "must appear only once"})
		case !utf8.ValidString(values[0]):
			errs = append(errs, fieldError{Location: "body", Field: key, Message: "must be valid UTF-8"})
		}
	}
	if len(errs) > 0 {
		writeValidation(w, r, errs...)
		return nil, false
	}
	return form, true
}

func hasMediaType(r *http.Request, want string) bool {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != want {
		return false
	}
	cs, hasCharset := params["charset"]
	return !hasCharset || strings.EqualFold(cs, "utf-8")
}

// truncate shortens client-supplied text that is echoed in an error, valid UTF-8 kept.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
