#!/usr/bin/env bash
# Recoverable NO TRANSACTION failures: a failing CREATE UNIQUE INDEX
# CONCURRENTLY unit stops up at that migration and says which units took
# effect; a plain up then refuses (exit 1) naming --resume and --restart;
# up --resume continues at the failed unit, up --restart runs it again from
# unit 1; both are recorded in the history.
source "$(dirname "$0")/lib.sh"

goose_file() { mkdir -p "$1"; cat >"$1/$2"; }
# the outcome events; unit progress (unit_started, unit_done) is checked on its own
events() { sql "SELECT string_agg(event, ',' ORDER BY id) FROM $(history_table) WHERE version = $1 AND event NOT LIKE 'unit\_%'"; }
progress() { sql "SELECT string_agg(event || ':' || coalesce(failed_unit::text, '-'), ',' ORDER BY id) FROM $(history_table) WHERE version = $1"; }
history_count() { sql "SELECT count(*) FROM $(history_table)"; }
invalid_index() { sql "SELECT count(*) FROM pg_index WHERE indexrelid = to_regclass('$1') AND NOT indisvalid"; }

# ---------------------------------------------------------------- resume
D=$TMP/resume
goose_file "$D" 00001_base.sql <<'EOF2'
-- +goose Up
CREATE TABLE rs_base (id int);
-- +goose Down
DROP TABLE rs_base;
EOF2
goose_file "$D" 00002_unique_items.sql <<'EOF2'
-- +goose NO TRANSACTION
-- +goose Up
CREATE TABLE rs_items (id int);
INSERT INTO rs_items VALUES (1), (1), (2);
CREATE UNIQUE INDEX CONCURRENTLY rs_items_id ON rs_items (id);
-- +goose Down
DROP TABLE rs_items;
EOF2
goose_file "$D" 00003_after.sql <<'EOF2'
-- +goose Up
CREATE TABLE rs_after (id int);
-- +goose Down
DROP TABLE rs_after;
EOF2
new_db
mm -d "$URL" --dir "$D" up
expect_rc 1 "unit 3 fails"
expect_err "00002_unique_items.sql:5:"
expect_err "23505"
expect_err "units 1-2 of 3 took effect; unit 3 failed"
expect_err "modmig up --resume"
expect_err "modmig up --restart"
expect_eq "$(applied_versions)" "1" "only migration 1 is applied"
expect_eq "$(events 2)" "failed" "history: failed"
expect_eq "$(progress 2)" "unit_started:1,unit_done:1,unit_started:2,unit_done:2,unit_started:3,failed:3" \
  "history: each unit's progress, then the failure at unit 3"
expect_sql "SELECT error FROM $(history_table) WHERE version = 2 AND event = 'failed'" \
  'line 5:1: SQLSTATE 23505: migration 2 failed: could not create unique index "rs_items_id"'
expect_sql "SELECT failed_unit FROM $(history_table) WHERE version = 2 AND event = 'failed'" "3"
expect_sql "SELECT count(*) FROM rs_items" "3"
expect_eq "$(invalid_index rs_items_id)" "1" "the failed concurrent build left an invalid index"
expect_sql "SELECT to_regclass('rs_after') IS NULL" "t"
mm -d "$URL" --dir "$D" status
expect_out "failed"

# a plain up refuses and changes nothing
fp=$(db_fingerprint); h=$(history_count)
mm -d "$URL" --dir "$D" up
expect_rc 1 "plain up after a part-way failure"
expect_err "failed part-way"
expect_err "units 1-2 took effect, unit 3 of 3 failed"
expect_err "modmig up --resume"
expect_err "modmig up --restart"
expect_eq "$(db_fingerprint)/$(history_count)" "$fp/$h" "the refused up changed nothing"
# usage errors
mm -d "$URL" --dir "$D" up --resume --restart
expect_rc 2 "--resume with --restart"
expect_err "cannot be used together"
expect_eq "$(db_fingerprint)/$(history_count)" "$fp/$h" "usage error changed nothing"

# resuming without fixing the cause fails again at unit 3, without rerunning 1-2
mm -d "$URL" --dir "$D" up --resume
expect_rc 1 "resume before the fix"
expect_err "units 1-2 of 3 took effect; unit 3 failed"
expect_sql "SELECT count(*) FROM rs_items" "3"
expect_eq "$(events 2)" "failed,resumed,failed" "history: failed, resumed, failed"

# fix the data, drop the invalid index, resume: only unit 3 runs
sql "DELETE FROM rs_items a USING rs_items b WHERE a.id = b.id AND a.ctid > b.ctid" >/dev/null
sql "DROP INDEX rs_items_id" >/dev/null
mm -d "$URL" --dir "$D" up --resume
expect_rc 0 "up --resume after the fix"
expect_out "applied"
expect_eq "$(applied_versions | tr '\n' ' ')" "1 2 3 " "resume applied 2, then 3"
expect_eq "$(events 2)" "failed,resumed,failed,resumed,applied" "history after the resume"
expect_sql "SELECT count(*) FROM rs_items" "2"
expect_sql "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('rs_items_id')" "t"
# nothing is left to resume
mm -d "$URL" --dir "$D" up --resume
expect_rc 2 "--resume with nothing failed"
expect_err "nothing to resume"

# ---------------------------------------------------------------- restart
D=$TMP/restart
goose_file "$D" 00001_codes.sql <<'EOF2'
-- +goose NO TRANSACTION
-- +goose Up
CREATE TABLE IF NOT EXISTS rt_codes (code text);
INSERT INTO rt_codes VALUES ('a'), ('a');
CREATE UNIQUE INDEX CONCURRENTLY rt_codes_code ON rt_codes (code);
-- +goose Down
DROP TABLE rt_codes;
EOF2
new_db
mm -d "$URL" --dir "$D" up
expect_rc 1 "restart fixture fails at unit 3"
expect_err "units 1-2 of 3 took effect; unit 3 failed"
expect_eq "$(invalid_index rt_codes_code)" "1" "invalid index left behind"
# fix the file so it can run again from the top, and clean up what took effect
sed -i "s/^INSERT INTO rt_codes VALUES ('a'), ('a');/INSERT INTO rt_codes SELECT 'a' WHERE NOT EXISTS (SELECT 1 FROM rt_codes);/" "$D/00001_codes.sql"
sql "TRUNCATE rt_codes" >/dev/null
sql "DROP INDEX rt_codes_code" >/dev/null
mm -d "$URL" --dir "$D" up
expect_rc 1 "a plain up still refuses after the fix"
expect_err "--restart"
mm -d "$URL" --dir "$D" up --restart
expect_rc 0 "up --restart"
expect_eq "$(applied_versions)" "1" "restart applied it"
expect_eq "$(events 1)" "failed,restarted,applied" "history: failed, restarted, applied"
expect_sql "SELECT count(*) FROM rt_codes" "1"
expect_sql "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('rt_codes_code')" "t"
mm -d "$URL" --dir "$D" up --restart
expect_rc 2 "--restart with nothing failed"
expect_err "nothing to restart"

finish
