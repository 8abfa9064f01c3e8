/* header
 comment */
-- note
-- +goose Up
-- +goose Down
