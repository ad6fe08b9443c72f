package ui

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
)

// ownDocsFiles are the files in static/docs that Fortress wrote; every other file there is vendored and
// must be listed, with its checksum, in static/docs/VERSION.
var ownDocsFiles = map[string]bool{"init.js": true, "docs.css": true, "VERSION": true}

// ownScripts are the scripts Fortress wrote; the vendored Swagger UI bundle is checked by its checksum
// and in a browser instead.
var ownScripts = []string{"static/app.js", "static/docs/init.js"}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := fs.ReadFile(Files, name)
	if err != nil {
		t.Fatalf("read %s from Files: %v", name, err)
	}
	return string(b)
}

// filesWithSuffix lists every file in Files whose name ends with suffix.
func filesWithSuffix(t *testing.T, suffix string) []string {
	t.Helper()
	var names []string
	err := fs.WalkDir(Files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, suffix) {
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk Files: %v", err)
	}
	return names
}

func TestFilesHasTheServedPaths(t *testing.T) {
	for _, name := range []string{
		"index.html", "docs.html", "static/app.js", "static/style.css", "static/favicon.svg",
		"static/docs/init.js", "static/docs/docs.css", "static/docs/swagger-ui-bundle.js",
		"static/docs/swagger-ui.css", "static/docs/LICENSE", "static/docs/VERSION",
	} {
		info, err := fs.Stat(Files, name)
		if err != nil {
			t.Errorf("Stat(%q): got error %v, want the file", name, err)
			continue
		}
		if info.Size() == 0 {
			t.Errorf("%s: got an empty file, want content", name)
		}
	}
}

// TestFilesServeWithTheRightTypes serves Files the way the server does: the CSP comes with nosniff, so a
// script or stylesheet sent with the wrong Content-Type would be refused by the browser.
func TestFilesServeWithTheRightTypes(t *testing.T) {
	srv := httptest.NewServer(http.FileServerFS(Files))
	defer srv.Close()
	for _, tc := range []struct{ path, wantType string }{
		{"/", "text/html"},
		{"/docs.html", "text/html"},
		{"/static/app.js", "text/javascript"},
		{"/static/style.css", "text/css"},
		{"/static/favicon.svg", "image/svg+xml"},
		{"/static/docs/swagger-ui-bundle.js", "text/javascript"},
		{"/static/docs/init.js", "text/javascript"},
		{"/static/docs/swagger-ui.css", "text/css"},
	} {
		resp, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatalf("GET %s: %v", tc.path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: got status %d, want 200", tc.path, resp.StatusCode)
		}
		if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, tc.wantType) {
			t.Errorf("GET %s: got Content-Type %q, want %s", tc.path, got, tc.wantType)
		}
	}
}

var (
	tagRe    = regexp.MustCompile(`(?is)<([a-z][a-z0-9-]*)\b([^>]*)>`)
	attrRe   = regexp.MustCompile(`(?is)(?:^|\s)([a-z][a-z0-9_:.-]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))`)
	scriptRe = regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script\s*>`)
)

// attrs returns the attributes of one tag's attribute text, names lower-cased.
func attrs(s string) map[string]string {
	m := map[string]string{}
	for _, a := range attrRe.FindAllStringSubmatch(s, -1) {
		m[strings.ToLower(a[1])] = a[2] + a[3] + a[4]
	}
	return m
}

// references lists the URLs an HTML page loads or links to through script src, link href and img src.
func references(html string) []string {
	var refs []string
	for _, tag := range tagRe.FindAllStringSubmatch(html, -1) {
		a := attrs(tag[2])
		switch strings.ToLower(tag[1]) {
		case "script", "img":
			if v, ok := a["src"]; ok {
				refs = append(refs, v)
			}
		case "link":
			if v, ok := a["href"]; ok {
				refs = append(refs, v)
			}
		}
	}
	return refs
}

// localPath maps a reference to its name in Files, or reports that it points elsewhere.
func localPath(ref string) (string, bool) {
	if strings.Contains(ref, ":") || strings.HasPrefix(ref, "//") || !strings.HasPrefix(ref, "/") {
		return "", false // another origin, a scheme, or relative (which would break under /docs/)
	}
	name := strings.TrimPrefix(path.Clean(ref), "/")
	return name, strings.HasPrefix(name, "static/")
}

func TestReferencedFilesExist(t *testing.T) {
	want := map[string][]string{
		"index.html": {"static/app.js", "static/style.css"},
		"docs.html":  {"static/docs/swagger-ui-bundle.js", "static/docs/init.js", "static/docs/swagger-ui.css", "static/docs/docs.css"},
	}
	for _, page := range filesWithSuffix(t, ".html") {
		seen := map[string]bool{}
		for _, ref := range references(readFile(t, page)) {
			name, ok := localPath(ref)
			if !ok {
				t.Errorf("%s references %q, want an absolute path under /static/ (no CDN, no relative paths)", page, ref)
				continue
			}
			seen[name] = true
			if _, err := fs.Stat(Files, name); err != nil {
				t.Errorf("%s references %q: got %v, want the file in Files", page, ref, err)
			}
		}
		for _, name := range want[page] {
			if !seen[name] {
				t.Errorf("%s: got references %v, want one to %s", page, seen, name)
			}
		}
	}
}

// inlineCodeProblems lists what in an HTML document would need 'unsafe-inline' (or would break) under the
// server's CSP: inline script bodies, <style> blocks, style attributes, event handler attributes and
// javascript: URLs.
func inlineCodeProblems(html string) []string {
	var problems []string
	for _, m := range scriptRe.FindAllStringSubmatch(html, -1) {
		if _, ok := attrs(m[1])["src"]; !ok {
			problems = append(problems, "<script> without src")
		}
		if strings.TrimSpace(m[2]) != "" {
			problems = append(problems, "inline script body")
		}
	}
	for _, tag := range tagRe.FindAllStringSubmatch(html, -1) {
		if strings.EqualFold(tag[1], "style") {
			problems = append(problems, "<style> element")
		}
		for name, value := range attrs(tag[2]) {
			switch {
			case name == "style":
				problems = append(problems, "style attribute on <"+tag[1]+">")
			case strings.HasPrefix(name, "on"):
				problems = append(problems, name+" handler on <"+tag[1]+">")
			case strings.HasPrefix(strings.ToLower(strings.TrimSpace(value)), "javascript:"):
				problems = append(problems, "javascript: URL in "+name)
			}
		}
	}
	return problems
}

// TestInlineCodeDetector shows the detector used below catches each forbidden form, so that a clean
// result means the pages are clean rather than that the patterns match nothing.
func TestInlineCodeDetector(t *testing.T) {
	for _, tc := range []struct {
		html string
		want int
	}{
		{`<script src="/static/app.js" defer></script>`, 0},
		{`<p class="hint" id="x">Text with style= and onclick= in prose.</p>`, 0},
		{`<script>alert(1)</script>`, 2},
		{`<SCRIPT src="/a.js">alert(1)</SCRIPT>`, 1},
		{"<style>\np { color: red }\n</style>", 1},
		{`<p style="color:red">x</p>`, 1},
		{`<p STYLE='color:red'>x</p>`, 1},
		{`<button type="button" onclick="go()">x</button>`, 1},
		{`<img src=x onerror=alert(1)>`, 1},
		{`<body
		  onload="init()">`, 1},
		{`<a href="javascript:alert(1)">x</a>`, 1},
	} {
		if got := inlineCodeProblems(tc.html); len(got) != tc.want {
			t.Errorf("inlineCodeProblems(%q): got %d problems %v, want %d", tc.html, len(got), got, tc.want)
		}
	}
}

func TestHTMLHasNoInlineCode(t *testing.T) {
	pages := filesWithSuffix(t, ".html")
	if len(pages) < 2 {
		t.Fatalf("got HTML files %v, want at least index.html and docs.html", pages)
	}
	for _, page := range pages {
		for _, p := range inlineCodeProblems(readFile(t, page)) {
			t.Errorf("%s: got %s, want none (the CSP forbids inline code and styles)", page, p)
		}
	}
}

// unsafeScriptPatterns are what our scripts must never use: HTML sinks that turn data into markup, code
// from strings (blocked by the CSP anyway), persistent storage for the token, and remote URLs.
var unsafeScriptPatterns = []struct {
	name string
	re   *regexp.Regexp
}{
	{"innerHTML", regexp.MustCompile(`innerHTML`)},
	{"outerHTML", regexp.MustCompile(`outerHTML`)},
	{"insertAdjacentHTML", regexp.MustCompile(`insertAdjacentHTML`)},
	{"document.write", regexp.MustCompile(`document\s*\.\s*write`)},
	{"createContextualFragment", regexp.MustCompile(`createContextualFragment`)},
	{"DOMParser", regexp.MustCompile(`DOMParser`)},
	{"eval", regexp.MustCompile(`\beval\s*\(`)},
	{"Function constructor", regexp.MustCompile(`\bFunction\s*\(`)},
	{"string timer", regexp.MustCompile(`set(?:Timeout|Interval)\s*\(\s*['"` + "`" + `]`)},
	{"localStorage", regexp.MustCompile(`localStorage`)},
	{"sessionStorage", regexp.MustCompile(`sessionStorage`)},
	{"indexedDB", regexp.MustCompile(`indexedDB`)},
	{"document.cookie", regexp.MustCompile(`document\s*\.\s*cookie`)},
	{"style attribute", regexp.MustCompile(`setAttribute\s*\(\s*['"]style['"]`)},
	{"handler attribute", regexp.MustCompile(`setAttribute\s*\(\s*['"]on`)},
	{"remote URL", regexp.MustCompile(`(?i)\b(?:https?|wss?):|["'` + "`" + `]//`)},
	{"native dialog", regexp.MustCompile(`\b(?:alert|confirm|prompt)\s*\(`)},
	{"inline style from script", regexp.MustCompile(`\.style\s*[.\[=]|cssText`)},
	{"refresh token read by script", regexp.MustCompile(`(?i)refresh_token|refreshToken`)},
	{"token in a URL", regexp.MustCompile(`(?i)[?&](?:access_)?token=`)},
}

// TestUnsafeScriptPatternsMatch shows each pattern catches what it is named for, so that a clean result
// means the scripts are clean rather than that a pattern matches nothing.
func TestUnsafeScriptPatternsMatch(t *testing.T) {
	samples := map[string]string{
		"innerHTML":                    `el.innerHTML = x`,
		"outerHTML":                    `el.outerHTML = x`,
		"insertAdjacentHTML":           `el.insertAdjacentHTML('beforeend', x)`,
		"document.write":               `document.write(x)`,
		"createContextualFragment":     `range.createContextualFragment(x)`,
		"DOMParser":                    `new DOMParser()`,
		"eval":                         `eval(x)`,
		"Function constructor":         `new Function(x)`,
		"string timer":                 `setTimeout('go()', 1)`,
		"localStorage":                 `window.localStorage.setItem('t', token)`,
		"sessionStorage":               `sessionStorage.setItem('t', token)`,
		"indexedDB":                    `indexedDB.open('t')`,
		"document.cookie":              `document.cookie = 'token=' + token`,
		"style attribute":              `el.setAttribute('style', 'color:red')`,
		"handler attribute":            `el.setAttribute('onclick', x)`,
		"remote URL":                   `fetch('https://evil.example/')`,
		"native dialog":                `if (!window.confirm('Sure?')) return;`,
		"inline style from script":     `el.style.display = 'none'`,
		"refresh token read by script": `keep(data.refresh_token)`,
		"token in a URL":               `fetch('/items/?access_token=' + t)`,
	}
	for _, p := range unsafeScriptPatterns {
		sample, ok := samples[p.name]
		if !ok {
			t.Errorf("pattern %q: got no sample, want one here", p.name)
			continue
		}
		if !p.re.MatchString(sample) {
			t.Errorf("pattern %q: got no match in %q, want one", p.name, sample)
		}
	}
	for _, clean := range []string{`askConfirm('Delete?', 'Delete')`, `showAlert(err.detail, [])`, `ui.alert.hidden = true`} {
		for _, p := range unsafeScriptPatterns {
			if p.re.MatchString(clean) {
				t.Errorf("pattern %q: got a match in the safe %q, want none", p.name, clean)
			}
		}
	}
}

func TestScriptsAvoidUnsafeAPIs(t *testing.T) {
	for _, name := range ownScripts {
		src := readFile(t, name)
		for _, p := range unsafeScriptPatterns {
			if loc := p.re.FindStringIndex(src); loc != nil {
				line := strings.Count(src[:loc[0]], "\n") + 1
				t.Errorf("%s:%d: got %s (%q), want none", name, line, p.name, src[loc[0]:loc[1]])
			}
		}
	}
}

// TestAppUsesSameOriginJSONRequests pins the fetch options every API call relies on: cookies never
// leave the origin, and the server answers in JSON (problem documents included).
func TestAppUsesSameOriginJSONRequests(t *testing.T) {
	src := readFile(t, "static/app.js")
	if got := strings.Count(src, "fetch("); got != 1 {
		t.Fatalf("app.js: got %d fetch calls, want 1 (every request goes through one helper)", got)
	}
	for _, want := range []string{
		`credentials: 'same-origin'`,
		`Accept: 'application/json'`,
		`'application/x-www-form-urlencoded'`,
		`url.origin !== window.location.origin`,
	} {
		if !strings.Contains(src, want) {
			t.Errorf("app.js: got no %s, want it", want)
		}
	}
}

// TestCSSLoadsNothingRemote checks that stylesheets pull in no other origin (the CSP would block it and
// the docs must work offline): every url() is a data: URI or a file in Files, and there is no @import.
func TestCSSLoadsNothingRemote(t *testing.T) {
	urlRe := regexp.MustCompile(`url\(\s*(?:"([^"]*)"|'([^']*)'|([^)\s]*))\s*\)`)
	for _, name := range filesWithSuffix(t, ".css") {
		css := readFile(t, name)
		if strings.Contains(css, "@import") {
			t.Errorf("%s: got @import, want none", name)
		}
		for _, m := range urlRe.FindAllStringSubmatch(css, -1) {
			ref := m[1] + m[2] + m[3]
			if strings.HasPrefix(ref, "data:") {
				continue
			}
			target := path.Join(path.Dir(name), ref)
			if strings.HasPrefix(ref, "/") {
				target = strings.TrimPrefix(ref, "/")
			}
			if strings.Contains(ref, ":") || strings.HasPrefix(ref, "//") {
				t.Errorf("%s: got url(%s), want a data: URI or a local file", name, ref)
			} else if _, err := fs.Stat(Files, target); err != nil {
				t.Errorf("%s: url(%s): got %v, want the file in Files", name, ref, err)
			}
		}
	}
}

// TestVendoredFilesMatchVERSION keeps the vendored Swagger UI files exactly as recorded: a file changed by
// hand, or added without a checksum, fails here.
func TestVendoredFilesMatchVERSION(t *testing.T) {
	const dir = "static/docs"
	version := ""
	listed := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(readFile(t, dir+"/VERSION")))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, "# swagger-ui-dist "); ok {
			version = v
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sum, name, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("VERSION: got line %q, want \"<sha256>  <file>\"", line)
		}
		listed[name] = true
		b, err := fs.ReadFile(Files, dir+"/"+name)
		if err != nil {
			t.Errorf("VERSION lists %s: got %v, want the file", name, err)
			continue
		}
		h := sha256.Sum256(b)
		if got := hex.EncodeToString(h[:]); got != sum {
			t.Errorf("%s: got SHA-256 %s, want %s as recorded in VERSION", name, got, sum)
		}
	}
	if !strings.HasPrefix(version, "5.") {
		t.Errorf("VERSION: got swagger-ui-dist version %q, want 5.x", version)
	}
	for _, want := range []string{"swagger-ui-bundle.js", "swagger-ui.css", "LICENSE"} {
		if !listed[want] {
			t.Errorf("VERSION: got no checksum for %s, want one", want)
		}
	}
	entries, err := fs.ReadDir(Files, dir)
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	for _, e := range entries {
		if !listed[e.Name()] && !ownDocsFiles[e.Name()] {
			t.Errorf("%s/%s: got a file neither listed in VERSION nor Fortress's own, want one or the other", dir, e.Name())
		}
	}
	bundle, err := fs.ReadFile(Files, dir+"/swagger-ui-bundle.js")
	if err != nil {
		t.Fatal(err)
	}
	if want := `PACKAGE_VERSION:"` + version + `"`; !bytes.Contains(bundle, []byte(want)) {
		t.Errorf("swagger-ui-bundle.js: got no %s, want the bundle to be the version VERSION names", want)
	}
}

// TestAppKeepsTokensOutOfReach pins how app.js holds the tokens (see its header): the login asks for the
// refresh token as an HttpOnly cookie, the access token is only ever assigned from a login or refresh
// answer (or dropped), and the session is restored and renewed through POST /auth/refresh.
func TestAppKeepsTokensOutOfReach(t *testing.T) {
	src := readFile(t, "static/app.js")
	for _, want := range []string{
		`refresh_delivery: 'cookie'`,
		`send('POST', '/auth/refresh')`,
		`'/auth/logout'`,
		`'/auth/me'`,
		`'/auth/sessions'`,
		`'/auth/sessions/' + encodeURIComponent(`,
		`'/auth/password'`,
		`navigator.locks.request(`,
	} {
		if !strings.Contains(src, want) {
			t.Errorf("app.js: got no %s, want it", want)
		}
	}
	assignRe := regexp.MustCompile(`\baccessToken\s*=[^=]\s*([^;]*);`)
	assigns := assignRe.FindAllStringSubmatch(src, -1)
	if len(assigns) < 2 {
		t.Fatalf("app.js: got %d assignments to accessToken, want the initial one and at least one from a login", len(assigns))
	}
	for _, m := range assigns {
		if rhs := strings.TrimSpace(m[1]); rhs != "null" && rhs != "data.access_token" {
			t.Errorf("app.js: got accessToken = %s, want only null or data.access_token", rhs)
		}
	}
	// The token goes into exactly one place: the Authorization header of a request to this origin.
	if got := strings.Count(src, "accessToken"); got > 20 {
		t.Errorf("app.js: got %d uses of accessToken, want few, so that each can be reviewed", got)
	}
	if !strings.Contains(src, `headers.Authorization = 'Bearer ' + token`) {
		t.Error("app.js: got no Authorization header from the token, want it set in send")
	}
}

// TestAppFindsItsElements checks that every element app.js looks up exists in index.html: an id renamed
// on one side only would break the page at load, where no Go test would otherwise notice.
func TestAppFindsItsElements(t *testing.T) {
	src := readFile(t, "static/app.js")
	page := readFile(t, "index.html")
	ids := map[string]bool{}
	classes := map[string]bool{}
	for _, tag := range tagRe.FindAllStringSubmatch(page, -1) {
		a := attrs(tag[2])
		if id, ok := a["id"]; ok {
			if ids[id] {
				t.Errorf("index.html: got id %q twice, want unique ids", id)
			}
			ids[id] = true
		}
		for _, c := range strings.Fields(a["class"]) {
			classes[c] = true
		}
	}
	byIDRe := regexp.MustCompile(`byId\('([^']+)'\)`)
	lookups := byIDRe.FindAllStringSubmatch(src, -1)
	if len(lookups) < 40 {
		t.Fatalf("app.js: got %d byId lookups, want the page's elements (the pattern may be stale)", len(lookups))
	}
	for _, m := range lookups {
		if !ids[m[1]] {
			t.Errorf("app.js looks up #%s: got no such id in index.html, want one", m[1])
		}
	}
	selectorRe := regexp.MustCompile(`querySelector\('\.([A-Za-z0-9_-]+)'\)`)
	for _, m := range selectorRe.FindAllStringSubmatch(src, -1) {
		if !classes[m[1]] {
			t.Errorf("app.js looks up .%s: got no such class in index.html, want one", m[1])
		}
	}
}

// TestIndexShowsNothingBeforeTheSessionCheck: the login form, the items and the account panel start
// hidden, and app.js decides after POST /auth/refresh which to show, so a reload of a signed-in page does
// not flash the login form and a signed-out page never shows the signed-in parts.
func TestIndexShowsNothingBeforeTheSessionCheck(t *testing.T) {
	page := readFile(t, "index.html")
	found := map[string]bool{}
	for _, tag := range tagRe.FindAllStringSubmatch(page, -1) {
		a := attrs(tag[2])
		switch id := a["id"]; id {
		case "auth", "items", "account", "session":
			found[id] = true
			if !regexp.MustCompile(`(?i)(?:^|\s)hidden(?:\s|=|$)`).MatchString(tag[2]) {
				t.Errorf("index.html: got #%s without hidden, want it hidden until the session check", id)
			}
		case "loading":
			found[id] = true
		}
	}
	for _, id := range []string{"auth", "items", "account", "session", "loading"} {
		if !found[id] {
			t.Errorf("index.html: got no #%s, want it", id)
		}
	}
	for _, want := range []string{`id="sessions-card"`, `id="password-form"`, `id="delete-form"`,
		`id="sign-out-everywhere"`, `id="logout"`, `<dialog id="confirm-dialog"`, `<template id="session-template">`} {
		if !strings.Contains(page, want) {
			t.Errorf("index.html: got no %s, want it", want)
		}
	}
}
