package httpapi

import (
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/fortress-dev/fortress"
)

// adminUserResponse is an account as administrators see it: never a hash.
type adminUserResponse struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	IsActive  bool      `json:"is_active" doc:"false: the account cannot sign in and has no sessions."`
	Role      string    `json:"role" doc:"'user' or 'admin'."`
	CreatedAt time.Time `json:"created_at"`
}

func newAdminUserResponse(u fortress.User) adminUserResponse {
	return adminUserResponse{ID: u.ID, Email: u.Email, IsActive: u.IsActive, Role: u.Role, CreatedAt: u.CreatedAt.UTC()}
}

// adminUserUpdateRequest is the body of PATCH /admin/users/{user_id}: an absent field keeps its value, and
// null is refused.
type adminUserUpdateRequest struct {
	Role     *string `json:"role" validate:"" doc:"'user' or 'admin'. Absent: unchanged." example:"admin"`
	IsActive *bool   `json:"is_active" validate:"" doc:"false deactivates the account and ends all of its sessions; true reactivates it. Absent: unchanged."`
}

// problems lists what decodeJSON cannot check: that something is to change, and the role's values.
func (req adminUserUpdateRequest) problems() []fieldError {
	switch {
	case req.Role == nil && req.IsActive == nil:
		return []fieldError{{Location: "body", Message: "Give role, is_active or both."}}
	case req.Role != nil && *req.Role != fortress.RoleUser && *req.Role != fortress.RoleAdmin:
		return []fieldError{{Location: "body", Field: "role", Message: "must be 'user' or 'admin'"}}
	}
	return nil
}

// auditEventResponse is one event of the audit log.
type auditEventResponse struct {
	ID        int64     `json:"id"`
	Time      time.Time `json:"time" doc:"When it happened, in UTC."`
	Event     string    `json:"event" doc:"A stable name, such as auth.login.failure or admin.role.change."`
	ActorID   int64     `json:"actor_id" doc:"The account that acted; 0 when anonymous or unknown."`
	SubjectID int64     `json:"subject_id" doc:"The account it concerned; 0 when none or unknown."`
	ClientIP  string    `json:"client_ip" doc:"The client address of the request."`
	RequestID string    `json:"request_id" doc:"The request's id, as in its X-Request-ID header and the server's log."`
	Outcome   string    `json:"outcome"`
	Detail    string    `json:"detail" doc:"A short, non-secret reason or change, such as wrong_password or user->admin."`
}

func newAuditEventResponse(e fortress.AuditEvent) auditEventResponse {
	return auditEventResponse{ID: e.ID, Time: e.Time.UTC(), Event: e.Event, ActorID: e.ActorID, SubjectID: e.SubjectID,
		ClientIP: e.ClientIP, RequestID: e.RequestID, Outcome: e.Outcome, Detail: e.Detail}
}

// textParam is an optional string query parameter. parse enforces its limits, and an operation that
// lists it in query publishes the same limits in /openapi.json.
type textParam struct {
	Name, Doc string
	Max       int // characters, of one line (no control characters)
	// Pattern, when set, is what the value must match (Go and ECMAScript read it alike). The document
	// publishes it instead of the one-line pattern, so it must refuse whatever that one refuses.
	Pattern *regexp.Regexp
	Format  string // "date-time": an RFC 3339 timestamp
}

var (
	userIDParam     = intParam{Name: "user_id", In: "path", Min: 1, Max: math.MaxInt64, Doc: "The account's id."}
	userSearchParam = textParam{Name: "q", Max: 254, Doc: "Keeps the accounts whose email contains this text, regardless of letter case."}
	eventParam      = textParam{Name: "event", Max: 64, Pattern: regexp.MustCompile(`^[a-z.]{1,64}$`),
		Doc: "Keeps the events of this exact name, such as admin.role.change."}
	sinceParam = textParam{Name: "since", Max: len(time.RFC3339Nano), Format: "date-time",
		Doc: "Keeps the events at or after this RFC 3339 time."}
	untilParam = textParam{Name: "until", Max: len(time.RFC3339Nano), Format: "date-time",
		Doc: "Keeps the events before this RFC 3339 time."}
	auditUserParam = intParam{Name: "user_id", In: "query", Min: 0, Max: math.MaxInt64, Default: 0,
		Doc: "Keeps the events whose actor or subject is this account; 0 keeps all."}
)

// parse returns the parameter's value, or "" when it is absent.
func (p textParam) parse(r *http.Request) (string, *fieldError) {
	fail := func(msg string) (string, *fieldError) {
		return "", &fieldError{Location: "query", Field: p.Name, Message: msg}
	}
	values, set := r.URL.Query()[p.Name]
	switch {
	case !set:
		return "", nil
	case len(values) > 1:
		return fail("must appear only once")
	}
	v := values[0]
	if msg := checkString(v, rules{min: -1, max: p.Max, line: true}); msg != "" {
		return fail(msg)
	}
	if p.Pattern != nil && !p.Pattern.MatchString(v) {
		return fail("must match " + p.Pattern.String())
	}
	if p.Format == "date-time" {
		if _, err := time.Parse(time.RFC3339, v); err != nil {
			return fail("must be an RFC 3339 date-time such as 2025-01-31T23:59:59Z")
		}
	}
	return v, nil
}

// parsedTime is the time of a date-time parameter, or zero (no bound) when it is absent.
func parsedTime(v string) time.Time {
	t, _ := time.Parse(time.RFC3339, v)
	return t
}

const (
	detailUserNotFound = "User not found"
	adminOnlyDoc       = "The caller is not an administrator; the refusal is recorded in the audit log."
)

// admin serves the admin API: accounts and the audit log. Every change is recorded in the audit log with
// the administrator as its actor, refused ones too.
type admin struct {
	log    *slog.Logger
	users  fortress.UserService
	events fortress.AuditService // nil: the audit log is kept in the structured log only
	audit  auditor
}

// adminRoutes lists the routes of the admin API (/admin/...), each with an admin-only permission.
func (s *Server) adminRoutes() []route {
	a := &admin{log: s.cfg.Logger, users: s.cfg.Users, events: s.cfg.Audit, audit: s.audit()}
	userErrors := []int{http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity}
	userDocs := map[int]string{http.StatusForbidden: adminOnlyDoc, http.StatusNotFound: "No account has this id."}
	return []route{
		{"GET", "/admin/users", a.handleUserList(), operation{id: "listUsers", permission: permUsersManage,
			summary: "List the accounts, oldest first", tag: "admin",
			description: "Answers one page of the accounts as a JSON array, oldest first, never with a password " +
				"hash. The query parameter q (at most 254 characters, one line) keeps the accounts whose email " +
				"contains it, regardless of letter case; its wildcards match themselves. X-Total-Count gives the " +
				"number of matching accounts in all pages, and Link the next page, with the same q, when there is one.",
			params: []intParam{limitParam, offsetParam}, query: []textParam{userSearchParam},
			status: http.StatusOK, response: typeOf[[]adminUserResponse](),
			maxItems: int(limitParam.Max), headers: []string{"X-Total-Count", "Link"},
			errors:    []int{http.StatusForbidden, http.StatusUnprocessableEntity},
			errorDocs: map[int]string{http.StatusForbidden: adminOnlyDoc}}},
		{"GET", "/admin/users/{user_id}", a.handleUserGet(), operation{id: "getUser", permission: permUsersManage,
			summary: "Read an account", tag: "admin",
			description: "Answers the account with this id, whoever owns it, never with its password hash.",
			params:      []intParam{userIDParam}, status: http.StatusOK, response: typeOf[adminUserResponse](),
			errors: userErrors, errorDocs: userDocs}},
		{"PATCH", "/admin/users/{user_id}", a.handleUserUpdate(), operation{id: "updateUser", permission: permUsersManage,
			summary: "Change an account's role, or deactivate or reactivate it", tag: "admin",
			description: "A partial update: an absent field keeps its value, at least one must be given, and null " +
				"is refused. Deactivating ends all of the account's sessions at once, so its access and refresh " +
				"tokens stop working, and it cannot sign in until it is reactivated; reactivating revives no old " +
				"session. A change that would leave no active administrator is refused with 409, also when the " +
				"last one demotes or deactivates themself. Every change, and every refused one, is recorded in " +
				"the audit log with the caller as its actor.",
			params: []intParam{userIDParam}, body: typeOf[adminUserUpdateRequest](), status: http.StatusOK,
			response: typeOf[adminUserResponse](), errors: append(userErrors, http.StatusConflict),
			errorDocs: map[int]string{http.StatusForbidden: adminOnlyDoc, http.StatusNotFound: userDocs[http.StatusNotFound],
				http.StatusConflict: detailLastAdmin}}},
		{"GET", "/admin/audit", a.handleAuditList(), operation{id: "listAuditEvents", permission: permAuditRead,
			summary: "Read the audit log, newest first", tag: "admin",
			description: "Answers one page of the audit log's security events as a JSON array, newest first. The " +
				"optional query parameters combine: event keeps one event name (1 to 64 characters of a-z and " +
				"'.', such as auth.login.failure); user_id keeps the events whose actor or subject is that " +
				"account; since (inclusive) and until (exclusive) are RFC 3339 times such as " +
				"2025-01-31T23:59:59Z, with '+' sent as %2B. X-Total-Count gives the number of matching events " +
				"in all pages, and Link the next page, with the same filters, when there is one.",
			params: []intParam{auditUserParam, limitParam, offsetParam}, query: []textParam{eventParam, sinceParam, untilParam},
			status: http.StatusOK, response: typeOf[[]auditEventResponse](), maxItems: int(limitParam.Max),
			headers: []string{"X-Total-Count", "Link"},
			errors:  []int{http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity},
			errorDocs: map[int]string{http.StatusForbidden: adminOnlyDoc,
				http.StatusNotFound: "This server keeps its audit log in the structured log only."}}},
	}
}

func (a *admin) handleUserList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, lerr := limitParam.parse(r)
		offset, oerr := offsetParam.parse(r)
		q, qerr := userSearchParam.parse(r)
		if errs := collect(lerr, oerr, qerr); len(errs) > 0 {
			writeValidation(w, r, errs...)
			return
		}
		users, total, err := a.users.ListUsers(r.Context(), fortress.UserFilter{Query: q, Limit: int(limit), Offset: int(offset)})
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		out := make([]adminUserResponse, len(users))
		for i, u := range users {
			out[i] = newAdminUserResponse(u)
		}
		writePage(w, r, a.log, out, total, limit, offset, filters("q", q))
	})
}

func (a *admin) handleUserGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ferr := userIDParam.parse(r)
		if ferr != nil {
			writeValidation(w, r, *ferr)
			return
		}
		u, err := a.users.FindUserByID(r.Context(), id)
		if err != nil {
			a.writeUserError(w, r, err)
			return
		}
		writeJSON(w, r, a.log, http.StatusOK, newAdminUserResponse(u))
	})
}

// handleUserUpdate applies the role and the activity in one store transaction (UpdateUser): both or
// neither, refused when it would leave no active administrator. It records one audit event per field
// that changed (none for a value the account already has) and one failure event per refused part.
func (a *admin) handleUserUpdate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ferr := userIDParam.parse(r)
		if ferr != nil {
			writeValidation(w, r, *ferr)
			return
		}
		var req adminUserUpdateRequest
		if _, ok := decodeJSON(w, r, &req); !ok {
			return
		}
		if errs := req.problems(); len(errs) > 0 {
			writeValidation(w, r, errs...)
			return
		}
		update := fortress.UserUpdate{Role: req.Role, IsActive: req.IsActive}
		before, after, err := a.users.UpdateUser(r.Context(), id, update)
		actor := userFrom(r.Context()).ID
		switch {
		case fortress.ErrorCode(err) == fortress.ECONFLICT:
			// Only taking an active administrator away can conflict: record each refused part of it.
			refused := fortress.AuditEvent{ActorID: actor, SubjectID: id, Outcome: outcomeFailure, Detail: "last_admin"}
			if update.Role != nil && *update.Role != fortress.RoleAdmin {
				refused.Event = eventRoleChange
				a.audit.record(r, refused)
			}
			if update.IsActive != nil && !*update.IsActive {
				refused.Event = eventUserDeactivate
				a.audit.record(r, refused)
			}
			writeProblem(w, r, http.StatusConflict, detailLastAdmin)
			return
		case err != nil:
			a.writeUserError(w, r, err)
			return
		}
		// One event per field that changed; asking for the value a field already has records nothing.
		changed := fortress.AuditEvent{ActorID: actor, SubjectID: id, Outcome: outcomeSuccess}
		if before.Role != after.Role {
			changed.Event, changed.Detail = eventRoleChange, before.Role+"->"+after.Role
			a.audit.record(r, changed)
		}
		if before.IsActive != after.IsActive {
			changed.Event, changed.Detail = eventUserReactivate, ""
			if !after.IsActive {
				changed.Event = eventUserDeactivate
			}
			a.audit.record(r, changed)
		}
		writeJSON(w, r, a.log, http.StatusOK, newAdminUserResponse(after))
	})
}

// writeUserError answers a failed lookup or change of an account.
func (a *admin) writeUserError(w http.ResponseWriter, r *http.Request, err error) {
	if fortress.ErrorCode(err) == fortress.ENOTFOUND {
		writeProblem(w, r, http.StatusNotFound, detailUserNotFound)
		return
	}
	writeError(w, r, a.log, err)
}

func (a *admin) handleAuditList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.events == nil {
			writeProblem(w, r, http.StatusNotFound, "The audit log is not stored on this server.")
			return
		}
		limit, lerr := limitParam.parse(r)
		offset, oerr := offsetParam.parse(r)
		userID, uerr := auditUserParam.parse(r)
		event, eerr := eventParam.parse(r)
		since, serr := sinceParam.parse(r)
		until, terr := untilParam.parse(r)
		if errs := collect(lerr, oerr, uerr, eerr, serr, terr); len(errs) > 0 {
			writeValidation(w, r, errs...)
			return
		}
		events, total, err := a.events.ListAudit(r.Context(), fortress.AuditFilter{Event: event, UserID: userID,
			Since: parsedTime(since), Until: parsedTime(until), Limit: int(limit), Offset: int(offset)})
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		out := make([]auditEventResponse, len(events))
		for i, e := range events {
			out[i] = newAuditEventResponse(e)
		}
		var user string
		if userID != 0 {
			user = strconv.FormatInt(userID, 10)
		}
		writePage(w, r, a.log, out, total, limit, offset, filters("event", event, "user_id", user, "since", since, "until", until))
	})
}

// filters returns the non-empty values of name-value pairs, for the Link of the next page.
func filters(pairs ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			q.Set(pairs[i], pairs[i+1])
		}
	}
	return q
}

// writePage answers one page of a list as a JSON array with the paging headers of GET /items:
// X-Total-Count, and a Link to the next page that keeps the request's filters (q, to which it adds limit
// and offset).
func writePage[T any](w http.ResponseWriter, r *http.Request, log *slog.Logger, page []T, total int, limit, offset int64, q url.Values) {
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	if next := offset + int64(len(page)); len(page) > 0 && next < int64(total) && next <= offsetParam.Max {
		q.Set("limit", strconv.FormatInt(limit, 10))
		q.Set("offset", strconv.FormatInt(next, 10))
		w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, r.URL.Path, q.Encode()))
	}
	writeJSON(w, r, log, http.StatusOK, page)
}
