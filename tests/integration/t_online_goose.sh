#!/usr/bin/env bash
# goose directories: adopting a database that goose already manages, and a
# realistic goose project (tests/fixtures/goose_app) applied, rolled back and
# applied again with an identical schema.
source "$(dirname "$0")/lib.sh"

G=$ROOT/tests/fixtures/goose_app
FILES=$(ls "$G"/*.sql | sort)
ALL=$(file_versions "$G")
N=$(echo "$ALL" | wc -l)
[ "$N" -ge 50 ] || { echo "goose_app has only $N files" >&2; exit 1; }

# ---------------------------------------------------------------- adopting goose's table
K=5
new_db
# goose's own table (pressly/goose, Postgres dialect) and its first row
sql "CREATE TABLE goose_db_version (
       id serial NOT NULL,
       version_id bigint NOT NULL,
       is_applied boolean NOT NULL,
       tstamp timestamp NULL default now(),
       PRIMARY KEY(id));
     INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true);"
# goose applied the first K migrations
for f in $(echo "$FILES" | head -n $K); do
  goose_section "$f" Up | psql -qX -1 -v ON_ERROR_STOP=1 -d "$DB" >/dev/null ||
    { echo "psql could not apply $f" >&2; exit 1; }
  v=$(basename "$f"); v=${v%%_*}
  sql "INSERT INTO goose_db_version (version_id, is_applied) VALUES ($v, true)"
done
FIRST=$(echo "$ALL" | head -n $K)
REST=$(echo "$ALL" | tail -n +$((K + 1)))

mm -d "$URL" --dir "$G" status
expect_rc 0 "status on a goose-managed database"
for v in $(echo "$FIRST" | tail -n 1) $(echo "$REST" | head -n 1); do
  line=$(printf '%s\n' "$OUT" | grep -E "(^|[^0-9])$v([^0-9]|$)" | head -n 1)
  want=applied; [ "$v" = "$(echo "$REST" | head -n 1)" ] && want=pending
  if [[ "$line" == *"$want"* ]]; then pass; else fail "status of $v: [$line], want $want"; fi
done

mm -d "$URL" --dir "$G" up
expect_rc 0 "up adopts the goose database"
expect_eq "$(applied_versions)" "$ALL" "every version applied"
expect_sql "SELECT count(*) FROM (SELECT version_id FROM goose_db_version GROUP BY 1 HAVING count(*) > 1) d" "0"
expect_eq "$(history_versions applied)" "$REST" "only the rest was applied by modmig"
expect_sql "SELECT count(*) FROM goose_db_version WHERE version_id = 0" "1"
expect_sql "SELECT pg_get_serial_sequence('goose_db_version', 'id') IS NOT NULL" "t"
# goose's own view of the state still works: highest applied version
expect_sql "SELECT version_id FROM goose_db_version WHERE is_applied ORDER BY id DESC LIMIT 1" \
  "$(echo "$ALL" | tail -n 1)"
mm -d "$URL" --dir "$G" version
expect_rc 0
expect_out "$(echo "$ALL" | tail -n 1)"

# rolling back into goose's part works too
mm -d "$URL" --dir "$G" down --to "$(echo "$FIRST" | sed -n 3p)"
expect_rc 0 "down --to into the goose-applied part"
expect_eq "$(applied_versions)" "$(echo "$ALL" | head -n 3)" "down --to"
expect_sql "SELECT to_regclass('public.users') IS NOT NULL AND to_regclass('public.users_active_email_key') IS NULL" "t"

# ---------------------------------------------------------------- baseline: an empty database with modmig's tables
new_db
mkdir -p "$TMP/one"
cp "$(echo "$FILES" | head -n 1)" "$TMP/one/"
mm -d "$URL" --dir "$TMP/one" up
expect_rc 0
mm -d "$URL" --dir "$TMP/one" down
expect_rc 0
EMPTY=$(schema_dump)

# ---------------------------------------------------------------- the realistic goose directory
new_db
mm -d "$URL" --dir "$G" up
expect_rc 0 "apply goose_app"
expect_eq "$(applied_versions)" "$ALL" "all $N applied"
expect_eq "$(history_versions applied)" "$ALL" "history: each applied once, in order"
A1=$(schema_dump)
expect_sql "SELECT indisvalid FROM pg_index WHERE indexrelid = 'tickets_assignee_open_idx'::regclass" "t"
expect_sql "SELECT count(*) FROM pg_type WHERE typname IN ('user_role','plan_tier','ticket_status','ticket_priority','notification_kind','delivery_state')" "6"
expect_sql "SELECT extname FROM pg_extension WHERE extname = 'citext'" "citext"
expect_sql "SELECT count(*) FROM pg_matviews WHERE matviewname = 'project_stats' AND ispopulated" "1"
expect_sql "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgrelid = 'tickets'::regclass" "4"
# the application works: the triggers fire, the enum value added later is usable
psql -qX -v ON_ERROR_STOP=1 -d "$DB" >/dev/null <<'SQL' || fail "goose_app schema does not work"
INSERT INTO users (email, display_name) VALUES ('Ann@Example.org', 'Ann');
INSERT INTO organizations (slug, name) VALUES ('acme', 'Acme');
INSERT INTO memberships (organization_id, user_id) SELECT o.id, u.id FROM organizations o, users u WHERE o.slug = 'acme';
INSERT INTO projects (organization_id, key, title) SELECT id, 'HD', 'Helpdesk' FROM organizations WHERE slug = 'acme';
INSERT INTO tickets (project_id, title, reporter_id, status) SELECT p.id, 'blocked one', u.id, 'blocked' FROM projects p, users u;
INSERT INTO tickets (project_id, title, reporter_id) SELECT p.id, 'second', u.id FROM projects p, users u;
UPDATE tickets SET status = 'closed' WHERE title = 'second';
SQL
expect_sql "SELECT string_agg(number::text || ':' || (closed_at IS NOT NULL), ',' ORDER BY number) FROM tickets" "1:false,2:true"
expect_sql "SELECT count(*) FROM audit_log WHERE table_name = 'tickets'" "3"
expect_sql "SELECT count(*) FROM users WHERE email = 'ann@example.org'" "1"

mm -d "$URL" --dir "$G" status
expect_rc 0 "status on goose_app"
expect_eq "$(printf '%s\n' "$OUT" | grep -E '^[0-9]{14} ' | grep -c applied)" "$N" "status lists all $N applied"
expect_eq "$(printf '%s\n' "$OUT" | grep -E '^[0-9]{14} ' | grep -vc applied)" "0" "status: no other state"

mm -d "$URL" --dir "$G" redo
expect_rc 0 "redo on goose_app"
expect_eq "$(schema_dump)" "$A1" "redo leaves the same schema"

mm -d "$URL" --dir "$G" reset
expect_rc 0 "reset goose_app (with data in it)"
expect_eq "$(applied_versions)" "" "nothing applied after reset"
R=$(schema_dump)
expect_eq "$(md5sum <<<"$R")" "$(md5sum <<<"$EMPTY")" "schema after reset equals the empty baseline"
[ "$R" = "$EMPTY" ] || diff <(echo "$EMPTY") <(echo "$R") | head -n 20 >&2
expect_eq "$(history_versions rolled_back | head -n 1)" "$(echo "$ALL" | tail -n 1)" "reset starts with the newest"

mm -d "$URL" --dir "$G" up
expect_rc 0 "apply goose_app again"
A2=$(schema_dump)
expect_eq "$(md5sum <<<"$A2")" "$(md5sum <<<"$A1")" "schema_dump identical both times"
[ "$A1" = "$A2" ] || diff <(echo "$A1") <(echo "$A2") | head -n 20 >&2
expect_eq "$(applied_versions)" "$ALL" "all applied again"

finish
