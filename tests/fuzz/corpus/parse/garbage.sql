-- +goose Up
SELECT 1;
foo;
