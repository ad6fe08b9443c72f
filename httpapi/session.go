package httpapi

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/fortress-dev/fortress"
)

// Session defaults: a sign-in lasts at most 30 days, and ends after 7 days without a refresh.
const (
	DefaultSessionLifetime = 30 * 24 * time.Hour
	DefaultSessionIdle     = 7 * 24 * time.Hour
)

const (
	// refreshCookie carries the browser UI's refresh token. It is HttpOnly (no script reads it),
	// SameSite=Strict (no other site makes the browser send it), scoped to the /auth routes (it never
	// rides along with other requests), and Secure whenever the client came over HTTPS.
	refreshCookie     = "fortress_refresh"
	refreshCookiePath = "/auth"

	// refreshTokenBytes is the size of a refresh token's randomness: 256 bits, as unguessable as a key.
	refreshTokenBytes = 32

	// maxSessionsListed bounds GET /auth/sessions to the newest sessions; older ones still end with
	// "sign out everywhere".
	maxSessionsListed = 100

	// maxUserAgent is how much of a User-Agent a session keeps, to tell sessions apart in a list.
	maxUserAgent = 512
)

var sessionIDParam = intParam{Name: "session_id", In: "path", Min: 1, Max: math.MaxInt64, Doc: "The session's id."}

// tokenResponse is the OAuth2 token response of POST /auth/login and POST /auth/refresh.
type tokenResponse struct {
	AccessToken  string `json:"access_token" doc:"A JWT to send as 'Authorization: Bearer <token>'."`
	TokenType    string `json:"token_type" doc:"Always 'bearer'."`
	ExpiresIn    int64  `json:"expires_in" doc:"Seconds until the access token expires."`
	RefreshToken string `json:"refresh_token,omitempty" doc:"The refresh token, for POST /auth/refresh; absent when it was set in the HttpOnly cookie instead. It changes on every refresh: keep only the newest."`
}

// refreshRequest is the body of POST /auth/refresh for API clients; browsers send the cookie instead.
type refreshRequest struct {
	RefreshToken string `json:"refresh_token" validate:"required,min=1,max=256" doc:"The newest refresh token of the session." example:"q3Y0nQx0CqkXfVb2m0gS8m8rJ8zHn3sV4k1yQp6tT2E"`
}

// sessionResponse is one of the caller's sessions.
type sessionResponse struct {
	ID         int64     `json:"id"`
	CreatedAt  time.Time `json:"created_at" doc:"When the session's login happened."`
	LastUsedAt time.Time `json:"last_used_at" doc:"The last login or refresh."`
	ExpiresAt  time.Time `json:"expires_at" doc:"When the session ends whatever its activity."`
	UserAgent  string    `json:"user_agent" doc:"The User-Agent of the login, shortened."`
	ClientIP   string    `json:"client_ip" doc:"The client address of the login."`
	Current    bool      `json:"current" doc:"Whether this is the session of the request's token."`
}

// sessions opens, refreshes and ends sign-ins. It owns the refresh token's form and cookie and issues the
// access tokens of a session.
type sessions struct {
	log      *slog.Logger
	store    fortress.SessionService
	tokens   fortress.TokenService
	ttl      time.Duration // of access tokens, reported as expires_in
	lifetime time.Duration
	idle     time.Duration
	audit    auditor
}

// newRefreshToken returns a fresh refresh token and the hash under which it is stored. Only the hash is
// ever stored, so a copy of the database cannot be used to sign in.
func newRefreshToken() (token string, hash []byte) {
	var b [refreshTokenBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	token = base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(token))
	return token, sum[:]
}

// refreshTokenHash returns the stored form of a presented refresh token, or false when it cannot be one of
// ours, so that garbage never reaches the database.
func refreshTokenHash(token string) ([]byte, bool) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) != refreshTokenBytes || base64.RawURLEncoding.EncodeToString(b) != token {
		return nil, false
	}
	sum := sha256.Sum256([]byte(token))
	return sum[:], true
}

// open starts a session for u and answers the token response.
func (s *sessions) open(w http.ResponseWriter, r *http.Request, u fortress.User, cookie bool) {
	refresh, hash := newRefreshToken()
	sess, err := s.store.CreateSession(r.Context(), fortress.SessionCreate{
		UserID:      u.ID,
		RefreshHash: hash,
		UserAgent:   truncate(r.UserAgent(), maxUserAgent-1), // -1: truncate appends "…", one character
		ClientIP:    clientIP(r),
		ExpiresAt:   time.Now().Add(s.lifetime),
	})
	if err != nil {
		if fortress.ErrorCode(err) == fortress.EUNAUTHORIZED { // deactivated since the password check
			unauthorized(w, r, detailBadCredentials)
			return
		}
		writeError(w, r, s.log, err)
		return
	}
	s.respond(w, r, sess, refresh, cookie)
}

// respond issues an access token for sess and writes the token response, with the refresh token in the
// cookie or in the body.
func (s *sessions) respond(w http.ResponseWriter, r *http.Request, sess fortress.Session, refresh string, cookie bool) {
	access, _, err := s.tokens.Issue(sess.UserID, sess.ID)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	res := tokenResponse{AccessToken: access, TokenType: "bearer", ExpiresIn: int64(s.ttl / time.Second)}
	if cookie {
		setRefreshCookie(w, r, refresh, time.Until(sess.ExpiresAt))
	} else {
		res.RefreshToken = refresh
	}
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, r, s.log, http.StatusOK, res)
}

func setRefreshCookie(w http.ResponseWriter, r *http.Request, value string, maxAge time.Duration) {
	// Secure follows the client's scheme: over plain HTTP (development) a Secure cookie would never come back.
	http.SetCookie(w, &http.Cookie{ //nolint:gosec // G124: HttpOnly and SameSite=Strict always; Secure whenever the client uses HTTPS
		Name:     refreshCookie,
		Value:    value,
		Path:     refreshCookiePath,
		MaxAge:   max(int(maxAge/time.Second), 1),
		HttpOnly: true,
		Secure:   clientFrom(r).HTTPS,
		SameSite: http.SameSiteStrictMode,
	})
}

// clearRefreshCookie makes the browser forget its refresh token.
func clearRefreshCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{ //nolint:gosec // G124: as setRefreshCookie
		Name: refreshCookie, Value: "", Path: refreshCookiePath, MaxAge: -1,
		HttpOnly: true, Secure: clientFrom(r).HTTPS, SameSite: http.SameSiteStrictMode,
	})
}

// sameOrigin reports whether a cookie-carrying request comes from a page of this very origin. SameSite=Strict
// already keeps other sites' requests from carrying the cookie; this check is the second lock, for old
// browsers and for sibling subdomains (which count as the same site). It asks the browser's Sec-Fetch-Site
// when present, and the Origin header, which browsers send with every POST fetch, and refuses a request
// that has neither: browsers always send one of them, and other clients use the body instead of a cookie.
func sameOrigin(r *http.Request) bool {
	site := r.Header.Get("Sec-Fetch-Site")
	origin := r.Header.Get("Origin")
	if site != "" && site != "same-origin" {
		return false
	}
	if origin != "" {
		scheme := "http://"
		if clientFrom(r).HTTPS {
			scheme = "https://"
		}
		if !strings.EqualFold(origin, scheme+r.Host) {
			return false
		}
	}
	return site != "" || origin != ""
}

// detailCrossSite refuses a cookie request that does not come from this origin.
const detailCrossSite = "Cross-site request refused"

// handleRefresh exchanges a refresh token for a new access token and a new refresh token; the old one dies.
// Presenting a token that was already exchanged means two parties hold it, so the whole session ends.
func (s *sessions) handleRefresh() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var presented string
		cookie := r.ContentLength == 0 && len(r.TransferEncoding) == 0
		if cookie {
			c, err := r.Cookie(refreshCookie)
			if err != nil || c.Value == "" {
				unauthorized(w, r, detailNotAuthenticated)
				return
			}
			if !sameOrigin(r) {
				writeProblem(w, r, http.StatusForbidden, detailCrossSite)
				return
			}
			presented = c.Value
		} else {
			var req refreshRequest
			if _, ok := decodeJSON(w, r, &req); !ok {
				return
			}
			presented = req.RefreshToken
		}
		oldHash, ok := refreshTokenHash(presented)
		if !ok {
			s.refused(w, r, cookie)
			return
		}
		refresh, newHash := newRefreshToken()
		sess, err := s.store.RotateRefreshToken(r.Context(), oldHash, newHash, time.Now(), s.idle)
		switch fortress.ErrorCode(err) {
		case "":
			s.respond(w, r, sess, refresh, cookie)
		case fortress.EREUSED:
			s.audit.record(r, fortress.AuditEvent{Event: eventRefreshReuse, ActorID: sess.UserID, SubjectID: sess.UserID,
				Outcome: outcomeDenied, Detail: "session_revoked"})
			s.refused(w, r, cookie)
		case fortress.EUNAUTHORIZED:
			s.refused(w, r, cookie)
		default:
			writeError(w, r, s.log, err)
		}
	})
}

// refused answers a refresh token that cannot be used, and makes a browser forget it.
func (s *sessions) refused(w http.ResponseWriter, r *http.Request, cookie bool) {
	if cookie {
		clearRefreshCookie(w, r)
	}
	unauthorized(w, r, detailInvalidToken)
}

// handleLogout ends the session of the request's access token: the token stops working at once, and so
// does the session's refresh token.
func (s *sessions) handleLogout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, sid := userFrom(r.Context()), sessionFrom(r.Context())
		if err := s.store.RevokeSession(r.Context(), u.ID, sid); err != nil && fortress.ErrorCode(err) != fortress.ENOTFOUND {
			writeError(w, r, s.log, err)
			return
		}
		s.audit.record(r, fortress.AuditEvent{Event: eventLogout, ActorID: u.ID, SubjectID: u.ID, Outcome: outcomeSuccess})
		clearRefreshCookie(w, r)
		w.WriteHeader(http.StatusNoContent)
	})
}

// handleSessionList answers the caller's sessions that can still be used, newest first.
func (s *sessions) handleSessionList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, sid := userFrom(r.Context()), sessionFrom(r.Context())
		list, err := s.store.ListSessions(r.Context(), u.ID)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		now := time.Now()
		out := make([]sessionResponse, 0, len(list))
		for _, sess := range list {
			if !sess.Active(now, s.idle) || len(out) == maxSessionsListed {
				continue
			}
			out = append(out, sessionResponse{ID: sess.ID, CreatedAt: sess.CreatedAt.UTC(), LastUsedAt: sess.LastUsedAt.UTC(),
				ExpiresAt: sess.ExpiresAt.UTC(), UserAgent: sess.UserAgent, ClientIP: sess.ClientIP, Current: sess.ID == sid})
		}
		writeJSON(w, r, s.log, http.StatusOK, out)
	})
}

// handleSessionDelete ends one of the caller's sessions; another user's session is answered 404 exactly
// like a missing one.
func (s *sessions) handleSessionDelete() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ferr := sessionIDParam.parse(r)
		if ferr != nil {
			writeValidation(w, r, *ferr)
			return
		}
		u := userFrom(r.Context())
		err := s.store.RevokeSession(r.Context(), u.ID, id)
		if fortress.ErrorCode(err) == fortress.ENOTFOUND {
			writeProblem(w, r, http.StatusNotFound, "Session not found")
			return
		}
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		s.audit.record(r, fortress.AuditEvent{Event: eventSessionRevoke, ActorID: u.ID, SubjectID: u.ID, Outcome: outcomeSuccess})
		if id == sessionFrom(r.Context()) {
			clearRefreshCookie(w, r)
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// handleSessionDeleteAll signs the caller out everywhere, this session included.
func (s *sessions) handleSessionDeleteAll() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := userFrom(r.Context())
		if _, err := s.store.RevokeUserSessions(r.Context(), u.ID, 0); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		s.audit.record(r, fortress.AuditEvent{Event: eventLogoutAll, ActorID: u.ID, SubjectID: u.ID, Outcome: outcomeSuccess})
		clearRefreshCookie(w, r)
		w.WriteHeader(http.StatusNoContent)
	})
}
