#!/usr/bin/env bash
# modmig drift: no drift after up (bundled application and the goose fixture);
# each hand-made change to a migrated database (column type, default,
# nullability, constraint, index, view body, function body, trigger, enum
# label, grant, owner, comment, an extra table) gives exit 3 and the exact
# line naming the object, the attribute and both values; JSON names the same.
source "$(dirname "$0")/lib.sh"

# Tests share one cluster: drift runs as this test's own role, and only the
# shadow databases that role owns are counted.
ME=t_drift_$RANDOM$RANDOM
psql -qX -d postgres -c "CREATE ROLE $ME LOGIN SUPERUSER" >/dev/null
shadows() { psql -qAtX -d postgres -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'modmig\_shadow\_%' AND pg_get_userbyid(datdba) = '$ME'"; }

# ------------------------------------------------------------ no false positives
new_db
BASE=$DB
URL="postgresql://$ME@/$DB?host=$PGHOST&port=$PGPORT"
mm -d "$URL" up
expect_rc 0 "up (bundled application)"
mm -d "$URL" drift
expect_rc 0 "drift right after up"
expect_out "ok: no drift: the database matches the migrations"
expect_eq "$(shadows)" "0" "the shadow database is dropped after success"
mm -d "$URL" --json drift
expect_rc 0 "drift --json right after up"
expect_eq "$OUT" '{"drift":false,"differences":[]}' "drift --json when clean"
mm -d "$URL" drift --module billing
expect_rc 0 "drift --module billing"

# doctor's drift item, with a --dev-url database it may wipe (it creates none)
DEV=dev_$RANDOM$RANDOM
psql -qX -d postgres -c "CREATE DATABASE $DEV OWNER $ME" >/dev/null
DEV_URL="postgresql://$ME@/$DEV?host=$PGHOST&port=$PGPORT"
mm -d "$URL" doctor
expect_rc 0 "doctor without --dev-url"
[[ "$OUT" != *$'\n'ok*"  drift  "* && "$OUT" != *"FAIL  drift"* ]] && pass || fail "doctor without --dev-url has a drift item"
mm -d "$URL" doctor --dev-url "$DEV_URL"
expect_rc 0 "doctor --dev-url right after up"
expect_out "drift            the live schema is what the applied migrations build"
psql -qX -d "$DB" -c "CREATE INDEX doctor_by_hand ON identity.persons (created_at)" >/dev/null
mm -d "$URL" doctor --dev-url "$DEV_URL"
expect_rc 3 "doctor --dev-url after a change by hand"
expect_out "FAIL  drift            1 difference from what the applied migrations build, the first: table identity.persons: index doctor_by_hand: only in the database"
expect_out "fix: run 'modmig drift --dev-url URL' for every difference"
mm -d "$URL" --json doctor --dev-url "$DEV_URL"
expect_eq "$(printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["healthy"], [c["ok"] for c in d["checks"] if c["name"] == "drift"])')" "False [False]" "doctor --json: the drift item"
psql -qX -d "$DB" -c "DROP INDEX identity.doctor_by_hand" >/dev/null
expect_eq "$(shadows)" "0" "doctor leaves no shadow database behind"

new_db
mm -d "$URL" --dir "$ROOT/tests/fixtures/goose_app" up
expect_rc 0 "up (goose fixture)"
mm -d "$URL" --dir "$ROOT/tests/fixtures/goose_app" drift
expect_rc 0 "drift on the goose fixture"
expect_out "ok: no drift"

# ------------------------------------------------------------ hand-made changes
# clone the migrated bundled database (CREATE DATABASE ... TEMPLATE) per change
changed() {
  local name=t_drift_$RANDOM$RANDOM
  psql -qX -d postgres -v ON_ERROR_STOP=1 -c "CREATE DATABASE $name TEMPLATE $BASE" >/dev/null ||
    { echo "cannot clone $BASE" >&2; exit 1; }
  DB=$name
  URL="postgresql://$ME@/$DB?host=$PGHOST&port=$PGPORT"
  sql "$1" >/dev/null || fail "cannot make the change: $1"
  mm -d "$URL" drift
  expect_rc 3 "drift after: $1"
}

changed "ALTER TABLE billing.subscriptions ALTER COLUMN canceled_at TYPE timestamp"
expect_out "table billing.subscriptions: column canceled_at: type is timestamp without time zone in the database, timestamp with time zone in the migrations"
expect_out "drift: 1 difference between the database and the migrations"

changed "ALTER TABLE billing.plans ALTER COLUMN archived SET DEFAULT true"
expect_out "table billing.plans: column archived: default is true in the database, false in the migrations"

changed "ALTER TABLE billing.plans ALTER COLUMN name DROP NOT NULL"
expect_out "table billing.plans: column name: not null is false in the database, true in the migrations"

changed "ALTER TABLE billing.invoices DROP CONSTRAINT invoices_due_after_issue"
expect_out "table billing.invoices: constraint invoices_due_after_issue: only in the migrations"

changed "DROP INDEX billing.invoices_by_organization; CREATE INDEX invoices_by_organization ON billing.invoices (organization_id)"
expect_out "table billing.invoices: index invoices_by_organization: definition is CREATE INDEX invoices_by_organization ON billing.invoices USING btree (organization_id) in the database, CREATE INDEX invoices_by_organization ON billing.invoices USING btree (organization_id, issued_at DESC) in the migrations"

changed "CREATE OR REPLACE VIEW billing.open_invoices AS
SELECT i.id, i.number, i.organization_id, o.name AS organization_name, i.total_cents, i.currency,
       i.issued_at, i.due_at, GREATEST(0, current_date - i.due_at::date) AS days_overdue
  FROM billing.invoices i JOIN organization.organizations o ON o.id = i.organization_id
 WHERE i.status = 'open' AND i.total_cents > 0"
expect_out "view billing.open_invoices: definition differs at line 12: "
expect_out "total_cents)::bigint > 0))"

changed "CREATE OR REPLACE FUNCTION public.set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS \$\$
BEGIN
    NEW.updated_at := clock_timestamp();
    RETURN NEW;
END
\$\$"
expect_out 'function public.set_updated_at(): definition differs at line 6: "NEW.updated_at := clock_timestamp();" in the database, "NEW.updated_at := now();" in the migrations'

changed "DROP TRIGGER invoices_set_updated_at ON billing.invoices"
expect_out "table billing.invoices: trigger invoices_set_updated_at: only in the migrations"

changed "ALTER TYPE billing.plan_interval ADD VALUE 'week'"
expect_out "enum billing.plan_interval: labels is 'month', 'year', 'week' in the database, 'month', 'year' in the migrations"

changed "GRANT INSERT ON billing.open_invoices TO billing_owner"
expect_out "view billing.open_invoices: grants is billing_owner: INSERT, SELECT in the database, billing_owner: SELECT in the migrations"

changed "REVOKE EXECUTE ON FUNCTION public.set_updated_at() FROM PUBLIC"
expect_out "function public.set_updated_at(): grants is revoked from PUBLIC: EXECUTE in the database, none in the migrations"

changed "ALTER TABLE billing.plans OWNER TO billing_owner"
expect_out "table billing.plans: owner is billing_owner in the database, $ME in the migrations"

changed "COMMENT ON TABLE billing.invoices IS 'hand-made'"
expect_out "table billing.invoices: comment is hand-made in the database, none in the migrations"

changed "CREATE TABLE billing.scratch (x int)"
expect_out "table billing.scratch: only in the database"
expect_out "table billing.scratch: column x: only in the database"

# the same in JSON, for programs
mm -d "$URL" --json drift
expect_rc 3 "drift --json with a difference"
expect_eq "$(printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["drift"] is True
for x in d["differences"]:
    print(x["change"], x["kind"], x["schema"], x["parent"], x["name"], x["message"].split(":")[0])')" \
  "removed table billing None scratch table billing.scratch
removed column billing scratch x table billing.scratch" "drift --json differences"
# --module narrows the comparison: the change in billing is not in identity
mm -d "$URL" drift --module identity
expect_rc 0 "drift --module identity ignores billing"
expect_eq "$(shadows)" "0" "no shadow database is left behind"

finish
