package httpapi

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/fortress-dev/fortress/ratelimit"
)

// buildOpenAPI writes the OpenAPI 3.1 document of the routes. Schemas come from the same Go types and
// parameter values that validate requests, so the document states exactly the limits that are enforced.
// It panics on a route whose documentation is incomplete (an undescribed tag, an unbounded array): a
// programming error that the first test run finds.
func buildOpenAPI(routes []route, version string) []byte {
	g := &docGen{schemas: map[string]map[string]any{}}
	for _, rt := range routes {
		g.maxBody = max(g.maxBody, rt.doc.maxBody)
	}
	paths := map[string]map[string]any{}
	var tags []any
	tagged := map[string]bool{}
	for _, rt := range routes {
		path := strings.ReplaceAll(rt.path, "...}", "}")
		if paths[path] == nil {
			paths[path] = map[string]any{}
		}
		paths[path][strings.ToLower(rt.method)] = g.operation(rt.doc)
		if !tagged[rt.doc.tag] {
			desc, ok := tagDocs[rt.doc.tag]
			if !ok {
				panic("httpapi: OpenAPI tag without a description: " + rt.doc.tag)
			}
			tagged[rt.doc.tag] = true
			tags = append(tags, map[string]any{"name": rt.doc.tag, "description": desc})
		}
	}
	g.bodyBounds()
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "Fortress API",
			"version": version,
			"description": "A secure-by-default API: accounts with short-lived JWT access tokens and per-user items.\n\n" +
				"Errors are RFC 9457 problem documents (application/problem+json) with a request_id that " +
				"matches the X-Request-ID response header and the server's log. With rate limiting on (the " +
				"default), every route but the probes spends from a per-client request budget and carries the " +
				"IETF draft RateLimit-Policy and RateLimit headers; over budget it answers 429 with Retry-After.",
			"license": map[string]any{"name": "MIT", "identifier": "MIT"},
			"contact": map[string]any{"name": "The Fortress developers", "url": "https://github.com/fortress-dev/fortress"},
		},
		// A relative URL: the API is wherever this document was fetched from, so the document is true for
		// a local run and for each deployment alike.
		"servers": []any{map[string]any{
			"url":         "/",
			"description": "The server that served this document, whether local development, staging or production.",
			"x-internal":  false,
		}},
		"tags":  tags,
		"paths": paths,
		"components": map[string]any{
			"schemas":         g.schemas,
			"headers":         headerComponents(),
			"securitySchemes": securitySchemes(),
		},
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic("httpapi: OpenAPI document: " + err.Error()) // only maps, strings and numbers: cannot fail
	}
	return out
}

// tagDocs describes each tag that operations use.
var tagDocs = map[string]string{
	"auth":       "Sign-in: register, log in with the OAuth2 password grant, refresh and log out.",
	"account":    "The signed-in user's own account: who they are, their password, their sessions, deleting it.",
	"admin":      "Administration, for the admin role only: accounts and the audit log.",
	"items":      "The authenticated user's items. Every item belongs to one user and is invisible to others.",
	"operations": "Probes for orchestrators and load balancers, and this document.",
	"ui":         "The embedded web UI and interactive docs, served from this server under a strict CSP.",
}

// jwtDescription is shared by both security schemes, which carry the same token and the same scopes.
var jwtDescription = "A JWT access token from POST /auth/login or POST /auth/refresh, sent as " +
	"'Authorization: Bearer <token>'. Tokens follow the JWT best current practices of RFC8725: they are " +
	"signed with HS256 or EdDSA (Ed25519), and verification pins the algorithm (never 'none'), the key id, " +
	"the issuer and the audience, requires exp, nbf and iat, refuses unknown critical headers and tokens " +
	"over 4096 characters, and decodes strictly. They are short-lived (15 minutes by default, at most 24 " +
	"hours): POST /auth/refresh (the password flow's refreshUrl) exchanges the session's refresh token, " +
	"which changes on every use, for a new access token. It reads the refresh token from a JSON body " +
	`({"refresh_token": "..."}) or, for browsers, from its cookie; not from the form of RFC 6749 section 6 ` +
	"(grant_type=refresh_token), which it answers 415. Every token belongs to a session and stops working " +
	"at once when the session ends (sign-out, a password change, deactivation).\n\n" +
	"The scopes of each operation's security requirement name the permission it requires. They describe " +
	"the API, not the token: permissions are granted by the account's role, which is read on every request " +
	"(" + rolesDoc + "), never requested. A login's scope parameter is ignored, tokens carry no scopes, and " +
	"an operation whose permission the caller's role lacks is answered 403."

// rolesDoc says which permissions each role grants, from rolePermissions.
var rolesDoc = func() string {
	roles := slices.Sorted(maps.Keys(rolePermissions))
	parts := make([]string, len(roles))
	for i, role := range roles {
		parts[i] = role + ": " + strings.Join(rolePermissions[role], ", ")
	}
	return strings.Join(parts, "; ")
}()

// permissionDocs describes each permission of permissions.go, which the security schemes publish as
// scopes.
var permissionDocs = map[string]string{
	permItemsOwn:    "Create, list, read, change and delete one's own items.",
	permAccountOwn:  "Read and delete one's own account, change its password, sign out, list and end its sessions.",
	permUsersManage: "List and read any account, change its role, deactivate or reactivate it.",
	permAuditRead:   "Read the audit log.",
}

// scopes describes every permission a role grants, as the OAuth2 scopes of the password flow. It panics
// on a permission without a description.
func scopes() map[string]any {
	out := map[string]any{}
	for _, perms := range rolePermissions {
		for _, p := range perms {
			doc, ok := permissionDocs[p]
			if !ok {
				panic("httpapi: OpenAPI: permission without a description: " + p)
			}
			var roles []string
			for role, granted := range rolePermissions {
				if slices.Contains(granted, p) {
					roles = append(roles, role)
				}
			}
			slices.Sort(roles)
			out[p] = doc + " Granted to: " + strings.Join(roles, ", ") + "."
		}
	}
	return out
}

// securitySchemes offers the token two ways: the OAuth2 password flow lets Swagger UI's Authorize log in
// with an email and password, and the bearer scheme lets a client paste a token it already has. Both list
// the permissions as scopes: OpenAPI 3.1 allows role names in the requirements of any scheme.
func securitySchemes() map[string]any {
	return map[string]any{
		"OAuth2PasswordBearer": map[string]any{
			"type":        "oauth2",
			"description": jwtDescription,
			"flows": map[string]any{
				"password": map[string]any{ //nolint:gosec // G101: the OAuth2 flow's name and URLs, not a credential
					"tokenUrl": "/auth/login", "refreshUrl": "/auth/refresh", "scopes": scopes(),
				},
			},
		},
		"BearerJWT": map[string]any{
			"type":         "http",
			"scheme":       "bearer",
			"bearerFormat": "JWT",
			"description":  jwtDescription,
		},
	}
}

// rateLimitMember is one member of the RateLimit-Policy or RateLimit lists: a policy name that
// ratelimit.Policy.Validate allows, and two parameters.
func rateLimitMember(p1, p2 string) string {
	return fmt.Sprintf(`"[A-Za-z0-9_.-]{1,%d}";%s=[0-9]+;%s=[0-9]+`, ratelimit.MaxNameLen, p1, p2)
}

// headerComponents describes the response headers operations refer to. Each states what the server
// sends (ratelimit.go, problem.go, item.go, auth.go).
func headerComponents() map[string]any {
	list := func(member string) string { return "^" + member + "(, " + member + ")*$" }
	return map[string]any{
		"Access-Control-Allow-Origin": map[string]any{
			"description": "The request's Origin, echoed only when it is one of the origins the server is " +
				"configured to allow (CORS_ORIGINS), so that a browser page of that origin may read the " +
				"response. Absent by default: no origin is allowed, and never '*'.",
			"schema": map[string]any{"type": "string", "format": "uri", "maxLength": 2048},
		},
		"RateLimit-Policy": map[string]any{
			"description": "The request budgets that apply to this route, in the IETF draft format " +
				`(draft-ietf-httpapi-ratelimit-headers): "name";q=<requests>;w=<seconds>. Every route but the ` +
				"probes has the general per-client budget; POST /auth/login and POST /auth/register add " +
				"their own. Absent when rate limiting is off, or while the rate-limit store fails.",
			"schema": map[string]any{"type": "string", "maxLength": 512, "pattern": list(rateLimitMember("q", "w")),
				"examples": []any{`"default";q=300;w=60`}},
		},
		"RateLimit": map[string]any{
			"description": "What is left of each budget in RateLimit-Policy, in the IETF draft format: " +
				`"name";r=<requests remaining>;t=<seconds until the budget is full again>. Absent when rate ` +
				"limiting is off, or while the rate-limit store fails.",
			"schema": map[string]any{"type": "string", "maxLength": 512, "pattern": list(rateLimitMember("r", "t")),
				"examples": []any{`"default";r=299;t=1`}},
		},
		"Retry-After": map[string]any{
			"description": "Whole seconds to wait before retrying, rounded up so that a client that waits " +
				"this long is let through.",
			"schema": map[string]any{"type": "integer", "format": "int64", "minimum": 1,
				"maximum": ceilSeconds(ratelimit.MaxWindow)},
		},
		"WWW-Authenticate": map[string]any{
			"description": "The authentication scheme to use.",
			"schema":      map[string]any{"type": "string", "enum": []any{"Bearer"}},
		},
		"Location": map[string]any{
			"description": "The path of the created item.",
			"schema": map[string]any{"type": "string", "format": "uri-reference", "maxLength": 64,
				"pattern": `^/items/[1-9][0-9]{0,18}$`},
		},
		"Set-Cookie": map[string]any{
			"description": "The browser's refresh token: " + refreshCookie + "=<token>; Path=" + refreshCookiePath +
				"; HttpOnly; SameSite=Strict; Secure over HTTPS. Set by a login with refresh_delivery=cookie and by " +
				"every cookie refresh; cleared (Max-Age=0) by logout, a refused refresh, a password change and " +
				"account deletion.",
			"schema": map[string]any{"type": "string", "maxLength": 256,
				"pattern": "^" + refreshCookie + `=[A-Za-z0-9_-]*; Path=` + refreshCookiePath + `; (Max-Age=[0-9]+; )?HttpOnly(; Secure)?; SameSite=Strict$`},
		},
		"X-Total-Count": map[string]any{
			"description": "The total number of matching entries, in all pages.",
			"schema":      map[string]any{"type": "integer", "format": "int64", "minimum": 0, "maximum": int64(math.MaxInt64)},
		},
		"Link": map[string]any{
			"description": `The next page, as <path?limit=..&offset=..[&filters]>; rel="next"; absent on the last page.`,
			"schema": map[string]any{"type": "string", "maxLength": 2048,
				"pattern": `^</[a-z/]+\?[^>]*limit=[0-9]+[^>]*>; rel="next"$`},
		},
	}
}

// headerRef refers to a header of headerComponents.
func headerRef(name string) map[string]any {
	return map[string]any{"$ref": "#/components/headers/" + name}
}

// docGen collects the named schemas while the operations are documented.
type docGen struct {
	schemas map[string]map[string]any
	maxBody int64 // the largest request body any operation reads
	bodies  []string
}

// ref registers t's schema under its exported name and returns a reference to it.
func (g *docGen) ref(t reflect.Type) map[string]any {
	name := exportedName(t.Name())
	if _, done := g.schemas[name]; !done {
		g.schemas[name] = jsonSchema(t)
	}
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

// requestRef is ref for a request body's type, whose strings are also bounded by the body cap.
func (g *docGen) requestRef(t reflect.Type) map[string]any {
	name := exportedName(t.Name())
	if !slices.Contains(g.bodies, name) {
		g.bodies = append(g.bodies, name)
	}
	return g.ref(t)
}

// bodyBounds adds the limits that come from the configured body cap rather than from a type: a request
// string without a limit of its own is no longer than the body, and a problem lists at most one error
// per key of the body, which takes at least two bytes of it (a form's "a&").
func (g *docGen) bodyBounds() {
	if g.maxBody == 0 {
		panic("httpapi: OpenAPI: no operation states the body cap")
	}
	for _, name := range g.bodies {
		props, _ := g.schemas[name]["properties"].(map[string]any)
		for _, v := range props {
			p, ok := v.(map[string]any)
			if !ok {
				continue
			}
			_, bounded := p["maxLength"]
			_, enum := p["enum"]
			if !bounded && !enum && hasType(p, "string") {
				p["maxLength"] = g.maxBody
			}
		}
	}
	props, _ := g.schemas["Problem"]["properties"].(map[string]any)
	errs, ok := props["errors"].(map[string]any)
	if !ok {
		panic("httpapi: OpenAPI: the Problem schema has no errors")
	}
	errs["maxItems"] = maxFieldErrors
}

// hasType says whether schema's type (a name, or a list of names for a nullable value) includes want.
func hasType(schema map[string]any, want string) bool {
	switch t := schema["type"].(type) {
	case string:
		return t == want
	case []any:
		return slices.Contains(t, any(want))
	}
	return false
}

func exportedName(s string) string {
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// assetNames lists the files under dir of fsys, relative to dir: the values of /static/{path}.
func assetNames(fsys fs.FS, dir string) []string {
	var names []string
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, strings.TrimPrefix(p, dir+"/"))
		}
		return err
	})
	if err != nil {
		panic("httpapi: listing the UI's assets: " + err.Error()) // an embedded FS: cannot fail
	}
	slices.Sort(names)
	return names
}

func (g *docGen) operation(op operation) map[string]any {
	if op.description == "" {
		panic("httpapi: OpenAPI operation without a description: " + op.id)
	}
	description := op.description
	if op.limit != nil {
		// Whether the route's own budget is on is configuration; the headers say which budgets apply.
		description += " Besides the general per-client budget, this route has a stricter one of its own " +
			"(on by default); RateLimit-Policy lists the budgets that apply."
	}
	out := map[string]any{"operationId": op.id, "summary": op.summary, "description": description, "tags": []string{op.tag}}
	var params []any
	for _, p := range op.params {
		schema := map[string]any{"type": "integer", "format": "int64", "minimum": p.Min, "maximum": p.Max}
		if p.In == "query" {
			schema["default"] = p.Default
		}
		params = append(params, map[string]any{
			"name": p.Name, "in": p.In, "required": p.In == "path", "description": p.Doc, "schema": schema,
		})
	}
	for _, p := range op.query {
		// textParam.parse applies the one-line rule, and a Pattern of its own instead when it has one.
		schema := map[string]any{"type": "string", "maxLength": p.Max, "pattern": patternLine}
		if p.Pattern != nil {
			schema["pattern"] = p.Pattern.String()
		}
		if p.Format != "" {
			schema["format"] = p.Format
		}
		params = append(params, map[string]any{
			"name": p.Name, "in": "query", "required": false, "description": p.Doc, "schema": schema,
		})
	}
	if pv := op.pathValues; pv != nil {
		longest := 0
		for _, v := range pv.values {
			longest = max(longest, len(v))
		}
		params = append(params, map[string]any{
			"name": pv.name, "in": "path", "required": true, "description": pv.doc,
			"schema": map[string]any{"type": "string", "enum": pv.values, "maxLength": longest},
		})
	}
	if len(params) > 0 {
		out["parameters"] = params
	}
	switch {
	case op.body != nil:
		out["requestBody"] = map[string]any{"required": true,
			"content": map[string]any{"application/json": map[string]any{"schema": g.requestRef(op.body)}}}
	case op.form != nil:
		out["requestBody"] = map[string]any{"required": true,
			"content": map[string]any{"application/x-www-form-urlencoded": map[string]any{"schema": g.requestRef(op.form)}}}
	}

	// Every response of a rate-limited route carries the RateLimit headers: the middleware sets them
	// before the handler runs. Probes are exempt from rate limiting. Any response may carry the CORS
	// header, when CORS is configured.
	headersFor := func(names ...string) map[string]any {
		hs := map[string]any{}
		names = append(names, "Access-Control-Allow-Origin")
		if !op.probe {
			names = append(names, "RateLimit-Policy", "RateLimit")
		}
		for _, n := range names {
			hs[n] = headerRef(n)
		}
		return hs
	}

	responses := map[string]any{}
	success := map[string]any{"description": http.StatusText(op.status)}
	switch {
	case op.response != nil && op.response.Kind() == reflect.Slice:
		if op.maxItems <= 0 {
			panic("httpapi: OpenAPI: array response without maxItems: " + op.id)
		}
		success["content"] = map[string]any{"application/json": map[string]any{"schema": map[string]any{
			"type": "array", "maxItems": op.maxItems, "items": g.ref(op.response.Elem())}}}
	case op.response != nil:
		success["content"] = map[string]any{"application/json": map[string]any{"schema": g.ref(op.response)}}
	case op.responseType == "application/json":
		success["content"] = map[string]any{op.responseType: map[string]any{"schema": map[string]any{
			"type": "object", "description": "An OpenAPI 3.1 document."}}}
	case op.responseType != "":
		// HTML pages and assets: their schema would say nothing that the media type does not.
		success["content"] = map[string]any{op.responseType: map[string]any{}}
	}
	success["headers"] = headersFor(op.headers...)
	responses[strconv.Itoa(op.status)] = success

	// Any request may declare a body over the cap (withBodyLimit) or make a handler panic (withRecover).
	errs := append(slices.Clone(op.errors), http.StatusRequestEntityTooLarge, http.StatusInternalServerError)
	if op.body != nil || op.form != nil {
		errs = append(errs, http.StatusUnsupportedMediaType)
	}
	if op.authenticated() {
		errs = append(errs, http.StatusUnauthorized)
		// Scoped by permission, so that no admin operation shares a requirement with another one.
		if _, ok := permissionDocs[op.permission]; !ok {
			panic("httpapi: OpenAPI: permission without a description: " + op.permission)
		}
		required := []string{op.permission}
		out["security"] = []any{map[string]any{"OAuth2PasswordBearer": required}, map[string]any{"BearerJWT": required}}
	}
	if op.authenticated() || op.body != nil || op.form != nil {
		// These reach the database or the password hasher, which may be unavailable.
		errs = append(errs, http.StatusServiceUnavailable)
	}
	if !op.probe {
		// Probes are exempt from the Host check and from rate limits.
		errs = append(errs, http.StatusBadRequest, http.StatusTooManyRequests)
	}
	slices.Sort(errs)
	errs = slices.Compact(errs)
	problemRef := g.ref(typeOf[problem]())
	for _, code := range errs {
		desc := errorDocs[code]
		if code == http.StatusRequestEntityTooLarge {
			desc = fmt.Sprintf("The request body (or its declared length) is over %d bytes.", g.maxBody)
		}
		if note, ok := op.errorDocs[code]; ok {
			desc = note
		}
		resp := map[string]any{
			"description": desc,
			"content":     map[string]any{"application/problem+json": map[string]any{"schema": problemRef}},
		}
		var hs map[string]any
		switch code {
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			hs = headersFor("Retry-After")
		case http.StatusUnauthorized:
			hs = headersFor("WWW-Authenticate")
		default:
			hs = headersFor()
		}
		resp["headers"] = hs
		responses[strconv.Itoa(code)] = resp
	}
	out["responses"] = responses
	return out
}

// errorDocs says when each problem status is answered.
var errorDocs = map[int]string{
	http.StatusBadRequest: "The Host header is not one of the allowed hosts, or the body cannot be read.",
	http.StatusUnauthorized: "The bearer token is missing, invalid or expired, or its user is gone or " +
		"inactive.",
	http.StatusNotFound:              "There is no such resource for the caller.",
	http.StatusRequestEntityTooLarge: "The request body is too large.",
	http.StatusUnsupportedMediaType:  "The request body is not of the documented media type.",
	http.StatusUnprocessableEntity: "A parameter or the body is invalid; errors lists each invalid field " +
		"and detail repeats the first.",
	http.StatusTooManyRequests: "A request budget is spent (the client's, or at login the email's); " +
		"retry after Retry-After seconds.",
	http.StatusInternalServerError: "An unexpected failure; its cause is logged under the request_id, never returned.",
	http.StatusServiceUnavailable:  "The database cannot answer right now; retry after Retry-After seconds.",
}
