-- Organizations and who belongs to them.

-- +goose Up
CREATE SCHEMA IF NOT EXISTS organization;
SELECT public.ensure_role('organization_owner');
GRANT USAGE ON SCHEMA organization TO organization_owner;
-- Memberships point at people; the owner role may read them, nothing more.
GRANT USAGE ON SCHEMA identity TO organization_owner;
GRANT SELECT ON identity.persons TO organization_owner;

CREATE TYPE organization.member_role AS ENUM ('owner', 'admin', 'member', 'billing');

CREATE TABLE organization.organizations (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slug       citext NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name       text NOT NULL CHECK (length(btrim(name)) > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);

CREATE TABLE organization.memberships (
    organization_id uuid NOT NULL REFERENCES organization.organizations (id) ON DELETE CASCADE,
    person_id       uuid NOT NULL REFERENCES identity.persons (id) ON DELETE CASCADE,
    role            organization.member_role NOT NULL DEFAULT 'member',
    joined_at       timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, person_id)
);
-- "Which organizations am I in?" is asked on every page load.
CREATE INDEX memberships_by_person ON organization.memberships (person_id);

CREATE TRIGGER organizations_set_updated_at
    BEFORE UPDATE ON organization.organizations
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE TRIGGER memberships_set_updated_at
    BEFORE UPDATE ON organization.memberships
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

GRANT SELECT, INSERT, UPDATE, DELETE
    ON organization.organizations, organization.memberships TO organization_owner;

-- +goose Down
-- Grants this module made on identity's objects are not removed by dropping
-- our own tables, so revoke them explicitly. The role itself stays (see
-- identity's first migration).
REVOKE SELECT ON identity.persons FROM organization_owner;
REVOKE USAGE ON SCHEMA identity FROM organization_owner;
DROP TABLE organization.memberships;
DROP TABLE organization.organizations;
DROP TYPE organization.member_role;
DROP SCHEMA organization;
