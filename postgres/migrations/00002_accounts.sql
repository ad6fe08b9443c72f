-- +goose Up
-- Accounts and authorization: roles, sessions with rotating refresh tokens, and the audit log.

-- Existing accounts become ordinary users through the default.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin'));

-- The last-administrator rule locks and counts these rows on every change of role, activity or existence.
CREATE INDEX users_active_admins ON users (id) WHERE role = 'admin' AND is_active;

-- A session is one sign-in. Revoking it sets revoked_at and says why; a revoked session stays, so that
-- a refresh token presented after the revocation is recognised and refused.
CREATE TABLE sessions (
    id            BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at    TIMESTAMPTZ NOT NULL,
    user_agent    TEXT        NOT NULL DEFAULT '' CHECK (char_length(user_agent) <= 512),
    client_ip     TEXT        NOT NULL DEFAULT '' CHECK (char_length(client_ip) <= 64),
    revoked_at    TIMESTAMPTZ,
    revoke_reason TEXT        CHECK (char_length(revoke_reason) BETWEEN 1 AND 64),
    CHECK ((revoked_at IS NULL) = (revoke_reason IS NULL))
);

CREATE INDEX sessions_user_id_id ON sessions (user_id, id);

-- Only SHA-256 hashes of refresh tokens are stored. A rotated token keeps its row, with rotated_at set,
-- so that presenting it again is recognised as reuse.
CREATE TABLE refresh_tokens (
    hash       BYTEA       PRIMARY KEY CHECK (octet_length(hash) = 32),
    session_id BIGINT      NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    rotated_at TIMESTAMPTZ
);

CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);

-- The audit log has no foreign keys, so that its events outlive the accounts they name; actor_id and
-- subject_id are 0 when unknown. Triggers refuse updates, deletes and TRUNCATE: the log is append-only.
CREATE TABLE audit_events (
    id         BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time       TIMESTAMPTZ NOT NULL DEFAULT now(),
    event      TEXT        NOT NULL CHECK (char_length(event) BETWEEN 1 AND 64),
    actor_id   BIGINT      NOT NULL DEFAULT 0 CHECK (actor_id >= 0),
    subject_id BIGINT      NOT NULL DEFAULT 0 CHECK (subject_id >= 0),
    client_ip  TEXT        NOT NULL DEFAULT '' CHECK (char_length(client_ip) <= 64),
    request_id TEXT        NOT NULL DEFAULT '' CHECK (char_length(request_id) <= 128),
    outcome    TEXT        NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    detail     TEXT        NOT NULL DEFAULT '' CHECK (char_length(detail) <= 256)
);

CREATE INDEX audit_events_time ON audit_events (time, id);
CREATE INDEX audit_events_event_time ON audit_events (event, time, id);
CREATE INDEX audit_events_actor_id_time ON audit_events (actor_id, time, id);
CREATE INDEX audit_events_subject_id_time ON audit_events (subject_id, time, id);

-- +goose StatementBegin
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- +goose Down
DROP TABLE audit_events;
DROP FUNCTION audit_events_append_only();
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP INDEX users_active_admins;
ALTER TABLE users DROP COLUMN role;
