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

// tokenResponse is the OAuth2 token response of POST /auth/login.
type tokenResponse struct {
	AccessToken string `json:"access_token" doc:"A JWT to send as 'Authorization: Bearer <token>'."`
	TokenType   string `json:"token_type" doc:"Always 'bearer'."`
	ExpiresIn   int64  `json:"expires_in" doc:"Seconds until the token expires."`
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
func handleRegister(log *slog.Logger, users fortress.UserService, hasher fortress.PasswordHasher) http.Handler {
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
		log.InfoContext(r.Context(), "user registered", "event", "user.register", "user_id", u.ID,
			"request_id", requestIDFrom(r.Context()))
		writeJSON(w, r, log, http.StatusCreated, userResponse{ID: u.ID, Email: u.Email, IsActive: u.IsActive})
	})
}

// loginFormFields are the OAuth2 password-grant fields (RFC 6749 §4.3). scope and the client fields are
// accepted for compatibility with OAuth2 clients such as the /docs page, and ignored.
var loginFormFields = []string{"grant_type", "username", "password", "scope", "client_id", "client_secret"}

// handleLogin exchanges an email and password for an access token. Every failure - unknown email, wrong
// password, inactive account - gets the same answer after the same Argon2id work.
func handleLogin(log *slog.Logger, users fortress.UserService, hasher fortress.PasswordHasher, tokens fortress.TokenService, ttl time.Duration, lockout *loginLockout) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		form, ok := decodeForm(w, r, loginFormFields...)
		if !ok {
			return
		}
		seen := map[string]bool{}
		for key := range form {
			seen[key] = false
		}
		lf := loginForm{GrantType: form.Get("grant_type"), Username: form.Get("username"), Password: form.Get("password")}
		errs := validateStruct(&lf, seen)
		if _, set := form["grant_type"]; set && lf.GrantType != "password" {
			errs = append(errs, fieldError{Location: "body", Field: "grant_type", Message: `must be "password"`})
		}
		if len(errs) > 0 {
			writeValidation(w, r, errs...)
			return
		}
		email, password := lf.Username, lf.Password
		if wait, locked := lockout.locked(r.Context(), email); locked {
			log.WarnContext(r.Context(), "login throttled", "event", "auth.login.throttled",
				"client_ip", clientIP(r), "request_id", requestIDFrom(r.Context()))
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
			loginFailed(w, r, log, "unknown_email", 0)
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
			loginFailed(w, r, log, reason, u.ID)
			return
		}
		lockout.succeeded(r.Context(), email)
		if rehash {
			upgradeHash(r.Context(), log, users, hasher, u.ID, password)
		}
		token, _, err := tokens.Issue(u.ID)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		log.InfoContext(r.Context(), "login succeeded", "event", "auth.login.success", "user_id", u.ID,
			"client_ip", clientIP(r), "request_id", requestIDFrom(r.Context()))
		w.Header().Set("Pragma", "no-cache")
		writeJSON(w, r, log, http.StatusOK, tokenResponse{AccessToken: token, TokenType: "bearer", ExpiresIn: int64(ttl / time.Second)})
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

func loginFailed(w http.ResponseWriter, r *http.Request, log *slog.Logger, reason string, userID int64) {
	log.WarnContext(r.Context(), "login failed", "event", "auth.login.failure", "reason", reason,
		"user_id", userID, "client_ip", clientIP(r), "request_id", requestIDFrom(r.Context()))
	w.Header().Set("WWW-Authenticate", "Bearer")
	writeProblem(w, r, http.StatusUnauthorized, detailBadCredentials)
}

// requireUser admits requests that carry a valid bearer token of an existing, active user, and puts
// that user in the request's context.
func requireUser(log *slog.Logger, users fortress.UserService, tokens fortress.TokenService) Middleware {
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
			u, err := users.FindUserByID(r.Context(), claims.UserID)
			switch {
			case fortress.ErrorCode(err) == fortress.ENOTFOUND || err == nil && !u.IsActive:
				unauthorized(w, r, detailInvalidToken)
				return
			case err != nil:
				writeError(w, r, log, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(withUser(r.Context(), u)))
		})
	}
}

func unauthorized(w http.ResponseWriter, r *http.Request, detail string) {
	w.Header().Set("WWW-Authenticate", "Bearer")
	writeProblem(w, r, http.StatusUnauthorized, detail)
}

// withUser returns ctx carrying the admitted user.
func withUser(ctx context.Context, u fortress.User) context.Context {
	return context.WithValue(ctx, userKey, u)
}

// userFrom returns the user that requireUser admitted.
func userFrom(ctx context.Context) fortress.User {
	u, _ := ctx.Value(userKey).(fortress.User)
	return u
}
