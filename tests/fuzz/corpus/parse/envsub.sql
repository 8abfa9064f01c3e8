-- +goose ENVSUB ON
-- +goose Up
GRANT USAGE ON SCHEMA ${MODMIG_FUZZ} TO $MODMIG_FUZZ;
SELECT $$ $1 $$, $t$ x $t$;
-- +goose ENVSUB OFF
SELECT 1;
