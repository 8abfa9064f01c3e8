-- Membership changes are security relevant: record them from the database so
-- that no code path can forget to.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION audit.log_membership_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_row organization.memberships%ROWTYPE;
BEGIN
    IF TG_OP = 'DELETE' THEN
        v_row := OLD;
    ELSE
        v_row := NEW;
    END IF;
    PERFORM audit.record_event(
        'membership.' || lower(TG_OP),
        'person',
        v_row.person_id::text,
        NULL,
        v_row.organization_id,
        jsonb_build_object('role', v_row.role,
                           'previous_role', CASE WHEN TG_OP = 'UPDATE' THEN OLD.role END));
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- modmig:nolint foreign-schema audit observes organization's memberships: the trigger and its function are audit's, and organization's migrations never touch them
CREATE TRIGGER memberships_audit
    AFTER INSERT OR UPDATE OF role OR DELETE ON organization.memberships
    FOR EACH ROW EXECUTE FUNCTION audit.log_membership_change();

-- +goose Down
DROP TRIGGER memberships_audit ON organization.memberships;
DROP FUNCTION audit.log_membership_change();
