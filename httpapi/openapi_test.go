package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// openAPIDoc fetches /openapi.json through the server and decodes it.
func openAPIDoc(t *testing.T, e *env) map[string]any {
	t.Helper()
	rec := e.do("GET", "/openapi.json", "", "", "")
	wantStatus(t, rec, http.StatusOK)
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("/openapi.json: got invalid JSON (%v), want a document", err)
	}
	return doc
}

// at walks a decoded JSON document along keys, failing the test when a key is missing.
func at(t *testing.T, v any, keys ...string) any {
	t.Helper()
	for i, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: got %T, want an object", strings.Join(keys[:i], "."), v)
		}
		if v, ok = m[k]; !ok {
			t.Fatalf("%s: missing, want present", strings.Join(keys[:i+1], "."))
		}
	}
	return v
}

// schemaOf resolves a $ref in the document's components.
func schemaOf(t *testing.T, doc map[string]any, s any) map[string]any {
	t.Helper()
	m, _ := s.(map[string]any)
	if ref, ok := m["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		m, _ = at(t, doc, "components", "schemas", name).(map[string]any)
	}
	return m
}

func TestOpenAPIDocument(t *testing.T) {
	e := newEnv(t)
	doc := openAPIDoc(t, e)
	if v := at(t, doc, "openapi"); v != "3.1.0" {
		t.Errorf("openapi got %v, want 3.1.0", v)
	}
	if v := at(t, doc, "info", "version"); v != "test" {
		t.Errorf("info.version got %v, want the configured version", v)
	}

	limits := []struct {
		schema, field string
		min, max      float64
	}{
		{"ItemCreateRequest", "name", 1, 255},
		{"ItemUpdateRequest", "name", 1, 255},
		{"RegisterRequest", "password", 12, 256},
	}
	for _, l := range limits {
		p := at(t, doc, "components", "schemas", l.schema, "properties", l.field).(map[string]any)
		if p["minLength"] != l.min || p["maxLength"] != l.max {
			t.Errorf("%s.%s: minLength/maxLength got %v/%v, want %v/%v", l.schema, l.field, p["minLength"], p["maxLength"], l.min, l.max)
		}
	}
	if v := at(t, doc, "components", "schemas", "ItemCreateRequest", "properties", "description", "maxLength"); v != float64(10000) {
		t.Errorf("ItemCreateRequest.description maxLength got %v, want 10000", v)
	}
	if v := at(t, doc, "components", "schemas", "RegisterRequest", "properties", "email", "format"); v != "email" {
		t.Errorf("RegisterRequest.email format got %v, want email", v)
	}
	if req := at(t, doc, "components", "schemas", "ItemCreateRequest", "required"); !slices.Equal(toStrings(req), []string{"name"}) {
		t.Errorf("ItemCreateRequest required got %v, want [name]", req)
	}

	// Every request body forbids additional properties; every item_id is at least 1; every secured
	// operation names the scheme.
	for path, ops := range at(t, doc, "paths").(map[string]any) {
		for method, op := range ops.(map[string]any) {
			op := op.(map[string]any)
			where := strings.ToUpper(method) + " " + path
			if rb, ok := op["requestBody"].(map[string]any); ok {
				for mt, content := range rb["content"].(map[string]any) {
					s := schemaOf(t, doc, content.(map[string]any)["schema"])
					if s["additionalProperties"] != false {
						t.Errorf("%s %s body: additionalProperties got %v, want false", where, mt, s["additionalProperties"])
					}
				}
			}
			params, _ := op["parameters"].([]any)
			for _, p := range params {
				p := p.(map[string]any)
				if p["name"] == "item_id" {
					if min := p["schema"].(map[string]any)["minimum"]; min != float64(1) {
						t.Errorf("%s item_id minimum got %v, want 1", where, min)
					}
					if p["in"] != "path" || p["required"] != true {
						t.Errorf("%s item_id got in=%v required=%v, want a required path parameter", where, p["in"], p["required"])
					}
				}
			}
		}
	}
}

func toStrings(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

// TestOpenAPIMatchesRoutes: every registered route is documented, and every documented operation is
// answered by the server with one of the statuses it documents (never 404/405).
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t)
	doc := openAPIDoc(t, e)
	paths := at(t, doc, "paths").(map[string]any)

	ids := map[string]bool{}
	documented := 0
	for _, rt := range e.srv.routes() {
		path := strings.ReplaceAll(rt.path, "...}", "}")
		op, ok := paths[path].(map[string]any)[strings.ToLower(rt.method)].(map[string]any)
		if !ok {
			t.Errorf("route %s %s: not in /openapi.json, want documented", rt.method, rt.path)
			continue
		}
		if op["operationId"] != rt.doc.id || ids[rt.doc.id] {
			t.Errorf("route %s %s: operationId got %v, want unique %q", rt.method, rt.path, op["operationId"], rt.doc.id)
		}
		ids[rt.doc.id] = true
		if _, secured := op["security"]; secured != rt.doc.auth {
			t.Errorf("route %s %s: security documented %v, want %v", rt.method, rt.path, secured, rt.doc.auth)
		}
	}
	for _, ops := range paths {
		documented += len(ops.(map[string]any))
	}
	if documented != len(e.srv.routes()) {
		t.Errorf("documented operations got %d, want one per route (%d)", documented, len(e.srv.routes()))
	}

	_, tok := e.user("openapi@example.com")
	for path, ops := range paths {
		for method, op := range ops.(map[string]any) {
			op := op.(map[string]any)
			method := strings.ToUpper(method)
			t.Run(method+" "+path, func(t *testing.T) {
				target := path
				if strings.Contains(target, "{item_id}") {
					it := e.createItem(tok, "for "+method, nil)
					target = strings.ReplaceAll(target, "{item_id}", strconv.FormatInt(it.ID, 10))
				}
				target = strings.ReplaceAll(target, "{path}", "app.js")
				if strings.Contains(target, "{") {
					t.Fatalf("path %s has a parameter this test cannot fill", path)
				}
				ct, body := "", ""
				if rb, ok := op["requestBody"].(map[string]any); ok {
					for mt := range rb["content"].(map[string]any) {
						ct = mt
					}
					if ct == "application/json" {
						body = "{}"
					}
				}
				_, secured := op["security"]
				tk := ""
				if secured {
					tk = tok
					// Without a token the operation is refused.
					wantProblem(t, e.do(method, target, "", ct, body), http.StatusUnauthorized, "Not authenticated")
				}
				rec := e.do(method, target, tk, ct, body)
				if rec.Code == http.StatusNotFound || rec.Code == http.StatusMethodNotAllowed {
					t.Fatalf("status got %d, want the documented operation answered", rec.Code)
				}
				responses := op["responses"].(map[string]any)
				if _, ok := responses[strconv.Itoa(rec.Code)]; !ok {
					t.Errorf("status got %d, want one of the documented %v", rec.Code, keys(responses))
				}
			})
		}
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
