-- General assembly: proposals and one vote per member.

-- +goose Up
CREATE TYPE cooperative.vote_choice AS ENUM ('yes', 'no', 'abstain');

CREATE TABLE cooperative.proposals (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organization.organizations (id) ON DELETE CASCADE,
    title           text NOT NULL,
    body            text NOT NULL DEFAULT '',
    opens_at        timestamptz NOT NULL,
    closes_at       timestamptz NOT NULL,
    created_by      uuid REFERENCES identity.persons (id) ON DELETE SET NULL,
    CONSTRAINT proposals_window CHECK (closes_at > opens_at)
);

CREATE TABLE cooperative.votes (
    proposal_id uuid NOT NULL REFERENCES cooperative.proposals (id) ON DELETE CASCADE,
    member_id   uuid NOT NULL REFERENCES cooperative.members (id) ON DELETE CASCADE,
    choice      cooperative.vote_choice NOT NULL,
    cast_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (proposal_id, member_id)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON cooperative.proposals, cooperative.votes
    TO cooperative_owner;

-- +goose Down
DROP TABLE cooperative.votes;
DROP TABLE cooperative.proposals;
DROP TYPE cooperative.vote_choice;
