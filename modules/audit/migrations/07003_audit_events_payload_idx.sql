-- Support searches inside event payloads (payload @> '{"invoice": "..."}').
-- audit.events grows without bound, so build the index without locking out
-- writers; that needs a migration outside a transaction.
-- +goose NO TRANSACTION

-- +goose Up
CREATE INDEX CONCURRENTLY IF NOT EXISTS events_payload
    ON audit.events USING gin (payload jsonb_path_ops);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS audit.events_payload;
