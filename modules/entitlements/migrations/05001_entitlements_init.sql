-- Which features an organization may use: granted by its plan, or by a
-- per-organization override (trials, support goodwill, early access).

-- +goose Up
CREATE SCHEMA IF NOT EXISTS entitlements;
SELECT public.ensure_role('entitlements_owner');
GRANT USAGE ON SCHEMA entitlements TO entitlements_owner;
GRANT USAGE ON SCHEMA billing TO entitlements_owner;
GRANT SELECT ON billing.plans, billing.subscriptions TO entitlements_owner;

CREATE TABLE entitlements.features (
    key         text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_.]*$'),
    description text NOT NULL
);

CREATE TABLE entitlements.plan_features (
    plan_id     integer NOT NULL REFERENCES billing.plans (id) ON DELETE CASCADE,
    feature_key text NOT NULL REFERENCES entitlements.features (key) ON UPDATE CASCADE,
    -- NULL means unlimited.
    limit_value integer CHECK (limit_value IS NULL OR limit_value >= 0),
    PRIMARY KEY (plan_id, feature_key)
);

CREATE TABLE entitlements.overrides (
    organization_id uuid NOT NULL REFERENCES organization.organizations (id) ON DELETE CASCADE,
    feature_key     text NOT NULL REFERENCES entitlements.features (key) ON UPDATE CASCADE,
    enabled         boolean NOT NULL,
    reason          text NOT NULL,
    expires_at      timestamptz,
    PRIMARY KEY (organization_id, feature_key)
);

INSERT INTO entitlements.features (key, description) VALUES
    ('members.max', 'Number of members an organization may have'),
    ('wiki.sites', 'Federated wiki sites'),
    ('webhooks', 'Outgoing webhooks'),
    ('cooperative.voting', 'Member proposals and votes');

-- Plans come from billing's seed rows; look them up by code, never by id.
INSERT INTO entitlements.plan_features (plan_id, feature_key, limit_value)
SELECT p.id, f.feature_key, f.limit_value
  FROM (VALUES ('free', 'members.max', 5),
               ('team', 'members.max', 50),
               ('team', 'webhooks', NULL),
               ('team', 'wiki.sites', 3),
               ('cooperative', 'members.max', NULL),
               ('cooperative', 'webhooks', NULL),
               ('cooperative', 'wiki.sites', NULL),
               ('cooperative', 'cooperative.voting', NULL))
       AS f (plan_code, feature_key, limit_value)
  JOIN billing.plans p ON p.code = f.plan_code;

GRANT SELECT, INSERT, UPDATE, DELETE
    ON entitlements.features, entitlements.plan_features, entitlements.overrides
    TO entitlements_owner;

-- +goose Down
REVOKE SELECT ON billing.plans, billing.subscriptions FROM entitlements_owner;
REVOKE USAGE ON SCHEMA billing FROM entitlements_owner;
DROP TABLE entitlements.overrides;
DROP TABLE entitlements.plan_features;
DROP TABLE entitlements.features;
DROP SCHEMA entitlements;
