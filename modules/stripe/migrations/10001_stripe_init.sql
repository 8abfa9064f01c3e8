-- The Stripe adapter: maps organizations to Stripe customers and keeps every
-- webhook event it received, so processing can be retried idempotently.

-- +goose Up
CREATE SCHEMA IF NOT EXISTS stripe;
SELECT public.ensure_role('stripe_owner');
GRANT USAGE ON SCHEMA stripe TO stripe_owner;

CREATE TABLE stripe.customers (
    organization_id    uuid PRIMARY KEY REFERENCES organization.organizations (id) ON DELETE CASCADE,
    stripe_customer_id text NOT NULL UNIQUE CHECK (stripe_customer_id ~ '^cus_[A-Za-z0-9]+$'),
    livemode           boolean NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE stripe.events (
    id           text PRIMARY KEY CHECK (id ~ '^evt_[A-Za-z0-9]+$'),
    type         text NOT NULL,
    payload      jsonb NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    error        text
);
CREATE INDEX events_unprocessed ON stripe.events (received_at) WHERE processed_at IS NULL;

GRANT SELECT, INSERT, UPDATE, DELETE ON stripe.customers, stripe.events TO stripe_owner;

-- +goose Down
DROP TABLE stripe.events;
DROP TABLE stripe.customers;
DROP SCHEMA stripe;
