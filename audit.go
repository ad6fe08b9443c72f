package fortress

import (
	"context"
	"time"
)

// AuditEvent is one security-relevant fact, appended and never changed. It never holds a password,
// token or hash.
type AuditEvent struct {
	ID        int64
	Time      time.Time
	Event     string // a stable name such as "auth.login.failure"
	ActorID   int64  // who acted (0: anonymous or unknown)
	SubjectID int64  // whom it concerned (0: none or unknown)
	ClientIP  string
	RequestID string
	Outcome   string // "success", "failure" or "denied"
	Detail    string // a short, non-secret reason such as "wrong_password"
}

// AuditFilter selects a page of the audit log, newest first.
type AuditFilter struct {
	Event  string    // exact event name; empty: all
	UserID int64     // actor or subject; 0: all
	Since  time.Time // inclusive; zero: no bound
	Until  time.Time // exclusive; zero: no bound
	Limit  int
	Offset int
}

// AuditService is the append-only audit log.
type AuditService interface {
	// AppendAudit stores an event; the store sets ID and, when zero, Time.
	AppendAudit(ctx context.Context, e AuditEvent) (AuditEvent, error)

	// ListAudit returns a page of events matching the filter and how many match in all.
	ListAudit(ctx context.Context, filter AuditFilter) (events []AuditEvent, total int, err error)
}
