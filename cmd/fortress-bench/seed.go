package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/fortress-dev/fortress/internal/bench"
)

// seed creates the accounts and items the scenarios use, through the API itself: n users, each with
// a token and the given number of items (every other one without a description, so that reads see
// both shapes).
func seed(ctx context.Context, base string, n, items int) ([]bench.User, error) {
	client := &http.Client{Timeout: 30 * time.Second}
	run := randomHex(4)
	users := make([]bench.User, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range users {
		wg.Go(func() {
			u := bench.User{Email: fmt.Sprintf("bench-%d-%s@example.com", i, run), Password: randomPassword()}
			errs[i] = seedUser(ctx, client, base, &u, items)
			users[i] = u
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return users, nil
}

func seedUser(ctx context.Context, client *http.Client, base string, u *bench.User, items int) error {
	var created struct {
		ID int64 `json:"id"`
	}
	body, err := json.Marshal(map[string]string{"email": u.Email, "password": u.Password})
	if err != nil {
		return err
	}
	if err := call(ctx, client, http.MethodPost, base+"/auth/register", "application/json", "", body, http.StatusCreated, &created); err != nil {
		return fmt.Errorf("seed: register: %w", err)
	}
	u.ID = created.ID
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	form := url.Values{"username": {u.Email}, "password": {u.Password}}.Encode()
	if err := call(ctx, client, http.MethodPost, base+"/auth/login", "application/x-www-form-urlencoded", "", []byte(form), http.StatusOK, &tok); err != nil {
		return fmt.Errorf("seed: login: %w", err)
	}
	u.Token = tok.AccessToken
	for i := range items {
		item := struct {
			Name        string  `json:"name"`
			Description *string `json:"description"`
		}{Name: fmt.Sprintf("seed item %d", i)}
		if i%2 == 0 {
			d := strings.Repeat("A seeded item to read back. ", 3)
			item.Description = &d
		}
		body, err := json.Marshal(item)
		if err != nil {
			return err
		}
		var it struct {
			ID int64 `json:"id"`
		}
		if err := call(ctx, client, http.MethodPost, base+"/items", "application/json", u.Token, body, http.StatusCreated, &it); err != nil {
			return fmt.Errorf("seed: create item: %w", err)
		}
		u.ItemIDs = append(u.ItemIDs, it.ID)
	}
	return nil
}

func call(ctx context.Context, client *http.Client, method, u, contentType, token string, body []byte, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d: %.200s", method, req.URL.Path, resp.StatusCode, want, b)
	}
	return json.Unmarshal(b, out)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail on supported platforms
	return hex.EncodeToString(b)
}

// randomPassword is a throwaway account's password; it never leaves the harness and its generator.
func randomPassword() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
