-- An append-only log of what happened, who did it and to what.

-- +goose Up
CREATE SCHEMA IF NOT EXISTS audit;
SELECT public.ensure_role('audit_owner');
GRANT USAGE ON SCHEMA audit TO audit_owner;

CREATE TABLE audit.events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at     timestamptz NOT NULL DEFAULT now(),
    -- Events outlive the people and organizations they mention.
    actor_id        uuid REFERENCES identity.persons (id) ON DELETE SET NULL,
    organization_id uuid REFERENCES organization.organizations (id) ON DELETE SET NULL,
    action          text NOT NULL CHECK (action ~ '^[a-z_]+\.[a-z_]+$'),
    subject_type    text NOT NULL,
    subject_id      text NOT NULL,
    payload         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(payload) = 'object')
);
CREATE INDEX events_by_organization ON audit.events (organization_id, occurred_at DESC)
    WHERE organization_id IS NOT NULL;
CREATE INDEX events_by_subject ON audit.events (subject_type, subject_id);

-- +goose StatementBegin
CREATE FUNCTION audit.record_event(
    p_action text,
    p_subject_type text,
    p_subject_id text,
    p_actor uuid DEFAULT NULL,
    p_organization uuid DEFAULT NULL,
    p_payload jsonb DEFAULT '{}'
) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
BEGIN
    INSERT INTO audit.events (actor_id, organization_id, action, subject_type, subject_id, payload)
    VALUES (p_actor, p_organization, p_action, p_subject_type, p_subject_id,
            coalesce(p_payload, '{}'))
    RETURNING id INTO v_id;
    RETURN v_id;
END
$$;

-- Only the foreign keys' ON DELETE SET NULL may change a row; anything else
-- that rewrites history is refused.
CREATE FUNCTION audit.forbid_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (NEW.id, NEW.occurred_at, NEW.action, NEW.subject_type, NEW.subject_id, NEW.payload)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.occurred_at, OLD.action, OLD.subject_type, OLD.subject_id, OLD.payload)
       AND (NEW.actor_id IS NULL OR NEW.actor_id = OLD.actor_id)
       AND (NEW.organization_id IS NULL OR NEW.organization_id = OLD.organization_id) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit.events is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
-- +goose StatementEnd

CREATE TRIGGER events_append_only
    BEFORE UPDATE OR DELETE ON audit.events
    FOR EACH ROW EXECUTE FUNCTION audit.forbid_changes();

GRANT SELECT, INSERT ON audit.events TO audit_owner;
GRANT EXECUTE ON FUNCTION audit.record_event(text, text, text, uuid, uuid, jsonb) TO audit_owner;

-- +goose Down
DROP TABLE audit.events;
DROP FUNCTION audit.forbid_changes();
DROP FUNCTION audit.record_event(text, text, text, uuid, uuid, jsonb);
DROP SCHEMA audit;
