package httpapi

import (
	"net/http"
	"reflect"

	"github.com/fortress-dev/fortress/ratelimit"
	"github.com/fortress-dev/fortress/ui"
)

// route is one operation of the API. The same list registers the handlers and writes /openapi.json,
// so every route is documented and every documented route exists.
type route struct {
	method  string
	path    string // the OpenAPI path; "{name...}" matches the rest of the path
	handler http.Handler
	doc     operation
}

// operation documents a route for /openapi.json.
type operation struct {
	id, summary, tag string
	description      string       // what a client must know beyond the summary
	permission       string       // what the caller must be allowed to do (see permissions.go); required
	body             reflect.Type // JSON request struct, if any
	form             reflect.Type // form request struct, if any
	params           []intParam
	query            []textParam       // optional string query parameters, which the handler parses
	pathValues       *pathValues       // a string path parameter, if any
	status           int               // success status
	response         reflect.Type      // JSON success body, if any
	responseType     string            // media type of a non-JSON success body
	maxItems         int               // the most elements a JSON array response holds
	errors           []int             // problem statuses the operation can answer besides the common ones
	errorDocs        map[int]string    // when this operation answers a status, where the common text is wrong
	headers          []string          // response headers the success carries
	limit            *ratelimit.Policy // a stricter budget for this route, on top of the general one
	probe            bool              // liveness/readiness: exempt from the Host check and rate limits
	maxBody          int64             // the request body cap (set by routes for operations with a body)
}

// pathValues documents a string path parameter whose only useful values are known: any other value
// is answered 404.
type pathValues struct {
	name, doc string
	values    []string
}

func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

// routes lists every route of the API in one place.
func (s *Server) routes() []route {
	c := s.cfg
	log, users, items := c.Logger, c.Users, c.Items
	lockout := &loginLockout{log: log, store: c.Limiter, policy: c.LoginLockout}
	sess := &sessions{log: log, store: c.Sessions, tokens: c.Tokens, ttl: c.TokenTTL,
		lifetime: c.SessionLifetime, idle: c.SessionIdle, audit: s.audit()}
	acct := &account{log: log, users: users, hasher: c.Passwords, sessions: c.Sessions, lockout: lockout, audit: s.audit()}
	itemErrors := []int{http.StatusNotFound, http.StatusUnprocessableEntity}

	itemCreate := operation{id: "createItem", summary: "Create an item owned by the caller", tag: "items", permission: permItemsOwn,
		description: "Creates an item owned by the authenticated user and answers it with 201 and its URL in " +
			"Location. The name is required; the description is optional and may be null. Unknown fields, " +
			"duplicate keys and values of the wrong type are refused with 422.",
		body: typeOf[itemCreateRequest](), status: http.StatusCreated, response: typeOf[itemResponse](),
		errors: []int{http.StatusUnprocessableEntity}, headers: []string{"Location"}}
	itemList := operation{id: "listItems", summary: "List the caller's items, oldest first", tag: "items", permission: permItemsOwn,
		description: "Answers one page of the authenticated user's items as a JSON array, oldest first. " +
			"X-Total-Count gives the number of items in all pages, and Link the next page when there is one. " +
			"Other users' items are never listed.",
		params: []intParam{limitParam, offsetParam}, status: http.StatusOK, response: typeOf[[]itemResponse](),
		maxItems: int(limitParam.Max), errors: []int{http.StatusUnprocessableEntity}, headers: []string{"X-Total-Count", "Link"}}

	rs := []route{
		{"GET", "/health", handleHealth(log), operation{id: "health", permission: permPublic, summary: "Liveness", tag: "operations",
			description: "Answers 200 while the process serves HTTP; it checks nothing else, so that a slow " +
				"database never gets healthy processes restarted. Exempt from the Host check and from rate limits.",
			status: http.StatusOK, response: typeOf[healthResponse](), probe: true}},
		{"GET", "/readyz", handleReady(log, c.Observer, c.Ready, s.draining.Load), operation{id: "ready", permission: permPublic,
			summary: "Readiness: the database answers and its schema is current", tag: "operations",
			description: "Answers 200 when this instance can serve requests, and 503 with Retry-After while the " +
				"database does not answer, its schema is not current, or the instance is shutting down. The cause " +
				"is logged, never returned. Exempt from the Host check and from rate limits.",
			status: http.StatusOK, response: typeOf[healthResponse](), errors: []int{http.StatusServiceUnavailable}, probe: true,
			errorDocs: map[int]string{http.StatusServiceUnavailable: "The instance is not ready, or is shutting down; " +
				"retry after Retry-After seconds."}}},
		{"GET", "/openapi.json", http.HandlerFunc(s.serveOpenAPI), operation{id: "openapi", permission: permPublic, summary: "This document",
			description: "The OpenAPI 3.1 document of this API, generated from the same route list and Go types " +
				"that validate requests, so the limits it states are the ones enforced.",
			tag: "operations", status: http.StatusOK, responseType: "application/json"}},
		{"GET", "/docs", handleFile(ui.Files, "docs.html"), operation{id: "docs", permission: permPublic, summary: "Interactive API docs",
			description: "An HTML page that renders this document with Swagger UI, served from this server " +
				"under a strict Content-Security-Policy. Its Authorize button logs in through POST /auth/login.",
			tag: "ui", status: http.StatusOK, responseType: "text/html"}},
		{"GET", "/", handleFile(ui.Files, "index.html"), operation{id: "webUI", permission: permPublic, summary: "The web UI",
			tag: "ui", status: http.StatusOK, responseType: "text/html",
			description: "The HTML page of the web UI, which registers, logs in and manages items through this API."}},
		{"GET", "/static/{path...}", handleStatic(ui.Files), operation{id: "staticAsset", permission: permPublic,
			summary: "An asset of the web UI", tag: "ui",
			status: http.StatusOK, responseType: "*/*", errors: []int{http.StatusNotFound},
			pathValues: &pathValues{name: "path", doc: "The asset's path below /static/.", values: assetNames(ui.Files, "static")},
			description: "A script, style sheet, image or licence file of the web UI or of the docs page, with " +
				"the media type of its file name's extension (or, without one, of its content). Only the files " +
				"listed for path exist; any other path, a directory included, is answered 404."}},

		{"POST", "/auth/register", handleRegister(log, users, c.Passwords, s.audit()), operation{id: "register", permission: permPublic,
			summary: "Create an account", tag: "auth",
			description: "Creates an active account and answers it with 201, never with its password hash. " +
				"The email must be unused regardless of letter case; a taken email is answered 400 after the " +
				"same password-hashing work as a new one, so timing does not tell which emails exist.",
			body: typeOf[registerRequest](), status: http.StatusCreated,
			response: typeOf[userResponse](), errors: []int{http.StatusBadRequest, http.StatusUnprocessableEntity},
			errorDocs: map[int]string{http.StatusBadRequest: "The email may already be in use, the Host header is " +
				"not one of the allowed hosts, or the body cannot be read.", http.StatusServiceUnavailable: busyDoc},
			limit: &c.RegisterLimit}},
		{"POST", "/auth/login", handleLogin(log, users, c.Passwords, sess, lockout), operation{id: "login", permission: permPublic,
			summary: "Sign in: exchange email and password for an access token and a refresh token (OAuth2 password grant)", tag: "auth",
			description: "The OAuth2 resource-owner password grant (RFC 6749, section 4.3): the email goes in " +
				"username. It opens a session: a short-lived access token and a refresh token for POST /auth/refresh. " +
				"Every failure (unknown email, wrong password, inactive account) gets the same 401 " +
				"after the same work. While the login lockout is on (the default), repeated failures for one " +
				"email are answered 429 with Retry-After until that email's budget refills; a successful login " +
				"refills it.",
			form: typeOf[loginForm](), status: http.StatusOK, response: typeOf[tokenResponse](), headers: []string{"Set-Cookie"},
			errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity}, limit: &c.LoginLimit,
			errorDocs: map[int]string{http.StatusUnauthorized: "The email or password is wrong, or the account is inactive.",
				http.StatusForbidden:          "refresh_delivery is 'cookie' and the request does not come from this origin.",
				http.StatusServiceUnavailable: busyDoc}}},
		{"POST", "/auth/refresh", sess.handleRefresh(), operation{id: "refresh", permission: permPublic,
			summary: "Exchange a refresh token for a new access token and a new refresh token", tag: "auth",
			description: "Browsers send no body: the refresh token comes from the HttpOnly cookie, and the request " +
				"must come from this origin (Origin or Sec-Fetch-Site). API clients send the refresh token in the " +
				"body. Either way the presented token dies and a new one replaces it; presenting a token that was " +
				"already exchanged ends the whole session (someone else holds a copy). A session ends after its " +
				"absolute lifetime, or when its refresh token goes unused longer than the idle timeout.",
			body: typeOf[refreshRequest](), status: http.StatusOK, response: typeOf[tokenResponse](), headers: []string{"Set-Cookie"},
			errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity},
			errorDocs: map[int]string{http.StatusUnauthorized: "The refresh token is missing, unknown, already used, or its session has ended.",
				http.StatusForbidden: "The cookie came with a request from another origin."}}},
		{"POST", "/auth/logout", sess.handleLogout(), operation{id: "logout", permission: permAccountOwn,
			summary: "Sign out: end the session of this access token", tag: "auth",
			description: "Ends the session: its access tokens stop working at once, its refresh token too, and the " +
				"browser's refresh cookie is cleared.",
			status: http.StatusNoContent, headers: []string{"Set-Cookie"}}},
		{"GET", "/auth/me", acct.handleMe(), operation{id: "getMe", permission: permAccountOwn,
			summary: "The caller's account", tag: "account", description: "Answers the account of the access token.",
			status: http.StatusOK, response: typeOf[meResponse]()}},
		{"DELETE", "/auth/me", acct.handleAccountDelete(), operation{id: "deleteMe", permission: permAccountOwn,
			summary: "Delete the caller's account, its items and its sessions", tag: "account",
			description: "Asks for the password again. The audit log keeps the account's events. The last active " +
				"administrator cannot delete their account (409).",
			body: typeOf[accountDeleteRequest](), status: http.StatusNoContent, headers: []string{"Set-Cookie"},
			errors:    []int{http.StatusForbidden, http.StatusConflict, http.StatusUnprocessableEntity},
			errorDocs: map[int]string{http.StatusForbidden: "The password is wrong.", http.StatusConflict: detailLastAdmin, http.StatusServiceUnavailable: busyDoc}}},
		{"POST", "/auth/password", acct.handlePasswordChange(), operation{id: "changePassword", permission: permAccountOwn,
			summary: "Change the caller's password; every session ends", tag: "account",
			description: "Asks for the current password. On success all of the user's sessions end, this one " +
				"included, so whoever knew the old password is signed out; sign in again with the new one.",
			body: typeOf[passwordChangeRequest](), status: http.StatusNoContent, headers: []string{"Set-Cookie"},
			errors:    []int{http.StatusForbidden, http.StatusUnprocessableEntity},
			errorDocs: map[int]string{http.StatusForbidden: "The current password is wrong.", http.StatusServiceUnavailable: busyDoc}}},
		{"GET", "/auth/sessions", sess.handleSessionList(), operation{id: "listSessions", permission: permAccountOwn,
			summary: "The caller's open sessions, newest first", tag: "account",
			description: "Every session of the caller that can still be used, with the one of this token marked current.",
			status:      http.StatusOK, response: typeOf[[]sessionResponse](), maxItems: maxSessionsListed}},
		{"DELETE", "/auth/sessions", sess.handleSessionDeleteAll(), operation{id: "deleteSessions", permission: permAccountOwn,
			summary: "Sign out everywhere: end all of the caller's sessions, this one included", tag: "account",
			description: "Every access and refresh token of the caller stops working at once.",
			status:      http.StatusNoContent, headers: []string{"Set-Cookie"}}},
		{"DELETE", "/auth/sessions/{session_id}", sess.handleSessionDelete(), operation{id: "deleteSession", permission: permAccountOwn,
			summary: "End one of the caller's sessions", tag: "account",
			description: "Another user's session is answered 404 exactly like a missing one.",
			params:      []intParam{sessionIDParam}, status: http.StatusNoContent,
			errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity}}},

		{"POST", "/items/", handleItemCreate(log, items), itemCreate},
		{"POST", "/items", handleItemCreate(log, items), withID(itemCreate, "createItemNoSlash")},
		{"GET", "/items/", handleItemList(log, items), itemList},
		{"GET", "/items", handleItemList(log, items), withID(itemList, "listItemsNoSlash")},
		{"GET", "/items/{item_id}", handleItemGet(log, items), operation{id: "getItem", summary: "Read one of the caller's items",
			description: "Answers the item if the authenticated user owns it. Another user's item is answered " +
				"404 exactly like a missing one, so ids reveal nothing.",
			tag: "items", permission: permItemsOwn, params: []intParam{itemIDParam}, status: http.StatusOK,
			response: typeOf[itemResponse](), errors: itemErrors}},
		{"PUT", "/items/{item_id}", handleItemUpdate(log, items), operation{id: "updateItem",
			summary: "Update some fields of one of the caller's items", tag: "items", permission: permItemsOwn,
			description: "A partial update: an absent field keeps its value, a null description clears it, and " +
				"name must not be null. Another user's item is answered 404 exactly like a missing one.",
			params: []intParam{itemIDParam}, body: typeOf[itemUpdateRequest](), status: http.StatusOK,
			response: typeOf[itemResponse](), errors: itemErrors}},
		{"DELETE", "/items/{item_id}", handleItemDelete(log, items), operation{id: "deleteItem",
			summary: "Delete one of the caller's items (204 even if there was none)", tag: "items", permission: permItemsOwn,
			description: "Deletes the item if the authenticated user owns it. The answer is 204 whether or not " +
				"there was such an item, so that it reveals nothing about other users' ids.",
			params: []intParam{itemIDParam}, status: http.StatusNoContent, errors: []int{http.StatusUnprocessableEntity}}},
	}
	rs = append(rs, s.adminRoutes()...)
	// Only EdDSA public keys are published; with a shared HS256 secret alone there is nothing to serve,
	// so the route does not exist (and is not documented).
	if len(c.JWKS) > 0 {
		rs = append(rs, route{"GET", "/.well-known/jwks.json", handleJWKS(c.JWKS), operation{id: "jwks",
			permission: permPublic, summary: "The public keys that verify access tokens (JWK Set)",
			description: "The Ed25519 public keys, current and retired, that verify access tokens (RFC 7517), " +
				"so that other services can verify tokens without a shared secret.",
			tag: "operations", status: http.StatusOK, responseType: "application/jwk-set+json"}})
	}
	// The body cap is configuration; the document states it where a body is read.
	for i := range rs {
		if rs[i].doc.body != nil || rs[i].doc.form != nil {
			rs[i].doc.maxBody = c.MaxBodyBytes
		}
	}
	return rs
}

// busyDoc is the 503 of the operations that hash passwords, which a bounded number may do at once.
const busyDoc = "The database cannot answer, or too many passwords are being hashed at once; retry after " +
	"Retry-After seconds."

// withID returns a copy of op under another operationId, for the same operation at a second path.
func withID(op operation, id string) operation {
	op.id = id
	return op
}

// loginForm documents the form of POST /auth/login; handleLogin enforces the same fields.
type loginForm struct {
	GrantType    string `json:"grant_type" validate:"" doc:"If present, must be 'password'."`
	Username     string `json:"username" validate:"required,min=1,max=254" doc:"The account's email address."`
	Password     string `json:"password" validate:"required,min=1,max=256" doc:"The password."`
	Scope        string `json:"scope" validate:"" doc:"Accepted and ignored."`
	ClientID     string `json:"client_id" validate:"" doc:"Accepted and ignored."`
	ClientSecret string `json:"client_secret" validate:"" doc:"Accepted and ignored."`
	// RefreshDelivery "cookie" is for the browser UI; API clients keep the default.
	RefreshDelivery string `json:"refresh_delivery" validate:"" doc:"Where the refresh token goes: 'body' (the default: the refresh_token field) or 'cookie' (an HttpOnly, SameSite=Strict cookie scoped to /auth, for browsers; the request must then come from this origin)."`
}
