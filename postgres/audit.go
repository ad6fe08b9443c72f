package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fortress-dev/fortress"
)

const auditColumns = `id, time, event, actor_id, subject_id, client_ip, request_id, outcome, detail`

// AppendAudit implements fortress.AuditService.
func (d *DB) AppendAudit(ctx context.Context, e fortress.AuditEvent) (fortress.AuditEvent, error) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	return scanAudit(d.pool.QueryRow(ctx, `
		INSERT INTO audit_events (time, event, actor_id, subject_id, client_ip, request_id, outcome, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		RETURNING `+auditColumns,
		storeTime(e.Time), cleanText(e.Event), e.ActorID, e.SubjectID, cleanText(e.ClientIP), cleanText(e.RequestID),
		cleanText(e.Outcome), cleanText(e.Detail)))
}

// ListAudit implements fortress.AuditService. The page and the total come from one repeatable-read
// snapshot, so they agree with each other.
func (d *DB) ListAudit(ctx context.Context, f fortress.AuditFilter) (events []fortress.AuditEvent, total int, err error) {
	where, args := auditWhere(f)
	tx, err := d.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, 0, mapError(err)
	}
	defer rollback(ctx, tx)
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM audit_events`+where, args...).Scan(&total); err != nil {
		return nil, 0, mapError(err)
	}
	n := len(args)
	rows, err := tx.Query(ctx,
		`SELECT `+auditColumns+` FROM audit_events`+where+
			` ORDER BY time DESC, id DESC LIMIT $`+strconv.Itoa(n+1)+` OFFSET $`+strconv.Itoa(n+2),
		append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, mapError(err)
	}
	events, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (fortress.AuditEvent, error) { return scanAudit(r) })
	if err != nil {
		return nil, 0, mapError(err)
	}
	return events, total, mapError(tx.Commit(ctx))
}

// auditWhere returns the WHERE clause of the filter, built only from constant fragments and parameter
// numbers, and its arguments. Time bounds are rounded up to the microsecond, the precision of stored
// times, which keeps "since" inclusive and "until" exclusive exactly.
func auditWhere(f fortress.AuditFilter) (string, []any) {
	var conds []string
	var args []any
	param := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Event != "" {
		conds = append(conds, `event = `+param(f.Event))
	}
	if f.UserID != 0 {
		p := param(f.UserID)
		conds = append(conds, `(actor_id = `+p+` OR subject_id = `+p+`)`)
	}
	if !f.Since.IsZero() {
		conds = append(conds, `time >= `+param(ceilMicro(f.Since)))
	}
	if !f.Until.IsZero() {
		conds = append(conds, `time < `+param(ceilMicro(f.Until)))
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

// scanAudit maps a row of auditColumns; the time comes back in UTC, as from every engine.
func scanAudit(row pgx.Row) (fortress.AuditEvent, error) {
	var e fortress.AuditEvent
	err := row.Scan(&e.ID, &e.Time, &e.Event, &e.ActorID, &e.SubjectID, &e.ClientIP, &e.RequestID, &e.Outcome, &e.Detail)
	if err != nil {
		return fortress.AuditEvent{}, mapError(err)
	}
	e.Time = e.Time.UTC()
	return e, nil
}
