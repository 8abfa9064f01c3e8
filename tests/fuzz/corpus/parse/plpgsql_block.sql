-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RETURN NEW;
END;
$$;
-- +goose StatementEnd
SELECT 1;
-- +goose Down
DROP FUNCTION f();
