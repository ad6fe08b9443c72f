package httpapi

import (
	"fmt"
	"maps"
	"math"
	"net/mail"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fortress-dev/fortress"
)

// Request bodies are Go structs whose `validate` tags are the single source of truth for their limits:
// validateStruct enforces the tags and jsonSchema publishes the same tags in /openapi.json, so the
// document cannot promise what the server does not check.
//
// Tag rules (comma-separated):
//   required       the field must be present and not null
//   nullable       null is accepted (the Go field is a pointer)
//   min=N, max=N   length in characters (Unicode code points), not bytes
//   email          an email address (see validEmail)
//   line           one line of text: no control characters
//   text           text: no control characters but tab, line feed and carriage return
// A `doc` tag describes the field in the document.

// rules is the parsed form of one field's validate tag.
type rules struct {
	required, nullable, email, line, text bool
	min, max                              int // -1 when absent
}

func parseRules(tag string) rules {
	r := rules{min: -1, max: -1}
	for _, part := range strings.Split(tag, ",") {
		name, arg, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch name {
		case "required":
			r.required = true
		case "nullable":
			r.nullable = true
		case "email":
			r.email = true
		case "line":
			r.line = true
		case "text":
			r.text = true
		case "min", "max":
			n, err := strconv.Atoi(arg)
			if err != nil {
				panic(fmt.Sprintf("httpapi: bad validate tag %q", tag)) // a programming error, caught by tests
			}
			if name == "min" {
				r.min = n
			} else {
				r.max = n
			}
		case "":
		default:
			panic(fmt.Sprintf("httpapi: unknown validate rule %q", name))
		}
	}
	return r
}

// field is one JSON field of a request struct.
type field struct {
	name  string // JSON name
	index int
	rules rules
	doc   string
}

func fieldsOf(t reflect.Type) []field {
	var fs []field
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		fs = append(fs, field{name: name, index: i, rules: parseRules(sf.Tag.Get("validate")), doc: sf.Tag.Get("doc")})
	}
	return fs
}

// validateStruct checks v (a pointer to a request struct) against its tags. seen holds the JSON keys
// that were present in the body and whether each was null.
func validateStruct(v any, seen map[string]bool) []fieldError {
	rv := reflect.ValueOf(v).Elem()
	var errs []fieldError
	for _, f := range fieldsOf(rv.Type()) {
		isNull, present := seen[f.name]
		fail := func(msg string) { errs = append(errs, fieldError{Location: "body", Field: f.name, Message: msg}) }
		switch {
		case present && isNull && !f.rules.nullable:
			fail("must not be null")
			continue
		case !present || isNull:
			if f.rules.required {
				fail("is required")
			}
			continue
		}
		fv := rv.Field(f.index)
		if fv.Kind() == reflect.Pointer {
			fv = fv.Elem()
		}
		if msg := checkString(fv.String(), f.rules); msg != "" {
			fail(msg)
		}
	}
	return errs
}

// checkString returns what is wrong with s under r, or "".
func checkString(s string, r rules) string {
	n := utf8.RuneCountInString(s)
	switch {
	case r.min >= 0 && n < r.min:
		return fmt.Sprintf("must be at least %d %s long", r.min, plural(r.min, "character"))
	case r.max >= 0 && n > r.max:
		return fmt.Sprintf("must be at most %d %s long", r.max, plural(r.max, "character"))
	case strings.ContainsRune(s, 0):
		return "must not contain NUL characters"
	case strings.ContainsRune(s, utf8.RuneError):
		// encoding/json turns an unpaired surrogate escape ("\ud800") into U+FFFD: storing it would
		// silently change what the client sent.
		return "must not contain invalid Unicode (unpaired surrogates or U+FFFD)"
	case r.line && strings.IndexFunc(s, isBidiControl) >= 0:
		return "must not contain bidirectional control characters"
	case r.line && strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "must not contain control characters"
	case r.text && strings.IndexFunc(s, isDisallowedInText) >= 0:
		return "must not contain control characters other than tab and line breaks"
	case r.email && !validEmail(s):
		return "must be a valid email address"
	}
	return ""
}

// isBidiControl matches the embedding, override and isolate controls that can make a name display
// differently from what it is (U+202A-U+202E, U+2066-U+2069).
func isBidiControl(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069
}

func isDisallowedInText(r rune) bool {
	return unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r'
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// validEmail accepts a bare address (no display name or comments) of at most 254 characters, with a
// local part of at most 64 and a dotted DNS domain of letters, digits and hyphens.
func validEmail(s string) bool {
	if len(s) > 254 || strings.Count(s, "@") != 1 {
		return false
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Name != "" || addr.Address != s {
		return false
	}
	local, domain, _ := strings.Cut(s, "@")
	if len(local) == 0 || len(local) > 64 || strings.IndexFunc(local, unicode.IsControl) >= 0 {
		return false
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range l {
			if !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return false
			}
		}
	}
	tld := labels[len(labels)-1]
	return strings.IndexFunc(tld, unicode.IsDigit) < 0
}

// jsonSchema describes a request or response struct in JSON Schema 2020-12, as OpenAPI 3.1 uses it.
// Request structs forbid additional properties, as the decoder does; response structs are exactly
// their fields. What a response field's Go type cannot say comes from fieldFacts.
func jsonSchema(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	for i := range t.NumField() {
		sf := t.Field(i)
		name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		tag, isRequest := sf.Tag.Lookup("validate")
		r := parseRules(tag)
		p := typeSchema(sf.Type, r)
		maps.Copy(p, fieldFacts[t][name])
		if d := sf.Tag.Get("doc"); d != "" {
			p["description"] = d
		}
		if ex := sf.Tag.Get("example"); ex != "" {
			p["examples"] = []any{ex}
		}
		props[name] = p
		// Response fields (no validate tag) are always present unless omitempty.
		if r.required || (!isRequest && !strings.Contains(opts, "omitempty")) {
			required = append(required, name)
		}
	}
	for name := range fieldFacts[t] {
		if _, ok := props[name]; !ok {
			panic(fmt.Sprintf("httpapi: fieldFacts names %s.%s, which is not a JSON field", t.Name(), name))
		}
	}
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(props) == 0 {
		delete(s, "properties")
	}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

// Patterns of the characters validateStruct refuses, in ECMAScript syntax as JSON Schema wants. Every
// validated string refuses NUL and U+FFFD (checkString); "line" adds the control characters
// (unicode.IsControl: U+0000-U+001F, U+007F-U+009F) and the bidirectional controls; "text" the control
// characters but tab, line feed and carriage return.
const (
	patternValidated = `^[^\u0000\ufffd]*$`
	patternLine      = `^[^\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\ufffd]*$`
	patternText      = `^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufffd]*$`
)

func typeSchema(t reflect.Type, r rules) map[string]any {
	nullable := false
	if t.Kind() == reflect.Pointer {
		t, nullable = t.Elem(), true
	}
	s := map[string]any{}
	switch {
	case t == reflect.TypeFor[time.Time]():
		s["type"] = "string"
		s["format"] = "date-time"
		s["maxLength"] = len(time.RFC3339Nano)
	case t.Kind() == reflect.String:
		return stringSchema(r, nullable)
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
		s["type"] = "integer"
		s["format"] = "int64"
	case t.Kind() == reflect.Bool:
		s["type"] = "boolean"
	case t.Kind() == reflect.Slice:
		s["type"] = "array"
		s["items"] = typeSchema(t.Elem(), rules{min: -1, max: -1})
	case t.Kind() == reflect.Struct:
		return jsonSchema(t)
	default:
		panic("httpapi: no schema for " + t.String())
	}
	if nullable {
		s["type"] = []any{s["type"], "null"}
	}
	return s
}

// stringSchema is the schema of a string validated under r.
func stringSchema(r rules, nullable bool) map[string]any {
	s := map[string]any{"type": "string"}
	if nullable {
		s["type"] = []any{"string", "null"}
	}
	if r.min >= 0 {
		s["minLength"] = r.min
	}
	if r.max >= 0 {
		s["maxLength"] = r.max
	}
	switch {
	case r.email:
		s["format"] = "email"
	case r.line:
		s["pattern"] = patternLine
	case r.text:
		s["pattern"] = patternText
	case r != rules{min: -1, max: -1}:
		// A field with rules is checked by checkString; an empty validate tag promises nothing.
		s["pattern"] = patternValidated
	}
	return s
}

// requestField is the schema of a request's string field (its limits, without its doc), for a response
// field that holds what such a request stored.
func requestField(t reflect.Type, name string) map[string]any {
	for _, f := range fieldsOf(t) {
		if f.name != name {
			continue
		}
		ft := t.Field(f.index).Type
		nullable := ft.Kind() == reflect.Pointer
		if nullable {
			ft = ft.Elem()
		}
		if ft.Kind() != reflect.String {
			panic(fmt.Sprintf("httpapi: %s.%s is not a string", t.Name(), name))
		}
		return stringSchema(f.rules, nullable)
	}
	panic(fmt.Sprintf("httpapi: %s has no field %s", t.Name(), name))
}

// idBounds are those of a database id: positive, and an int64.
var idBounds = map[string]any{"minimum": 1, "maximum": int64(math.MaxInt64)}

// accountRef bounds an account id that is 0 when there is none (the actor and subject of an audit event).
var accountRef = map[string]any{"minimum": 0, "maximum": int64(math.MaxInt64)}

// roleEnum lists the roles an account can have.
var roleEnum = map[string]any{"enum": []any{fortress.RoleUser, fortress.RoleAdmin}}

// Patterns of stored strings that no request validated.
const (
	// patternClientIP is what clientIP writes, netip.Addr.String() or "unknown", or "" for an audit event
	// of the command line. A peer's IPv6 address may carry a zone: an interface name or index.
	patternClientIP = `^(|unknown|[0-9a-f.:]+(%[^\u0000-\u0020\u007f-\u009f]+)?)$`
	// patternHeaderValue is what net/http admits in a request header value (httpguts.ValidHeaderFieldValue):
	// no control character but tab. Bytes that are not UTF-8 are sent as U+FFFD.
	patternHeaderValue = `^[^\u0000-\u0008\u000a-\u001f\u007f]*$`
	// patternAuditRequestID is a request id (ours, or a trusted proxy's that validRequestID accepted), or ""
	// for an audit event of the command line.
	patternAuditRequestID = `^([A-Za-z0-9._-]{8,64})?$`
)

// fieldFacts completes the schemas of fields whose Go type does not tell their limits: the values
// response fields can hold (what the handlers write, or what validated requests stored) and the values
// that handlers accept beyond the validate tags (grant_type, refresh_delivery, an admin's role change).
// jsonSchema refuses a fact about a field that does not exist.
var fieldFacts = map[reflect.Type]map[string]map[string]any{
	typeOf[healthResponse](): {"status": {"enum": []any{"ok", "ready"}}},
	typeOf[userResponse](): {
		"id":    idBounds,
		"email": requestField(typeOf[registerRequest](), "email"),
	},
	typeOf[tokenResponse](): {
		// token.Manager.Verify refuses tokens over 4096 characters, so none longer is ever useful.
		"access_token": {"maxLength": 4096, "pattern": `^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`},
		"token_type":   {"enum": []any{"bearer"}},
		// The configuration bounds FORTRESS_ACCESS_TOKEN_TTL to at most 24 hours.
		"expires_in": {"minimum": 1, "maximum": 86400},
		// 32 random bytes in unpadded base64url.
		"refresh_token": {"minLength": 43, "maxLength": 43, "pattern": "^[A-Za-z0-9_-]{43}$"},
	},
	// Both engines' sessions table bounds user_agent to maxUserAgent and client_ip to 64 characters.
	typeOf[sessionResponse](): {
		"id":         idBounds,
		"user_agent": {"maxLength": maxUserAgent, "pattern": patternHeaderValue},
		"client_ip":  {"maxLength": 64, "pattern": patternClientIP},
	},
	typeOf[meResponse](): {
		"id":    idBounds,
		"email": requestField(typeOf[registerRequest](), "email"),
		"role":  roleEnum,
	},
	typeOf[adminUserResponse](): {
		"id":    idBounds,
		"email": requestField(typeOf[registerRequest](), "email"),
		"role":  roleEnum,
	},
	typeOf[adminUserUpdateRequest](): {"role": roleEnum},
	// Stored audit fields are bounded by the audit_events table of both engines; what they hold is what
	// auditor.record and the command line's auditCLI write. Event names are the constants of audit.go, which
	// the event filter's pattern admits.
	typeOf[auditEventResponse](): {
		"id":         idBounds,
		"actor_id":   accountRef,
		"subject_id": accountRef,
		"event":      {"minLength": 1, "maxLength": eventParam.Max, "pattern": eventParam.Pattern.String()},
		"client_ip":  {"maxLength": 64, "pattern": patternClientIP},
		"request_id": {"maxLength": maxRequestIDLen, "pattern": patternAuditRequestID},
		"outcome":    {"enum": []any{outcomeSuccess, outcomeFailure, outcomeDenied}},
		// Fixed reasons, role and permission names and counts: never free text of a request.
		"detail": {"maxLength": 256, "pattern": patternLine},
	},
	typeOf[itemResponse](): {
		"id":          idBounds,
		"owner_id":    idBounds,
		"name":        requestField(typeOf[itemCreateRequest](), "name"),
		"description": requestField(typeOf[itemCreateRequest](), "description"),
	},
	typeOf[problem](): {
		"type":  {"format": "uri", "maxLength": 2048},
		"title": {"maxLength": problemTitleMax, "pattern": problemTitlePattern},
		// Error statuses only; int32 because a status has three digits.
		"status": {"format": "int32", "minimum": 400, "maximum": 599},
		// A detail may echo a truncated field name of the request, which can hold any character.
		"detail": {"maxLength": 1024},
		// Our own ids are 32 hex digits; a trusted proxy's may be a UUID or similar (validRequestID).
		"request_id": {"minLength": 8, "maxLength": maxRequestIDLen, "pattern": "^[A-Za-z0-9._-]{8,64}$"},
	},
	typeOf[fieldError](): {
		"location": {"enum": []any{"body", "query", "path", "header"}},
		// A field name of the request is echoed truncated to 64 bytes and an ellipsis.
		"field": {"maxLength": 65},
		// Messages are fixed text, or quote (with strconv.Quote, which escapes every control character) a
		// key truncated to 64 bytes.
		"message": {"maxLength": 512, "pattern": `^[^\u0000-\u001f\u007f-\u009f]*$`},
	},
	// handleLogin refuses any other grant_type or refresh_delivery (when present).
	typeOf[loginForm](): {
		"grant_type":       {"enum": []any{"password"}},
		"refresh_delivery": {"enum": []any{"body", "cookie"}},
	},
}

// problemTitleMax and problemTitlePattern bound the titles, which are http.StatusText of an error status.
const (
	problemTitleMax     = 64
	problemTitlePattern = `^[A-Za-z0-9 '-]+$`
)
