-- +goose Up
-- +goose StatementBegin

-- +goose StatementEnd
