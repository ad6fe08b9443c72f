// Package storetest is the conformance suite that every storage engine runs unchanged, so that SQLite
// and PostgreSQL behave the same behind the domain's interfaces.
package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/fortress-dev/fortress"
)

// Store is what an engine offers the rest of Fortress.
type Store interface {
	fortress.UserService
	fortress.ItemService
	fortress.SessionService
	fortress.AuditService
}

// Run runs the suite. open must return a store on a fresh, migrated database each time it is called.
func Run(t *testing.T, open func(t *testing.T) Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s Store)
	}{
		{"CreateAndFindUser", testCreateAndFindUser},
		{"EmailIsUniqueCaseInsensitively", testEmailUnique},
		{"UnknownUser", testUnknownUser},
		{"UpdatePasswordHash", testUpdatePasswordHash},
		{"CreateAndFindItem", testCreateAndFindItem},
		{"ItemsAreVisibleOnlyToTheirOwner", testItemOwnership},
		{"ListItemsPagesInIDOrder", testListItems},
		{"UpdateItemIsPartial", testUpdateItem},
		{"DeleteItem", testDeleteItem},
		{"IDsAreNeverReused", testIDsNeverReused},
		{"LengthsCountCharacters", testLengths},
		{"StoreGuardsItsInvariants", testInvariants},
		{"ConcurrentItemWrites", testConcurrentItemWrites},
		{"ConcurrentRegistrationOfOneEmail", testConcurrentRegistration},

		{"RolesDefaultToUser", testRolesDefaultToUser},
		{"CreateUserWithRole", testCreateUserWithRole},
		{"ListUsersSearchesAndPages", testListUsers},
		{"ListUsersMatchesWildcardsLiterally", testListUsersWildcards},
		{"UpdateUserRole", testUpdateUserRole},
		{"UpdateUserWhole", testUpdateUserWhole},
		{"LastAdminCannotBeDemoted", testLastAdminDemote},
		{"LastAdminCannotBeDeactivated", testLastAdminDeactivate},
		{"LastAdminCannotBeDeleted", testLastAdminDelete},
		{"ConcurrentRemovalOfAdminsKeepsOne", testConcurrentAdminRemoval},
		{"DeactivationRevokesSessions", testDeactivationRevokesSessions},
		{"DeleteUserCascadesButKeepsAudit", testDeleteUserCascades},

		{"SessionLifecycle", testSessionLifecycle},
		{"RefreshTokenReuseRevokesSession", testRefreshReuse},
		{"UnknownRefreshToken", testUnknownRefreshToken},
		{"SessionUser", testSessionUser},
		{"PruneSessions", testPruneSessions},
		{"IdleTimeout", testIdleTimeout},
		{"AbsoluteExpiry", testAbsoluteExpiry},
		{"RevokedSessionCannotRefresh", testRevokedSessionCannotRefresh},
		{"RevokeSessionIsScopedToTheUser", testRevokeSessionScoped},
		{"RevokeUserSessionsExceptCurrent", testRevokeUserSessions},
		{"ListSessionsNewestFirstWithoutEnded", testListSessions},
		{"SessionsOfMissingOrInactiveUsers", testSessionUserChecks},
		{"SessionInputsAreGuarded", testSessionInvariants},
		{"ConcurrentRotationOfOneToken", testConcurrentRotation},
		{"ConcurrentRotationOfManySessions", testConcurrentRotationOfManySessions},

		{"AppendAudit", testAppendAudit},
		{"ListAuditFiltersAndPages", testListAudit},
		{"AuditGuardsItsInvariants", testAuditInvariants},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

func mustUser(t *testing.T, s Store, email string) fortress.User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), email, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaA")
	if err != nil {
		t.Fatalf("CreateUser(%q): %v", email, err)
	}
	return u
}

func mustItem(t *testing.T, s Store, owner int64, name string, desc *string) fortress.Item {
	t.Helper()
	it, err := s.CreateItem(context.Background(), owner, fortress.ItemCreate{Name: name, Description: desc})
	if err != nil {
		t.Fatalf("CreateItem(%q): %v", name, err)
	}
	return it
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := fortress.ErrorCode(err); got != code {
		t.Fatalf("error code: got %q (err %v), want %q", got, err, code)
	}
}

func ptr(s string) *string { return &s }

// sameItem compares items by value, descriptions included.
func sameItem(a, b fortress.Item) bool {
	if (a.Description == nil) != (b.Description == nil) {
		return false
	}
	if a.Description != nil && *a.Description != *b.Description {
		return false
	}
	return a.ID == b.ID && a.OwnerID == b.OwnerID && a.Name == b.Name
}

func testCreateAndFindUser(t *testing.T, s Store) {
	ctx := context.Background()
	u := mustUser(t, s, "Alice@Example.com")
	if u.ID <= 0 || u.Email != "Alice@Example.com" || !u.IsActive || u.CreatedAt.IsZero() || u.PasswordHash == "" {
		t.Fatalf("created user: got %+v", u)
	}
	byID, err := s.FindUserByID(ctx, u.ID)
	if err != nil || byID != u {
		t.Fatalf("FindUserByID: got %+v, %v; want %+v", byID, err, u)
	}
	for _, email := range []string{"Alice@Example.com", "alice@example.com", "ALICE@EXAMPLE.COM"} {
		byEmail, err := s.FindUserByEmail(ctx, email)
		if err != nil || byEmail.ID != u.ID {
			t.Fatalf("FindUserByEmail(%q): got %+v, %v; want id %d", email, byEmail, err, u.ID)
		}
	}
}

func testEmailUnique(t *testing.T, s Store) {
	mustUser(t, s, "bob@example.com")
	for _, email := range []string{"bob@example.com", "BOB@example.com", "bob@EXAMPLE.COM"} {
		_, err := s.CreateUser(context.Background(), email, "hash")
		wantCode(t, err, fortress.ECONFLICT)
	}
}

func testUnknownUser(t *testing.T, s Store) {
	ctx := context.Background()
	_, err := s.FindUserByID(ctx, 424242)
	wantCode(t, err, fortress.ENOTFOUND)
	_, err = s.FindUserByEmail(ctx, "nobody@example.com")
	wantCode(t, err, fortress.ENOTFOUND)
}

func testUpdatePasswordHash(t *testing.T, s Store) {
	ctx := context.Background()
	u := mustUser(t, s, "carol@example.com")
	if err := s.UpdatePasswordHash(ctx, u.ID, "new-hash"); err != nil {
		t.Fatal(err)
	}
	got, err := s.FindUserByID(ctx, u.ID)
	if err != nil || got.PasswordHash != "new-hash" {
		t.Fatalf("hash after update: got %q, %v; want %q", got.PasswordHash, err, "new-hash")
	}
	wantCode(t, s.UpdatePasswordHash(ctx, 999999, "x"), fortress.ENOTFOUND)
}

func testCreateAndFindItem(t *testing.T, s Store) {
	ctx := context.Background()
	u := mustUser(t, s, "dave@example.com")
	plain := mustItem(t, s, u.ID, "plain", nil)
	if plain.ID <= 0 || plain.OwnerID != u.ID || plain.Name != "plain" || plain.Description != nil {
		t.Fatalf("created item: got %+v", plain)
	}
	described := mustItem(t, s, u.ID, "described", ptr("with text"))
	got, err := s.FindItem(ctx, u.ID, described.ID)
	if err != nil || got.Description == nil || *got.Description != "with text" || got.Name != "described" {
		t.Fatalf("FindItem: got %+v, %v", got, err)
	}
	_, err = s.FindItem(ctx, u.ID, described.ID+1000)
	wantCode(t, err, fortress.ENOTFOUND)
}

func testItemOwnership(t *testing.T, s Store) {
	ctx := context.Background()
	alice := mustUser(t, s, "alice@example.com")
	mallory := mustUser(t, s, "mallory@example.com")
	it := mustItem(t, s, alice.ID, "secret", ptr("alice's"))

	_, err := s.FindItem(ctx, mallory.ID, it.ID)
	wantCode(t, err, fortress.ENOTFOUND)
	_, err = s.UpdateItem(ctx, mallory.ID, it.ID, fortress.ItemUpdate{Name: ptr("pwned")})
	wantCode(t, err, fortress.ENOTFOUND)
	if err := s.DeleteItem(ctx, mallory.ID, it.ID); err != nil {
		t.Fatalf("DeleteItem of another's item: got %v, want nil (no existence oracle)", err)
	}
	items, total, err := s.ListItems(ctx, mallory.ID, fortress.ItemFilter{Limit: 100})
	if err != nil || len(items) != 0 || total != 0 {
		t.Fatalf("mallory's list: got %v, %d, %v; want empty", items, total, err)
	}
	got, err := s.FindItem(ctx, alice.ID, it.ID)
	if err != nil || !sameItem(got, it) {
		t.Fatalf("alice's item after mallory's attempts: got %+v, %v; want unchanged %+v", got, err, it)
	}
}

func testListItems(t *testing.T, s Store) {
	ctx := context.Background()
	u := mustUser(t, s, "erin@example.com")
	other := mustUser(t, s, "frank@example.com")
	var ids []int64
	for i := range 7 {
		ids = append(ids, mustItem(t, s, u.ID, fmt.Sprintf("item %d", i), nil).ID)
		mustItem(t, s, other.ID, "not erin's", nil)
	}
	page, total, err := s.ListItems(ctx, u.ID, fortress.ItemFilter{Limit: 3, Offset: 2})
	if err != nil || total != 7 || len(page) != 3 {
		t.Fatalf("page: got %d items, total %d, %v; want 3 of 7", len(page), total, err)
	}
	for i, it := range page {
		if it.ID != ids[i+2] || it.OwnerID != u.ID {
			t.Fatalf("page[%d]: got id %d owner %d, want id %d owner %d", i, it.ID, it.OwnerID, ids[i+2], u.ID)
		}
	}
	last, total, err := s.ListItems(ctx, u.ID, fortress.ItemFilter{Limit: 100, Offset: 7})
	if err != nil || total != 7 || last == nil || len(last) != 0 {
		t.Fatalf("past the end: got %v, total %d, %v; want an empty non-nil page of 7", last, total, err)
	}
}

func testUpdateItem(t *testing.T, s Store) {
	ctx := context.Background()
	u := mustUser(t, s, "grace@example.com")
	it := mustItem(t, s, u.ID, "name", ptr("desc"))

	got, err := s.UpdateItem(ctx, u.ID, it.ID, fortress.ItemUpdate{Name: ptr("renamed")})
	if err != nil || got.Name != "renamed" || got.Description == nil || *got.Description != "desc" {
		t.Fatalf("rename: got %+v, %v; want the description kept", got, err)
	}
	got, err = s.UpdateItem(ctx, u.ID, it.ID, fortress.ItemUpdate{Description: ptr("new")})
	if err != nil || got.Name != "renamed" || *got.Description != "new" {
		t.Fatalf("describe: got %+v, %v; want the name kept", got, err)
	}
	got, err = s.UpdateItem(ctx, u.ID, it.ID, fortress.ItemUpdate{ClearDescription: true})
	if err != nil || got.Name != "renamed" || got.Description != nil {
		t.Fatalf("clear: got %+v, %v; want no description", got, err)
	}
	got, err = s.UpdateItem(ctx, u.ID, it.ID, fortress.ItemUpdate{})
	if err != nil || got.Name != "renamed" || got.Description != nil {
		t.Fatalf("empty update: got %+v, %v; want unchanged", got, err)
	}
	found, err := s.FindItem(ctx, u.ID, it.ID)
	if err != nil || !sameItem(found, got) {
		t.Fatalf("stored: got %+v, %v; want %+v", found, err, got)
	}
	_, err = s.UpdateItem(ctx, u.ID, it.ID+1000, fortress.ItemUpdate{Name: ptr("x")})
	wantCode(t, err, fortress.ENOTFOUND)
}

func testDeleteItem(t *testing.T, s Store) {
	ctx := context.Background()
	u := mustUser(t, s, "heidi@example.com")
	it := mustItem(t, s, u.ID, "doomed", nil)
	if err := s.DeleteItem(ctx, u.ID, it.ID); err != nil {
		t.Fatal(err)
	}
	_, err := s.FindItem(ctx, u.ID, it.ID)
	wantCode(t, err, fortress.ENOTFOUND)
	if err := s.DeleteItem(ctx, u.ID, it.ID); err != nil {
		t.Fatalf("second delete: got %v, want nil", err)
	}
}

func testIDsNeverReused(t *testing.T, s Store) {
	ctx := context.Background()
	u := mustUser(t, s, "ivan@example.com")
	first := mustItem(t, s, u.ID, "first", nil)
	if err := s.DeleteItem(ctx, u.ID, first.ID); err != nil {
		t.Fatal(err)
	}
	second := mustItem(t, s, u.ID, "second", nil)
	if second.ID <= first.ID {
		t.Fatalf("id after delete: got %d, want > %d", second.ID, first.ID)
	}
}

func testLengths(t *testing.T, s Store) {
	u := mustUser(t, s, "judy@example.com")
	name := strings.Repeat("é", fortress.ItemNameMaxChars)        // 510 bytes, 255 characters
	desc := strings.Repeat("€", fortress.ItemDescriptionMaxChars) // 30,000 bytes, 10,000 characters
	it := mustItem(t, s, u.ID, name, &desc)
	if it.Name != name || *it.Description != desc {
		t.Fatalf("multi-byte text did not round-trip")
	}
	hostile := "'; DROP TABLE items; -- <script>\u202e\U0001F600"
	it = mustItem(t, s, u.ID, hostile, &hostile)
	if it.Name != hostile || *it.Description != hostile {
		t.Fatalf("hostile text: got %q, want %q", it.Name, hostile)
	}
}

func testInvariants(t *testing.T, s Store) {
	ctx := context.Background()
	u := mustUser(t, s, "ken@example.com")
	long := strings.Repeat("x", fortress.ItemNameMaxChars+1)
	tooLongDesc := strings.Repeat("x", fortress.ItemDescriptionMaxChars+1)
	bad := []fortress.ItemCreate{
		{Name: ""},
		{Name: long},
		{Name: "ok", Description: &tooLongDesc},
	}
	for _, c := range bad {
		if _, err := s.CreateItem(ctx, u.ID, c); err == nil {
			t.Errorf("CreateItem(name %d chars): got nil error, want the schema to refuse it", len(c.Name))
		}
	}
	if _, err := s.CreateItem(ctx, 999999, fortress.ItemCreate{Name: "orphan"}); err == nil {
		t.Errorf("CreateItem for a missing owner: got nil error, want a foreign-key failure")
	}
	items, total, err := s.ListItems(ctx, u.ID, fortress.ItemFilter{Limit: 10})
	if err != nil || total != 0 || len(items) != 0 {
		t.Fatalf("after refused writes: got %d items, %v; want none", total, err)
	}
}

func testConcurrentItemWrites(t *testing.T, s Store) {
	ctx := context.Background()
	u := mustUser(t, s, "leo@example.com")
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	ids := make(chan int64, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				it, err := s.CreateItem(ctx, u.ID, fortress.ItemCreate{Name: fmt.Sprintf("w%d-%d", w, i)})
				if err != nil {
					errs <- err
					continue
				}
				ids <- it.ID
			}
		})
	}
	wg.Wait()
	close(errs)
	close(ids)
	for err := range errs {
		t.Errorf("concurrent CreateItem: %v", err)
	}
	seen := map[int64]bool{}
	for id := range ids {
		if seen[id] {
			t.Fatalf("id %d returned twice", id)
		}
		seen[id] = true
	}
	_, total, err := s.ListItems(ctx, u.ID, fortress.ItemFilter{Limit: 1})
	if err != nil || total != writers*each || len(seen) != writers*each {
		t.Fatalf("after concurrent writes: stored %d, acknowledged %d, %v; want %d", total, len(seen), err, writers*each)
	}
}

func testConcurrentRegistration(t *testing.T, s Store) {
	const n = 10
	var wg sync.WaitGroup
	results := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			email := "Race@Example.com"
			if i%2 == 1 {
				email = strings.ToLower(email)
			}
			_, err := s.CreateUser(context.Background(), email, "hash")
			results <- err
		})
	}
	wg.Wait()
	close(results)
	created, conflicts := 0, 0
	for err := range results {
		switch fortress.ErrorCode(err) {
		case "":
			if err != nil {
				t.Errorf("unexpected error: %v", err)
				continue
			}
			created++
		case fortress.ECONFLICT:
			conflicts++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if created != 1 || conflicts != n-1 {
		t.Fatalf("concurrent registrations of one email: got %d created, %d conflicts; want 1 and %d", created, conflicts, n-1)
	}
}
