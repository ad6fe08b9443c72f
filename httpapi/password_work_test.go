package httpapi

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/fortress-dev/fortress/password"
)

// TestFailedLoginsDoTheSameWork proves, without timing, that an unknown email costs the same Argon2id
// verification as a wrong password: each failed login runs exactly one, and never a Hash.
func TestFailedLoginsDoTheSameWork(t *testing.T) {
	counter := &countingHasher{}
	e := newEnv(t, func(c *Config) {
		counter.PasswordHasher = c.Passwords
		c.Passwords = counter
	})
	e.register("known@example.com", testPassword)
	_ = e.register("dormant@example.com", testPassword)
	e.exec("UPDATE users SET is_active = 0 WHERE email = ?", "dormant@example.com")

	tests := []struct {
		name, username, password string
		wantVerify, wantDummy    int64
	}{
		{"wrong password", "known@example.com", "wrong password 1234", 1, 0},
		{"wrong password, other case", "KNOWN@example.com", "wrong password 1234", 1, 0},
		{"unknown email", "unknown@example.com", "wrong password 1234", 0, 1},
		{"unknown email, right password of another", "unknown@example.com", testPassword, 0, 1},
		{"not an email", "known", testPassword, 0, 1},
		{"inactive account, right password", "dormant@example.com", testPassword, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			counter.reset()
			rec := e.do("POST", "/auth/login", "", "application/x-www-form-urlencoded", loginBody(tc.username, tc.password))
			wantProblem(t, rec, http.StatusUnauthorized, "Incorrect email or password")
			v, d, h := counter.verifies.Load(), counter.dummies.Load(), counter.hashes.Load()
			if v+d != 1 {
				t.Errorf("Argon2id verifications got %d, want exactly 1", v+d)
			}
			if v != tc.wantVerify || d != tc.wantDummy || h != 0 {
				t.Errorf("Verify/VerifyDummy/Hash calls got %d/%d/%d, want %d/%d/0", v, d, h, tc.wantVerify, tc.wantDummy)
			}
		})
	}

	// The failures are told apart in the log, for operators, but not in the answers.
	log := e.log.String()
	for _, reason := range []string{`"detail":"wrong_password"`, `"detail":"unknown_email"`, `"detail":"inactive"`} {
		if !strings.Contains(log, reason) {
			t.Errorf("log lacks %s, want every failure's reason logged", reason)
		}
	}
	if strings.Contains(log, "unknown@example.com") {
		t.Errorf("log contains the attempted email, want no user input logged for failed logins")
	}

	// A successful login verifies once and does not re-hash a current hash.
	counter.reset()
	e.login("known@example.com", testPassword)
	if v, d, h := counter.verifies.Load(), counter.dummies.Load(), counter.hashes.Load(); v != 1 || d != 0 || h != 0 {
		t.Errorf("successful login: Verify/VerifyDummy/Hash got %d/%d/%d, want 1/0/0", v, d, h)
	}
}

// TestLoginRehashesOldHashes: after the Argon2id parameters are raised, a login stores a hash made
// with the new ones, and the password keeps working.
func TestLoginRehashesOldHashes(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t) // hasher A: m=8192, t=1
	e.register("upgrade@example.com", testPassword)
	before, err := e.db.FindUserByEmail(ctx, "upgrade@example.com")
	if err != nil {
		t.Fatalf("FindUserByEmail: got error %v, want nil", err)
	}
	if !strings.Contains(before.PasswordHash, "m=8192,t=1,p=1") {
		t.Fatalf("hash with hasher A got %q, want m=8192,t=1,p=1", before.PasswordHash)
	}

	hasherB := newTestHasher(t, password.Params{MemoryKiB: 8192, Time: 2, Threads: 1})
	e.rebuild(func(c *Config) { c.Passwords = hasherB })

	// A wrong password does not touch the hash.
	rec := e.do("POST", "/auth/login", "", "application/x-www-form-urlencoded", loginBody("upgrade@example.com", "wrong password 1234"))
	wantStatus(t, rec, http.StatusUnauthorized)
	if u, _ := e.db.FindUserByEmail(ctx, "upgrade@example.com"); u.PasswordHash != before.PasswordHash {
		t.Errorf("hash after a failed login changed, want it kept")
	}

	e.login("upgrade@example.com", testPassword)
	after, err := e.db.FindUserByEmail(ctx, "upgrade@example.com")
	if err != nil {
		t.Fatalf("FindUserByEmail: got error %v, want nil", err)
	}
	if !strings.Contains(after.PasswordHash, "m=8192,t=2,p=1") {
		t.Errorf("hash after login got %q, want parameters m=8192,t=2,p=1", after.PasswordHash)
	}
	if ok, rehash, err := hasherB.Verify(context.Background(), testPassword, after.PasswordHash); !ok || rehash || err != nil {
		t.Errorf("new hash verifies as (%v, %v, %v), want (true, false, nil)", ok, rehash, err)
	}
	e.login("upgrade@example.com", testPassword)
	if !strings.Contains(e.log.String(), "auth.password.rehash") {
		t.Errorf("log lacks the rehash event")
	}
}
