package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/fortress-dev/fortress"
)

const auditColumns = `id, time, event, actor_id, subject_id, client_ip, request_id, outcome, detail`

// AppendAudit implements fortress.AuditService.
func (d *DB) AppendAudit(ctx context.Context, e fortress.AuditEvent) (fortress.AuditEvent, error) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	return scanAudit(d.db.QueryRowContext(ctx, `
		INSERT INTO audit_events (time, event, actor_id, subject_id, client_ip, request_id, outcome, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING `+auditColumns,
		formatTime(e.Time), cleanText(e.Event), e.ActorID, e.SubjectID, cleanText(e.ClientIP), cleanText(e.RequestID),
		cleanText(e.Outcome), cleanText(e.Detail)))
}

// ListAudit implements fortress.AuditService. The page and the total come from one read transaction, so
// they agree with each other.
func (d *DB) ListAudit(ctx context.Context, f fortress.AuditFilter) (events []fortress.AuditEvent, total int, err error) {
	where, args := auditWhere(f)
	tx, err := d.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, mapError(err)
	}
	defer rollback(tx)
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM audit_events`+where, args...).Scan(&total); err != nil {
		return nil, 0, mapError(err)
	}
	rows, err := tx.QueryContext(ctx,
		`SELECT `+auditColumns+` FROM audit_events`+where+` ORDER BY time DESC, id DESC LIMIT ? OFFSET ?`, //nolint:gosec // G202: where holds only constant fragments; every value is a parameter
		append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, mapError(err)
	}
	defer func() { _ = rows.Close() }() // read-only: rows.Err below reports a failed iteration
	events = []fortress.AuditEvent{}
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, 0, err
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, mapError(err)
	}
	return events, total, nil
}

// auditWhere returns the WHERE clause of the filter, built only from constant fragments, and its
// arguments. Time bounds are rounded up to the microsecond, the precision of stored times, which keeps
// "since" inclusive and "until" exclusive exactly.
func auditWhere(f fortress.AuditFilter) (string, []any) {
	var conds []string
	var args []any
	if f.Event != "" {
		conds = append(conds, `event = ?`)
		args = append(args, f.Event)
	}
	if f.UserID != 0 {
		conds = append(conds, `(actor_id = ? OR subject_id = ?)`)
		args = append(args, f.UserID, f.UserID)
	}
	if !f.Since.IsZero() {
		conds = append(conds, `time >= ?`)
		args = append(args, formatTime(ceilMicro(f.Since)))
	}
	if !f.Until.IsZero() {
		conds = append(conds, `time < ?`)
		args = append(args, formatTime(ceilMicro(f.Until)))
	}
	if len(conds) == 0 {
		return "", args
	}
	return ` WHERE ` + strings.Join(conds, ` AND `), args
}

// ceilMicro rounds t up to the next microsecond, unless it is on one.
func ceilMicro(t time.Time) time.Time {
	if down := t.Truncate(time.Microsecond); !down.Equal(t) {
		return down.Add(time.Microsecond)
	}
	return t
}

func scanAudit(row scanner) (fortress.AuditEvent, error) {
	var e fortress.AuditEvent
	var at string
	err := row.Scan(&e.ID, &at, &e.Event, &e.ActorID, &e.SubjectID, &e.ClientIP, &e.RequestID, &e.Outcome, &e.Detail)
	if err != nil {
		return fortress.AuditEvent{}, mapError(err)
	}
	e.Time, err = parseTime(at)
	return e, err
}
