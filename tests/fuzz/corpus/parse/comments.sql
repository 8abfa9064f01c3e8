-- +goose Up
SELECT 1; /* a
b */ SELECT 2;
SELECT 3 -- c
;
