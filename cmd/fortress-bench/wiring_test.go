package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strings"
	"testing"
)

// notInProfiledServer is what runServe does that serve-profiled leaves out on purpose: command-line and
// start-up chatter, TLS, and the metrics listener with its readiness watch (the harness measures plain HTTP
// without FORTRESS_METRICS_ADDR; the metrics are recorded on every request all the same), tracing (the release binary `make
// bench` measures is built without -tags otel, where newTracing's handler is the API itself), the warning
// about a schema newer than the binary (the harness migrates its own database), the shutdown delay (the
// profile ends at its own time), and the wait for a signal.
var notInProfiledServer = []string{
	"schemaAhead", "cfg.ShutdownDelay.String", "time.NewTimer", "delay.Stop",
	"newTracing", "traced", "stopTracing",
	"parseFlags", "flag.NewFlagSet", "badUsage", "oneLine", "len", "fmt.Errorf",
	"logger.Info", "logger.Error", "logger.Warn", "s.Close", "applied", "tokens.Algorithm", "tokens.KeyID", "tokens.PublicKeys",
	"buildVersion", "serveMetrics", "stopMetrics", "watchReadiness", "stopReady", "loadTLS", "srv.ServeTLS", "displayAddr", "ln.Addr",
	"closeLimiter", "stopPruning", "close", "context.WithCancel", "context.WithTimeout", "cancel",
	"serve", "srv.Close", "errors.Is", "make", "min", "string", "ctx.Done", "cfg.ShutdownTimeout.String",
}

// calledIn lists the functions and methods called in fn's body, as written ("gate.Observe").
func calledIn(fn ast.Node) []string {
	var names []string
	ast.Inspect(fn, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		switch f := call.Fun.(type) {
		case *ast.Ident:
			names = append(names, f.Name)
		case *ast.SelectorExpr:
			if x, ok := f.X.(*ast.Ident); ok {
				names = append(names, x.Name+"."+f.Sel.Name)
			} else if sel, ok := f.X.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); ok {
					names = append(names, x.Name+"."+sel.Sel.Name+"."+f.Sel.Name)
				}
			}
		}
		return true
	})
	return names
}

// literalKeys lists the field names set in every composite literal of type pkg.typ in node.
func literalKeys(node ast.Node, pkg, typ string) []string {
	var keys []string
	ast.Inspect(node, func(n ast.Node) bool {
		lit, ok := n.(*ast.CompositeLit)
		if !ok {
			return true
		}
		sel, ok := lit.Type.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != typ {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); !ok || x.Name != pkg {
			return true
		}
		for _, e := range lit.Elts {
			if kv, ok := e.(*ast.KeyValueExpr); ok {
				if k, ok := kv.Key.(*ast.Ident); ok {
					keys = append(keys, k.Name)
				}
			}
		}
		return true
	})
	slices.Sort(keys)
	return slices.Compact(keys)
}

func parseFile(t *testing.T, path string) *ast.File {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func funcDecl(t *testing.T, f *ast.File, name string) *ast.FuncDecl {
	t.Helper()
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == name {
			return fd
		}
	}
	t.Fatalf("no func %s", name)
	return nil
}

// serve-profiled must be the server `fortress serve` runs, or its profiles mislead: every httpapi.Config
// and http.Server field serve.go sets, and every step runServe calls, must be in wiring.go (or be listed
// above as deliberately left out). When this fails, copy the new wiring into wiring.go.
func TestWiringFollowsServe(t *testing.T) {
	serve := parseFile(t, "../fortress/serve.go")
	wiring := parseFile(t, "wiring.go")
	for _, typ := range []struct{ pkg, name string }{{"httpapi", "Config"}, {"http", "Server"}} {
		want := literalKeys(serve, typ.pkg, typ.name)
		got := literalKeys(wiring, typ.pkg, typ.name)
		if len(want) == 0 {
			t.Fatalf("serve.go sets no %s.%s field: has the wiring moved?", typ.pkg, typ.name)
		}
		for _, k := range want {
			if !slices.Contains(got, k) && !(typ.name == "Server" && k == "TLSConfig") {
				t.Errorf("serve.go sets %s.%s{%s}, wiring.go does not", typ.pkg, typ.name, k)
			}
		}
	}
	var wired []string
	for _, name := range []string{"newFortressAPI", "httpServer"} {
		wired = append(wired, calledIn(funcDecl(t, wiring, name))...)
	}
	wired = append(wired, calledIn(funcDecl(t, parseFile(t, "profile.go"), "serveProfiled"))...)
	for _, call := range calledIn(funcDecl(t, serve, "runServe")) {
		if slices.Contains(wired, call) || slices.Contains(notInProfiledServer, call) {
			continue
		}
		// The same step under another receiver name (f.logger.Warn for logger.Warn) counts.
		if slices.ContainsFunc(wired, func(w string) bool { return strings.HasSuffix(w, "."+call) }) {
			continue
		}
		t.Errorf("runServe calls %s, which serve-profiled's wiring (wiring.go) does not: copy it, or list it in notInProfiledServer with the reason", call)
	}
}
