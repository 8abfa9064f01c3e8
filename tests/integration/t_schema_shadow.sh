#!/usr/bin/env bash
# Shadow databases: the temporary modmig_shadow_<random> database is dropped
# after success, after an error and after SIGTERM/SIGINT; without CREATEDB,
# drift exits 1 with a hint to pass --dev-url; --dev-url empties the given
# database first and refuses the target database itself.
source "$(dirname "$0")/lib.sh"

# Tests share one cluster: this test's drift runs as its own role, and counts
# only the shadow databases that role owns (and drift_plain's).
ME=t_shadow_$RANDOM$RANDOM
psql -qX -d postgres -c "CREATE ROLE $ME LOGIN SUPERUSER" >/dev/null
shadows() { psql -qAtX -d postgres -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'modmig\_shadow\_%' AND pg_get_userbyid(datdba) IN ('$ME', 'drift_plain')"; }

new_db_as_me() { new_db; URL="postgresql://$ME@/$DB?host=$PGHOST&port=$PGPORT"; }

MIGS=$TMP/migs
mkdir -p "$MIGS"
printf -- '-- +goose Up\nCREATE TABLE items (id int PRIMARY KEY, name text);\n-- +goose Down\nDROP TABLE items;\n' \
  >"$MIGS/00001_items.sql"
printf -- '-- +goose Up\nCREATE INDEX items_name ON items (name);\n-- +goose Down\nDROP INDEX items_name;\n' \
  >"$MIGS/00002_items_name.sql"

# ------------------------------------------------------------ success, and error
new_db_as_me
mm -d "$URL" --dir "$MIGS" up
expect_rc 0 "up"
mm -d "$URL" --dir "$MIGS" drift
expect_rc 0 "drift"
expect_eq "$(shadows)" "0" "shadow dropped after success"

# an applied file that no longer runs: the rebuild fails, exit 1, shadow dropped
cp "$MIGS/00002_items_name.sql" "$TMP/keep.sql"
printf -- '-- +goose Up\nSELECT 1/0;\n' >"$MIGS/00002_items_name.sql"
mm -d "$URL" --dir "$MIGS" drift
expect_rc 1 "drift when the rebuild fails"
expect_err "division by zero"
expect_eq "$(shadows)" "0" "shadow dropped after an error"
cp "$TMP/keep.sql" "$MIGS/00002_items_name.sql"

# an applied version without a file cannot be rebuilt
mv "$MIGS/00002_items_name.sql" "$TMP/away.sql"
mm -d "$URL" --dir "$MIGS" drift
expect_rc 2 "drift with an applied version that has no file"
expect_err "applied version 2 has no migration file"
expect_eq "$(shadows)" "0" "shadow dropped after a missing file"
mv "$TMP/away.sql" "$MIGS/00002_items_name.sql"

# ------------------------------------------------------------ signals
SLOW=$TMP/slow
mkdir -p "$SLOW"
printf -- '-- +goose Up\nCREATE TABLE slow (id int);\nSELECT pg_sleep(4);\n' >"$SLOW/00001_slow.sql"
new_db_as_me
mm -d "$URL" --dir "$SLOW" up
expect_rc 0 "up (slow)"
for sig in TERM INT; do
  "$MODMIG" -d "$URL" --dir "$SLOW" drift >"$TMP/sig.out" 2>"$TMP/sig.err" &
  pid=$!
  for _ in $(seq 100); do  # wait until the shadow replays the slow migration
    [ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(4)%' AND datname LIKE 'modmig\_shadow\_%' AND usename = '$ME'")" = 1 ] && break
    sleep 0.1
  done
  expect_eq "$(shadows)" "1" "a shadow database exists while drift replays (SIG$sig)"
  kill -"$sig" "$pid"
  wait "$pid"; RC=$?
  want=$([ "$sig" = TERM ] && echo 143 || echo 130)
  expect_eq "$RC" "$want" "drift exit code after SIG$sig"
  expect_eq "$(shadows)" "0" "shadow dropped after SIG$sig"
  ERR=$(cat "$TMP/sig.err")
  expect_err "interrupted by SIG$sig; the shadow database was dropped"
done

# ------------------------------------------------------------ no CREATEDB
new_db_as_me
mm -d "$URL" --dir "$MIGS" up
expect_rc 0 "up"
psql -qX -d postgres -c "DROP ROLE IF EXISTS drift_plain" -c "CREATE ROLE drift_plain LOGIN NOCREATEDB" >/dev/null 2>&1
PLAIN="postgresql://drift_plain@/$DB?host=$PGHOST&port=$PGPORT"
mm -d "$PLAIN" --dir "$MIGS" drift
expect_rc 1 "drift without CREATEDB"
expect_err "cannot create a temporary shadow database"
expect_err "--dev-url"
expect_eq "$(shadows)" "0" "nothing created without CREATEDB"

# ------------------------------------------------------------ --dev-url
DEV=t_schema_shadow_dev_$RANDOM$RANDOM
psql -qX -d postgres -c "CREATE DATABASE $DEV" >/dev/null
psql -qX -d "$DEV" -v ON_ERROR_STOP=1 -c "CREATE SCHEMA junk; CREATE TABLE junk.t (x int);
  CREATE TABLE public.leftover (x int); CREATE TYPE public.mood AS ENUM ('ok');
  CREATE FUNCTION public.f(int) RETURNS int LANGUAGE sql AS 'SELECT 1'; CREATE EXTENSION pgcrypto" >/dev/null
DEVURL="postgresql://$ME@/$DEV?host=$PGHOST&port=$PGPORT"
mm -d "$URL" --dir "$MIGS" drift --dev-url "$DEVURL"
expect_rc 0 "drift --dev-url on a database with junk in it"
expect_out "ok: no drift"
expect_eq "$(psql -qAtX -d "$DEV" -c "SELECT count(*) FROM pg_namespace WHERE nspname = 'junk'")" "0" "--dev-url: other schemas dropped"
expect_eq "$(psql -qAtX -d "$DEV" -c "SELECT to_regclass('public.leftover') IS NULL AND to_regtype('public.mood') IS NULL AND to_regprocedure('public.f(int)') IS NULL")" "t" "--dev-url: public emptied"
expect_eq "$(psql -qAtX -d "$DEV" -c "SELECT count(*) FROM pg_extension WHERE extname = 'pgcrypto'")" "0" "--dev-url: extensions dropped"
expect_eq "$(psql -qAtX -d "$DEV" -c "SELECT to_regclass('public.items') IS NOT NULL")" "t" "--dev-url holds the rebuilt schema"
expect_eq "$(psql -qAtX -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = '$DEV'")" "1" "--dev-url database is kept"
mm -d "$URL" --dir "$MIGS" drift --dev-url "$URL"
expect_rc 2 "--dev-url naming the target itself"
expect_err "--dev-url names the database itself"
expect_sql "SELECT to_regclass('public.items') IS NOT NULL" "t"
expect_eq "$(shadows)" "0" "no shadow database is left behind"


finish
