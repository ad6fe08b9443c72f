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
	auth             bool         // needs a bearer token
	body             reflect.Type // JSON request struct, if any
	form             reflect.Type // form request struct, if any
	params           []intParam
	status           int               // success status
	response         reflect.Type      // JSON success body, if any
	responseType     string            // media type of a non-JSON success body
	errors           []int             // problem statuses the operation can answer besides the common ones
	headers          []string          // response headers the success carries
	limit            *ratelimit.Policy // a stricter budget for this route, on top of the general one
	probe            bool              // liveness/readiness: exempt from the Host check and rate limits
}

func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

// routes lists every route of the API in one place.
func (s *Server) routes() []route {
	c := s.cfg
	log, users, items := c.Logger, c.Users, c.Items
	itemErrors := []int{http.StatusNotFound, http.StatusUnprocessableEntity}

	itemCreate := operation{id: "createItem", summary: "Create an item owned by the caller", tag: "items", auth: true,
		body: typeOf[itemCreateRequest](), status: http.StatusCreated, response: typeOf[itemResponse](),
		errors: []int{http.StatusUnprocessableEntity}, headers: []string{"Location"}}
	itemList := operation{id: "listItems", summary: "List the caller's items, oldest first", tag: "items", auth: true,
		params: []intParam{limitParam, offsetParam}, status: http.StatusOK, response: typeOf[[]itemResponse](),
		errors: []int{http.StatusUnprocessableEntity}, headers: []string{"X-Total-Count", "Link"}}

	return []route{
		{"GET", "/health", handleHealth(log), operation{id: "health", summary: "Liveness", tag: "operations",
			status: http.StatusOK, response: typeOf[healthResponse](), probe: true}},
		{"GET", "/readyz", handleReady(log, c.Ready, s.draining.Load), operation{id: "ready",
			summary: "Readiness: the database answers and its schema is current", tag: "operations",
			status: http.StatusOK, response: typeOf[healthResponse](), errors: []int{http.StatusServiceUnavailable}, probe: true}},
		{"GET", "/openapi.json", http.HandlerFunc(s.serveOpenAPI), operation{id: "openapi", summary: "This document",
			tag: "operations", status: http.StatusOK, responseType: "application/json"}},
		{"GET", "/docs", handleFile(ui.Files, "docs.html"), operation{id: "docs", summary: "Interactive API docs",
			tag: "ui", status: http.StatusOK, responseType: "text/html"}},
		{"GET", "/", handleFile(ui.Files, "index.html"), operation{id: "webUI", summary: "The web UI",
			tag: "ui", status: http.StatusOK, responseType: "text/html"}},
		{"GET", "/static/{path...}", handleStatic(ui.Files), operation{id: "staticAsset",
			summary: "An asset of the web UI", tag: "ui", status: http.StatusOK, responseType: "application/octet-stream",
			errors: []int{http.StatusNotFound}}},

		{"POST", "/auth/register", handleRegister(log, users, c.Passwords), operation{id: "register",
			summary: "Create an account", tag: "auth", body: typeOf[registerRequest](), status: http.StatusCreated,
			response: typeOf[userResponse](), errors: []int{http.StatusBadRequest, http.StatusUnprocessableEntity},
			limit: &c.RegisterLimit}},
		{"POST", "/auth/login", handleLogin(log, users, c.Passwords, c.Tokens, c.TokenTTL,
			&loginLockout{log: log, store: c.Limiter, policy: c.LoginLockout}), operation{id: "login",
			summary: "Exchange email and password for an access token (OAuth2 password grant)", tag: "auth",
			form: typeOf[loginForm](), status: http.StatusOK, response: typeOf[tokenResponse](),
			errors: []int{http.StatusUnauthorized, http.StatusUnprocessableEntity}, limit: &c.LoginLimit}},

		{"POST", "/items/", handleItemCreate(log, items), itemCreate},
		{"POST", "/items", handleItemCreate(log, items), withID(itemCreate, "createItemNoSlash")},
		{"GET", "/items/", handleItemList(log, items), itemList},
		{"GET", "/items", handleItemList(log, items), withID(itemList, "listItemsNoSlash")},
		{"GET", "/items/{item_id}", handleItemGet(log, items), operation{id: "getItem", summary: "Read one of the caller's items",
			tag: "items", auth: true, params: []intParam{itemIDParam}, status: http.StatusOK,
			response: typeOf[itemResponse](), errors: itemErrors}},
		{"PUT", "/items/{item_id}", handleItemUpdate(log, items), operation{id: "updateItem",
			summary: "Update some fields of one of the caller's items", tag: "items", auth: true,
			params: []intParam{itemIDParam}, body: typeOf[itemUpdateRequest](), status: http.StatusOK,
			response: typeOf[itemResponse](), errors: itemErrors}},
		{"DELETE", "/items/{item_id}", handleItemDelete(log, items), operation{id: "deleteItem",
			summary: "Delete one of the caller's items (204 even if there was none)", tag: "items", auth: true,
			params: []intParam{itemIDParam}, status: http.StatusNoContent, errors: []int{http.StatusUnprocessableEntity}}},
	}
}

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
}
