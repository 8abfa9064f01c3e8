-- The dunning job and the dashboard both want open invoices with their age.

-- +goose Up
-- modmig:nolint require-concurrent-index a partial index over open invoices only (a few hundred rows), built in milliseconds
CREATE INDEX invoices_open_by_due ON billing.invoices (due_at) WHERE status = 'open';

CREATE VIEW billing.open_invoices AS
SELECT i.id,
       i.number,
       i.organization_id,
       o.name AS organization_name,
       i.total_cents,
       i.currency,
       i.issued_at,
       i.due_at,
       GREATEST(0, current_date - i.due_at::date) AS days_overdue
  FROM billing.invoices i
  JOIN organization.organizations o ON o.id = i.organization_id
 WHERE i.status = 'open';

GRANT SELECT ON billing.open_invoices TO billing_owner;

-- +goose Down
DROP VIEW billing.open_invoices;
DROP INDEX billing.invoices_open_by_due;
