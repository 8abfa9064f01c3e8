-- Link billing invoices to Stripe invoices, and settle them from webhooks.

-- +goose Up
GRANT USAGE ON SCHEMA billing TO stripe_owner;
GRANT SELECT, UPDATE (status, paid_at) ON billing.invoices TO stripe_owner;

CREATE TABLE stripe.invoice_links (
    invoice_id        uuid PRIMARY KEY REFERENCES billing.invoices (id) ON DELETE CASCADE,
    stripe_invoice_id text NOT NULL UNIQUE CHECK (stripe_invoice_id ~ '^in_[A-Za-z0-9]+$'),
    hosted_url        text CHECK (hosted_url ~ '^https://')
);

-- Called for invoice.paid events. Idempotent: Stripe delivers at least once.
-- +goose StatementBegin
CREATE FUNCTION stripe.mark_invoice_paid(p_stripe_invoice_id text, p_paid_at timestamptz)
RETURNS boolean
LANGUAGE plpgsql AS $body$
DECLARE
    v_invoice uuid;
BEGIN
    SELECT invoice_id INTO v_invoice
      FROM stripe.invoice_links
     WHERE stripe_invoice_id = p_stripe_invoice_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown stripe invoice %', p_stripe_invoice_id
            USING ERRCODE = 'no_data_found';
    END IF;
    UPDATE billing.invoices
       SET status = 'paid', paid_at = p_paid_at
     WHERE id = v_invoice
       AND status = 'open';
    RETURN FOUND;
END
$body$;
-- +goose StatementEnd

GRANT SELECT, INSERT, UPDATE, DELETE ON stripe.invoice_links TO stripe_owner;
GRANT EXECUTE ON FUNCTION stripe.mark_invoice_paid(text, timestamptz) TO stripe_owner;

-- +goose Down
DROP FUNCTION stripe.mark_invoice_paid(text, timestamptz);
DROP TABLE stripe.invoice_links;
REVOKE SELECT, UPDATE (status, paid_at) ON billing.invoices FROM stripe_owner;
REVOKE USAGE ON SCHEMA billing FROM stripe_owner;
