// Package securitytest attacks the real fortress binary the way a hostile client would, organised by the
// OWASP API Security Top 10 (2023). It holds tests only: each TestAPIn_... group builds the binary once
// per test process (go build into a temporary directory), starts `fortress serve` on 127.0.0.1:0 with a
// throwaway SQLite file or PostgreSQL database (internal/pgtest) and the settings the group needs, and
// talks to it over TCP. Nothing is faked: what passes here passes against the process an operator runs.
//
// Every response the suite receives through its client goes through one inspection (inspect in
// server_test.go): the security headers of the core contract, no password hash, password, email key or
// other internal field in any JSON body, problem documents without stack traces, SQL or file paths, no
// 5xx other than a 503 with Retry-After, WWW-Authenticate on every 401, and no redirect off the site.
// So each group's explicit assertions come on top of checks that cover the whole suite.
//
// Groups and what they prove:
//
//   - API1 (object-level authorization): another user's items cannot be read, changed, deleted or listed,
//     whether their ids are guessed or enumerated; the answer is byte-for-byte the one for a missing id.
//   - API2 (authentication): forged, tampered, expired, not-yet-valid, mis-addressed and algorithm-confused
//     tokens, tokens of deleted and inactive users, and password guessing per account and per client.
//   - API3 (object-property authorization): read-only and hidden properties cannot be written; responses
//     name their fields exactly.
//   - API4 (resource consumption): body cap, pagination cap, rate limits, the bounded Argon2id gate and
//     server timeouts against slow clients.
//   - API5 (function-level authorization): the permission of every operation, read from /openapi.json.
//   - API6 (sensitive business flows): account creation cannot be automated in bulk from one client.
//   - API7 (server-side request forgery): no endpoint fetches a URL. Fortress has no feature that takes a
//     URL (no webhooks, avatars, imports or previews) and its only outbound connections are to the
//     database and, when configured, Redis. The test feeds URL-shaped input to every operation and
//     watches three ways for an outbound connection; see TestAPI7_ServerSideRequestForgery.
//   - API8 (security misconfiguration): headers on every kind of answer, CORS, Host header attacks,
//     methods, and errors without internals.
//   - API9 (inventory): the routes the server answers and the operations /openapi.json documents are the
//     same set, in both directions.
//   - API10 (unsafe consumption of APIs): Fortress consumes no third-party API. It calls nothing on the
//     internet; the modules linked into the binary are pinned by an allow-list, so a new dependency (an
//     SDK, an HTTP client library) fails the suite until a reviewer decides on it.
//
// API1 to API3 run on both storage engines, because object ownership, property filtering and account
// lookups are SQL; the others exercise the HTTP layer and run on SQLite.
package securitytest
