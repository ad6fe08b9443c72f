-- +goose Up
-- Identity columns never reuse the id of a deleted row, so an old id can never name someone else's item.
-- Lengths are counted in characters (char_length), as the API counts them.
CREATE TABLE users (
    id            BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         TEXT        NOT NULL CHECK (char_length(email) BETWEEN 3 AND 254),
    email_key     TEXT        NOT NULL UNIQUE,
    password_hash TEXT        NOT NULL CHECK (char_length(password_hash) > 0),
    is_active     BOOLEAN     NOT NULL DEFAULT TRUE,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE items (
    id          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id    BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        TEXT        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 255),
    description TEXT        CHECK (description IS NULL OR char_length(description) <= 10000),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX items_owner_id_id ON items (owner_id, id);

-- +goose Down
DROP TABLE items;
DROP TABLE users;
