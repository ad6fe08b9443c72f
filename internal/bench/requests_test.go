package bench

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestMixPicksExactSharesInEveryHundred(t *testing.T) {
	mix := Mixes[ScenarioMixed]
	if err := mix.Validate(); err != nil {
		t.Fatal(err)
	}
	for start := uint64(0); start < 1000; start += 100 {
		counts := map[Kind]int{}
		for n := start; n < start+100; n++ {
			counts[mix.Pick(n)]++
		}
		for _, s := range mix {
			if counts[s.Kind] != s.Percent {
				t.Errorf("requests %d-%d: %s got %d, want %d", start, start+99, s.Kind, counts[s.Kind], s.Percent)
			}
		}
	}
	// Spread, not bunched: the nine writes of a hundred are never all in a row.
	run, longest := 0, 0
	for n := range uint64(100) {
		if mix.Pick(n) == KindItemCreate {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	if longest > 2 {
		t.Errorf("longest run of writes got %d, want them spread out", longest)
	}
	for name, m := range Mixes {
		if err := m.Validate(); err != nil {
			t.Errorf("mix %s: %v", name, err)
		}
	}
	if err := (Mix{{KindHealth, 60}, {KindLogin, 30}}).Validate(); err == nil {
		t.Error("shares adding up to 90: got no error, want one")
	}
	if err := (Mix{{KindHealth, 110}, {KindLogin, -10}}).Validate(); err == nil {
		t.Error("a negative share: got no error, want one")
	}
}

var bob = User{ID: 7, Email: "bob+bench@example.com", Password: "p&ss=word", Token: "h.p.s", ItemIDs: []int64{70, 71, 72}}

func parse(t *testing.T, raw []byte) (*http.Request, string) {
	t.Helper()
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatalf("request %q does not parse: %v", raw, err)
	}
	body, _ := io.ReadAll(req.Body)
	return req, string(body)
}

func TestBuildWritesValidRequests(t *testing.T) {
	for _, tc := range []struct {
		kind               Kind
		method, uri, auth  string
		contentType, body  string
		wantID             int64
		wantName           string
		wantCount, wantOwn int64
	}{
		{kind: KindHealth, method: "GET", uri: "/health"},
		{kind: KindItemGet, method: "GET", uri: "/items/71", auth: "Bearer h.p.s", wantID: 71, wantOwn: 7},
		{kind: KindCeilingItem, method: "GET", uri: "/owners/7/items/71", wantID: 71, wantOwn: 7},
		{kind: KindItemList, method: "GET", uri: "/items?limit=20", auth: "Bearer h.p.s", wantCount: 3, wantOwn: 7},
		{kind: KindItemCreate, method: "POST", uri: "/items", auth: "Bearer h.p.s", contentType: "application/json",
			body: `{"name":"bench item 4","description":"written by the load generator"}`, wantName: "bench item 4", wantOwn: 7},
		{kind: KindLogin, method: "POST", uri: "/auth/login", contentType: "application/x-www-form-urlencoded",
			body: "grant_type=password&username=bob%2Bbench%40example.com&password=p%26ss%3Dword", wantOwn: 7},
	} {
		user := &bob
		if tc.kind == KindHealth {
			user = nil
		}
		raw, e := Build([]byte("leftover"), "127.0.0.1:8000", tc.kind, user, 4)
		if !bytes.HasPrefix(raw, []byte("leftover")) {
			t.Fatalf("%s: Build did not append to the buffer", tc.kind)
		}
		req, body := parse(t, raw[len("leftover"):])
		if req.Method != tc.method || req.RequestURI != tc.uri || req.Host != "127.0.0.1:8000" {
			t.Errorf("%s: got %s %s Host %s, want %s %s Host 127.0.0.1:8000", tc.kind, req.Method, req.RequestURI, req.Host, tc.method, tc.uri)
		}
		if got := req.Header.Get("Authorization"); got != tc.auth {
			t.Errorf("%s: Authorization got %q, want %q", tc.kind, got, tc.auth)
		}
		if got := req.Header.Get("Content-Type"); got != tc.contentType || body != tc.body {
			t.Errorf("%s: got %s body %q, want %s body %q", tc.kind, got, body, tc.contentType, tc.body)
		}
		if e.Kind != tc.kind || e.ItemID != tc.wantID || e.Name != tc.wantName || int64(e.Count) != tc.wantCount ||
			(user != nil && e.OwnerID != tc.wantOwn) {
			t.Errorf("%s: expectation got %+v", tc.kind, e)
		}
	}
}

func TestCheckCountsWrongAnswers(t *testing.T) {
	item := `{"id":71,"name":"n","description":null,"owner_id":7}`
	get := Expect{Kind: KindItemGet, ItemID: 71, OwnerID: 7}
	const refresh = "q3Y0nQx0CqkXfVb2m0gS8m8rJ8zHn3sV4k1yQp6tT2E"
	for _, tc := range []struct {
		name   string
		e      Expect
		status int
		body   string
		ok     bool
	}{
		{"health", Expect{Kind: KindHealth}, 200, `{"status":"ok"}` + "\n", true},
		{"health says something else", Expect{Kind: KindHealth}, 200, `{"status":"degraded"}`, false},
		{"health 503", Expect{Kind: KindHealth}, 503, `{"status":"ok"}`, false},
		{"item", get, 200, item, true},
		{"item with a description", get, 200, `{"id":71,"name":"n","description":"d","owner_id":7}`, true},
		{"item 404", get, 404, `{"detail":"Item not found"}`, false},
		{"someone else's item", get, 200, `{"id":71,"name":"n","description":null,"owner_id":8}`, false},
		{"another item", get, 200, `{"id":72,"name":"n","description":null,"owner_id":7}`, false},
		{"item without description", get, 200, `{"id":71,"name":"n","owner_id":7}`, false},
		{"item with a numeric description", get, 200, `{"id":71,"name":"n","description":5,"owner_id":7}`, false},
		{"item without name", get, 200, `{"id":71,"description":null,"owner_id":7}`, false},
		{"item without id", get, 200, `{"name":"n","description":null,"owner_id":7}`, false},
		{"not JSON", get, 200, `<html>`, false},
		{"created", Expect{Kind: KindItemCreate, OwnerID: 7, Name: "n"}, 201, item, true},
		{"created with 200", Expect{Kind: KindItemCreate, OwnerID: 7, Name: "n"}, 200, item, false},
		{"created under another name", Expect{Kind: KindItemCreate, OwnerID: 7, Name: "m"}, 201, item, false},
		{"page", Expect{Kind: KindItemList, OwnerID: 7, Count: 2}, 200, "[" + item + "," + item + "]", true},
		{"short page", Expect{Kind: KindItemList, OwnerID: 7, Count: 2}, 200, "[" + item + "]", false},
		{"page with someone else's item", Expect{Kind: KindItemList, OwnerID: 8, Count: 1}, 200, "[" + item + "]", false},
		{"page that is an object", Expect{Kind: KindItemList, OwnerID: 7, Count: 1}, 200, item, false},
		{"token", Expect{Kind: KindLogin}, 200, `{"access_token":"a.b.c","token_type":"bearer","expires_in":900,"refresh_token":"` + refresh + `"}`, true},
		{"token without a refresh token", Expect{Kind: KindLogin}, 200, `{"access_token":"a.b.c","token_type":"bearer","expires_in":900}`, false},
		{"token with a short refresh token", Expect{Kind: KindLogin}, 200, `{"access_token":"a.b.c","token_type":"bearer","expires_in":900,"refresh_token":"abc"}`, false},
		{"token without expires_in", Expect{Kind: KindLogin}, 200, `{"access_token":"a.b.c","token_type":"bearer","refresh_token":"` + refresh + `"}`, false},
		{"token that is no JWT", Expect{Kind: KindLogin}, 200, `{"access_token":"abc","token_type":"bearer"}`, false},
		{"token response that is no JSON", Expect{Kind: KindLogin}, 200, `access_token=x`, false},
		{"wrong credentials", Expect{Kind: KindLogin}, 401, `{"detail":"Incorrect email or password"}`, false},
		{"unknown kind", Expect{Kind: "teapot"}, 200, ``, false},
	} {
		err := Check(tc.e, tc.status, []byte(tc.body))
		if (err == nil) != tc.ok {
			t.Errorf("%s: got error %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), string(tc.e.Kind)) {
			t.Errorf("%s: error %q does not name the request kind", tc.name, err)
		}
	}
}
