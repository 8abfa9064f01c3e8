-- persons is the busiest table: build the index without blocking writes.
-- CREATE INDEX CONCURRENTLY cannot run inside a transaction block.
-- +goose NO TRANSACTION

-- +goose Up
CREATE INDEX CONCURRENTLY IF NOT EXISTS persons_active_created_at
    ON identity.persons (created_at DESC)
    WHERE status = 'active';

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS identity.persons_active_created_at;
