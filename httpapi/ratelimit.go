package httpapi

import (
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/fortress-dev/fortress/ratelimit"
)

// withRateLimit spends one request of the client's budget under p, keyed by the client address that
// package clientip trusts (so a spoofed X-Forwarded-For cannot pick a fresh budget). Over budget, the
// request gets 429 with Retry-After; every limited response carries the IETF RateLimit-Policy and
// RateLimit headers. A failing limiter lets the request through: an outage of the rate-limit store must
// not become an outage of the API (WithFallback normally answers from memory first).
func withRateLimit(log *slog.Logger, obs Observer, limiter ratelimit.Limiter, p ratelimit.Policy) Middleware {
	policyHeader := fmt.Sprintf(`%q;q=%d;w=%d`, p.Name, p.Limit, ceilSeconds(p.Window))
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if isProbe(r) {
				next.ServeHTTP(w, r)
				return
			}
			res, err := limiter.Take(r.Context(), clientIP(r), p)
			if err != nil {
				log.WarnContext(r.Context(), "rate limiter failed; request allowed", "policy", p.Name, "err", err)
				next.ServeHTTP(w, r)
				return
			}
			h := w.Header()
			h.Add("RateLimit-Policy", policyHeader)
			h.Add("RateLimit", fmt.Sprintf(`%q;r=%d;t=%d`, p.Name, res.Remaining, ceilSeconds(res.Reset)))
			if !res.Allowed {
				obs.RateLimited(p.Name)
				log.WarnContext(r.Context(), "rate limit exceeded", "event", "ratelimit.reject", "policy", p.Name,
					"client_ip", clientIP(r), "request_id", requestIDFrom(r.Context()))
				tooMany(w, r, res.RetryAfter, "Too many requests; retry later.")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// tooMany answers 429 with Retry-After in whole seconds, rounded up so a client that obeys it succeeds.
func tooMany(w http.ResponseWriter, r *http.Request, retryAfter time.Duration, detail string) {
	w.Header().Set("Retry-After", strconv.FormatInt(max(ceilSeconds(retryAfter), 1), 10))
	writeProblem(w, r, http.StatusTooManyRequests, detail)
}

func ceilSeconds(d time.Duration) int64 {
	return int64(math.Ceil(d.Seconds()))
}
