#!/usr/bin/env bash
# A clean session per migration (DESIGN §6, issue 9 finding 6): what one
# migration does to its session does not reach the next migration, nor
# modmig's own bookkeeping.
#   1. SET search_path = other, public in 00001 does not put 00002's table in other
#   2. SET search_path = other, and SET ROLE to a role that may not write the
#      state tables, inside a migration: the state rows are still written
#      (schema-qualified, as the login role)
#   3. RESET ALL in a NO TRANSACTION unit does not cancel --statement-timeout
#      for the next unit; RESET ALL in a migration not for the next migration
#   4. a temporary table does not outlive its migration
# Each checks the exit code, the message and the database state.
source "$(dirname "$0")/lib.sh"

D=$TMP/mig
mkdir -p "$D"
goose() { cat >"$D/$1"; }

# ---- 1 and 2 ----------------------------------------------------------------
goose 00001_path.sql <<'EOF'
-- +goose Up
SET search_path = other, public;
CREATE TABLE in_other (id int);
EOF
goose 00002_plain.sql <<'EOF'
-- +goose Up
CREATE TABLE in_public (id int);
EOF
goose 00003_only_other.sql <<'EOF'
-- +goose Up
SET search_path = other;
CREATE TABLE also_other (id int);
EOF
goose 00004_role.sql <<'EOF'
-- +goose Up
SET ROLE lowrole;
SELECT current_user;
EOF
goose 00005_role_notx.sql <<'EOF'
-- +goose NO TRANSACTION
-- +goose Up
SET ROLE lowrole;
SET search_path = other;
SELECT 1;
EOF
goose 00006_temp.sql <<'EOF'
-- +goose Up
CREATE TEMP TABLE in_public (id int);
SET search_path = pg_temp, public;
EOF
goose 00007_after.sql <<'EOF'
-- +goose Up
INSERT INTO in_public VALUES (7);
CREATE TABLE after_all (id int);
EOF
new_db
sql "CREATE SCHEMA other; DROP ROLE IF EXISTS lowrole; CREATE ROLE lowrole" >/dev/null 2>&1 ||
  sql "CREATE SCHEMA IF NOT EXISTS other" >/dev/null
mm -d "$URL" --dir "$D" up
expect_rc 0 "up with migrations that change their session"
expect_out "7 migrations applied"
expect_sql "SELECT to_regclass('other.in_other') IS NOT NULL, to_regclass('public.in_public') IS NOT NULL" "t|t"
expect_sql "SELECT count(*) FROM pg_tables WHERE schemaname = 'other' AND tablename = 'in_public'" "0"
expect_sql "SELECT to_regclass('other.also_other') IS NOT NULL, to_regclass('public.after_all') IS NOT NULL" "t|t"
# 00007 wrote into the real table, not into 00006's temporary one
expect_sql "SELECT string_agg(id::text, ',') FROM public.in_public" "7"
expect_sql "SELECT string_agg(version_id::text, ' ' ORDER BY id) FROM public.goose_db_version" "0 1 2 3 4 5 6 7"
expect_sql "SELECT count(*) FROM public.goose_db_version_history WHERE event = 'applied' AND db_user = 'postgres'" "7"
expect_sql "SELECT count(*) FROM pg_class WHERE relname LIKE 'goose_db_version%' AND relnamespace = 'other'::regnamespace" "0"
mm -d "$URL" --dir "$D" verify
expect_rc 0
mm -d "$URL" --dir "$D" status
expect_rc 0
expect_eq "$(grep -c ' applied ' <<<"$OUT")" "7" "status: 7 migrations applied"

# ---- 3. timeouts come back -------------------------------------------------
rm -f "$D"/*.sql
goose 00001_reset_notx.sql <<'EOF'
-- +goose NO TRANSACTION
-- +goose Up
RESET ALL;
SELECT pg_sleep(2);
EOF
new_db
mm -d "$URL" --dir "$D" up --statement-timeout 500ms
expect_rc 1 "a NO TRANSACTION unit after RESET ALL still has the statement timeout"
expect_err "statement timeout"
expect_sql "SELECT count(*) FROM goose_db_version WHERE version_id = 1" "0"
expect_sql "SELECT failed_unit FROM goose_db_version_history WHERE event = 'failed'" "2"

rm -f "$D"/*.sql
goose 00001_reset.sql <<'EOF'
-- +goose Up
RESET ALL;
SET statement_timeout = 0;
EOF
goose 00002_slow.sql <<'EOF'
-- +goose Up
SELECT pg_sleep(2);
CREATE TABLE slow_done (id int);
EOF
new_db
mm -d "$URL" --dir "$D" up --statement-timeout 500ms
expect_rc 1 "RESET ALL in 00001 does not cancel the statement timeout of 00002"
expect_err "statement timeout"
expect_sql "SELECT string_agg(version_id::text, ' ' ORDER BY id) FROM goose_db_version" "0 1"
expect_sql "SELECT to_regclass('public.slow_done') IS NULL" "t"

finish
