-- Member-owned organizations: members hold shares in their cooperative.

-- +goose Up
CREATE SCHEMA IF NOT EXISTS cooperative;
SELECT public.ensure_role('cooperative_owner');
GRANT USAGE ON SCHEMA cooperative TO cooperative_owner;

CREATE TABLE cooperative.members (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organization.organizations (id) ON DELETE CASCADE,
    person_id       uuid NOT NULL REFERENCES identity.persons (id) ON DELETE RESTRICT,
    member_number   integer NOT NULL CHECK (member_number > 0),
    joined_on       date NOT NULL DEFAULT current_date,
    left_on         date,
    UNIQUE (organization_id, member_number),
    UNIQUE (organization_id, person_id),
    CONSTRAINT members_left_after_joining CHECK (left_on IS NULL OR left_on >= joined_on)
);

CREATE TABLE cooperative.share_transactions (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    member_id    uuid NOT NULL REFERENCES cooperative.members (id) ON DELETE RESTRICT,
    -- Positive for a purchase, negative for a redemption.
    shares       integer NOT NULL CHECK (shares <> 0),
    amount_cents bigint NOT NULL,
    booked_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT share_transactions_sign CHECK ((shares > 0) = (amount_cents > 0))
);
CREATE INDEX share_transactions_by_member ON cooperative.share_transactions (member_id);

CREATE VIEW cooperative.holdings AS
SELECT m.organization_id, m.id AS member_id, m.member_number,
       coalesce(sum(t.shares), 0) AS shares,
       coalesce(sum(t.amount_cents), 0) AS paid_in_cents
  FROM cooperative.members m
  LEFT JOIN cooperative.share_transactions t ON t.member_id = m.id
 GROUP BY m.organization_id, m.id, m.member_number;

GRANT SELECT, INSERT, UPDATE, DELETE ON cooperative.members TO cooperative_owner;
-- Share transactions are a ledger: append only.
GRANT SELECT, INSERT ON cooperative.share_transactions TO cooperative_owner;
GRANT SELECT ON cooperative.holdings TO cooperative_owner;

-- +goose Down
DROP VIEW cooperative.holdings;
DROP TABLE cooperative.share_transactions;
DROP TABLE cooperative.members;
DROP SCHEMA cooperative;
