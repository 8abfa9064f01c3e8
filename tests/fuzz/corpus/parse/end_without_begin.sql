-- +goose Up
-- +goose StatementBegin
DO $$ BEGIN RAISE NOTICE $q$;$q$; END $$;
-- +goose StatementEnd
-- +goose StatementEnd
