// Package securitytest attacks the real fortress binary the way a hostile client would, organised by the
// OWASP API Security Top 10 (2023). It holds tests only: each TestAPIn_... group builds the binary once
// per test process (go build into a temporary directory), starts `fortress serve` on 127.0.0.1:0 with a
// throwaway SQLite file or PostgreSQL database (internal/pgtest) and the settings the group needs, and
// talks to it over TCP. Nothing is faked: what passes here passes against the process an operator runs.
//
// Every response the suite receives through its client goes through one inspection (inspect in
// server_test.go): the security headers of the core contract, no password hash, password, email key,
// refresh-token hash or other internal field in any JSON body, a refresh token only in the answers of
// POST /auth/login and /auth/refresh, no cookie but the refresh cookie (HttpOnly, SameSite=Strict,
// Path=/auth, only from /auth routes), problem documents without stack traces, SQL or file paths, no 5xx
// other than a 503 with Retry-After, WWW-Authenticate on every 401, and no redirect off the site. When a
// server stops, its whole log is searched for the signing key and for every password and token the suite
// used. So each group's explicit assertions come on top of checks that cover the whole suite.
//
// Tokens the suite forges with the real key carry the sid of a live session of their user, read from a
// token the server issued (sidOf), so that each forged token differs from a good one in one way only.
// Administrators are made as an operator makes them, with `fortress user create -admin` on the server's
// database (server.cli).
//
// Groups and what they prove:
//
//   - API1 (object-level authorization): another user's items and sessions cannot be read, changed,
//     ended or listed, whether their ids are guessed or enumerated; the answer is byte-for-byte the one for
//     a missing id. An administrator's change of one account touches that account and no other row.
//   - API2 (authentication): forged, tampered, expired, not-yet-valid, mis-addressed and algorithm-confused
//     tokens, tokens without a live session of their own user (sid), tokens of deleted and inactive users,
//     and password guessing per account and per client. TestAPI2_SessionLifecycle ends sessions every way
//     (logout, with the time from its 204 to the first refusal measured; refresh rotation, reuse and a
//     race of refreshes; password change; account deletion; deactivation; expiry; ending one or all) and
//     checks that the access and refresh tokens die at once, and that the refresh cookie works from this
//     origin only.
//   - API3 (object-property authorization): read-only and hidden properties cannot be written, by users or
//     administrators; responses name their fields exactly; stored hashes and secrets reach no answer and
//     no audit event.
//   - API4 (resource consumption): body cap (on every route that reads a body), pagination cap, the
//     bounded session list, rate limits, the bounded Argon2id gate and server timeouts against slow
//     clients.
//   - API5 (function-level authorization): the permission of every operation, read from /openapi.json, as
//     anonymous, a plain user and an administrator (everything under /admin is for administrators, and
//     every refusal of a user is audited); no route, field or token claim makes a user an administrator;
//     role changes take effect at once; the last administrator stays, even under concurrent removals.
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
// API1 to API3, TestAPI2_SessionLifecycle and TestAPI5_LastAdministrator run on both storage engines,
// because object ownership, property filtering, account lookups, sessions and the last-administrator rule
// are SQL; the others exercise the HTTP layer and run on SQLite.
package securitytest
