-- +goose Up
SELECT $$ open;
