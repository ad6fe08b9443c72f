// Package browsertest runs the web UI in a real browser against the real binary. It holds tests only:
// browser_test.go builds ./cmd/fortress, starts `fortress serve` on 127.0.0.1 with a throwaway SQLite
// database, and runs e2e.mjs, which drives the system's headless Chromium (/usr/bin/chromium, never a
// downloaded browser) through playwright-core, pinned in package.json and package-lock.json.
//
// What the browser proves that Go tests cannot: the UI works under the server's Content-Security-Policy
// (no violation on any page, /docs included); the refresh token lives only in an HttpOnly, SameSite=Strict
// cookie scoped to /auth and the access token in no storage a script can read; a reload keeps the session;
// logout, ending one session, "sign out everywhere", a password change and account deletion each end the
// sessions they should, in this browser and in another; and an item named like markup is shown as text
// and runs nothing. e2e.mjs lists every check.
//
// Setup (`.ci/run` does it): Debian's chromium, node and npm, then
//
//	cd browsertest && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
//
// Without chromium, node or browsertest/node_modules the test is skipped with one line saying what is
// missing, except under CI=true, where it fails. FORTRESS_TEST_CHROMIUM names another Chromium binary.
package browsertest
