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
