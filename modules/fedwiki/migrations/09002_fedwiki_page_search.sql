-- Full-text search over page titles and story text.

-- +goose Up
ALTER TABLE fedwiki.pages
    ADD COLUMN search tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', title), 'A') ||
        setweight(jsonb_to_tsvector('simple', story, '["string"]'), 'B')
    ) STORED;
CREATE INDEX pages_search ON fedwiki.pages USING gin (search);

-- +goose Down
DROP INDEX fedwiki.pages_search;
ALTER TABLE fedwiki.pages DROP COLUMN search;
