package main

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fortress-dev/fortress"
	"github.com/fortress-dev/fortress/sqlite"
)

func TestPruneOnce(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "prune.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	u, err := db.CreateUser(ctx, "prune@example.com", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaA")
	if err != nil {
		t.Fatal(err)
	}
	session := func(hashByte byte, expires time.Time) fortress.Session {
		s, err := db.CreateSession(ctx, fortress.SessionCreate{UserID: u.ID, RefreshHash: bytes.Repeat([]byte{hashByte}, 32), ExpiresAt: expires})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ended := session(1, time.Now().Add(-time.Minute))
	live := session(2, time.Now().Add(time.Hour))
	var log bytes.Buffer
	pruneOnce(ctx, db, time.Hour, slog.New(slog.NewTextHandler(&log, nil)))
	if _, err := db.FindSession(ctx, ended.ID); fortress.ErrorCode(err) != fortress.ENOTFOUND {
		t.Fatalf("expired session after pruning: got %v, want ENOTFOUND", err)
	}
	if _, err := db.FindSession(ctx, live.ID); err != nil {
		t.Fatalf("live session after pruning: %v", err)
	}
	if !strings.Contains(log.String(), "sessions pruned") || !strings.Contains(log.String(), "sessions=1") {
		t.Fatalf("log: got %q, want the count", log.String())
	}

	// A failing store is logged, not fatal.
	_ = db.Close()
	log.Reset()
	pruneOnce(ctx, db, time.Hour, slog.New(slog.NewTextHandler(&log, nil)))
	if !strings.Contains(log.String(), "session pruning failed") {
		t.Fatalf("log: got %q, want the failure", log.String())
	}
}
