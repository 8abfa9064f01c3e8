-- Invoice lines; the invoice total is kept in step by a trigger.

-- +goose Up
CREATE TABLE billing.invoice_lines (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    invoice_id        uuid NOT NULL REFERENCES billing.invoices (id) ON DELETE CASCADE,
    line_no           integer NOT NULL CHECK (line_no > 0),
    description       text NOT NULL,
    quantity          integer NOT NULL DEFAULT 1 CHECK (quantity > 0),
    unit_amount_cents public.money_cents NOT NULL,
    amount_cents      bigint GENERATED ALWAYS AS (quantity * unit_amount_cents) STORED,
    UNIQUE (invoice_id, line_no)
);

-- +goose StatementBegin
CREATE FUNCTION billing.refresh_invoice_total() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_invoice uuid := COALESCE(NEW.invoice_id, OLD.invoice_id);
BEGIN
    -- Lines of an issued invoice are frozen; the check is here rather than in
    -- a constraint because it depends on another table.
    IF EXISTS (SELECT FROM billing.invoices WHERE id = v_invoice AND status <> 'draft') THEN
        RAISE EXCEPTION 'invoice % is not a draft', v_invoice
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE billing.invoices i
       SET total_cents = (SELECT COALESCE(sum(l.amount_cents), 0)
                            FROM billing.invoice_lines l
                           WHERE l.invoice_id = v_invoice)
     WHERE i.id = v_invoice;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER invoice_lines_refresh_total
    AFTER INSERT OR UPDATE OR DELETE ON billing.invoice_lines
    FOR EACH ROW EXECUTE FUNCTION billing.refresh_invoice_total();

GRANT SELECT, INSERT, UPDATE, DELETE ON billing.invoice_lines TO billing_owner;

-- +goose Down
DROP TABLE billing.invoice_lines;
DROP FUNCTION billing.refresh_invoice_total();
