-- modmig lock_timeout=5s
-- modmig statement_timeout=1.5min
-- +goose Up
SELECT 1;
