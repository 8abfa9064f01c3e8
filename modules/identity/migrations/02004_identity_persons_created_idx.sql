-- persons is the busiest table: build the index without blocking writes.
-- CREATE INDEX CONCURRENTLY cannot run inside a transaction block.
-- +goose NO TRANSACTION

-- +goose Up
-- A failed concurrent build leaves an INVALID index behind, which IF NOT
-- EXISTS would then mistake for a finished one; drop any leftover first so
-- that re-running this migration always ends with a valid index.
DROP INDEX CONCURRENTLY IF EXISTS identity.persons_active_created_at;
CREATE INDEX CONCURRENTLY persons_active_created_at
    ON identity.persons (created_at DESC)
    WHERE status = 'active';

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS identity.persons_active_created_at;
