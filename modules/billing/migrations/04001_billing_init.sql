-- Plans, subscriptions and invoices. Money is integer cents (public.money_cents).

-- +goose Up
CREATE SCHEMA IF NOT EXISTS billing;
SELECT public.ensure_role('billing_owner');
GRANT USAGE ON SCHEMA billing TO billing_owner;
GRANT USAGE ON SCHEMA organization TO billing_owner;
GRANT SELECT ON organization.organizations TO billing_owner;

CREATE TYPE billing.plan_interval AS ENUM ('month', 'year');
CREATE TYPE billing.subscription_status AS ENUM ('trialing', 'active', 'past_due', 'canceled');
CREATE TYPE billing.invoice_status AS ENUM ('draft', 'open', 'paid', 'void', 'uncollectible');

CREATE TABLE billing.plans (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        text NOT NULL UNIQUE CHECK (code ~ '^[a-z][a-z0-9_]*$'),
    name        text NOT NULL,
    price_cents public.money_cents NOT NULL,
    currency    public.currency_code NOT NULL DEFAULT 'EUR',
    billing_interval billing.plan_interval NOT NULL DEFAULT 'month',
    archived    boolean NOT NULL DEFAULT false
);

CREATE TABLE billing.subscriptions (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organization.organizations (id) ON DELETE RESTRICT,
    plan_id         integer NOT NULL REFERENCES billing.plans (id),
    status          billing.subscription_status NOT NULL DEFAULT 'trialing',
    started_at      timestamptz NOT NULL DEFAULT now(),
    canceled_at     timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT subscriptions_canceled_has_date
        CHECK ((status = 'canceled') = (canceled_at IS NOT NULL))
);
-- An organization has at most one live subscription.
CREATE UNIQUE INDEX subscriptions_one_live ON billing.subscriptions (organization_id)
    WHERE status <> 'canceled';

CREATE TABLE billing.invoices (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    number          text NOT NULL UNIQUE CHECK (number ~ '^INV-[0-9]{4}-[0-9]{6}$'),
    organization_id uuid NOT NULL REFERENCES organization.organizations (id) ON DELETE RESTRICT,
    subscription_id uuid REFERENCES billing.subscriptions (id) ON DELETE SET NULL,
    status          billing.invoice_status NOT NULL DEFAULT 'draft',
    total_cents     public.money_cents NOT NULL DEFAULT 0,
    currency        public.currency_code NOT NULL,
    issued_at       timestamptz,
    due_at          timestamptz,
    paid_at         timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT invoices_issued_unless_draft CHECK ((status = 'draft') = (issued_at IS NULL)),
    CONSTRAINT invoices_paid_has_date CHECK ((status = 'paid') = (paid_at IS NOT NULL)),
    CONSTRAINT invoices_due_after_issue CHECK (due_at IS NULL OR due_at >= issued_at)
);
CREATE INDEX invoices_by_organization ON billing.invoices (organization_id, issued_at DESC);

CREATE TRIGGER subscriptions_set_updated_at
    BEFORE UPDATE ON billing.subscriptions
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE TRIGGER invoices_set_updated_at
    BEFORE UPDATE ON billing.invoices
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

INSERT INTO billing.plans (code, name, price_cents, currency, billing_interval) VALUES
    ('free', 'Free', 0, 'EUR', 'month'),
    ('team', 'Team', 2900, 'EUR', 'month'),
    ('cooperative', 'Cooperative', 29000, 'EUR', 'year');

GRANT SELECT, INSERT, UPDATE, DELETE
    ON billing.plans, billing.subscriptions, billing.invoices TO billing_owner;

-- +goose Down
REVOKE SELECT ON organization.organizations FROM billing_owner;
REVOKE USAGE ON SCHEMA organization FROM billing_owner;
DROP TABLE billing.invoices;
DROP TABLE billing.subscriptions;
DROP TABLE billing.plans;
DROP TYPE billing.invoice_status;
DROP TYPE billing.subscription_status;
DROP TYPE billing.plan_interval;
DROP SCHEMA billing;
