// Package ui embeds the web UI and the interactive API docs in the binary, so that Fortress stays a single
// file to deploy and the pages it serves are exactly the ones that were reviewed and tested.
//
// Every page must run under the strict Content-Security-Policy the server sends (no inline scripts or
// styles, no eval, nothing loaded from another origin): all code lives in files under static/, and the
// tests in this package reject HTML or scripts that would need anything unsafe.
//
// The docs page uses Swagger UI, vendored from the npm package swagger-ui-dist. Only the files the page
// needs (swagger-ui-bundle.js, swagger-ui.css) and the package's licence files are copied, unchanged;
// web/static/docs/VERSION records the version and the SHA-256 of each one, and a test checks them. Our own
// web/static/docs/init.js starts Swagger UI, because the package's swagger-initializer.js is written for
// a page with inline configuration. To update Swagger UI:
//
//	cd /tmp && npm pack swagger-ui-dist@5        # outside the repository; compare the printed integrity
//	npm view swagger-ui-dist@<version> dist.integrity   # with the registry's
//	tar xzf swagger-ui-dist-<version>.tgz
//	cp package/{swagger-ui-bundle.js,swagger-ui.css,LICENSE,NOTICE,swagger-ui-bundle.js.LICENSE.txt} \
//	   <repo>/ui/web/static/docs/
//	cd <repo>/ui/web/static/docs && sha256sum LICENSE NOTICE swagger-ui-bundle.js \
//	   swagger-ui-bundle.js.LICENSE.txt swagger-ui.css    # paste below the header of VERSION, bump the version
//
// then run `go test ./ui/` and load /docs in a browser with the production CSP to check for violations
// (read the release notes for changed options used by init.js).
package ui

import (
	"embed"
	"io/fs"
)

//go:embed web
var embedded embed.FS

// Files holds the UI: "index.html", "docs.html", and assets under "static/..." (the server serves
// index.html at "/", docs.html at "/docs", and the fs at "/static/..."). It is rooted at the web
// directory so that the server can hand it to http.FileServerFS without knowing the package's layout.
var Files = mustSub(embedded, "web")

// mustSub exists because fs.Sub fails only for an invalid directory name, which is a constant here:
// a failure is a programming error that every test run would reveal at once.
func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic("ui: " + err.Error())
	}
	return sub
}
