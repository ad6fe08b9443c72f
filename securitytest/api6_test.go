package securitytest

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestAPI6_UnrestrictedAccessToSensitiveBusinessFlows floods account creation from one client. Sign-up is
// the flow worth automating for an attacker (fake accounts, spam, email probing); past the register budget
// the client is refused and no account is created, whatever forwarding headers it adds.
func TestAPI6_UnrestrictedAccessToSensitiveBusinessFlows(t *testing.T) {
	t.Parallel()
	s := start(t, map[string]string{"FORTRESS_REGISTER_RATE_LIMIT": "3/10m"})
	const password = "a good long password"
	email := func(i int) string { return "flood" + strconv.Itoa(i) + "@example.com" }
	for i := range 3 {
		s.register(t, email(i), password).want(t, http.StatusCreated, "")
	}
	r := s.register(t, email(3), password)
	r.want(t, http.StatusTooManyRequests, detailTooMany)
	if got := r.header.Get("RateLimit-Policy"); !strings.Contains(strings.Join(r.header.Values("RateLimit-Policy"), ","), `"register";q=3;w=600`) {
		t.Errorf("%s: RateLimit-Policy %q, want the register policy", r, got)
	}
	for i, opts := range [][]option{
		{header("X-Forwarded-For", "203.0.113.10")},
		{header("Forwarded", "for=203.0.113.11")},
		{header("X-Real-IP", "203.0.113.12")},
		{header("X-Client-IP", "203.0.113.13"), header("True-Client-IP", "203.0.113.13")},
	} {
		s.register(t, email(4+i), password, opts...).want(t, http.StatusTooManyRequests, detailTooMany)
	}
	for i := 3; i < 8; i++ {
		if n := s.db.queryInt(t, "SELECT COUNT(*) FROM users WHERE email_key = ?", email(i)); n != 0 {
			t.Errorf("%s was refused with 429 but the account exists", email(i))
		}
		s.login(t, email(i), password).want(t, http.StatusUnauthorized, detailBadCredentials)
	}
	if n := s.db.queryInt(t, "SELECT COUNT(*) FROM users"); n != 3 {
		t.Errorf("%d accounts, want the 3 within the budget", n)
	}
	// The budget is per client: someone else can still sign up, and the flood's accounts work.
	s.register(t, "someone-else@example.com", password, fromIP("127.0.0.2")).want(t, http.StatusCreated, "")
	s.login(t, email(0), password).want(t, http.StatusOK, "")
}
