-- Shared foundation for every module: extensions and utility functions that
-- live in public, because the db module has no schema of its own.
--
-- +goose Up
CREATE EXTENSION IF NOT EXISTS citext;
CREATE EXTENSION IF NOT EXISTS pgcrypto;

-- Every table with an updated_at column uses this one trigger function rather
-- than a copy per module, so the behaviour cannot drift between modules.
-- +goose StatementBegin
CREATE FUNCTION public.set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
-- +goose StatementEnd

-- Roles are cluster-wide while migrations run per database, and the test suite
-- migrates many databases of one cluster in parallel. Two of them may try to
-- create the same role at the same moment: the loser sees duplicate_object
-- (the role was committed before it looked) or unique_violation (both passed
-- the check and raced on pg_authid's unique index). Either way the role exists
-- afterwards, which is all the caller wants.
-- +goose StatementBegin
CREATE FUNCTION public.ensure_role(role_name name) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = role_name) THEN
        RETURN;
    END IF;
    EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN
        NULL;
END
$fn$;
-- +goose StatementEnd

-- Only migrations (run by a superuser) should create roles.
REVOKE EXECUTE ON FUNCTION public.ensure_role(name) FROM PUBLIC;

-- +goose Down
DROP FUNCTION public.ensure_role(name);
DROP FUNCTION public.set_updated_at();
-- RESTRICT (the default) makes this fail instead of cascading if anything
-- outside the bundled modules still uses the extensions.
DROP EXTENSION IF EXISTS pgcrypto;
DROP EXTENSION IF EXISTS citext;
