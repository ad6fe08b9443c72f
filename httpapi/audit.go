package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/fortress-dev/fortress"
)

// Audit event names. They are stable: alerts, dashboards and GET /admin/audit filters match on them.
const (
	eventRegister          = "user.register"
	eventLoginSuccess      = "auth.login.success"
	eventLoginFailure      = "auth.login.failure"
	eventLoginThrottled    = "auth.login.throttled"
	eventRefreshReuse      = "auth.refresh.reuse"
	eventLogout            = "auth.logout"
	eventLogoutAll         = "auth.logout.all"
	eventSessionRevoke     = "auth.session.revoke"
	eventPasswordChange    = "auth.password.change"
	eventAccountDelete     = "account.delete"
	eventRoleChange        = "admin.role.change"
	eventUserDeactivate    = "admin.user.deactivate"
	eventUserReactivate    = "admin.user.reactivate"
	eventAuthorizationDeny = "authz.denied"
)

// Outcomes of an audit event, as the store accepts them.
const (
	outcomeSuccess = "success"
	outcomeFailure = "failure"
	outcomeDenied  = "denied"
)

// auditTimeout bounds the write of one audit event, which must not be cut short by the client hanging up
// but must not hang on a stuck database either.
const auditTimeout = 5 * time.Second

// auditor records security events twice: in the append-only audit log (when a store is configured) and in
// the structured log, at INFO for successes and WARN otherwise, under the event's stable name. Events name
// people by id, never by password, token or hash.
type auditor struct {
	log      *slog.Logger
	store    fortress.AuditService // nil: the structured log only
	observer Observer              // nil: not counted
}

// record completes e with the request's client address and id and writes it. A failed write is logged at
// ERROR and does not fail the request: the action has already happened, and the log line still holds it.
func (a auditor) record(r *http.Request, e fortress.AuditEvent) {
	ctx := r.Context()
	e.ClientIP = clientIP(r)
	e.RequestID = requestIDFrom(ctx)
	level := slog.LevelInfo
	if e.Outcome != outcomeSuccess {
		level = slog.LevelWarn
	}
	if a.observer != nil {
		a.observer.SecurityEvent(e.Event, e.Outcome)
		if e.Event == eventLoginThrottled { // the per-account budget's refusals, next to the per-client ones
			a.observer.RateLimited("login-failures")
		}
	}
	a.log.LogAttrs(ctx, level, e.Event,
		slog.String("event", e.Event),
		slog.String("outcome", e.Outcome),
		slog.Int64("actor_id", e.ActorID),
		slog.Int64("subject_id", e.SubjectID),
		slog.String("detail", e.Detail),
		slog.String("client_ip", e.ClientIP),
		slog.String("request_id", e.RequestID),
	)
	if a.store == nil {
		return
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	if _, err := a.store.AppendAudit(wctx, e); err != nil {
		a.log.LogAttrs(ctx, slog.LevelError, "audit event not stored",
			slog.String("event", e.Event), slog.String("request_id", e.RequestID), slog.Any("err", err))
	}
}
