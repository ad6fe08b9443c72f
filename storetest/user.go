package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fortress-dev/fortress"
)

const testHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaA"

func mustAdmin(t *testing.T, s Store, email string) fortress.User {
	t.Helper()
	u, err := s.CreateUserWithRole(context.Background(), email, testHash, fortress.RoleAdmin)
	if err != nil {
		t.Fatalf("CreateUserWithRole(%q, admin): %v", email, err)
	}
	return u
}

// setRole changes only the role, as the CLI's set-role does.
func setRole(ctx context.Context, s Store, id int64, role string) (fortress.User, error) {
	_, u, err := s.UpdateUser(ctx, id, fortress.UserUpdate{Role: &role})
	return u, err
}

// setActive deactivates or reactivates an account, as an administrator does.
func setActive(ctx context.Context, s Store, id int64, active bool) (fortress.User, error) {
	_, u, err := s.UpdateUser(ctx, id, fortress.UserUpdate{IsActive: &active})
	return u, err
}

func mustFindUser(t *testing.T, s Store, id int64) fortress.User {
	t.Helper()
	u, err := s.FindUserByID(context.Background(), id)
	if err != nil {
		t.Fatalf("FindUserByID(%d): %v", id, err)
	}
	return u
}

// emails returns the emails of users, in order.
func emails(users []fortress.User) []string {
	out := make([]string, 0, len(users))
	for _, u := range users {
		out = append(out, u.Email)
	}
	return out
}

func testRolesDefaultToUser(t *testing.T, s Store) {
	ctx := context.Background()
	u := mustUser(t, s, "plain@example.com")
	if u.Role != fortress.RoleUser {
		t.Fatalf("CreateUser role: got %q, want %q", u.Role, fortress.RoleUser)
	}
	if got := mustFindUser(t, s, u.ID); got.Role != fortress.RoleUser {
		t.Fatalf("FindUserByID role: got %q, want %q", got.Role, fortress.RoleUser)
	}
	byEmail, err := s.FindUserByEmail(ctx, "PLAIN@example.com")
	if err != nil || byEmail.Role != fortress.RoleUser {
		t.Fatalf("FindUserByEmail role: got %q, %v; want %q", byEmail.Role, err, fortress.RoleUser)
	}
	list, _, err := s.ListUsers(ctx, fortress.UserFilter{Limit: 10})
	if err != nil || len(list) != 1 || list[0].Role != fortress.RoleUser {
		t.Fatalf("ListUsers: got %+v, %v; want one user with role %q", list, err, fortress.RoleUser)
	}
}

func testCreateUserWithRole(t *testing.T, s Store) {
	ctx := context.Background()
	a := mustAdmin(t, s, "Root@Example.com")
	if a.ID <= 0 || a.Role != fortress.RoleAdmin || !a.IsActive || a.Email != "Root@Example.com" || a.CreatedAt.IsZero() {
		t.Fatalf("created admin: got %+v", a)
	}
	if got := mustFindUser(t, s, a.ID); got != a {
		t.Fatalf("FindUserByID: got %+v, want %+v", got, a)
	}
	u, err := s.CreateUserWithRole(ctx, "member@example.com", testHash, fortress.RoleUser)
	if err != nil || u.Role != fortress.RoleUser {
		t.Fatalf("CreateUserWithRole(user): got %+v, %v", u, err)
	}
	for _, role := range []string{"", "root", "Admin", "admin ", "superuser"} {
		_, err := s.CreateUserWithRole(ctx, "bad-role@example.com", testHash, role)
		wantCode(t, err, fortress.EINVALID)
	}
	_, err = s.FindUserByEmail(ctx, "bad-role@example.com")
	wantCode(t, err, fortress.ENOTFOUND)
	_, err = s.CreateUserWithRole(ctx, "ROOT@example.com", testHash, fortress.RoleAdmin)
	wantCode(t, err, fortress.ECONFLICT)
}

func testListUsers(t *testing.T, s Store) {
	ctx := context.Background()
	var ids []int64
	for i := range 7 {
		ids = append(ids, mustUser(t, s, fmt.Sprintf("User%d@example.com", i)).ID)
	}
	other := mustUser(t, s, "Other@Sample.org")
	accented := mustUser(t, s, "ÉLISE@exemple.fr")

	all, total, err := s.ListUsers(ctx, fortress.UserFilter{Limit: 100})
	if err != nil || total != 9 || len(all) != 9 {
		t.Fatalf("all users: got %d of %d, %v; want 9 of 9", len(all), total, err)
	}
	if !slices.IsSortedFunc(all, func(a, b fortress.User) int { return int(a.ID - b.ID) }) {
		t.Fatalf("all users: got ids out of order: %v", emails(all))
	}

	page, total, err := s.ListUsers(ctx, fortress.UserFilter{Query: "uSeR", Limit: 3, Offset: 2})
	if err != nil || total != 7 || len(page) != 3 {
		t.Fatalf("search page: got %d of %d, %v; want 3 of 7", len(page), total, err)
	}
	for i, u := range page {
		if u.ID != ids[i+2] {
			t.Fatalf("search page[%d]: got id %d, want %d", i, u.ID, ids[i+2])
		}
	}

	for query, want := range map[string]int64{"SAMPLE.ORG": other.ID, "élise": accented.ID, "user3@": ids[3]} {
		got, total, err := s.ListUsers(ctx, fortress.UserFilter{Query: query, Limit: 10})
		if err != nil || total != 1 || len(got) != 1 || got[0].ID != want {
			t.Fatalf("search %q: got %v, total %d, %v; want only id %d", query, emails(got), total, err, want)
		}
	}

	none, total, err := s.ListUsers(ctx, fortress.UserFilter{Query: "nobody", Limit: 10})
	if err != nil || total != 0 || none == nil || len(none) != 0 {
		t.Fatalf("no match: got %v, total %d, %v; want an empty non-nil page", none, total, err)
	}
	past, total, err := s.ListUsers(ctx, fortress.UserFilter{Query: "user", Limit: 10, Offset: 7})
	if err != nil || total != 7 || past == nil || len(past) != 0 {
		t.Fatalf("past the end: got %v, total %d, %v; want an empty non-nil page of 7", past, total, err)
	}
}

func testListUsersWildcards(t *testing.T, s Store) {
	ctx := context.Background()
	for _, email := range []string{"a_b@example.com", "axb@example.com", "a%b@example.com", "ayyb@example.com", `a\b@example.com`} {
		mustUser(t, s, email)
	}
	cases := map[string][]string{
		"a_b":  {"a_b@example.com"},
		"_":    {"a_b@example.com"},
		"a%b":  {"a%b@example.com"},
		"%":    {"a%b@example.com"},
		`a\b`:  {`a\b@example.com`},
		`\`:    {`a\b@example.com`},
		`\%`:   {},
		`\_`:   {},
		"a__b": {},
		"b@":   {"a_b@example.com", "axb@example.com", "a%b@example.com", "ayyb@example.com", `a\b@example.com`},
	}
	for query, want := range cases {
		got, total, err := s.ListUsers(ctx, fortress.UserFilter{Query: query, Limit: 10})
		if err != nil || total != len(want) || !slices.Equal(emails(got), want) {
			t.Errorf("search %q: got %q, total %d, %v; want %q", query, emails(got), total, err, want)
		}
	}
}

func testUpdateUserRole(t *testing.T, s Store) {
	ctx := context.Background()
	root := mustAdmin(t, s, "root@example.com")
	u := mustUser(t, s, "promoted@example.com")

	got, err := setRole(ctx, s, u.ID, fortress.RoleAdmin)
	if err != nil || got.Role != fortress.RoleAdmin || got.ID != u.ID || got.Email != u.Email || !got.IsActive {
		t.Fatalf("promote: got %+v, %v; want %s as admin", got, err, u.Email)
	}
	if stored := mustFindUser(t, s, u.ID); stored.Role != fortress.RoleAdmin {
		t.Fatalf("stored role after promotion: got %q, want admin", stored.Role)
	}
	if again, err := setRole(ctx, s, u.ID, fortress.RoleAdmin); err != nil || again.Role != fortress.RoleAdmin {
		t.Fatalf("promote again: got %+v, %v; want no change and no error", again, err)
	}
	if got, err = setRole(ctx, s, u.ID, fortress.RoleUser); err != nil || got.Role != fortress.RoleUser {
		t.Fatalf("demote with another admin left: got %+v, %v; want role user", got, err)
	}
	if stored := mustFindUser(t, s, root.ID); stored.Role != fortress.RoleAdmin {
		t.Fatalf("the other admin: got role %q, want admin", stored.Role)
	}
	_, err = setRole(ctx, s, 999999, fortress.RoleAdmin)
	wantCode(t, err, fortress.ENOTFOUND)
	for _, role := range []string{"", "root", "ADMIN"} {
		_, err = setRole(ctx, s, u.ID, role)
		wantCode(t, err, fortress.EINVALID)
	}
	if stored := mustFindUser(t, s, u.ID); stored.Role != fortress.RoleUser {
		t.Fatalf("role after refused changes: got %q, want user", stored.Role)
	}
}

// testUpdateUserWhole changes both fields in one call, and shows that a refused change applies neither.
func testUpdateUserWhole(t *testing.T, s Store) {
	ctx := context.Background()
	root := mustAdmin(t, s, "root@example.com")
	u := mustUser(t, s, "both@example.com")
	admin, inactive := fortress.RoleAdmin, false
	sess := mustSession(t, s, u.ID, "whole-update", time.Now().Add(time.Hour))

	before, after, err := s.UpdateUser(ctx, u.ID, fortress.UserUpdate{Role: &admin, IsActive: &inactive})
	if err != nil || before.Role != fortress.RoleUser || !before.IsActive || after.Role != fortress.RoleAdmin || after.IsActive {
		t.Fatalf("promote and deactivate: got %+v -> %+v, %v; want an active user becoming an inactive admin", before, after, err)
	}
	if stored := mustFindUser(t, s, u.ID); stored.Role != fortress.RoleAdmin || stored.IsActive {
		t.Fatalf("stored: got %+v, want an inactive admin", stored)
	}
	if _, err := s.SessionUser(ctx, sess.ID, time.Now()); fortress.ErrorCode(err) != fortress.EUNAUTHORIZED {
		t.Fatalf("session after a combined update that deactivated: got %v, want EUNAUTHORIZED (ended)", err)
	}
	// A value the account already has: before and after agree, so the caller records no change.
	if before, after, err := s.UpdateUser(ctx, root.ID, fortress.UserUpdate{Role: &admin}); err != nil || before != after {
		t.Fatalf("set the present role: got %+v -> %+v, %v; want no change", before, after, err)
	}
	before, after, err = s.UpdateUser(ctx, u.ID, fortress.UserUpdate{})
	if err != nil || before != after || after.ID != u.ID {
		t.Fatalf("empty update: got %+v -> %+v, %v; want the account unchanged", before, after, err)
	}

	// The only active administrator cannot demote and deactivate themself at once: nothing changes.
	user, active := fortress.RoleUser, true
	_, _, err = s.UpdateUser(ctx, root.ID, fortress.UserUpdate{Role: &user, IsActive: &inactive})
	wantLastAdmin(t, err)
	// An unknown role refuses the whole update, the valid field included.
	bogus := "root"
	_, _, err = s.UpdateUser(ctx, u.ID, fortress.UserUpdate{Role: &bogus, IsActive: &active})
	wantCode(t, err, fortress.EINVALID)
	if stored := mustFindUser(t, s, root.ID); stored.Role != fortress.RoleAdmin || !stored.IsActive {
		t.Fatalf("root after a refused change: got %+v, want an active admin", stored)
	}
	if stored := mustFindUser(t, s, u.ID); stored.IsActive {
		t.Fatalf("after a refused change: got %+v, want still inactive", stored)
	}
}

func testLastAdminDemote(t *testing.T, s Store) {
	ctx := context.Background()
	a := mustAdmin(t, s, "a@example.com")
	_, err := setRole(ctx, s, a.ID, fortress.RoleUser)
	wantLastAdmin(t, err)
	if got := mustFindUser(t, s, a.ID); got.Role != fortress.RoleAdmin {
		t.Fatalf("last admin after refused demotion: got role %q, want admin", got.Role)
	}

	b := mustAdmin(t, s, "b@example.com")
	if _, err := setRole(ctx, s, a.ID, fortress.RoleUser); err != nil {
		t.Fatalf("demote with another admin left: %v", err)
	}
	_, err = setRole(ctx, s, b.ID, fortress.RoleUser)
	wantLastAdmin(t, err)

	// An inactive administrator does not count as one that remains.
	c := mustAdmin(t, s, "c@example.com")
	if _, err := setActive(ctx, s, c.ID, false); err != nil {
		t.Fatalf("deactivate a second admin: %v", err)
	}
	_, err = setRole(ctx, s, b.ID, fortress.RoleUser)
	wantLastAdmin(t, err)
	// Demoting the inactive one takes no active administrator away.
	if _, err := setRole(ctx, s, c.ID, fortress.RoleUser); err != nil {
		t.Fatalf("demote an inactive admin: %v", err)
	}
	// Demoting an ordinary user is never refused, whatever the administrators.
	if _, err := setRole(ctx, s, a.ID, fortress.RoleUser); err != nil {
		t.Fatalf("demote a user: %v", err)
	}
}

func testLastAdminDeactivate(t *testing.T, s Store) {
	ctx := context.Background()
	a := mustAdmin(t, s, "a@example.com")
	_, err := setActive(ctx, s, a.ID, false)
	wantLastAdmin(t, err)
	if got := mustFindUser(t, s, a.ID); !got.IsActive {
		t.Fatal("last admin after refused deactivation: got inactive, want active")
	}

	b := mustAdmin(t, s, "b@example.com")
	got, err := setActive(ctx, s, a.ID, false)
	if err != nil || got.IsActive || got.Role != fortress.RoleAdmin {
		t.Fatalf("deactivate with another admin left: got %+v, %v; want an inactive admin", got, err)
	}
	_, err = setActive(ctx, s, b.ID, false)
	wantLastAdmin(t, err)

	got, err = setActive(ctx, s, a.ID, true)
	if err != nil || !got.IsActive {
		t.Fatalf("reactivate: got %+v, %v; want active", got, err)
	}
	if _, err := setActive(ctx, s, b.ID, false); err != nil {
		t.Fatalf("deactivate once another admin is active again: %v", err)
	}
	if stored := mustFindUser(t, s, b.ID); stored.IsActive {
		t.Fatal("stored activity: got active, want inactive")
	}
	_, err = setActive(ctx, s, 999999, false)
	wantCode(t, err, fortress.ENOTFOUND)
}

func testLastAdminDelete(t *testing.T, s Store) {
	ctx := context.Background()
	a := mustAdmin(t, s, "a@example.com")
	wantLastAdmin(t, s.DeleteUser(ctx, a.ID))
	mustFindUser(t, s, a.ID)

	b := mustAdmin(t, s, "b@example.com")
	if err := s.DeleteUser(ctx, a.ID); err != nil {
		t.Fatalf("delete with another admin left: %v", err)
	}
	_, err := s.FindUserByID(ctx, a.ID)
	wantCode(t, err, fortress.ENOTFOUND)
	wantLastAdmin(t, s.DeleteUser(ctx, b.ID))

	c := mustAdmin(t, s, "c@example.com")
	if _, err := setActive(ctx, s, c.ID, false); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, c.ID); err != nil {
		t.Fatalf("delete an inactive admin: %v", err)
	}
	wantCode(t, s.DeleteUser(ctx, a.ID), fortress.ENOTFOUND)
	mustFindUser(t, s, b.ID)
}

// testConcurrentAdminRemoval removes every active administrator at once, by demotion, deactivation and
// deletion mixed, over several rounds: each time exactly one removal must be refused, and it must be the
// one whose administrator is the only one left.
func testConcurrentAdminRemoval(t *testing.T, s Store) {
	ctx := context.Background()
	const rounds, fresh = 5, 4
	for round := range rounds {
		for i := range fresh {
			mustAdmin(t, s, fmt.Sprintf("admin-%d-%d@example.com", round, i))
		}
		admins := activeAdmins(t, s)
		if len(admins) < 2 {
			t.Fatalf("round %d: got %d active admins, want at least 2", round, len(admins))
		}
		errs := make([]error, len(admins))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, id := range admins {
			wg.Go(func() {
				<-start
				switch i % 3 {
				case 0:
					_, errs[i] = setRole(ctx, s, id, fortress.RoleUser)
				case 1:
					_, errs[i] = setActive(ctx, s, id, false)
				default:
					errs[i] = s.DeleteUser(ctx, id)
				}
			})
		}
		close(start)
		wg.Wait()
		var refused []int64
		for i, err := range errs {
			switch {
			case err == nil:
			case fortress.ErrorCode(err) == fortress.ECONFLICT:
				refused = append(refused, admins[i])
			default:
				t.Fatalf("round %d: removing admin %d: got %v, want nil or ECONFLICT", round, admins[i], err)
			}
		}
		left := activeAdmins(t, s)
		if len(refused) != 1 || len(left) != 1 || left[0] != refused[0] {
			t.Fatalf("round %d: %d concurrent removals: got refused %v and active admins %v; want exactly one refused, and it the one left",
				round, len(admins), refused, left)
		}
	}
}

func activeAdmins(t *testing.T, s Store) []int64 {
	t.Helper()
	users, _, err := s.ListUsers(context.Background(), fortress.UserFilter{Limit: 1000})
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	var ids []int64
	for _, u := range users {
		if u.Role == fortress.RoleAdmin && u.IsActive {
			ids = append(ids, u.ID)
		}
	}
	return ids
}

func wantLastAdmin(t *testing.T, err error) {
	t.Helper()
	wantCode(t, err, fortress.ECONFLICT)
	if msg := fortress.ErrorMessage(err); msg == "" {
		t.Fatal("last-admin refusal: got no client-safe message, want one")
	}
}

func testDeactivationRevokesSessions(t *testing.T, s Store) {
	ctx := context.Background()
	u := mustUser(t, s, "leaver@example.com")
	other := mustUser(t, s, "stayer@example.com")
	s1 := mustSession(t, s, u.ID, "leaver-1", time.Now().Add(time.Hour))
	s2 := mustSession(t, s, u.ID, "leaver-2", time.Now().Add(time.Hour))
	o1 := mustSession(t, s, other.ID, "stayer-1", time.Now().Add(time.Hour))

	got, err := setActive(ctx, s, u.ID, false)
	if err != nil || got.IsActive {
		t.Fatalf("deactivate: got %+v, %v; want inactive", got, err)
	}
	wantSessions(t, s, u.ID)
	for _, id := range []int64{s1.ID, s2.ID} {
		if found, err := s.FindSession(ctx, id); err != nil || found.RevokedAt == nil {
			t.Fatalf("session %d after deactivation: got %+v, %v; want revoked", id, found, err)
		}
	}
	_, err = s.RotateRefreshToken(ctx, refreshHash("leaver-1"), refreshHash("leaver-1b"), time.Now(), time.Hour)
	wantCode(t, err, fortress.EUNAUTHORIZED)
	wantSessions(t, s, other.ID, o1.ID)

	if got, err := setActive(ctx, s, u.ID, true); err != nil || !got.IsActive {
		t.Fatalf("reactivate: got %+v, %v; want active", got, err)
	}
	wantSessions(t, s, u.ID) // reactivation does not bring sessions back
	_, err = s.RotateRefreshToken(ctx, refreshHash("leaver-2"), refreshHash("leaver-2b"), time.Now(), time.Hour)
	wantCode(t, err, fortress.EUNAUTHORIZED)
	mustSession(t, s, u.ID, "leaver-3", time.Now().Add(time.Hour))
}

func testDeleteUserCascades(t *testing.T, s Store) {
	ctx := context.Background()
	u := mustUser(t, s, "gone@example.com")
	keep := mustUser(t, s, "kept@example.com")
	it := mustItem(t, s, u.ID, "doomed", ptr("with text"))
	kept := mustItem(t, s, keep.ID, "kept", nil)
	sess := mustSession(t, s, u.ID, "gone-1", time.Now().Add(time.Hour))
	keptSess := mustSession(t, s, keep.ID, "kept-1", time.Now().Add(time.Hour))
	for _, e := range []fortress.AuditEvent{
		{Event: "auth.register", ActorID: u.ID, SubjectID: u.ID, Outcome: "success"},
		{Event: "account.delete", ActorID: u.ID, SubjectID: u.ID, Outcome: "success"},
	} {
		if _, err := s.AppendAudit(ctx, e); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
	}

	if err := s.DeleteUser(ctx, u.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	_, err := s.FindUserByID(ctx, u.ID)
	wantCode(t, err, fortress.ENOTFOUND)
	_, err = s.FindUserByEmail(ctx, "gone@example.com")
	wantCode(t, err, fortress.ENOTFOUND)
	_, err = s.FindItem(ctx, u.ID, it.ID)
	wantCode(t, err, fortress.ENOTFOUND)
	if items, total, err := s.ListItems(ctx, u.ID, fortress.ItemFilter{Limit: 10}); err != nil || total != 0 || len(items) != 0 {
		t.Fatalf("items of the deleted user: got %d, %v; want none", total, err)
	}
	_, err = s.FindSession(ctx, sess.ID)
	wantCode(t, err, fortress.ENOTFOUND)
	_, err = s.RotateRefreshToken(ctx, refreshHash("gone-1"), refreshHash("gone-2"), time.Now(), time.Hour)
	wantCode(t, err, fortress.EUNAUTHORIZED)
	events, total, err := s.ListAudit(ctx, fortress.AuditFilter{UserID: u.ID, Limit: 10})
	if err != nil || total != 2 || len(events) != 2 {
		t.Fatalf("audit events of the deleted user: got %d, %v; want 2 kept", total, err)
	}

	if got, err := s.FindItem(ctx, keep.ID, kept.ID); err != nil || !sameItem(got, kept) {
		t.Fatalf("another user's item: got %+v, %v; want it kept", got, err)
	}
	wantSessions(t, s, keep.ID, keptSess.ID)
	wantCode(t, s.DeleteUser(ctx, u.ID), fortress.ENOTFOUND)

	// The email is free again, for a new account with a new id.
	again := mustUser(t, s, "gone@example.com")
	if again.ID <= u.ID {
		t.Fatalf("id of the re-registered email: got %d, want > %d", again.ID, u.ID)
	}
}
