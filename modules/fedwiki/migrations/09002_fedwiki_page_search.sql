-- Full-text search over page titles and story text.

-- modmig lock_timeout=5s
-- +goose Up
-- modmig:nolint volatile-default pages is rewritten once to store the search vector; a wiki of thousands of pages, rewritten in well under a second
ALTER TABLE fedwiki.pages
    ADD COLUMN search tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', title), 'A') ||
        setweight(jsonb_to_tsvector('simple', story, '["string"]'), 'B')
    ) STORED;
-- modmig:nolint require-concurrent-index built together with the column it indexes, on the same small table, in one transaction
CREATE INDEX pages_search ON fedwiki.pages USING gin (search);

-- +goose Down
DROP INDEX fedwiki.pages_search;
ALTER TABLE fedwiki.pages DROP COLUMN search;
