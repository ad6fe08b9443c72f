package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Kind names one request the generator can send, and the answer it must get back.
type Kind string

// The requests of the scenarios. CeilingItem is the item read of ceiling (b), whose server needs no
// token and takes the owner from the path.
const (
	KindHealth      Kind = "health"
	KindItemGet     Kind = "item-get"
	KindItemList    Kind = "item-list"
	KindItemCreate  Kind = "item-create"
	KindLogin       Kind = "login"
	KindCeilingItem Kind = "ceiling-item"
)

// ListLimit is the page size of the item-list request (GET /items?limit=20).
const ListLimit = 20

// User is an account the generator acts as, with the items it owns. Password and Token reach the
// generator on its standard input, never on a command line or in its output.
type User struct {
	ID       int64   `json:"id"`
	Email    string  `json:"email"`
	Password string  `json:"password"`
	Token    string  `json:"token"`
	ItemIDs  []int64 `json:"item_ids"`
}

// Share is a kind of request and its share of a scenario, in percent.
type Share struct {
	Kind    Kind `json:"kind"`
	Percent int  `json:"percent"`
}

// Mix is the requests of a scenario and their shares, which add up to 100.
type Mix []Share

// Validate reports a mix whose shares do not add up to 100.
func (m Mix) Validate() error {
	total := 0
	for _, s := range m {
		if s.Percent < 0 {
			return fmt.Errorf("bench: negative share for %s", s.Kind)
		}
		total += s.Percent
	}
	if total != 100 {
		return fmt.Errorf("bench: shares add up to %d%%, want 100%%", total)
	}
	return nil
}

// Pick returns the kind of request number n. Each run of 100 consecutive requests holds exactly each
// kind's share, spread through the run (a stride of 37, which is prime to 100) rather than bunched.
func (m Mix) Pick(n uint64) Kind {
	slot := int((n * 37) % 100)
	for _, s := range m {
		if slot < s.Percent {
			return s.Kind
		}
		slot -= s.Percent
	}
	return m[len(m)-1].Kind
}

// Expect is what a request's answer must show.
type Expect struct {
	Kind    Kind
	ItemID  int64  // item-get, ceiling-item
	OwnerID int64  // every item answer
	Name    string // item-create
	Count   int    // item-list: at least this many items
}

// Build appends to buf the HTTP/1.1 request of kind k that user u sends as its n-th request (n picks
// the item, in turn), for the server at host (the Host header), and returns it with what its answer
// must show.
func Build(buf []byte, host string, k Kind, u *User, n uint64) ([]byte, Expect) {
	e := Expect{Kind: k}
	if u != nil {
		e.OwnerID = u.ID
	}
	var path, method = "", "GET"
	var body []byte
	contentType := ""
	switch k {
	case KindHealth:
		path = "/health"
	case KindItemGet, KindCeilingItem:
		e.ItemID = u.ItemIDs[int(n%uint64(len(u.ItemIDs)))] //nolint:gosec // G115: a slice index modulo its length
		path = "/items/" + strconv.FormatInt(e.ItemID, 10)
		if k == KindCeilingItem {
			path = "/owners/" + strconv.FormatInt(u.ID, 10) + path
		}
	case KindItemList:
		path, e.Count = "/items?limit="+strconv.Itoa(ListLimit), min(ListLimit, len(u.ItemIDs))
	case KindItemCreate:
		method, path, contentType = "POST", "/items", "application/json"
		e.Name = "bench item " + strconv.FormatUint(n, 10)
		body = fmt.Appendf(nil, `{"name":%q,"description":"written by the load generator"}`, e.Name)
	case KindLogin:
		method, path, contentType = "POST", "/auth/login", "application/x-www-form-urlencoded"
		body = []byte("grant_type=password&username=" + url.QueryEscape(u.Email) + "&password=" + url.QueryEscape(u.Password))
	}
	buf = append(buf, method...)
	buf = append(buf, ' ')
	buf = append(buf, path...)
	buf = append(buf, " HTTP/1.1\r\nHost: "...)
	buf = append(buf, host...)
	buf = append(buf, "\r\n"...)
	if u != nil && u.Token != "" && k != KindLogin && k != KindHealth && k != KindCeilingItem {
		buf = append(buf, "Authorization: Bearer "...)
		buf = append(buf, u.Token...)
		buf = append(buf, "\r\n"...)
	}
	if body != nil {
		buf = append(buf, "Content-Type: "...)
		buf = append(buf, contentType...)
		buf = append(buf, "\r\nContent-Length: "...)
		buf = strconv.AppendInt(buf, int64(len(body)), 10)
		buf = append(buf, "\r\n"...)
	}
	buf = append(buf, "\r\n"...)
	return append(buf, body...), e
}

// itemJSON is an item as Fortress answers it; pointers tell a missing field from a zero one.
type itemJSON struct {
	ID          *int64          `json:"id"`
	Name        *string         `json:"name"`
	Description json.RawMessage `json:"description"`
	OwnerID     *int64          `json:"owner_id"`
}

func (it itemJSON) check(owner int64) error {
	switch {
	case it.ID == nil || *it.ID <= 0:
		return errors.New("item without a positive id")
	case it.Name == nil || *it.Name == "":
		return errors.New("item without a name")
	case it.Description == nil:
		return errors.New("item without a description field")
	case !bytes.Equal(it.Description, []byte("null")) && (len(it.Description) == 0 || it.Description[0] != '"'):
		return errors.New("item description neither a string nor null")
	case it.OwnerID == nil || *it.OwnerID != owner:
		return fmt.Errorf("item owner_id %v, want %d", deref(it.OwnerID), owner)
	}
	return nil
}

func deref(p *int64) any {
	if p == nil {
		return "missing"
	}
	return *p
}

var healthBody = []byte(`{"status":"ok"}`)

// minRefreshToken is the shortest refresh token a login may answer: Fortress's carry 256 random bits,
// 43 characters of base64url.
const minRefreshToken = 32

// Check verifies an answer: its status, and that its body has the shape and the values the request
// calls for. A wrong answer is an error of the run, however fast it came.
func Check(e Expect, status int, body []byte) error {
	want := 200
	switch e.Kind {
	case KindItemCreate:
		want = 201
	case KindHealth, KindItemGet, KindCeilingItem, KindItemList, KindLogin:
	default:
		return fmt.Errorf("unknown request kind %q", e.Kind)
	}
	if status != want {
		return fmt.Errorf("%s: status %d, want %d", e.Kind, status, want)
	}
	if err := checkBody(e, body); err != nil {
		return fmt.Errorf("%s: %w", e.Kind, err)
	}
	return nil
}

func checkBody(e Expect, body []byte) error {
	switch e.Kind {
	case KindHealth:
		if !bytes.Equal(bytes.TrimSpace(body), healthBody) {
			return fmt.Errorf("body %.60q, want %s", body, healthBody)
		}
	case KindItemGet, KindCeilingItem, KindItemCreate:
		var it itemJSON
		if err := json.Unmarshal(body, &it); err != nil {
			return fmt.Errorf("body is not an item: %w", err)
		}
		if err := it.check(e.OwnerID); err != nil {
			return err
		}
		if e.ItemID != 0 && *it.ID != e.ItemID {
			return fmt.Errorf("item id %d, want %d", *it.ID, e.ItemID)
		}
		if e.Name != "" && *it.Name != e.Name {
			return fmt.Errorf("item name %q, want %q", *it.Name, e.Name)
		}
	case KindItemList:
		var items []itemJSON
		if err := json.Unmarshal(body, &items); err != nil {
			return fmt.Errorf("body is not a list of items: %w", err)
		}
		if len(items) < e.Count || len(items) > ListLimit {
			return fmt.Errorf("%d items, want %d to %d", len(items), e.Count, ListLimit)
		}
		for _, it := range items {
			if err := it.check(e.OwnerID); err != nil {
				return err
			}
		}
	case KindLogin:
		var tok struct {
			AccessToken  string `json:"access_token"`
			TokenType    string `json:"token_type"`
			ExpiresIn    int64  `json:"expires_in"`
			RefreshToken string `json:"refresh_token"`
		}
		if err := json.Unmarshal(body, &tok); err != nil {
			return fmt.Errorf("body is not a token response: %w", err)
		}
		switch {
		case strings.Count(tok.AccessToken, ".") != 2 || tok.TokenType != "bearer":
			return errors.New("no bearer JWT in the token response")
		case tok.ExpiresIn <= 0:
			return errors.New("token response without a positive expires_in")
		case len(tok.RefreshToken) < minRefreshToken || tok.RefreshToken == tok.AccessToken:
			// Every login opens a session: no refresh token means no session was written.
			return errors.New("token response without a refresh token")
		}
	}
	return nil
}
