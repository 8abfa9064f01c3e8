#!/usr/bin/env bash
# --dry-run prints exactly what would run, in order, with each unit's SQL
# and line, and touches nothing: a fresh database gets no state tables, and
# no history, registry or lease row is written. up, down, redo and reset list
# the units; stamp the versions it would record. What a dry run lists is what
# the real command then does; its refusals are the real command's, with the
# same exit code.
source "$(dirname "$0")/lib.sh"

goose_file() { mkdir -p "$1"; cat >"$1/$2"; }
D=$TMP/dry
goose_file "$D" 00001_first.sql <<'EOF2'
-- +goose Up
CREATE TABLE dry_a (id int);
INSERT INTO dry_a VALUES (1);
-- +goose Down
DROP TABLE dry_a;
EOF2
goose_file "$D" 00002_block.sql <<'EOF2'
-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION dry_f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;
-- +goose StatementEnd
-- +goose Down
DROP FUNCTION dry_f();
EOF2
goose_file "$D" 00003_concurrent.sql <<'EOF2'
-- +goose NO TRANSACTION
-- +goose Up
CREATE INDEX CONCURRENTLY dry_a_id ON dry_a (id);
-- +goose Down
DROP INDEX CONCURRENTLY dry_a_id;
EOF2

# ---------------------------------------------------------------- a fresh database
new_db
fp=$(db_fingerprint)
mm -d "$URL" --dir "$D" up --dry-run
expect_rc 0 "dry run on a fresh database"
expect_eq "$(db_fingerprint)" "$fp" "dry run changed the database"
expect_sql "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'goose%'" "0"
expect_sql "SELECT count(*) FROM pg_class WHERE relname LIKE 'dry%'" "0"
expect_out "CREATE TABLE dry_a (id int);"
expect_out "INSERT INTO dry_a VALUES (1);"
expect_out 'CREATE FUNCTION dry_f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;'
expect_out "CREATE INDEX CONCURRENTLY dry_a_id ON dry_a (id);"
expect_out "3 migrations would run; nothing was changed"
# in order: the units appear in the up order
order=$(printf '%s\n' "$OUT" | grep -n -e 'CREATE TABLE dry_a' -e 'INSERT INTO dry_a' -e 'CREATE FUNCTION dry_f' -e 'CREATE INDEX CONCURRENTLY' | cut -d: -f1 | tr '\n' ' ')
sorted=$(printf '%s\n' $order | sort -n | tr '\n' ' ')
expect_eq "$order" "$sorted" "units printed in order"
expect_eq "$(printf '%s\n' $order | wc -l)" "4" "four units printed"
# each migration gets a header line naming its file
expect_out "00001_first.sql"
expect_out "00003_concurrent.sql"

# ---------------------------------------------------------------- part-applied database, --to
mm -d "$URL" --dir "$D" up --to 1
expect_rc 0
fp=$(db_fingerprint)
mm -d "$URL" --dir "$D" up --dry-run --to 2
expect_rc 0
expect_out "dry_f"
expect_no_out "CREATE TABLE dry_a"
expect_no_out "CONCURRENTLY"
expect_out "1 migration would run; nothing was changed"
expect_eq "$(db_fingerprint)" "$fp" "dry run --to changed the database"
# the JSON mode prints nothing but stays valid
mm -d "$URL" --dir "$D" --json up --dry-run
expect_rc 0
printf '%s' "$OUT" | python3 -c 'import json,sys; json.load(sys.stdin)' && pass || fail "dry run --json is not JSON"
expect_eq "$(db_fingerprint)" "$fp" "dry run --json changed the database"
# nothing pending: nothing to print
mm -d "$URL" --dir "$D" up
expect_rc 0
mm -d "$URL" --dir "$D" up --dry-run
expect_rc 0
expect_out "nothing to do"

# ================================================================ down, redo, reset, stamp
# db_fingerprint and more, in one psql: the schema, and every row of modmig's
# own tables (the version table, history, registry, lease), when they exist;
# $1 the version table (default goose_db_version)
state_fp() {
  psql -qAtX -v ON_ERROR_STOP=1 -d "$DB" -f "$ROOT/tests/integration/schema_dump.sql" \
    -c "SELECT c.relname, query_to_xml(format('SELECT * FROM %s ORDER BY 1', c.oid::regclass), false, true, '')
        FROM pg_class c WHERE c.relname LIKE '${1:-goose_db_version}%' AND c.relkind = 'r' ORDER BY 1" |
    md5sum | cut -d' ' -f1
}
# a --json document's migrations as "VERSION:DIRECTION ..."
json_plan() {
  python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(str(m["version"]) for m in d["stamped"]) if "stamped" in d else " ".join("%d:%s" % (m["version"], m["direction"]) for m in d["migrations"]))' <<<"$OUT"
}
# the line numbers of the first match of each pattern in stdout, in pattern order
lines_of() { local p; for p in "$@"; do printf '%s\n' "$OUT" | grep -n -F -m1 -e "$p" | cut -d: -f1; done | tr '\n' ' '; }
ascending() { [ "$1" = "$(printf '%s\n' $1 | sort -n | tr '\n' ' ')" ]; }

# ---------------------------------------------------------------- down
expect_eq "$(applied_versions | tr '\n' ' ')" "1 2 3 " "all applied before down"
hist=$(sql "SELECT count(*) FROM goose_db_version_history")
fp=$(state_fp)
mm -d "$URL" --dir "$D" down --dry-run
expect_rc 0 "down --dry-run"
expect_out "would roll back 00003"
expect_out "$D/00003_concurrent.sql"
expect_out "-- line 5"
expect_out "DROP INDEX CONCURRENTLY dry_a_id;"
expect_no_out "dry_f"
expect_out "dry run: 1 migration would be rolled back; nothing was changed"
expect_eq "$(state_fp)" "$fp" "down --dry-run changed the database"
expect_sql "SELECT count(*) FROM goose_db_version_history" "$hist"
mm -d "$URL" --dir "$D" --json down --dry-run
expect_rc 0
printf '%s' "$OUT" | python3 -c 'import json,sys; json.load(sys.stdin)' && pass || fail "down --dry-run --json is not JSON"
printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); m=d["migrations"][0]; assert d["dry_run"] and d["version"] == 3 and m["no_transaction"] and m["units"] == [{"line": 5, "sql": "DROP INDEX CONCURRENTLY dry_a_id;"}], d' && pass || fail "down --dry-run --json: the unit with its line"
dry=$(json_plan)
expect_eq "$dry" "3:down" "down --dry-run --json lists migration 3"
expect_eq "$(state_fp)" "$fp" "down --dry-run --json changed the database"
mm -d "$URL" --dir "$D" --json down
expect_rc 0 "the real down"
expect_eq "$(json_plan)" "$dry" "down rolled back what its dry run listed"
expect_eq "$(applied_versions | tr '\n' ' ')" "1 2 " "down rolled back 3"
# --to 0: everything, most recent first
fp=$(state_fp)
mm -d "$URL" --dir "$D" down --to 0 --dry-run
expect_rc 0 "down --to 0 --dry-run"
order=$(lines_of "would roll back 00002" "DROP FUNCTION dry_f();" "would roll back 00001" "DROP TABLE dry_a;")
expect_eq "$(wc -w <<<"$order")" "4" "down --to 0 --dry-run lists both"
ascending "$order" && pass || fail "down --to 0 --dry-run: 2 before 1 (lines $order)"
expect_out "dry run: 2 migrations would be rolled back; nothing was changed"
expect_eq "$(state_fp)" "$fp" "down --to 0 --dry-run changed the database"

# ---------------------------------------------------------------- redo
hist=$(sql "SELECT count(*) FROM goose_db_version_history")
mm -d "$URL" --dir "$D" redo --dry-run
expect_rc 0 "redo --dry-run"
order=$(lines_of "would roll back 00002" "DROP FUNCTION dry_f();" "would apply 00002" "CREATE FUNCTION dry_f()")
expect_eq "$(wc -w <<<"$order")" "4" "redo --dry-run lists both steps"
ascending "$order" && pass || fail "redo --dry-run: the rollback before the apply (lines $order)"
expect_no_out "dry_a"
expect_out "dry run: 1 migration would be rolled back and applied again; nothing was changed"
expect_eq "$(state_fp)" "$fp" "redo --dry-run changed the database"
mm -d "$URL" --dir "$D" --json redo --dry-run
expect_rc 0
dry=$(json_plan)
expect_eq "$dry" "2:down 2:up" "redo --dry-run --json: both steps"
printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); u=[m["units"][0]["sql"] for m in d["migrations"]]; assert u[0].startswith("DROP FUNCTION") and u[1].startswith("CREATE FUNCTION"), u' && pass || fail "redo --dry-run --json: each step its own units"
expect_eq "$(state_fp)" "$fp" "redo --dry-run --json changed the database"
mm -d "$URL" --dir "$D" --json redo
expect_rc 0 "the real redo"
expect_eq "$(json_plan)" "$dry" "redo did what its dry run listed"
expect_sql "SELECT count(*) - $hist FROM goose_db_version_history" "2"

# ---------------------------------------------------------------- reset
fp=$(state_fp)
mm -d "$URL" --dir "$D" reset --dry-run
expect_rc 0 "reset --dry-run"
order=$(lines_of "would roll back 00002" "DROP FUNCTION dry_f();" "would roll back 00001" "DROP TABLE dry_a;")
expect_eq "$(wc -w <<<"$order")" "4" "reset --dry-run lists both"
ascending "$order" && pass || fail "reset --dry-run: 2 before 1 (lines $order)"
expect_out "dry run: 2 migrations would be rolled back; nothing was changed"
expect_eq "$(state_fp)" "$fp" "reset --dry-run changed the database"
mm -d "$URL" --dir "$D" --json reset --dry-run
expect_rc 0
dry=$(json_plan)
expect_eq "$dry" "2:down 1:down" "reset --dry-run --json"
mm -d "$URL" --dir "$D" --json reset
expect_rc 0 "the real reset"
expect_eq "$(json_plan)" "$dry" "reset rolled back what its dry run listed"
expect_eq "$(applied_versions)" "" "reset rolled back everything"
mm -d "$URL" --dir "$D" reset --dry-run
expect_rc 0
expect_out "nothing to roll back"

# ---------------------------------------------------------------- stamp, and the table lock
# a database whose schema exists, to adopt
new_db
sql 'CREATE TABLE dry_a (id int); CREATE FUNCTION dry_f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$' >/dev/null
fp=$(state_fp)
# with the table lock, a dry run takes no lease: not even the lock table is created
for cmd in "up --dry-run" "stamp 2 --dry-run" "down --dry-run" "reset --dry-run" "redo --dry-run"; do
  # shellcheck disable=SC2086
  mm -d "$URL" --dir "$D" --lock table $cmd
  expect_rc 0 "--lock table $cmd on a fresh database"
done
expect_sql "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'goose%'" "0"
mm -d "$URL" --dir "$D" stamp 2 --dry-run
expect_rc 0 "stamp --dry-run on a fresh database"
expect_out "would stamp 00001"
expect_out "would stamp 00002"
expect_no_out "00003"
expect_out "dry run: 2 migrations would be stamped as applied; nothing was changed"
expect_eq "$(state_fp)" "$fp" "stamp --dry-run changed the database"
expect_sql "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'goose%'" "0"
mm -d "$URL" --dir "$D" --json stamp 2 --dry-run
expect_rc 0
printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["dry_run"] and d["stamped"][0]["file"].endswith("00001_first.sql") and len(d["stamped"][0]["sha256"]) == 64, d' && pass || fail "stamp --dry-run --json: the stamped list"
dry=$(json_plan)
expect_eq "$dry" "1 2" "stamp --dry-run --json lists 1 and 2"
expect_eq "$(state_fp)" "$fp" "stamp --dry-run --json changed the database"
mm -d "$URL" --dir "$D" --json stamp 2
expect_rc 0 "the real stamp"
expect_eq "$(json_plan)" "$dry" "stamp recorded what its dry run listed"
expect_eq "$(applied_versions | tr '\n' ' ')" "1 2 " "stamped 1 and 2"
fp=$(state_fp)
mm -d "$URL" --dir "$D" stamp 2 --dry-run
expect_rc 0
expect_out "nothing to stamp"
mm -d "$URL" --dir "$D" stamp 9 --dry-run
rc_dry=$RC; err_dry=$(head -n 1 <<<"$ERR")
mm -d "$URL" --dir "$D" stamp 9
expect_eq "$rc_dry $err_dry" "$RC $(head -n 1 <<<"$ERR")" "stamp --dry-run of an unknown version: the real stamp's error"
expect_eq "$RC" "2" "an unknown version is bad input"
mm -d "$URL" --dir "$D" stamp --dry-run
expect_rc 2 "stamp --dry-run without VERSION"
expect_eq "$(state_fp)" "$fp" "stamp --dry-run changed the database"

# 1 and 2 are stamped: the table lock's dry runs leave the lock table empty
for cmd in "down --dry-run" "redo --dry-run" "reset --dry-run" "stamp 3 --dry-run"; do
  # shellcheck disable=SC2086
  mm -d "$URL" --dir "$D" --lock table $cmd
  expect_rc 0 "--lock table $cmd"
  expect_out "dry run: "
done
expect_eq "$(state_fp)" "$fp" "a dry run with the table lock took a lease"

# ---------------------------------------------------------------- production: no --yes needed, reset still refused
for cmd in "down" "redo" "stamp 3"; do
  # shellcheck disable=SC2086
  MODMIG_ENV=production mm -d "$URL" --dir "$D" $cmd --dry-run
  expect_rc 0 "(production) $cmd --dry-run needs no --yes"
  expect_out "dry run: "
  # shellcheck disable=SC2086
  MODMIG_ENV=production mm -d "$URL" --dir "$D" $cmd
  expect_rc 2 "(production) $cmd needs --yes"
done
MODMIG_ENV=production mm -d "$URL" --dir "$D" reset --dry-run
expect_rc 2 "(production) reset --dry-run is refused like reset"
expect_err "refusing to reset in production"
expect_eq "$(state_fp)" "$fp" "production dry runs changed the database"

# ---------------------------------------------------------------- refusals: a NO TRANSACTION migration part-way
cp -r "$D" "$TMP/partway"
goose_file "$TMP/partway" 00004_partway.sql <<'EOF2'
-- +goose NO TRANSACTION
-- +goose Up
CREATE TABLE dry_p (id int);
SELECT * FROM dry_no_such_table;
-- +goose Down
DROP TABLE dry_p;
EOF2
mm -d "$URL" --dir "$TMP/partway" up
expect_rc 1 "migration 4 fails part-way"
expect_eq "$(applied_versions | tr '\n' ' ')" "1 2 3 " "3 applied, 4 part-way"
fp=$(state_fp)
for cmd in down redo reset; do
  mm -d "$URL" --dir "$TMP/partway" $cmd --dry-run
  rc_dry=$RC; err_dry=$(head -n 1 <<<"$ERR"); out_dry=$OUT
  expect_rc 2 "$cmd --dry-run is refused while 4 stands part-way"
  expect_err "stands part-way"
  expect_eq "$out_dry" "" "$cmd --dry-run: a refusal lists nothing"
  expect_eq "$(state_fp)" "$fp" "$cmd --dry-run refused changed the database"
  mm -d "$URL" --dir "$TMP/partway" $cmd
  expect_eq "$rc_dry $err_dry" "$RC $(head -n 1 <<<"$ERR")" "$cmd --dry-run predicts the real $cmd's refusal"
done
mm -d "$URL" --dir "$TMP/partway" --json down --dry-run
expect_rc 2
printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["error"]["code"] == "refused" and d["error"]["exit"] == 2, d' && pass || fail "down --dry-run --json: the refusal as an error document"
expect_eq "$(state_fp)" "$fp" "refused dry runs changed the database"

# stamp would record 4 as applied, though its unit 2 never took effect: refused as down is
mm -d "$URL" --dir "$TMP/partway" stamp 4 --dry-run
rc_dry=$RC; err_dry=$(head -n 1 <<<"$ERR")
expect_rc 2 "stamp --dry-run is refused while 4 stands part-way"
expect_err "cannot stamp while NO TRANSACTION migration 4 stands part-way"
mm -d "$URL" --dir "$TMP/partway" stamp 4
expect_eq "$rc_dry $err_dry" "$RC $(head -n 1 <<<"$ERR")" "stamp --dry-run predicts the real stamp's refusal"
expect_eq "$(state_fp)" "$fp" "a refused stamp changed the database"
# up --resume --dry-run lists what --resume sends: unit 2 on, not unit 1 that took effect
mm -d "$URL" --dir "$TMP/partway" up --resume --dry-run
expect_rc 0 "up --resume --dry-run"
expect_out "SELECT * FROM dry_no_such_table;"
expect_no_out "CREATE TABLE dry_p"
mm -d "$URL" --dir "$TMP/partway" --json up --resume --dry-run
printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); m=d["migrations"][0]; assert [u["line"] for u in m["units"]] == [4], d' && pass || fail "up --resume --dry-run --json: unit 2 (line 4) only"
mm -d "$URL" --dir "$TMP/partway" up --restart --dry-run
expect_rc 0 "up --restart --dry-run"
expect_out "CREATE TABLE dry_p"
expect_eq "$(state_fp)" "$fp" "resume and restart dry runs changed the database"
mm -d "$URL" --dir "$TMP/partway" -v up --resume
expect_rc 1 "up --resume runs unit 2 again, which fails again"
expect_sql "SELECT failed_unit FROM goose_db_version_history WHERE event = 'resumed'" "2"

# ---------------------------------------------------------------- refusals: a module with dependents; --mark-only
mkdir -p "$TMP/mods/base/migrations" "$TMP/mods/app/migrations"
cat >"$TMP/mods/modules.yaml" <<'EOF2'
version_table: goose_db_version
modules:
  - name: base
  - name: app
    depends_on: [base]
EOF2
goose_file "$TMP/mods/base/migrations" 01001_base.sql <<'EOF2'
-- +goose Up
CREATE TABLE dry_base (id int);
-- +goose Down
DROP TABLE dry_base;
EOF2
goose_file "$TMP/mods/app/migrations" 02001_app.sql <<'EOF2'
-- +goose Up
CREATE TABLE dry_app (id int);
-- +goose Down
DROP TABLE dry_app;
EOF2
MF=(-m "$TMP/mods/modules.yaml")
new_db
mm -d "$URL" "${MF[@]}" up
expect_rc 0
fp=$(state_fp)
mm -d "$URL" "${MF[@]}" down --module base --dry-run
rc_dry=$RC; err_dry=$(head -n 1 <<<"$ERR")
expect_rc 2 "down --module base --dry-run: app depends on it"
expect_err "module app depends on it"
expect_eq "$(state_fp)" "$fp" "a refused down --dry-run changed the database"
mm -d "$URL" "${MF[@]}" down --module base
expect_eq "$rc_dry $err_dry" "$RC $(head -n 1 <<<"$ERR")" "down --module --dry-run predicts the real refusal"
mm -d "$URL" "${MF[@]}" down --module app --mark-only --dry-run
expect_rc 0 "down --mark-only --dry-run"
expect_out "would mark 02001"
expect_no_out "DROP TABLE"
mm -d "$URL" "${MF[@]}" --json down --module app --mark-only --dry-run
expect_rc 0
printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); m=d["migrations"][0]; assert d["dry_run"] and m["version"] == 2001 and m["mark_only"] and m["units"] == [], d' && pass || fail "down --mark-only --dry-run --json: no units"
expect_eq "$(state_fp)" "$fp" "down --mark-only --dry-run changed the database"
# a migration without a Down section (its own version table, same database)
goose_file "$TMP/nodown" 00001_nodown.sql <<'EOF2'
-- +goose Up
CREATE TABLE dry_nodown (id int);
EOF2
mm -d "$URL" --dir "$TMP/nodown" --table nodown_version up
expect_rc 0
fp=$(state_fp nodown_version)
mm -d "$URL" --dir "$TMP/nodown" --table nodown_version down --dry-run
rc_dry=$RC; err_dry=$(head -n 1 <<<"$ERR")
expect_rc 2 "down --dry-run of a migration without a Down section"
expect_err "Down section"
mm -d "$URL" --dir "$TMP/nodown" --table nodown_version down
expect_eq "$rc_dry $err_dry" "$RC $(head -n 1 <<<"$ERR")" "down --dry-run predicts the real refusal of a missing Down section"
expect_eq "$(state_fp nodown_version)" "$fp" "a refused down changed the database"

finish
