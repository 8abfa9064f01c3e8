-- Browser sessions. Only a hash of the token is stored, so a leaked table
-- cannot be replayed.

-- +goose Up
CREATE TABLE identity.sessions (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    person_id   uuid NOT NULL REFERENCES identity.persons (id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    user_agent  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    CONSTRAINT sessions_expiry_after_creation CHECK (expires_at > created_at)
);
-- Session checks only ever look at live sessions.
CREATE INDEX sessions_live_by_person ON identity.sessions (person_id, expires_at)
    WHERE revoked_at IS NULL;

GRANT SELECT, INSERT, UPDATE, DELETE ON identity.sessions TO identity_owner;

-- +goose Down
DROP TABLE identity.sessions;
