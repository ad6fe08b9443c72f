package securitytest

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestAPI1_BrokenObjectLevelAuthorization attacks the items of one user from the account of another:
// read, update, delete and list, by guessed and by enumerated ids. Every answer must be the one a missing
// id gets (so ids reveal nothing) and the owner must find everything as it was.
func TestAPI1_BrokenObjectLevelAuthorization(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, eng engine) {
		s := startOn(t, eng, nil)
		alice := s.newAccount(t, "alice")
		bob := s.newAccount(t, "bob")
		var victims []item
		for i := range 3 {
			victims = append(victims, s.createItem(t, alice.token, fmt.Sprintf("alice secret %d", i), "alice's private note"))
		}
		own := s.createItem(t, bob.token, "bob's own", "")
		victims = append(victims, s.createItem(t, alice.token, "alice after bob", "created after bob's item"))
		maxID := own.ID
		for _, it := range victims {
			maxID = max(maxID, it.ID)
		}
		missing := maxID + 1000
		before := s.listAll(t, alice.token)
		if len(before) != len(victims) {
			t.Fatalf("alice lists %d items, want %d", len(before), len(victims))
		}

		// notLeaked fails if the answer shows anything of alice's items.
		notLeaked := func(t *testing.T, r response) {
			t.Helper()
			if strings.Contains(string(r.body), "alice") {
				t.Errorf("%s: the body shows alice's data: %s", r, r.body)
			}
		}

		t.Run("read by guessed id", func(t *testing.T) {
			want := s.do(t, "GET", itemPath(missing), bearer(bob.token))
			want.want(t, http.StatusNotFound, detailItemNotFound)
			for _, it := range victims {
				got := s.do(t, "GET", itemPath(it.ID), bearer(bob.token))
				sameAnswer(t, got, want)
				notLeaked(t, got)
			}
		})

		t.Run("update by guessed id", func(t *testing.T) {
			for _, body := range []string{`{"name":"pwned by bob"}`, `{"description":null}`, `{"name":"pwned","description":"x"}`} {
				want := s.do(t, "PUT", itemPath(missing), bearer(bob.token), jsonBody(body))
				want.want(t, http.StatusNotFound, detailItemNotFound)
				for _, it := range victims {
					got := s.do(t, "PUT", itemPath(it.ID), bearer(bob.token), jsonBody(body))
					sameAnswer(t, got, want)
					notLeaked(t, got)
				}
			}
		})

		t.Run("delete by guessed id", func(t *testing.T) {
			want := s.do(t, "DELETE", itemPath(missing), bearer(bob.token))
			want.want(t, http.StatusNoContent, "")
			for _, it := range victims {
				got := s.do(t, "DELETE", itemPath(it.ID), bearer(bob.token))
				sameAnswer(t, got, want)
				if len(got.body) != 0 {
					t.Errorf("%s: body %q, want empty", got, got.body)
				}
			}
		})

		t.Run("list shows only the caller's items", func(t *testing.T) {
			for _, path := range []string{
				"/items/", "/items", "/items/?limit=100", "/items/?offset=0&limit=100",
				"/items/?owner_id=" + strconv.FormatInt(alice.id, 10), // unknown parameters select nothing
				"/items/?user_id=" + strconv.FormatInt(alice.id, 10),
			} {
				r := s.do(t, "GET", path, bearer(bob.token))
				r.want(t, http.StatusOK, "")
				var page []item
				r.decode(t, &page)
				if len(page) != 1 || page[0].ID != own.ID || page[0].OwnerID != bob.id {
					t.Errorf("%s: got %+v, want only bob's item %d", r, page, own.ID)
				}
				if got := r.header.Get("X-Total-Count"); got != "1" {
					t.Errorf("%s: X-Total-Count %q, want \"1\" (alice's items are not counted)", r, got)
				}
				notLeaked(t, r)
			}
		})

		t.Run("enumerate ids", func(t *testing.T) {
			// Every id from 1 past the largest: bob's own item answers; every other id, alice's or
			// nobody's, gets the one answer of a missing id.
			readMissing := s.do(t, "GET", itemPath(missing), bearer(bob.token))
			putMissing := s.do(t, "PUT", itemPath(missing), bearer(bob.token), jsonBody(`{"name":"enumerated"}`))
			deleteMissing := s.do(t, "DELETE", itemPath(missing), bearer(bob.token))
			var readable []int64
			for id := int64(1); id <= maxID+5; id++ {
				r := s.do(t, "GET", itemPath(id), bearer(bob.token))
				if r.status == http.StatusOK {
					readable = append(readable, id)
					continue
				}
				sameAnswer(t, r, readMissing)
				notLeaked(t, r)
				if id == own.ID {
					continue
				}
				sameAnswer(t, s.do(t, "PUT", itemPath(id), bearer(bob.token), jsonBody(`{"name":"enumerated"}`)), putMissing)
				sameAnswer(t, s.do(t, "DELETE", itemPath(id), bearer(bob.token)), deleteMissing)
			}
			if !slices.Equal(readable, []int64{own.ID}) {
				t.Errorf("bob can read ids %v, want only his own %d", readable, own.ID)
			}
		})

		t.Run("ids in other spellings", func(t *testing.T) {
			// The same number written differently must not reach another row, nor an error with internals.
			for _, it := range victims {
				n := strconv.FormatInt(it.ID, 10)
				for _, spelling := range []string{"0" + n, "+" + n, n + ".0", n + "e0", "0x" + strconv.FormatInt(it.ID, 16),
					n + "%20", "%20" + n, n + "%00", "-" + n, n + "/", n + "%2F", n + "?x=1", n + "#x", n + ";x",
					"99999999999999999999999"} {
					for _, method := range []string{"GET", "PUT", "DELETE"} {
						var opts = []option{bearer(bob.token)}
						if method == "PUT" {
							opts = append(opts, jsonBody(`{"name":"pwned by spelling"}`))
						}
						r := s.do(t, method, "/items/"+spelling, opts...)
						if r.status < 300 && method != "DELETE" {
							t.Errorf("%s: got %d, want a 4xx for another user's item", r, r.status)
						}
						notLeaked(t, r)
					}
				}
			}
		})

		t.Run("owner finds everything unchanged", func(t *testing.T) {
			after := s.listAll(t, alice.token)
			if !reflect.DeepEqual(after, before) {
				t.Fatalf("alice's items after bob's attempts:\n got %+v\nwant %+v", after, before)
			}
			for _, it := range before {
				r := s.do(t, "GET", itemPath(it.ID), bearer(alice.token))
				r.want(t, http.StatusOK, "")
				var got item
				r.decode(t, &got)
				if !reflect.DeepEqual(got, it) {
					t.Errorf("%s: got %+v, want %+v", r, got, it)
				}
			}
			if n := s.db.queryInt(t, "SELECT COUNT(*) FROM items WHERE owner_id = ?", alice.id); n != int64(len(victims)) {
				t.Errorf("alice owns %d rows in the database, want %d", n, len(victims))
			}
			if n := s.db.queryInt(t, "SELECT COUNT(*) FROM items WHERE owner_id = ?", bob.id); n != 1 {
				t.Errorf("bob owns %d rows in the database, want 1", n)
			}
		})
	})
}

// TestAPI1_SessionsAndAccounts attacks the objects of the accounts API: one user's sessions from another
// user's account (end them, list them, enumerate their ids), and an administrator's change of one account,
// which must touch that account and no other.
func TestAPI1_SessionsAndAccounts(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, eng engine) {
		s := startOn(t, eng, nil)
		const aliceDevice = "alice-private-device/1.0"
		alice := s.newAccount(t, "alice")
		phone := alice
		phone.signIn(t, s, header("User-Agent", aliceDevice), fromIP("127.0.0.7"))
		bob := s.newAccount(t, "bob")
		victims := []account{alice, phone}
		maxID := int64(0)
		for _, a := range []account{alice, phone, bob} {
			maxID = max(maxID, int64(atoi(a.sid)))
		}
		missing := strconv.FormatInt(maxID+1000, 10)

		// notLeaked fails if the answer shows anything of alice's sessions.
		notLeaked := func(t *testing.T, r response) {
			t.Helper()
			for _, secret := range []string{"alice", aliceDevice, "127.0.0.7"} {
				if strings.Contains(string(r.body), secret) {
					t.Errorf("%s: the body shows alice's session (%q): %s", r, secret, r.body)
				}
			}
		}
		// aliceIntact fails unless both of alice's sessions still work and are open in the database.
		aliceIntact := func(t *testing.T) {
			t.Helper()
			for _, a := range victims {
				s.do(t, "GET", "/auth/me", bearer(a.token)).want(t, http.StatusOK, "")
			}
			if n := s.db.queryInt(t, "SELECT COUNT(*) FROM sessions WHERE user_id = ? AND revoked_at IS NULL", alice.id); n != 2 {
				t.Errorf("alice has %d open sessions, want 2", n)
			}
		}

		t.Run("end another user's session by id", func(t *testing.T) {
			want := s.do(t, "DELETE", sessionPath(missing), bearer(bob.token))
			want.want(t, http.StatusNotFound, detailSessionNotFound)
			for _, a := range victims {
				got := s.do(t, "DELETE", sessionPath(a.sid), bearer(bob.token))
				sameAnswer(t, got, want)
				notLeaked(t, got)
			}
			aliceIntact(t)
			s.do(t, "GET", "/auth/me", bearer(bob.token)).want(t, http.StatusOK, "")
		})

		t.Run("enumerate session ids", func(t *testing.T) {
			want := s.do(t, "DELETE", sessionPath(missing), bearer(bob.token))
			for id := int64(1); id <= maxID+5; id++ {
				sid := strconv.FormatInt(id, 10)
				if sid == bob.sid {
					continue
				}
				got := s.do(t, "DELETE", sessionPath(sid), bearer(bob.token))
				sameAnswer(t, got, want)
				notLeaked(t, got)
			}
			aliceIntact(t)
		})

		t.Run("session ids in other spellings", func(t *testing.T) {
			for _, a := range victims {
				n := a.sid
				for _, spelling := range []string{"0" + n, "+" + n, n + ".0", n + "e0", "0x" + strconv.FormatInt(int64(atoi(n)), 16),
					n + "%20", "%20" + n, n + "%00", "-" + n, n + "/", n + "%2F", n + ";x", n + "?user_id=" + strconv.FormatInt(alice.id, 10),
					"99999999999999999999", "0", "me", "current", "*"} {
					r := s.do(t, "DELETE", "/auth/sessions/"+spelling, bearer(bob.token))
					if r.status < 300 {
						t.Errorf("%s: got %d, want a 4xx for another user's session", r, r.status)
					}
					notLeaked(t, r)
				}
			}
			aliceIntact(t)
		})

		t.Run("the list shows only the caller's sessions", func(t *testing.T) {
			for _, path := range []string{"/auth/sessions", "/auth/sessions?user_id=" + strconv.FormatInt(alice.id, 10), "/auth/sessions?all=true",
				"/auth/sessions?limit=100&offset=0"} {
				r := s.do(t, "GET", path, bearer(bob.token))
				r.want(t, http.StatusOK, "")
				var rows []sessionRow
				r.decode(t, &rows)
				if len(rows) != 1 || strconv.FormatInt(rows[0].ID, 10) != bob.sid || !rows[0].Current {
					t.Errorf("%s: got %+v, want only bob's session %s, marked current", r, rows, bob.sid)
				}
				for _, row := range rows {
					if owner := s.db.queryInt(t, "SELECT user_id FROM sessions WHERE id = ?", row.ID); owner != bob.id {
						t.Errorf("%s: lists session %d of user %d, want only bob's (%d)", r, row.ID, owner, bob.id)
					}
				}
				notLeaked(t, r)
			}
		})

		t.Run("signing out everywhere signs out only the caller", func(t *testing.T) {
			other := bob
			other.signIn(t, s)
			s.do(t, "DELETE", "/auth/sessions", bearer(other.token)).want(t, http.StatusNoContent, "")
			for _, b := range []account{bob, other} {
				s.do(t, "GET", "/auth/me", bearer(b.token)).want(t, http.StatusUnauthorized, detailInvalidToken)
			}
			aliceIntact(t)
			bob.signIn(t, s)
		})

		t.Run("an administrator's change touches only the named account", func(t *testing.T) {
			root := s.newAdmin(t, "root")
			carol := s.newAccount(t, "carol")
			carolPhone := carol
			carolPhone.signIn(t, s)
			users := func() []string {
				return s.db.queryRows(t, "SELECT id, email, role, is_active, password_hash FROM users ORDER BY id")
			}
			sessions := func() []string {
				return s.db.queryRows(t, "SELECT id, user_id, revoked_at IS NULL FROM sessions ORDER BY id")
			}
			// onlyCarol compares two snapshots: every row but carol's must be equal.
			onlyCarol := func(t *testing.T, what string, before, after []string, carolChanged bool) {
				t.Helper()
				if len(before) != len(after) {
					t.Fatalf("%s: %d rows before, %d after", what, len(before), len(after))
				}
				changed := 0
				for i := range before {
					if before[i] == after[i] {
						continue
					}
					changed++
					id, _, _ := strings.Cut(before[i], " | ")
					mine := id == strconv.FormatInt(carol.id, 10) // users: the id column
					if what == "sessions" {
						mine = strings.Split(before[i], " | ")[1] == strconv.FormatInt(carol.id, 10) // sessions: user_id
					}
					if !mine {
						t.Errorf("%s: row %q became %q; only carol's may change", what, before[i], after[i])
					}
				}
				if carolChanged && changed == 0 {
					t.Errorf("%s: nothing changed, want carol's rows changed", what)
				}
			}
			patch := func(t *testing.T, path, body string) response {
				t.Helper()
				return s.do(t, "PATCH", path, bearer(root.token), jsonBody(body))
			}
			carolPath := adminUserPath(carol.id)

			for _, tc := range []struct {
				body                      string
				wantRole                  string
				wantActive, sessionsEnded bool
			}{
				{`{"role":"admin"}`, "admin", true, false},
				{`{"role":"user"}`, "user", true, false},
				{`{"is_active":false}`, "user", false, true},
				{`{"is_active":true,"role":"admin"}`, "admin", true, false},
				{`{"role":"user"}`, "user", true, false},
			} {
				u0, s0 := users(), sessions()
				r := patch(t, carolPath, tc.body)
				r.want(t, http.StatusOK, "")
				var got struct {
					ID       int64  `json:"id"`
					Email    string `json:"email"`
					Role     string `json:"role"`
					IsActive bool   `json:"is_active"`
				}
				r.decode(t, &got)
				if got.ID != carol.id || got.Email != carol.email || got.Role != tc.wantRole || got.IsActive != tc.wantActive {
					t.Errorf("%s %s: got %+v, want carol (%d) with role %s, is_active %v", r, tc.body, got, carol.id, tc.wantRole, tc.wantActive)
				}
				onlyCarol(t, "users", u0, users(), true)
				onlyCarol(t, "sessions", s0, sessions(), tc.sessionsEnded)
				if s.roleOf(t, carol.id) != tc.wantRole {
					t.Errorf("after %s: carol's role in the database %q, want %q", tc.body, s.roleOf(t, carol.id), tc.wantRole)
				}
			}

			// What must change nothing at all: other spellings of the id, a missing id, and a body that
			// names another account.
			u0, s0 := users(), sessions()
			for _, spelling := range []string{"0" + strconv.FormatInt(carol.id, 10), "+" + strconv.FormatInt(carol.id, 10),
				strconv.FormatInt(carol.id, 10) + ".0", strconv.FormatInt(carol.id, 10) + "%20", "-" + strconv.FormatInt(carol.id, 10),
				"0", "99999999999999999999", carol.email, "me", "*"} {
				if r := patch(t, "/admin/users/"+spelling, `{"role":"admin"}`); r.status < 400 {
					t.Errorf("%s: got %d, want a 4xx", r, r.status)
				}
			}
			patch(t, adminUserPath(987654321), `{"role":"admin"}`).want(t, http.StatusNotFound, "User not found")
			for _, body := range []string{
				`{"id":` + strconv.FormatInt(alice.id, 10) + `,"role":"admin"}`,
				`{"user_id":` + strconv.FormatInt(alice.id, 10) + `,"is_active":false}`,
				`{"email":"` + alice.email + `","role":"admin"}`,
				`{"role":"admin","role":"user"}`,
				`[{"role":"admin"}]`,
				`{"role":"superuser"}`,
				`{"role":null}`,
				`{"is_active":"false"}`,
				`{}`,
			} {
				patch(t, carolPath, body).want(t, http.StatusUnprocessableEntity, "")
			}
			if u1, s1 := users(), sessions(); !slices.Equal(u0, u1) || !slices.Equal(s0, s1) {
				t.Errorf("refused changes changed the database:\nusers    %q\n      -> %q\nsessions %q\n      -> %q", u0, u1, s0, s1)
			}
			aliceIntact(t)
			s.do(t, "GET", "/auth/me", bearer(bob.token)).want(t, http.StatusOK, "")
		})
	})
}
