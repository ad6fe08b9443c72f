// Package ratelimit limits how fast each client may call the API, so one client (or a flood of forged
// ones) cannot exhaust the service for everybody else.
//
// # Algorithm
//
// Every budget is a GCRA (generic cell rate algorithm), which is a token bucket stored as a single
// number: the theoretical arrival time (TAT) at which the budget would be full again. A Policy of Limit
// requests per Window refills one request every Window/Limit (the emission interval) and allows a burst
// of Limit. A request at time now is allowed when max(TAT, now) + interval - now <= Window (rounded down
// to whole intervals, so a burst never exceeds Limit); it then moves TAT to max(TAT, now) + interval. Everything the HTTP layer needs follows from that one number:
// Remaining = (Window - (TAT - now)) / interval, Reset = TAT - now (until the budget is full), and, for a
// denied request, RetryAfter = TAT + interval - Window - now. GCRA was chosen over fixed windows (which
// allow twice the limit across a window edge) and sliding logs (which store one entry per request): it is
// exact, O(1) per request, needs one integer per key, and a key whose TAT has passed holds no debt, so it
// can simply be forgotten. That last property bounds both stores.
//
// # Stores
//
// Memory keeps budgets in this process. It holds at most maxKeys keys, in shards each ordered by TAT in a
// min-heap: keys whose budget is full again are dropped as time passes, and when a shard is full the key
// closest to expiry is evicted — the one that owes least. A flood of distinct keys therefore cannot grow
// memory, and cannot erase the debt of a client that is being limited either: the flood's own entries,
// each owing one interval, are evicted before a client that has spent its budget. Keys longer than 64
// bytes are replaced by their SHA-256, so hostile keys cost bounded memory too.
//
// Redis keeps budgets in Redis so that every replica spends from one budget. Each Take is one Lua script
// (atomic on the server) that reads the server's clock with TIME, so replicas with skewed clocks agree,
// and sets the key to expire when its budget is full again (PEXPIRE semantics), so idle keys vanish.
// Keys are prefixed and long keys hashed, as in Memory.
//
// WithFallback combines the two: when Redis fails, requests are limited per instance from memory, the
// outage is logged once, and Redis is probed again at most once per interval until it answers.
package ratelimit
