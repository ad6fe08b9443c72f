package httpapi

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// buildOpenAPI writes the OpenAPI 3.1 document of the routes. Schemas come from the same Go types and
// parameter values that validate requests, so the document states exactly the limits that are enforced.
func buildOpenAPI(routes []route, version string) []byte {
	schemas := map[string]any{"Problem": jsonSchema(typeOf[problem]())}
	ref := func(t reflect.Type) map[string]any {
		if t.Kind() == reflect.Slice {
			return map[string]any{"type": "array", "items": refTo(schemas, t.Elem())}
		}
		return refTo(schemas, t)
	}
	paths := map[string]map[string]any{}
	for _, rt := range routes {
		path := strings.ReplaceAll(rt.path, "...}", "}")
		if paths[path] == nil {
			paths[path] = map[string]any{}
		}
		paths[path][strings.ToLower(rt.method)] = operationDoc(rt.doc, ref)
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "Fortress API",
			"version":     version,
			"description": "A secure-by-default API: accounts with JWT access tokens and per-user items.",
			"license":     map[string]any{"name": "MIT", "identifier": "MIT"},
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": schemas,
			"securitySchemes": map[string]any{
				"OAuth2PasswordBearer": map[string]any{
					"type": "oauth2",
					"flows": map[string]any{
						"password": map[string]any{"tokenUrl": "/auth/login", "scopes": map[string]any{}},
					},
				},
			},
		},
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic("httpapi: OpenAPI document: " + err.Error()) // only maps, strings and numbers: cannot fail
	}
	return out
}

// refTo registers t's schema under its exported name and returns a reference to it.
func refTo(schemas map[string]any, t reflect.Type) map[string]any {
	name := exportedName(t.Name())
	if _, done := schemas[name]; !done {
		schemas[name] = jsonSchema(t)
	}
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

func exportedName(s string) string {
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

func operationDoc(op operation, ref func(reflect.Type) map[string]any) map[string]any {
	out := map[string]any{"operationId": op.id, "summary": op.summary, "tags": []string{op.tag}}
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
	if len(params) > 0 {
		out["parameters"] = params
	}
	switch {
	case op.body != nil:
		out["requestBody"] = map[string]any{"required": true,
			"content": map[string]any{"application/json": map[string]any{"schema": ref(op.body)}}}
	case op.form != nil:
		out["requestBody"] = map[string]any{"required": true,
			"content": map[string]any{"application/x-www-form-urlencoded": map[string]any{"schema": ref(op.form)}}}
	}

	responses := map[string]any{}
	success := map[string]any{"description": http.StatusText(op.status)}
	switch {
	case op.response != nil:
		success["content"] = map[string]any{"application/json": map[string]any{"schema": ref(op.response)}}
	case op.responseType != "":
		success["content"] = map[string]any{op.responseType: map[string]any{"schema": map[string]any{"type": "string"}}}
	}
	if len(op.headers) > 0 {
		hs := map[string]any{}
		for _, h := range op.headers {
			hs[h] = map[string]any{"description": headerDocs[h], "schema": headerSchema(h)}
		}
		success["headers"] = hs
	}
	responses[strconv.Itoa(op.status)] = success

	errs := slices.Clone(op.errors)
	if op.body != nil || op.form != nil {
		errs = append(errs, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType)
	}
	if op.auth {
		errs = append(errs, http.StatusUnauthorized)
		out["security"] = []any{map[string]any{"OAuth2PasswordBearer": []string{}}}
	}
	errs = append(errs, http.StatusBadRequest, http.StatusInternalServerError, http.StatusServiceUnavailable)
	if !op.probe {
		errs = append(errs, http.StatusTooManyRequests)
	}
	problemRef := ref(typeOf[problem]())
	for _, code := range errs {
		resp := map[string]any{
			"description": http.StatusText(code),
			"content":     map[string]any{"application/problem+json": map[string]any{"schema": problemRef}},
		}
		if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
			resp["headers"] = map[string]any{"Retry-After": map[string]any{
				"description": headerDocs["Retry-After"], "schema": headerSchema("Retry-After")}}
		}
		responses[strconv.Itoa(code)] = resp
	}
	out["responses"] = responses
	return out
}

// headerDocs describes the response headers that operations declare.
var headerDocs = map[string]string{
	"Location":      "The URL of the created item.",
	"X-Total-Count": "The caller's total number of items.",
	"Link":          `The next page, as <url>; rel="next", when there is one.`,
	"Retry-After":   "Seconds to wait before retrying.",
}

func headerSchema(name string) map[string]any {
	if name == "X-Total-Count" || name == "Retry-After" {
		return map[string]any{"type": "integer", "minimum": 0}
	}
	return map[string]any{"type": "string", "maxLength": 2048}
}
