package opstest

import (
	"net/http"
	"strings"
	"testing"

	"github.com/fortress-dev/fortress/internal/pgtest"
)

// TestKeyRotationAcrossReplicas follows the HS256 signing-key rotation of docs/operations.md with two
// replicas on one database, restarting them one at a time as a rolling deployment does: at every moment
// a token issued by either replica is accepted by both, so nobody is signed out; skipping the first step
// would refuse the new key's tokens on a replica not yet redeployed; at the end the old key verifies
// nothing.
func TestKeyRotationAcrossReplicas(t *testing.T) {
	binary(t)
	const (
		oldKey = "opstest-rotation-key-one-0123456789abcdef"
		newKey = "opstest-rotation-key-two-0123456789abcdef"
	)
	base := with(baseEnv(), "DATABASE_URL", pgtest.NewDatabase(t), "AUTO_MIGRATE", "true")
	keys := func(signing string, previous ...string) map[string]string {
		return with(base, "JWT_SECRET_KEY", signing, "JWT_PREVIOUS_SECRET_KEYS", strings.Join(previous, ","))
	}
	r1 := startProc(t, "replica-1", keys(oldKey))
	r2 := startProc(t, "replica-2", keys(oldKey))
	a1, a2 := newAPI(t, r1.base()), newAPI(t, r2.base())
	a1.register("rotate@example.com")
	oldToken := a1.login("rotate@example.com")

	// accepted fails the test unless each token is accepted by each replica (want 200) or refused (401).
	accepted := func(step string, want int, tokens ...string) {
		t.Helper()
		for _, tok := range tokens {
			for i, a := range []*api{a1, a2} {
				if ans := a.do(request{method: "GET", path: "/auth/me", token: tok}); ans.status != want {
					t.Fatalf("%s: replica %d answered %s, want %d", step, i+1, ans, want)
				}
			}
		}
	}
	redeploy := func(r *proc, env map[string]string) {
		t.Helper()
		r.env = env
		r.terminate(t)
		r.start(t)
	}

	// Step 1: the new key verifies everywhere; the old one still signs.
	for _, r := range []*proc{r1, r2} {
		redeploy(r, keys(oldKey, newKey))
		accepted("step 1, "+r.name+" redeployed", http.StatusOK, oldToken)
	}

	// Step 2: the new key signs; the old one only verifies. Between the two restarts, replica 2 still
	// signs with the old key and must accept replica 1's new tokens: that is what step 1 was for.
	redeploy(r1, keys(newKey, oldKey))
	newToken := a1.login("rotate@example.com")
	accepted("step 2, replica 1 redeployed", http.StatusOK, oldToken, newToken)
	skipped := startProc(t, "replica-without-step-1", keys(oldKey))
	if ans := newAPI(t, skipped.base()).do(request{method: "GET", path: "/auth/me", token: newToken}); ans.status != http.StatusUnauthorized {
		t.Fatalf("a replica that skipped step 1 answered %s to a token of the new key, want 401", ans)
	}
	skipped.terminate(t)
	redeploy(r2, keys(newKey, oldKey))
	accepted("step 2, replica 2 redeployed", http.StatusOK, oldToken, newToken)

	// Step 3, once FORTRESS_ACCESS_TOKEN_TTL has passed: the old key goes.
	for _, r := range []*proc{r1, r2} {
		redeploy(r, keys(newKey))
	}
	accepted("step 3", http.StatusOK, newToken)
	accepted("step 3, a token of the removed key", http.StatusUnauthorized, oldToken)
	for _, r := range []*proc{r1, r2} {
		r.checkLog(t)
		for _, line := range r.allLines() {
			if strings.Contains(line, oldKey) || strings.Contains(line, newKey) {
				t.Fatalf("%s logged a signing key", r.name)
			}
		}
	}
	figure(t, "HS256 rotation over 2 replicas in 3 rolling steps (6 restarts): tokens of both keys accepted by both replicas throughout; a replica without step 1 refuses the new key's tokens (401); after step 3 the old key's tokens are refused")
}
