package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fortress-dev/fortress"
	"github.com/fortress-dev/fortress/config"
)

func TestUserCommand(t *testing.T) {
	vars := baseEnv(t)
	ctx := context.Background()
	if err := run(ctx, []string{"fortress", "migrate", "up"}, env(vars), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	user := func(stdin string, args ...string) (string, error) {
		var out strings.Builder
		err := runUser(ctx, args, env(vars), strings.NewReader(stdin), &out, io.Discard)
		return out.String(), err
	}

	out, err := user("the first admin's password\n", "create", "-email", "Root@Example.com", "-admin")
	if err != nil || !strings.Contains(out, "with role admin") {
		t.Fatalf("create admin: got %q, %v", out, err)
	}
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("a user's long password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := user("", "create", "-email", "someone@example.com", "-password-file", pwFile); err != nil || !strings.Contains(out, "with role user") {
		t.Fatalf("create from a file: got %q, %v", out, err)
	}
	if out, err := user("", "set-role", "-email", "SOMEONE@example.com", "-role", "admin"); err != nil || !strings.Contains(out, "now has role admin") {
		t.Fatalf("set-role: got %q, %v", out, err)
	}
	if _, err := user("", "set-role", "-email", "someone@example.com", "-role", "user"); err != nil {
		t.Fatalf("demote one of two admins: %v", err)
	}
	if out, err := user("", "set-role", "-email", "someone@example.com", "-role", "user"); err != nil || !strings.Contains(out, "now has role user") {
		t.Fatalf("set-role to the present role: got %q, %v; want success (and no audit event, below)", out, err)
	}
	// Every change is in the audit log, under the API's event names, without an actor.
	cfg, err := config.Load(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	st, err := openStore(ctx, cfg.Database())
	if err != nil {
		t.Fatal(err)
	}
	events, _, err := st.ListAudit(ctx, fortress.AuditFilter{Limit: 10})
	_ = st.Close()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		got = append(got, fmt.Sprintf("%s %d %d %s %s", e.Event, e.ActorID, e.SubjectID, e.Outcome, e.Detail))
	}
	want := []string{"admin.role.change 0 2 success cli admin->user", "admin.role.change 0 2 success cli user->admin",
		"user.register 0 2 success cli role=user", "user.register 0 1 success cli role=admin"}
	if !slices.Equal(got, want) {
		t.Fatalf("audit log: got %q, want %q", got, want)
	}

	failures := []struct {
		stdin string
		args  []string
		want  string
	}{
		{"short\n", []string{"create", "-email", "x@example.com"}, "12 to 256 characters"},
		{"the first admin's password\n", []string{"create", "-email", "root@example.com"}, "already registered"},
		{"", []string{"set-role", "-email", "root@example.com", "-role", "user"}, "administrator must remain"},
		{"", []string{"set-role", "-email", "nobody@example.com", "-role", "admin"}, "not found"},
		{"", []string{"set-role", "-email", "root@example.com", "-role", "owner"}, ""},
		{"", []string{"create", "-email", "x@example.com", "-password-file", "/nonexistent"}, "-password-file"},
	}
	for _, f := range failures {
		if _, err := user(f.stdin, f.args...); err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(f.want)) {
			t.Errorf("user %v: got %v, want an error containing %q", f.args, err, f.want)
		}
	}
	var usage *usageError
	for _, args := range [][]string{nil, {"delete"}, {"create"}, {"create", "-email", "a@b.co", "extra"}} {
		if _, err := user("", args...); !errors.As(err, &usage) {
			t.Errorf("user %v: got %v, want a usage error", args, err)
		}
	}

	s := startServe(t, vars)
	form := url.Values{"username": {"root@example.com"}, "password": {"the first admin's password"}}.Encode()
	if resp := call(t, http.MethodPost, s.base+"/auth/login", "", "application/x-www-form-urlencoded", form, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("login as the created admin: got %d, want 200", resp.StatusCode)
	}
	if err := run(ctx, []string{"fortress", "user"}, env(vars), io.Discard, io.Discard); !errors.As(err, &usage) {
		t.Fatalf("fortress user without a subcommand: got %v", err)
	}
}
