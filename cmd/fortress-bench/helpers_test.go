package main

import (
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/fortress-dev/fortress"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func itemCreate(name string) fortress.ItemCreate { return fortress.ItemCreate{Name: name} }

func get(t *testing.T, url string) (string, int) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode
}

// waitAnswer polls url until it answers 200 (a server started in a goroutine), for up to 10 s.
func waitAnswer(t *testing.T, url string) (string, error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
		if err != nil {
			return "", err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return string(b), nil
			}
		}
		if time.Now().After(deadline) {
			return "", err
		}
		time.Sleep(10 * time.Millisecond)
	}
}
