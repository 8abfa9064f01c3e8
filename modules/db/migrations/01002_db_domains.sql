-- Domains shared by billing, stripe and anything else that handles money.

-- +goose Up
CREATE DOMAIN public.currency_code AS text
    CHECK (VALUE ~ '^[A-Z]{3}$');
COMMENT ON DOMAIN public.currency_code IS 'ISO 4217 alphabetic currency code';

-- Amounts are integer minor units (cents): floating point has no place in money.
CREATE DOMAIN public.money_cents AS bigint
    CHECK (VALUE >= 0);

-- +goose Down
DROP DOMAIN public.money_cents;
DROP DOMAIN public.currency_code;
