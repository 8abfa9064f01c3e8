-- Reports group revenue by plan. Until now the plan was only reachable through
-- the subscription, which can be deleted; copy it onto each invoice.

-- modmig lock_timeout=5s
-- +goose Up
-- modmig:nolint add-foreign-key-not-valid the new column is all NULL and invoices holds thousands of rows: the check is one quick scan
ALTER TABLE billing.invoices ADD COLUMN plan_id integer REFERENCES billing.plans (id);

-- Backfill existing invoices from their subscription. Invoices without a
-- subscription (one-off charges) keep NULL.
UPDATE billing.invoices i
   SET plan_id = s.plan_id
  FROM billing.subscriptions s
 WHERE s.id = i.subscription_id
   AND i.plan_id IS NULL;

-- modmig:nolint require-concurrent-index built right after the backfill it serves, in its transaction; invoices holds thousands of rows here, a build of milliseconds
CREATE INDEX invoices_by_plan ON billing.invoices (plan_id) WHERE plan_id IS NOT NULL;

-- +goose Down
-- The column is derived data, so dropping it loses nothing.
ALTER TABLE billing.invoices DROP COLUMN plan_id;
