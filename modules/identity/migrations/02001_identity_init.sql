-- People who can sign in. Other modules refer to identity.persons(id).

-- +goose Up
CREATE SCHEMA IF NOT EXISTS identity;
SELECT public.ensure_role('identity_owner');
GRANT USAGE ON SCHEMA identity TO identity_owner;

CREATE TYPE identity.person_status AS ENUM ('invited', 'active', 'suspended', 'deleted');

CREATE TABLE identity.persons (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email        citext NOT NULL,
    display_name text NOT NULL CHECK (length(btrim(display_name)) BETWEEN 1 AND 200),
    status       identity.person_status NOT NULL DEFAULT 'invited',
    locale       text NOT NULL DEFAULT 'en' CHECK (locale ~ '^[a-z]{2}(-[A-Z]{2})?$'),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT persons_email_format CHECK (email ~ '^[^@\s]+@[^@\s]+$')
);
-- A deleted person frees the address for a new account.
CREATE UNIQUE INDEX persons_email_key ON identity.persons (email) WHERE status <> 'deleted';

CREATE TRIGGER persons_set_updated_at
    BEFORE UPDATE ON identity.persons
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

GRANT SELECT, INSERT, UPDATE, DELETE ON identity.persons TO identity_owner;

-- +goose Down
-- The role stays: roles belong to the cluster, and another database of the
-- same cluster (a parallel test, a second tenant) may still hold grants to it.
-- Dropping the schema's objects removes every grant this database made.
DROP TABLE identity.persons;
DROP TYPE identity.person_status;
DROP SCHEMA identity;
