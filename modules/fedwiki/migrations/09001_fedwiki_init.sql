-- Federated wiki sites hosted for organizations, and their pages (a page is a
-- story of items plus the journal of edits, as in Smallest Federated Wiki).

-- +goose Up
CREATE SCHEMA IF NOT EXISTS fedwiki;
SELECT public.ensure_role('fedwiki_owner');
GRANT USAGE ON SCHEMA fedwiki TO fedwiki_owner;

CREATE TABLE fedwiki.sites (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organization.organizations (id) ON DELETE CASCADE,
    domain          citext NOT NULL UNIQUE CHECK (domain ~ '^[a-z0-9.-]+$'),
    owner_id        uuid REFERENCES identity.persons (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE fedwiki.pages (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    site_id    uuid NOT NULL REFERENCES fedwiki.sites (id) ON DELETE CASCADE,
    slug       text NOT NULL CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    title      text NOT NULL,
    story      jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(story) = 'array'),
    journal    jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(journal) = 'array'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (site_id, slug)
);

CREATE TRIGGER pages_set_updated_at
    BEFORE UPDATE ON fedwiki.pages
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

GRANT SELECT, INSERT, UPDATE, DELETE ON fedwiki.sites, fedwiki.pages TO fedwiki_owner;

-- +goose Down
DROP TABLE fedwiki.pages;
DROP TABLE fedwiki.sites;
DROP SCHEMA fedwiki;
