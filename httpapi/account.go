package httpapi

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/fortress-dev/fortress"
)

// meResponse is the caller's own account.
type meResponse struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	IsActive  bool      `json:"is_active"`
	Role      string    `json:"role" doc:"'user' or 'admin'."`
	CreatedAt time.Time `json:"created_at"`
}

func newMeResponse(u fortress.User) meResponse {
	return meResponse{ID: u.ID, Email: u.Email, IsActive: u.IsActive, Role: u.Role, CreatedAt: u.CreatedAt.UTC()}
}

// passwordChangeRequest is the body of POST /auth/password.
type passwordChangeRequest struct {
	CurrentPassword string `json:"current_password" validate:"required,min=1,max=256" doc:"The password in use now." example:"correct horse battery staple"`
	NewPassword     string `json:"new_password" validate:"required,min=12,max=256" doc:"12 to 256 characters." example:"a new, longer passphrase"`
}

// accountDeleteRequest is the body of DELETE /auth/me.
type accountDeleteRequest struct {
	Password string `json:"password" validate:"required,min=1,max=256" doc:"The account's password, to confirm." example:"correct horse battery staple"`
}

// detailWrongPassword answers a wrong password where the caller is already signed in: a 403, since the
// token is valid and only the confirmation failed.
const detailWrongPassword = "Incorrect password"

// account serves the caller's own account: who they are, their password, and deleting it. Every change
// asks for the current password again, so a stolen access token alone cannot lock the owner out.
type account struct {
	log      *slog.Logger
	users    fortress.UserService
	hasher   fortress.PasswordHasher
	sessions fortress.SessionService
	lockout  *loginLockout
	audit    auditor
}

func (a *account) handleMe() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, r, a.log, http.StatusOK, newMeResponse(userFrom(r.Context())))
	})
}

// confirmPassword checks the caller's password under the login lockout, so that a stolen access token
// cannot be used to guess it faster than a login could. It answers the client and returns false when the
// password is wrong or cannot be checked now.
func (a *account) confirmPassword(w http.ResponseWriter, r *http.Request, u fortress.User, password, event string) bool {
	if wait, locked := a.lockout.locked(r.Context(), u.Email); locked {
		a.audit.record(r, fortress.AuditEvent{Event: eventLoginThrottled, ActorID: u.ID, SubjectID: u.ID,
			Outcome: outcomeDenied, Detail: "account_lockout"})
		tooMany(w, r, wait, "Too many failed logins for this account; retry later.")
		return false
	}
	ok, _, err := a.hasher.Verify(r.Context(), password, u.PasswordHash)
	if err != nil {
		writeError(w, r, a.log, err)
		return false
	}
	if !ok {
		a.lockout.failed(r.Context(), u.Email)
		a.audit.record(r, fortress.AuditEvent{Event: event, ActorID: u.ID, SubjectID: u.ID, Outcome: outcomeFailure,
			Detail: "wrong_password"})
		writeProblem(w, r, http.StatusForbidden, detailWrongPassword)
		return false
	}
	a.lockout.succeeded(r.Context(), u.Email)
	return true
}

// handlePasswordChange replaces the caller's password and ends all of their sessions, this one included:
// whoever may have learnt the old password is signed out too.
func (a *account) handlePasswordChange() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req passwordChangeRequest
		if _, ok := decodeJSON(w, r, &req); !ok {
			return
		}
		u := userFrom(r.Context())
		if !a.confirmPassword(w, r, u, req.CurrentPassword, eventPasswordChange) {
			return
		}
		hash, err := a.hasher.Hash(r.Context(), req.NewPassword)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		if err := a.users.UpdatePasswordHash(r.Context(), u.ID, hash); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		ended, err := a.sessions.RevokeUserSessions(r.Context(), u.ID, 0)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		a.audit.record(r, fortress.AuditEvent{Event: eventPasswordChange, ActorID: u.ID, SubjectID: u.ID,
			Outcome: outcomeSuccess, Detail: strconv.Itoa(ended) + " " + plural(ended, "session") + " ended"})
		clearRefreshCookie(w, r)
		w.WriteHeader(http.StatusNoContent)
	})
}

// handleAccountDelete deletes the caller's account with its items and sessions. The last administrator
// cannot delete themself (409): someone must be able to administer the service.
func (a *account) handleAccountDelete() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req accountDeleteRequest
		if _, ok := decodeJSON(w, r, &req); !ok {
			return
		}
		u := userFrom(r.Context())
		if !a.confirmPassword(w, r, u, req.Password, eventAccountDelete) {
			return
		}
		err := a.users.DeleteUser(r.Context(), u.ID)
		if fortress.ErrorCode(err) == fortress.ECONFLICT {
			writeProblem(w, r, http.StatusConflict, detailLastAdmin)
			return
		}
		if err != nil && fortress.ErrorCode(err) != fortress.ENOTFOUND { // deleted meanwhile: the goal is reached
			writeError(w, r, a.log, err)
			return
		}
		a.audit.record(r, fortress.AuditEvent{Event: eventAccountDelete, ActorID: u.ID, SubjectID: u.ID, Outcome: outcomeSuccess})
		clearRefreshCookie(w, r)
		w.WriteHeader(http.StatusNoContent)
	})
}

// detailLastAdmin refuses a change that would leave no active administrator.
const detailLastAdmin = "The last active administrator cannot be removed."
