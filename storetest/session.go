package storetest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fortress-dev/fortress"
)

// refreshHash stands for the SHA-256 of a refresh token named label.
func refreshHash(label string) []byte {
	h := sha256.Sum256([]byte(label))
	return h[:]
}

// sessionCreate is a session of userID whose refresh token is named token.
func sessionCreate(userID int64, token string, expires time.Time) fortress.SessionCreate {
	return fortress.SessionCreate{
		UserID: userID, RefreshHash: refreshHash(token), UserAgent: "test-agent", ClientIP: "192.0.2.1", ExpiresAt: expires,
	}
}

func mustSession(t *testing.T, s Store, userID int64, token string, expires time.Time) fortress.Session {
	t.Helper()
	sess, err := s.CreateSession(context.Background(), sessionCreate(userID, token, expires))
	if err != nil {
		t.Fatalf("CreateSession(user %d): %v", userID, err)
	}
	return sess
}

func mustRotate(t *testing.T, s Store, from, to string, now time.Time, idle time.Duration) fortress.Session {
	t.Helper()
	sess, err := s.RotateRefreshToken(context.Background(), refreshHash(from), refreshHash(to), now, idle)
	if err != nil {
		t.Fatalf("RotateRefreshToken(%s → %s): %v", from, to, err)
	}
	return sess
}

func wantRotateCode(t *testing.T, s Store, from, to string, now time.Time, idle time.Duration, code string) {
	t.Helper()
	_, err := s.RotateRefreshToken(context.Background(), refreshHash(from), refreshHash(to), now, idle)
	wantCode(t, err, code)
}

// wantSessions checks that ListSessions returns exactly the sessions ids, in that order.
func wantSessions(t *testing.T, s Store, userID int64, ids ...int64) {
	t.Helper()
	list, err := s.ListSessions(context.Background(), userID)
	if err != nil {
		t.Fatalf("ListSessions(%d): %v", userID, err)
	}
	got := make([]int64, 0, len(list))
	for _, sess := range list {
		got = append(got, sess.ID)
		if sess.UserID != userID || sess.RevokedAt != nil {
			t.Fatalf("ListSessions(%d): got %+v, want only the user's unrevoked sessions", userID, sess)
		}
	}
	if list == nil || !slices.Equal(got, ids) {
		t.Fatalf("ListSessions(%d): got ids %v (nil: %t), want %v", userID, got, list == nil, ids)
	}
}

// sameSession compares sessions by value, times by instant.
func sameSession(a, b fortress.Session) bool {
	if (a.RevokedAt == nil) != (b.RevokedAt == nil) || a.RevokedAt != nil && !a.RevokedAt.Equal(*b.RevokedAt) {
		return false
	}
	return a.ID == b.ID && a.UserID == b.UserID && a.CreatedAt.Equal(b.CreatedAt) && a.LastUsedAt.Equal(b.LastUsedAt) &&
		a.ExpiresAt.Equal(b.ExpiresAt) && a.UserAgent == b.UserAgent && a.ClientIP == b.ClientIP
}

func testSessionLifecycle(t *testing.T, s Store) {
	ctx := context.Background()
	u := mustUser(t, s, "session@example.com")
	before := time.Now().Truncate(time.Microsecond)
	expires := before.Add(30 * 24 * time.Hour).Add(123456789 * time.Nanosecond)
	created, err := s.CreateSession(ctx, fortress.SessionCreate{
		UserID: u.ID, RefreshHash: refreshHash("t1"), UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
		ClientIP: "2001:db8::7", ExpiresAt: expires,
	})
	after := time.Now()
	if err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if created.ID <= 0 || created.UserID != u.ID || created.RevokedAt != nil ||
		created.UserAgent != "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0" || created.ClientIP != "2001:db8::7" {
		t.Fatalf("created session: got %+v", created)
	}
	if created.CreatedAt.Before(before) || created.CreatedAt.After(after) || !created.LastUsedAt.Equal(created.CreatedAt) {
		t.Fatalf("created session times: got created %v, last used %v; want both in [%v, %v]",
			created.CreatedAt, created.LastUsedAt, before, after)
	}
	if want := expires.Truncate(time.Microsecond); !created.ExpiresAt.Equal(want) {
		t.Fatalf("ExpiresAt: got %v, want %v (microsecond precision)", created.ExpiresAt, want)
	}
	found, err := s.FindSession(ctx, created.ID)
	if err != nil || !sameSession(found, created) {
		t.Fatalf("FindSession: got %+v, %v; want %+v", found, err, created)
	}

	// The idle timeout counts from the last use, not from the creation: the second refresh comes 45
	// minutes after the login with a 30-minute timeout.
	const idle = 30 * time.Minute
	now1 := created.CreatedAt.Add(20*time.Minute + 999*time.Nanosecond)
	rotated := mustRotate(t, s, "t1", "t2", now1, idle)
	want := created
	want.LastUsedAt = now1.Truncate(time.Microsecond)
	if !sameSession(rotated, want) {
		t.Fatalf("after rotation: got %+v, want %+v", rotated, want)
	}
	now2 := now1.Add(25 * time.Minute)
	rotated = mustRotate(t, s, "t2", "t3", now2, idle)
	if !rotated.LastUsedAt.Equal(now2.Truncate(time.Microsecond)) {
		t.Fatalf("LastUsedAt after the second rotation: got %v, want %v", rotated.LastUsedAt, now2)
	}
	if found, err := s.FindSession(ctx, created.ID); err != nil || !sameSession(found, rotated) {
		t.Fatalf("FindSession after rotations: got %+v, %v; want %+v", found, err, rotated)
	}
	wantSessions(t, s, u.ID, created.ID)

	_, err = s.FindSession(ctx, created.ID+1000)
	wantCode(t, err, fortress.ENOTFOUND)
}

func testRefreshReuse(t *testing.T, s Store) {
	ctx := context.Background()
	u := mustUser(t, s, "victim@example.com")
	sess := mustSession(t, s, u.ID, "r1", time.Now().Add(time.Hour))
	now := time.Now()
	mustRotate(t, s, "r1", "r2", now, time.Hour)

	// The thief (or the victim) presents r1 again: the whole session ends, committed, and the store says
	// whose session it was, for the audit log.
	reused, err := s.RotateRefreshToken(ctx, refreshHash("r1"), refreshHash("r3"), now.Add(time.Second), time.Hour)
	wantCode(t, err, fortress.EREUSED)
	if reused.ID != sess.ID || reused.UserID != u.ID {
		t.Fatalf("RotateRefreshToken on reuse: got session %d of user %d, want %d of %d", reused.ID, reused.UserID, sess.ID, u.ID)
	}
	found, err := s.FindSession(ctx, sess.ID)
	if err != nil || found.RevokedAt == nil {
		t.Fatalf("session after reuse: got %+v, %v; want revoked", found, err)
	}
	wantSessions(t, s, u.ID)
	// The current token died with the session, and the reuse did not store the token it offered.
	wantRotateCode(t, s, "r2", "r4", now.Add(2*time.Second), time.Hour, fortress.EUNAUTHORIZED)
	wantRotateCode(t, s, "r3", "r5", now.Add(2*time.Second), time.Hour, fortress.EUNAUTHORIZED)
	// A second reuse says so again and keeps the first revocation's time.
	wantRotateCode(t, s, "r1", "r6", now.Add(time.Minute), time.Hour, fortress.EREUSED)
	again, err := s.FindSession(ctx, sess.ID)
	if err != nil || again.RevokedAt == nil || !again.RevokedAt.Equal(*found.RevokedAt) {
		t.Fatalf("session after a second reuse: got %+v, %v; want revoked at %v", again, err, found.RevokedAt)
	}
}

func testUnknownRefreshToken(t *testing.T, s Store) {
	u := mustUser(t, s, "unknown@example.com")
	mustSession(t, s, u.ID, "known", time.Now().Add(time.Hour))
	wantRotateCode(t, s, "never issued", "next", time.Now(), time.Hour, fortress.EUNAUTHORIZED)
	_, err := s.RotateRefreshToken(context.Background(), nil, refreshHash("next"), time.Now(), time.Hour)
	wantCode(t, err, fortress.EUNAUTHORIZED)
	mustRotate(t, s, "known", "next", time.Now(), time.Hour)
}

func testIdleTimeout(t *testing.T, s Store) {
	ctx := context.Background()
	u := mustUser(t, s, "idle@example.com")
	sess := mustSession(t, s, u.ID, "i1", time.Now().Add(24*time.Hour))
	const idle = 15 * time.Minute
	wantRotateCode(t, s, "i1", "i2", sess.LastUsedAt.Add(idle), idle, fortress.EUNAUTHORIZED)
	wantRotateCode(t, s, "i1", "i2", sess.LastUsedAt.Add(idle+time.Second), idle, fortress.EUNAUTHORIZED)
	// The refusals changed nothing: the token was not consumed and the session not revoked.
	if found, err := s.FindSession(ctx, sess.ID); err != nil || !sameSession(found, sess) {
		t.Fatalf("session after idle refusals: got %+v, %v; want unchanged %+v", found, err, sess)
	}
	mustRotate(t, s, "i1", "i2", sess.LastUsedAt.Add(idle-time.Second), idle)
}

func testAbsoluteExpiry(t *testing.T, s Store) {
	ctx := context.Background()
	u := mustUser(t, s, "expiry@example.com")
	sess := mustSession(t, s, u.ID, "e1", time.Now().Add(time.Hour))
	const idle = 24 * time.Hour
	wantRotateCode(t, s, "e1", "e2", sess.ExpiresAt, idle, fortress.EUNAUTHORIZED)
	wantRotateCode(t, s, "e1", "e2", sess.ExpiresAt.Add(time.Hour), idle, fortress.EUNAUTHORIZED)
	if found, err := s.FindSession(ctx, sess.ID); err != nil || !sameSession(found, sess) {
		t.Fatalf("session after expiry refusals: got %+v, %v; want unchanged %+v", found, err, sess)
	}
	// Activity does not extend the absolute lifetime.
	rotated := mustRotate(t, s, "e1", "e2", sess.ExpiresAt.Add(-time.Minute), idle)
	if !rotated.ExpiresAt.Equal(sess.ExpiresAt) {
		t.Fatalf("ExpiresAt after rotation: got %v, want %v", rotated.ExpiresAt, sess.ExpiresAt)
	}
	wantRotateCode(t, s, "e2", "e3", sess.ExpiresAt.Add(time.Microsecond), idle, fortress.EUNAUTHORIZED)
}

func testRevokedSessionCannotRefresh(t *testing.T, s Store) {
	ctx := context.Background()
	u := mustUser(t, s, "logout@example.com")
	sess := mustSession(t, s, u.ID, "l1", time.Now().Add(time.Hour))
	if err := s.RevokeSession(ctx, u.ID, sess.ID); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
	wantRotateCode(t, s, "l1", "l2", time.Now(), time.Hour, fortress.EUNAUTHORIZED)
	found, err := s.FindSession(ctx, sess.ID)
	if err != nil || found.RevokedAt == nil {
		t.Fatalf("revoked session: got %+v, %v; want revoked", found, err)
	}
	// A refused refresh is not a rotation, so presenting the token again is not a reuse.
	wantRotateCode(t, s, "l1", "l2", time.Now(), time.Hour, fortress.EUNAUTHORIZED)
}

func testRevokeSessionScoped(t *testing.T, s Store) {
	ctx := context.Background()
	alice := mustUser(t, s, "alice@example.com")
	mallory := mustUser(t, s, "mallory@example.com")
	a1 := mustSession(t, s, alice.ID, "a1", time.Now().Add(time.Hour))
	m1 := mustSession(t, s, mallory.ID, "m1", time.Now().Add(time.Hour))

	wantCode(t, s.RevokeSession(ctx, mallory.ID, a1.ID), fortress.ENOTFOUND)
	wantCode(t, s.RevokeSession(ctx, alice.ID, a1.ID+m1.ID+1000), fortress.ENOTFOUND)
	if found, err := s.FindSession(ctx, a1.ID); err != nil || found.RevokedAt != nil {
		t.Fatalf("alice's session after mallory's attempt: got %+v, %v; want active", found, err)
	}

	if err := s.RevokeSession(ctx, alice.ID, a1.ID); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
	first, err := s.FindSession(ctx, a1.ID)
	if err != nil || first.RevokedAt == nil {
		t.Fatalf("revoked session: got %+v, %v; want revoked", first, err)
	}
	if err := s.RevokeSession(ctx, alice.ID, a1.ID); err != nil {
		t.Fatalf("revoking a revoked session: got %v, want nil", err)
	}
	if again, err := s.FindSession(ctx, a1.ID); err != nil || !again.RevokedAt.Equal(*first.RevokedAt) {
		t.Fatalf("second revocation: got %+v, %v; want the first revocation's time kept", again, err)
	}
	wantSessions(t, s, alice.ID)
	wantSessions(t, s, mallory.ID, m1.ID)
}

func testRevokeUserSessions(t *testing.T, s Store) {
	ctx := context.Background()
	alice := mustUser(t, s, "alice@example.com")
	bob := mustUser(t, s, "bob@example.com")
	exp := time.Now().Add(time.Hour)
	s1 := mustSession(t, s, alice.ID, "s1", exp)
	s2 := mustSession(t, s, alice.ID, "s2", exp)
	s3 := mustSession(t, s, alice.ID, "s3", exp)
	b1 := mustSession(t, s, bob.ID, "b1", exp)

	n, err := s.RevokeUserSessions(ctx, alice.ID, s2.ID)
	if err != nil || n != 2 {
		t.Fatalf("revoke all but the current: got %d, %v; want 2", n, err)
	}
	wantSessions(t, s, alice.ID, s2.ID)
	wantSessions(t, s, bob.ID, b1.ID)
	for _, id := range []int64{s1.ID, s3.ID} {
		if found, err := s.FindSession(ctx, id); err != nil || found.RevokedAt == nil {
			t.Fatalf("session %d: got %+v, %v; want revoked", id, found, err)
		}
	}
	wantRotateCode(t, s, "s1", "s1b", time.Now(), time.Hour, fortress.EUNAUTHORIZED)
	mustRotate(t, s, "s2", "s2b", time.Now(), time.Hour)

	if n, err = s.RevokeUserSessions(ctx, alice.ID, 0); err != nil || n != 1 {
		t.Fatalf("revoke all: got %d, %v; want 1", n, err)
	}
	if n, err = s.RevokeUserSessions(ctx, alice.ID, 0); err != nil || n != 0 {
		t.Fatalf("revoke all again: got %d, %v; want 0", n, err)
	}
	wantSessions(t, s, alice.ID)
	// Naming someone else's session as the exception spares nothing of one's own, and nothing of theirs.
	if n, err = s.RevokeUserSessions(ctx, bob.ID, s2.ID); err != nil || n != 1 {
		t.Fatalf("bob's revoke all: got %d, %v; want 1", n, err)
	}
	wantSessions(t, s, bob.ID)
}

func testListSessions(t *testing.T, s Store) {
	ctx := context.Background()
	u := mustUser(t, s, "lister@example.com")
	empty := mustUser(t, s, "empty@example.com")
	exp := time.Now().Add(time.Hour)
	s1 := mustSession(t, s, u.ID, "l1", exp)
	s2 := mustSession(t, s, u.ID, "l2", exp)
	s3 := mustSession(t, s, u.ID, "l3", exp)
	mustSession(t, s, u.ID, "l4-expired", time.Now().Add(-time.Minute))
	if err := s.RevokeSession(ctx, u.ID, s2.ID); err != nil {
		t.Fatal(err)
	}
	wantSessions(t, s, u.ID, s3.ID, s1.ID)
	wantSessions(t, s, empty.ID)
	wantSessions(t, s, 999999)
}

func testSessionUserChecks(t *testing.T, s Store) {
	ctx := context.Background()
	_, err := s.CreateSession(ctx, fortress.SessionCreate{UserID: 999999, RefreshHash: refreshHash("x"), ExpiresAt: time.Now().Add(time.Hour)})
	wantCode(t, err, fortress.ENOTFOUND)
	u := mustUser(t, s, "inactive@example.com")
	if _, err := setActive(ctx, s, u.ID, false); err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateSession(ctx, fortress.SessionCreate{UserID: u.ID, RefreshHash: refreshHash("y"), ExpiresAt: time.Now().Add(time.Hour)})
	wantCode(t, err, fortress.EUNAUTHORIZED)
	wantSessions(t, s, u.ID)
}

func testSessionInvariants(t *testing.T, s Store) {
	ctx := context.Background()
	u := mustUser(t, s, "guard@example.com")
	exp := time.Now().Add(time.Hour)
	for _, n := range []int{0, 16, 31, 33, 64} {
		_, err := s.CreateSession(ctx, fortress.SessionCreate{UserID: u.ID, RefreshHash: make([]byte, n), ExpiresAt: exp})
		wantCode(t, err, fortress.EINVALID)
	}
	mustSession(t, s, u.ID, "g1", exp)
	_, err := s.CreateSession(ctx, fortress.SessionCreate{UserID: u.ID, RefreshHash: refreshHash("g1"), ExpiresAt: exp})
	wantCode(t, err, fortress.ECONFLICT)
	mustSession(t, s, u.ID, "g2", exp)

	// Refused rotations leave the old token valid: the transaction rolled back.
	_, err = s.RotateRefreshToken(ctx, refreshHash("g1"), make([]byte, 16), time.Now(), time.Hour)
	wantCode(t, err, fortress.EINVALID)
	wantRotateCode(t, s, "g1", "g2", time.Now(), time.Hour, fortress.ECONFLICT)
	wantRotateCode(t, s, "g1", "g1", time.Now(), time.Hour, fortress.ECONFLICT)
	mustRotate(t, s, "g1", "g1b", time.Now(), time.Hour)

	// Lengths count characters; text that PostgreSQL could not store is made storable the same way by
	// every engine.
	agent := strings.Repeat("é", 512)
	ip := strings.Repeat("f", 64)
	sess, err := s.CreateSession(ctx, fortress.SessionCreate{UserID: u.ID, RefreshHash: refreshHash("g3"), UserAgent: agent, ClientIP: ip, ExpiresAt: exp})
	if err != nil || sess.UserAgent != agent || sess.ClientIP != ip {
		t.Fatalf("512-character agent and 64-character IP: got %v; want them stored", err)
	}
	for i, c := range []fortress.SessionCreate{
		{UserAgent: strings.Repeat("x", 513)},
		{ClientIP: strings.Repeat("x", 65)},
	} {
		c.UserID, c.RefreshHash, c.ExpiresAt = u.ID, refreshHash(fmt.Sprintf("too-long-%d", i)), exp
		if _, err := s.CreateSession(ctx, c); err == nil {
			t.Errorf("CreateSession with a too long field (%d): got nil error, want the schema to refuse it", i)
		}
	}
	sess, err = s.CreateSession(ctx, fortress.SessionCreate{UserID: u.ID, RefreshHash: refreshHash("g4"), UserAgent: "Agent\xff\x00/1", ExpiresAt: exp})
	if want := "Agent\uFFFD\uFFFD/1"; err != nil || sess.UserAgent != want {
		t.Fatalf("agent with invalid UTF-8 and NUL: got %q, %v; want %q", sess.UserAgent, err, want)
	}
}

// testConcurrentRotation presents one refresh token from 16 goroutines at once, as an attacker racing
// the victim would: exactly one may get a new token. A lost race shows only in some interleavings, so
// the race runs several times, each on a new session.
func testConcurrentRotation(t *testing.T, s Store) {
	ctx := context.Background()
	u := mustUser(t, s, "racer@example.com")
	const rounds, n = 8, 16
	for round := range rounds {
		token := func(suffix string) string { return fmt.Sprintf("race-%d-%s", round, suffix) }
		sess := mustSession(t, s, u.ID, token("start"), time.Now().Add(time.Hour))
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		now := time.Now()
		for i := range n {
			wg.Go(func() {
				<-start
				_, errs[i] = s.RotateRefreshToken(ctx, refreshHash(token("start")), refreshHash(token(fmt.Sprint(i))), now, time.Hour)
			})
		}
		close(start)
		wg.Wait()
		winners, reused := []int{}, 0
		for i, err := range errs {
			switch fortress.ErrorCode(err) {
			case "":
				if err != nil {
					t.Fatalf("round %d, rotation %d: unexpected error %v", round, i, err)
				}
				winners = append(winners, i)
			case fortress.EREUSED:
				reused++
			case fortress.EUNAUTHORIZED:
			default:
				t.Fatalf("round %d, rotation %d: got %v, want success, EREUSED or EUNAUTHORIZED", round, i, err)
			}
		}
		if len(winners) != 1 {
			t.Fatalf("round %d: %d concurrent rotations of one token: got %d successes (%v), want exactly 1",
				round, n, len(winners), winners)
		}
		for i := range n {
			if i != winners[0] { // the losers' tokens were never stored
				wantRotateCode(t, s, token(fmt.Sprint(i)), token("next"), time.Now(), time.Hour, fortress.EUNAUTHORIZED)
			}
		}
		if reused > 0 {
			if found, err := s.FindSession(ctx, sess.ID); err != nil || found.RevokedAt == nil {
				t.Fatalf("round %d: session after %d reuses: got %+v, %v; want revoked", round, reused, found, err)
			}
			wantRotateCode(t, s, token(fmt.Sprint(winners[0])), token("next"), time.Now(), time.Hour, fortress.EUNAUTHORIZED)
		}
	}
}

// testConcurrentRotationOfManySessions refreshes many sessions of one user at once: rotations of
// different tokens must not be taken for reuse, nor block each other into failure.
func testConcurrentRotationOfManySessions(t *testing.T, s Store) {
	u := mustUser(t, s, "tabs@example.com")
	const n, rounds = 8, 5
	for i := range n {
		mustSession(t, s, u.ID, fmt.Sprintf("tab-%d-0", i), time.Now().Add(time.Hour))
	}
	errs := make(chan error, n*rounds)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			for r := range rounds {
				_, err := s.RotateRefreshToken(context.Background(),
					refreshHash(fmt.Sprintf("tab-%d-%d", i, r)), refreshHash(fmt.Sprintf("tab-%d-%d", i, r+1)), time.Now(), time.Hour)
				if err != nil {
					errs <- fmt.Errorf("session %d, rotation %d: %w", i, r, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent rotation of distinct sessions: got %v, want success", err)
	}
	list, err := s.ListSessions(context.Background(), u.ID)
	if err != nil || len(list) != n {
		t.Fatalf("sessions after the rotations: got %d, %v; want %d active", len(list), err, n)
	}
}

// testSessionUser checks the per-request check of access tokens: only a live session of an active user
// yields its user, and every way a session ends is seen at once.
func testSessionUser(t *testing.T, s Store) {
	ctx := context.Background()
	now := time.Now()
	u := mustUser(t, s, "per-request@example.com")
	other := mustUser(t, s, "per-request-other@example.com")
	live := mustSession(t, s, u.ID, "su-live", now.Add(time.Hour))
	wantUser := func(sessionID int64, at time.Time) {
		t.Helper()
		got, err := s.SessionUser(ctx, sessionID, at)
		if err != nil || got.ID != u.ID || got.Email != u.Email || !got.IsActive || got.Role != fortress.RoleUser {
			t.Fatalf("SessionUser(%d): got %+v, %v; want user %d", sessionID, got, err, u.ID)
		}
	}
	wantEnded := func(sessionID int64, at time.Time) {
		t.Helper()
		got, err := s.SessionUser(ctx, sessionID, at)
		wantCode(t, err, fortress.EUNAUTHORIZED)
		if got != (fortress.User{}) {
			t.Fatalf("SessionUser(%d) with an error: got %+v, want the zero User", sessionID, got)
		}
	}
	wantUser(live.ID, now)
	wantEnded(live.ID+1000, now)                       // no such session
	wantEnded(live.ID, now.Add(time.Hour+time.Second)) // past its absolute expiry

	// Revoking one session ends it and no other.
	second := mustSession(t, s, u.ID, "su-second", now.Add(time.Hour))
	if err := s.RevokeSession(ctx, u.ID, second.ID); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
	wantEnded(second.ID, now)
	wantUser(live.ID, now)

	// A reused refresh token ends the session it belongs to.
	mustRotate(t, s, "su-live", "su-live-2", now, time.Hour)
	wantCode(t, func() error {
		_, err := s.RotateRefreshToken(ctx, refreshHash("su-live"), refreshHash("su-live-3"), now, time.Hour)
		return err
	}(), fortress.EREUSED)
	wantEnded(live.ID, now)

	// Deactivation, and ending all sessions, end them too; reactivation does not bring them back.
	third := mustSession(t, s, u.ID, "su-third", now.Add(time.Hour))
	keep := mustSession(t, s, other.ID, "su-other", now.Add(time.Hour))
	if _, err := setActive(ctx, s, u.ID, false); err != nil {
		t.Fatalf("deactivate: %v", err)
	}
	wantEnded(third.ID, now)
	if _, err := setActive(ctx, s, u.ID, true); err != nil {
		t.Fatalf("reactivate: %v", err)
	}
	wantEnded(third.ID, now)
	fourth := mustSession(t, s, u.ID, "su-fourth", now.Add(time.Hour))
	if n, err := s.RevokeUserSessions(ctx, u.ID, 0); err != nil || n != 1 {
		t.Fatalf("RevokeUserSessions: got %d, %v; want 1, nil", n, err)
	}
	wantEnded(fourth.ID, now)
	if got, err := s.SessionUser(ctx, keep.ID, now); err != nil || got.ID != other.ID {
		t.Fatalf("SessionUser of another user's session: got %+v, %v; want user %d", got, err, other.ID)
	}

	// Deleting the user ends everything.
	fifth := mustSession(t, s, u.ID, "su-fifth", now.Add(time.Hour))
	if err := s.DeleteUser(ctx, u.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	wantEnded(fifth.ID, now)
}

// testPruneSessions checks that pruning deletes exactly what can never be used again, and that a live
// session keeps working, with reuse detection for its recently rotated tokens.
func testPruneSessions(t *testing.T, s Store) {
	ctx := context.Background()
	now := time.Now()
	u := mustUser(t, s, "prune@example.com")
	live := mustSession(t, s, u.ID, "p-live", now.Add(10*time.Hour))
	idle := mustSession(t, s, u.ID, "p-idle", now.Add(10*time.Hour))
	expired := mustSession(t, s, u.ID, "p-expired", now.Add(time.Hour))
	revoked := mustSession(t, s, u.ID, "p-revoked", now.Add(10*time.Hour))
	if err := s.RevokeSession(ctx, u.ID, revoked.ID); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
	mustRotate(t, s, "p-live", "p-live-2", now.Add(90*time.Minute), 2*time.Hour)

	n, err := s.PruneSessions(ctx, now.Add(2*time.Hour), time.Hour)
	if err != nil || n != 3 {
		t.Fatalf("PruneSessions: got %d, %v; want the idle, expired and revoked sessions (3)", n, err)
	}
	for _, id := range []int64{idle.ID, expired.ID, revoked.ID} {
		_, err := s.FindSession(ctx, id)
		wantCode(t, err, fortress.ENOTFOUND)
	}
	if _, err := s.FindSession(ctx, live.ID); err != nil {
		t.Fatalf("FindSession of the live session after pruning: %v", err)
	}
	wantRotateCode(t, s, "p-idle", "p-idle-2", now.Add(2*time.Hour), 2*time.Hour, fortress.EUNAUTHORIZED)

	// Rotated tokens are remembered for one idle period, then forgotten; the session goes on.
	mustRotate(t, s, "p-live-2", "p-live-3", now.Add(150*time.Minute), 2*time.Hour)
	if n, err := s.PruneSessions(ctx, now.Add(170*time.Minute), time.Hour); err != nil || n != 0 {
		t.Fatalf("second PruneSessions: got %d, %v; want no session deleted", n, err)
	}
	wantRotateCode(t, s, "p-live", "p-x", now.Add(170*time.Minute), 2*time.Hour, fortress.EUNAUTHORIZED) // forgotten
	mustRotate(t, s, "p-live-3", "p-live-4", now.Add(170*time.Minute), 2*time.Hour)
	wantRotateCode(t, s, "p-live-2", "p-y", now.Add(171*time.Minute), 2*time.Hour, fortress.EREUSED) // still known
}
