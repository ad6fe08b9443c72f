package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/fortress-dev/fortress"
)

// registerRequest is the body of POST /auth/register.
type registerRequest struct {
	Email    string `json:"email" validate:"required,email,max=254" doc:"The account's email address; unique regardless of letter case." example:"user@example.com"`
	Password string `json:"password" validate:"required,min=12,max=256" doc:"12 to 256 characters." example:"correct horse battery staple"`
}

// userResponse is a user as clients see it: never a hash.
type userResponse struct {
	ID       int64  `json:"id"`
	Email    string `json:"email"`
	IsActive bool   `json:"is_active"`
}

// Details of the contract (API.md) that clients and the original UI match on.
const (
	detailEmailTaken       = "The provided email may already be in use."
	detailBadCredentials   = "Incorrect email or password"
	detailNotAuthenticated = "Not authenticated"
	detailInvalidToken     = "Could not validate credentials"
)

// normalizeEmail lower-cases the domain, as the original does; uniqueness ignores case altogether
// (fortress.EmailKey).
func normalizeEmail(email string) string {
	local, domain, _ := strings.Cut(email, "@")
	return local + "@" + strings.ToLower(domain)
}

// handleRegister creates an account. The password is hashed before the uniqueness check, so that a taken
// email costs the same time as a new one.
func handleRegister(log *slog.Logger, users fortress.UserService, hasher fortress.PasswordHasher, audit auditor) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req registerRequest
		if _, ok := decodeJSON(w, r, &req); !ok {
			return
		}
		hash, err := hasher.Hash(r.Context(), req.Password)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		u, err := users.CreateUser(r.Context(), normalizeEmail(req.Email), hash)
		if fortress.ErrorCode(err) == fortress.ECONFLICT {
			writeProblem(w, r, http.StatusBadRequest, detailEmailTaken)
			return
		}
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		audit.record(r, fortress.AuditEvent{Event: eventRegister, ActorID: u.ID, SubjectID: u.ID, Outcome: outcomeSuccess})
		writeJSON(w, r, log, http.StatusCreated, userResponse{ID: u.ID, Email: u.Email, IsActive: u.IsActive})
	})
}

// loginFormFields are the OAuth2 password-grant fields (RFC 6749 §4.3) and refresh_delivery. scope and
// the client fields are accepted for compatibility with OAuth2 clients such as the /docs page, and ignored.
var loginFormFields = []string{"grant_type", "username", "password", "scope", "client_id", "client_secret", "refresh_delivery"}

// handleLogin exchanges an email and password for a new session: an access token and a refresh token.
// Every failure - unknown email, wrong password, inactive account - gets the same answer after the same
// Argon2id work.
func handleLogin(log *slog.Logger, users fortress.UserService, hasher fortress.PasswordHasher, sess *sessions, lockout *loginLockout) http.Handler {
	audit := sess.audit
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		form, ok := decodeForm(w, r, loginFormFields...)
		if !ok {
			return
		}
		seen := map[string]bool{}
		for key := range form {
			seen[key] = false
		}
		lf := loginForm{GrantType: form.Get("grant_type"), Username: form.Get("username"), Password: form.Get("password"),
			RefreshDelivery: form.Get("refresh_delivery")}
		errs := validateStruct(&lf, seen)
		if _, set := form["grant_type"]; set && lf.GrantType != "password" {
			errs = append(errs, fieldError{Location: "body", Field: "grant_type", Message: `must be "password"`})
		}
		if _, set := form["refresh_delivery"]; set && lf.RefreshDelivery != "body" && lf.RefreshDelivery != "cookie" {
			errs = append(errs, fieldError{Location: "body", Field: "refresh_delivery", Message: `must be "body" or "cookie"`})
		}
		if len(errs) > 0 {
			writeValidation(w, r, errs...)
			return
		}
		cookie := lf.RefreshDelivery == "cookie"
		if cookie && !sameOrigin(r) { // a cross-site login would sign the victim's browser into another account
			writeProblem(w, r, http.StatusForbidden, detailCrossSite)
			return
		}
		email, password := lf.Username, lf.Password
		if wait, locked := lockout.locked(r.Context(), email); locked {
			audit.record(r, fortress.AuditEvent{Event: eventLoginThrottled, Outcome: outcomeDenied, Detail: "account_lockout"})
			tooMany(w, r, wait, "Too many failed logins for this account; retry later.")
			return
		}
		u, err := findLoginUser(r.Context(), users, email)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		if u == nil {
			if err := hasher.VerifyDummy(r.Context(), password); err != nil {
				writeError(w, r, log, err)
				return
			}
			lockout.failed(r.Context(), email)
			loginFailed(w, r, audit, "unknown_email", 0)
			return
		}
		match, rehash, err := hasher.Verify(r.Context(), password, u.PasswordHash)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		if !match || !u.IsActive {
			reason := "wrong_password"
			if match {
				reason = "inactive"
			}
			lockout.failed(r.Context(), email)
			loginFailed(w, r, audit, reason, u.ID)
			return
		}
		lockout.succeeded(r.Context(), email)
		if rehash {
			upgradeHash(r.Context(), log, users, hasher, u.ID, password)
		}
		audit.record(r, fortress.AuditEvent{Event: eventLoginSuccess, ActorID: u.ID, SubjectID: u.ID, Outcome: outcomeSuccess})
		sess.open(w, r, *u, cookie)
	})
}

// findLoginUser returns nil, nil when no account can match the email, including when it is not an email.
func findLoginUser(ctx context.Context, users fortress.UserService, email string) (*fortress.User, error) {
	if !validEmail(email) {
		return nil, nil
	}
	u, err := users.FindUserByEmail(ctx, email)
	if fortress.ErrorCode(err) == fortress.ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// upgradeHash re-hashes a password whose stored hash has old parameters. Failing is not fatal: the old
// hash still works and the next login tries again.
func upgradeHash(ctx context.Context, log *slog.Logger, users fortress.UserService, hasher fortress.PasswordHasher, id int64, password string) {
	hash, err := hasher.Hash(ctx, password)
	if err == nil {
		err = users.UpdatePasswordHash(ctx, id, hash)
	}
	if err != nil {
		log.WarnContext(ctx, "password rehash failed", "user_id", id, "err", err)
		return
	}
	log.InfoContext(ctx, "password rehashed with current parameters", "event", "auth.password.rehash", "user_id", id)
}

// loginFailed records a failed login and answers it. The audit log keeps the reason; the client sees the
// same answer for every reason.
func loginFailed(w http.ResponseWriter, r *http.Request, audit auditor, reason string, userID int64) {
	audit.record(r, fortress.AuditEvent{Event: eventLoginFailure, SubjectID: userID, Outcome: outcomeFailure, Detail: reason})
	unauthorized(w, r, detailBadCredentials)
}

// requireUser admits requests that carry a valid bearer token whose session is still open, of an active
// user, and puts that user and session in the request's context. The session check is what makes logout,
// password change and deactivation take effect at once; it costs one query by primary key, which replaces
// the user lookup a token alone would need anyway.
func requireUser(log *slog.Logger, sessions fortress.SessionService, tokens fortress.TokenService) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			scheme, raw, _ := strings.Cut(r.Header.Get("Authorization"), " ")
			if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" {
				unauthorized(w, r, detailNotAuthenticated)
				return
			}
			claims, err := tokens.Verify(strings.TrimSpace(raw))
			if err != nil {
				unauthorized(w, r, detailInvalidToken)
				return
			}
			u, err := sessions.SessionUser(r.Context(), claims.SessionID, time.Now())
			switch {
			case fortress.ErrorCode(err) == fortress.EUNAUTHORIZED || err == nil && u.ID != claims.UserID:
				unauthorized(w, r, detailInvalidToken)
				return
			case err != nil:
				writeError(w, r, log, err)
				return
			}
			// The request's state carries the caller, for the handlers and the access log: no second
			// context and request copy per authenticated request.
			st, r := stateOf(r)
			st.caller = caller{user: u, sessionID: claims.SessionID}
			next.ServeHTTP(w, r)
		})
	}
}

func unauthorized(w http.ResponseWriter, r *http.Request, detail string) {
	w.Header().Set("WWW-Authenticate", "Bearer")
	writeProblem(w, r, http.StatusUnauthorized, detail)
}

// caller is who requireUser admitted: the user, and the session of their token.
type caller struct {
	user      fortress.User
	sessionID int64
}

// withUser returns ctx carrying a request state with u as its caller (no session), for tests of what
// needs only the user.
func withUser(ctx context.Context, u fortress.User) context.Context {
	return context.WithValue(ctx, routeKey, &requestState{caller: caller{user: u}})
}

// callerFrom returns who requireUser admitted; the zero caller when nobody was.
func callerFrom(ctx context.Context) caller {
	if st, ok := ctx.Value(routeKey).(*requestState); ok {
		return st.caller
	}
	return caller{}
}

// userFrom returns the user that requireUser admitted.
func userFrom(ctx context.Context) fortress.User { return callerFrom(ctx).user }

// sessionFrom returns the id of the session whose token requireUser admitted.
func sessionFrom(ctx context.Context) int64 { return callerFrom(ctx).sessionID }
