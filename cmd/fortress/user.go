package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/fortress-dev/fortress"
	"github.com/fortress-dev/fortress/config"
	"github.com/fortress-dev/fortress/password"
)

const userSynopsis = `user create -email E [-admin] [-password-file F]   (password from stdin unless -password-file)
       fortress user set-role -email E -role user|admin`

// runUser bootstraps accounts from the command line: the first administrator cannot be made through
// the API. The password never comes from the command line, where `ps` and shell history would show it.
func runUser(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	if len(args) == 0 || (args[0] != "create" && args[0] != "set-role") {
		return badUsage(stderr, userSynopsis, "user needs a subcommand: create or set-role")
	}
	sub := args[0]
	fs := flag.NewFlagSet("user "+sub, flag.ContinueOnError)
	email := fs.String("email", "", "the account's email address")
	admin := fs.Bool("admin", false, "create: make the account an administrator")
	passwordFile := fs.String("password-file", "", "create: read the password from this file instead of stdin")
	role := fs.String("role", "", "set-role: user or admin")
	rest, err := parseFlags(fs, args[1:], stderr, userSynopsis)
	if err != nil {
		return err
	}
	if len(rest) > 0 || *email == "" {
		return badUsage(stderr, userSynopsis, "user "+sub+" needs -email and no other arguments")
	}
	getenv, err = config.WithDotEnv(getenv, ".env")
	if err != nil {
		return err
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return oneLine(err)
	}
	s, err := openStore(ctx, cfg.Database())
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, s.Close()) }()
	if err := checkSchema(ctx, s); err != nil {
		return err
	}

	switch sub {
	case "create":
		pw, err := readPassword(stdin, *passwordFile)
		if err != nil {
			return err
		}
		hasher, err := password.NewHasher(password.Params{MemoryKiB: cfg.Argon2MemoryKiB, Time: cfg.Argon2Time, Threads: cfg.Argon2Threads})
		if err != nil {
			return err
		}
		hash, err := hasher.Hash(pw)
		if err != nil {
			return err
		}
		r := fortress.RoleUser
		if *admin {
			r = fortress.RoleAdmin
		}
		u, err := s.CreateUserWithRole(ctx, *email, hash, r)
		if err != nil {
			return userError(err)
		}
		if err := auditCLI(ctx, s, "user.register", u.ID, "cli role="+u.Role); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created user %d (%s) with role %s\n", u.ID, u.Email, u.Role)
	case "set-role":
		u, err := s.FindUserByEmail(ctx, *email)
		if err != nil {
			return userError(err)
		}
		before, u, err := s.UpdateUser(ctx, u.ID, fortress.UserUpdate{Role: role})
		if err != nil {
			return userError(err)
		}
		if before.Role != u.Role { // as the API: a role the account already has changes and records nothing
			if err := auditCLI(ctx, s, "admin.role.change", u.ID, "cli "+before.Role+"->"+u.Role); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "user %d (%s) now has role %s\n", u.ID, u.Email, u.Role)
	}
	return nil
}

// auditCLI records a change made from the command line in the audit log, like the API's own events
// (the same stable names), with no actor: the operator is whoever could run the binary.
func auditCLI(ctx context.Context, s fortress.AuditService, event string, subject int64, detail string) error {
	_, err := s.AppendAudit(ctx, fortress.AuditEvent{Event: event, SubjectID: subject, Outcome: "success", Detail: detail})
	if err != nil {
		return fmt.Errorf("the change is made, but its audit event could not be stored: %w", err)
	}
	return nil
}

// readPassword reads one line from the file, or from stdin, and checks the API's length rule.
func readPassword(stdin io.Reader, file string) (string, error) {
	if file != "" {
		f, err := os.Open(file) //nolint:gosec // G304: the operator names the file on purpose
		if err != nil {
			return "", fmt.Errorf("-password-file: %w", err)
		}
		defer func() { _ = f.Close() }() // read-only
		stdin = f
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if n := utf8.RuneCountInString(pw); !utf8.ValidString(pw) || n < fortress.PasswordMinChars || n > fortress.PasswordMaxChars {
		return "", fmt.Errorf("the password must be %d to %d characters of valid UTF-8", fortress.PasswordMinChars, fortress.PasswordMaxChars)
	}
	return pw, nil
}

// userError shows a domain error's client-safe message, or the error itself.
func userError(err error) error {
	if msg := fortress.ErrorMessage(err); msg != "" {
		return errors.New(msg)
	}
	return err
}
