-- Outgoing webhooks: endpoints registered by organizations, and the delivery
-- attempts of audit events to them.

-- +goose Up
CREATE SCHEMA IF NOT EXISTS integration;
SELECT public.ensure_role('integration_owner');
GRANT USAGE ON SCHEMA integration TO integration_owner;
GRANT USAGE ON SCHEMA audit TO integration_owner;
GRANT SELECT ON audit.events TO integration_owner;

CREATE TYPE integration.delivery_status AS ENUM ('pending', 'delivered', 'failed', 'gave_up');

CREATE TABLE integration.webhook_endpoints (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organization.organizations (id) ON DELETE CASCADE,
    url             text NOT NULL CHECK (url ~ '^https://'),
    -- The signing secret is generated here so that it never travels in a request.
    secret          bytea NOT NULL DEFAULT public.gen_random_bytes(32),
    event_types     text[] NOT NULL DEFAULT '{}',
    enabled         boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, url)
);

CREATE TABLE integration.deliveries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id     uuid NOT NULL REFERENCES integration.webhook_endpoints (id) ON DELETE CASCADE,
    event_id        bigint NOT NULL REFERENCES audit.events (id),
    status          integration.delivery_status NOT NULL DEFAULT 'pending',
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts BETWEEN 0 AND 20),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    response_code   integer CHECK (response_code BETWEEN 100 AND 599),
    UNIQUE (endpoint_id, event_id)
);
-- The delivery worker polls for due work only.
CREATE INDEX deliveries_due ON integration.deliveries (next_attempt_at)
    WHERE status IN ('pending', 'failed');

GRANT SELECT, INSERT, UPDATE, DELETE
    ON integration.webhook_endpoints, integration.deliveries TO integration_owner;

-- +goose Down
REVOKE SELECT ON audit.events FROM integration_owner;
REVOKE USAGE ON SCHEMA audit FROM integration_owner;
DROP TABLE integration.deliveries;
DROP TABLE integration.webhook_endpoints;
DROP TYPE integration.delivery_status;
DROP SCHEMA integration;
