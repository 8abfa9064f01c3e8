-- Support searches inside event payloads (payload @> '{"invoice": "..."}').
-- audit.events grows without bound, so build the index without locking out
-- writers; that needs a migration outside a transaction.
-- +goose NO TRANSACTION

-- +goose Up
-- A failed concurrent build leaves an INVALID index behind, which IF NOT
-- EXISTS would then mistake for a finished one; drop any leftover first so
-- that re-running this migration always ends with a valid index.
DROP INDEX CONCURRENTLY IF EXISTS audit.events_payload;
CREATE INDEX CONCURRENTLY events_payload
    ON audit.events USING gin (payload jsonb_path_ops);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS audit.events_payload;
