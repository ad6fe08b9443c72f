-- +goose Up
-- Accounts and authorization: roles, sessions with rotating refresh tokens, and the audit log.
--
-- Times in the new tables are TEXT in one fixed-width form, RFC 3339 UTC with six fractional digits
-- ('2006-01-02T15:04:05.000000Z'), written by the store. The CHECKs hold every value to that form
-- because the store compares times in SQL as text, which orders them correctly only when all of them
-- have the same width.

-- Existing accounts become ordinary users through the default.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin'));

-- The last-administrator rule counts these rows on every change of role, activity or existence.
CREATE INDEX users_active_admins ON users (id) WHERE role = 'admin' AND is_active = 1;

-- A session is one sign-in. Revoking it sets revoked_at and says why; a revoked session stays, so that
-- a refresh token presented after the revocation is recognised and refused.
CREATE TABLE sessions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    TEXT    NOT NULL CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    last_used_at  TEXT    NOT NULL CHECK (last_used_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    expires_at    TEXT    NOT NULL CHECK (expires_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    user_agent    TEXT    NOT NULL DEFAULT '' CHECK (length(user_agent) <= 512),
    client_ip     TEXT    NOT NULL DEFAULT '' CHECK (length(client_ip) <= 64),
    revoked_at    TEXT    CHECK (revoked_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    revoke_reason TEXT    CHECK (length(revoke_reason) BETWEEN 1 AND 64),
    CHECK ((revoked_at IS NULL) = (revoke_reason IS NULL))
) STRICT;

CREATE INDEX sessions_user_id_id ON sessions (user_id, id);

-- Only SHA-256 hashes of refresh tokens are stored. A rotated token keeps its row, with rotated_at set,
-- so that presenting it again is recognised as reuse.
CREATE TABLE refresh_tokens (
    hash       BLOB    PRIMARY KEY CHECK (length(hash) = 32),
    session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at TEXT    NOT NULL CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    rotated_at TEXT    CHECK (rotated_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z')
) STRICT, WITHOUT ROWID;

CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);

-- The audit log has no foreign keys, so that its events outlive the accounts they name; actor_id and
-- subject_id are 0 when unknown. Triggers refuse updates and deletes: the log is append-only.
CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    time       TEXT    NOT NULL CHECK (time GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    event      TEXT    NOT NULL CHECK (length(event) BETWEEN 1 AND 64),
    actor_id   INTEGER NOT NULL DEFAULT 0 CHECK (actor_id >= 0),
    subject_id INTEGER NOT NULL DEFAULT 0 CHECK (subject_id >= 0),
    client_ip  TEXT    NOT NULL DEFAULT '' CHECK (length(client_ip) <= 64),
    request_id TEXT    NOT NULL DEFAULT '' CHECK (length(request_id) <= 128),
    outcome    TEXT    NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    detail     TEXT    NOT NULL DEFAULT '' CHECK (length(detail) <= 256)
) STRICT;

CREATE INDEX audit_events_time ON audit_events (time, id);
CREATE INDEX audit_events_event_time ON audit_events (event, time, id);
CREATE INDEX audit_events_actor_id_time ON audit_events (actor_id, time, id);
CREATE INDEX audit_events_subject_id_time ON audit_events (subject_id, time, id);

-- +goose StatementBegin
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE audit_events;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP INDEX users_active_admins;
ALTER TABLE users DROP COLUMN role;
