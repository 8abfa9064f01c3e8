-- Invitations by e-mail address, accepted through a link with a one-time token.

-- +goose Up
CREATE TABLE organization.invitations (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organization.organizations (id) ON DELETE CASCADE,
    email           citext NOT NULL,
    role            organization.member_role NOT NULL DEFAULT 'member',
    invited_by      uuid REFERENCES identity.persons (id) ON DELETE SET NULL,
    token_hash      bytea NOT NULL UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL DEFAULT now() + interval '14 days',
    accepted_at     timestamptz,
    CONSTRAINT invitations_not_owner CHECK (role <> 'owner')
);
-- At most one open invitation per address and organization.
CREATE UNIQUE INDEX invitations_one_open ON organization.invitations (organization_id, email)
    WHERE accepted_at IS NULL;

GRANT SELECT, INSERT, UPDATE, DELETE ON organization.invitations TO organization_owner;

-- +goose Down
DROP TABLE organization.invitations;
