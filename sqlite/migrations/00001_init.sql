-- +goose Up
-- STRICT tables make SQLite enforce column types as PostgreSQL does. AUTOINCREMENT never reuses the id
-- of a deleted row, so an old id can never name someone else's new item.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT    NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    email_key     TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL CHECK (length(password_hash) > 0),
    is_active     INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    created_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

CREATE TABLE items (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    description TEXT    CHECK (description IS NULL OR length(description) <= 10000),
    created_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

CREATE INDEX items_owner_id_id ON items (owner_id, id);

-- +goose Down
DROP TABLE items;
DROP TABLE users;
