#!/usr/bin/env bash
# Transaction control in a transactional migration (DESIGN §3 rules 3 and 6;
# issue 9 findings 5 and 13), against a real server:
# - COMMIT then a failure, ROLLBACK then more DDL: refused by validate and up
#   (exit 2, file:line:column), the database unchanged; today the first left
#   a table committed with no record, the second was recorded as applied with
#   its table missing;
# - a BEGIN; ... COMMIT; wrapped file applies atomically, with a warning per
#   dropped statement: a failure inside it leaves nothing, and the error still
#   names the failing statement's own line and column; also inside
#   StatementBegin blocks and in Down sections;
# - NO TRANSACTION files run their BEGIN and COMMIT as written;
# - an empty StatementBegin block is accepted where goose accepts it, and
#   refused where goose would silently drop the next line.
source "$(dirname "$0")/lib.sh"

fresh_db() {
  new_db
  before=$(schema_fingerprint)
}
untouched() { # what
  expect_sql "SELECT to_regclass('goose_db_version') IS NULL" "t"
  expect_eq "$(schema_fingerprint)" "$before" "database changed by $1"
}
goose_dir() { # NAME: a fresh goose directory $TMP/NAME with 00001_base.sql
  D=$TMP/$1
  rm -rf "$D"; mkdir -p "$D"
  printf -- '-- +goose Up\nCREATE TABLE base (id int);\n-- +goose Down\nDROP TABLE base;\n' >"$D/00001_base.sql"
}
hint="split the migration at this statement, or mark the file '-- +goose NO TRANSACTION'"

# ---------------------------------------------------------------- refused
goose_dir commit_mid
cat >"$D/00002_commit.sql" <<'EOF'
-- +goose Up
CREATE TABLE committed_early (id int);
COMMIT;
CREATE TABLE after_commit (id int);
SELECT 1/0;
EOF
mm --dir "$D" validate
expect_rc 2 "validate: COMMIT then a failure"
expect_err "$D/00002_commit.sql:3:1: error: COMMIT in the middle of a transactional migration would commit the statements before it on their own"
expect_err "$hint"
fresh_db
mm -d "$URL" --dir "$D" up
expect_rc 2 "up: COMMIT then a failure"
expect_err "$D/00002_commit.sql:3:1: error: COMMIT in the middle"
untouched "COMMIT then a failure"
expect_sql "SELECT to_regclass('committed_early') IS NULL AND to_regclass('base') IS NULL" "t"

goose_dir rollback_mid
cat >"$D/00002_rollback.sql" <<'EOF'
-- +goose Up
CREATE TABLE rolled_back (id int);
    rollback;
CREATE TABLE after_rollback (id int);
-- +goose Down
DROP TABLE after_rollback;
EOF
mm --dir "$D" validate
expect_rc 2 "validate: ROLLBACK then more DDL"
expect_err "$D/00002_rollback.sql:3:5: error: ROLLBACK in a transactional migration would undo the statements before it while the migration is recorded as applied"
fresh_db
mm -d "$URL" --dir "$D" up
expect_rc 2 "up: ROLLBACK then more DDL"
expect_err "$D/00002_rollback.sql:3:5: error: ROLLBACK"
untouched "ROLLBACK then more DDL"

# the same inside a StatementBegin block, and PREPARE TRANSACTION
goose_dir block_mid
cat >"$D/00002_block.sql" <<'EOF'
-- +goose Up
-- +goose StatementBegin
CREATE TABLE in_block (id int);
COMMIT;
CREATE TABLE in_block_after (id int);
-- +goose StatementEnd
EOF
printf -- '-- +goose Up\nSELECT 1;\nPREPARE TRANSACTION %s;\n' "'m1'" >"$D/00003_prepare.sql"
fresh_db
mm -d "$URL" --dir "$D" up
expect_rc 2 "up: COMMIT inside a block"
expect_err "$D/00002_block.sql:4:1: error: COMMIT in the middle"
untouched "COMMIT inside a block"
rm "$D/00002_block.sql"
mm -d "$URL" --dir "$D" up
expect_rc 2 "up: PREPARE TRANSACTION"
expect_err "$D/00003_prepare.sql:3:1: error: PREPARE TRANSACTION cannot run inside a transactional migration"
untouched "PREPARE TRANSACTION"

# ---------------------------------------------------------------- wrapped: atomic
goose_dir wrapped
cat >"$D/00002_wrapped.sql" <<'EOF'
-- +goose Up
BEGIN;
CREATE TABLE w1 (id int);
CREATE TABLE w2 (id int);
COMMIT;
-- +goose Down
BEGIN;
DROP TABLE w2, w1;
END;
EOF
mm --dir "$D" -v validate
expect_rc 0 "validate -v: a wrapped file"
expect_err "$D/00002_wrapped.sql:2:1: warning: BEGIN is redundant: modmig runs the migration in one transaction, so it is not sent"
expect_err "$D/00002_wrapped.sql:5:1: warning: COMMIT is redundant"
expect_err "$D/00002_wrapped.sql:9:1: warning: END is redundant"
mm --dir "$D" validate
expect_no_err "warning"
mm --json inspect "$D/00002_wrapped.sql"
expect_rc 0 "inspect --json: a wrapped file"
expect_out '"up":[{"line":3,"parsed":true,"sql":"CREATE TABLE w1 (id int);"},{"line":4,"parsed":true,"sql":"CREATE TABLE w2 (id int);"}],"down":[{"line":8,"parsed":true,"sql":"DROP TABLE w2, w1;"}]'
expect_out '"warnings":[{"line":2,"column":1,"section":"up","message":"BEGIN is redundant'
fresh_db
mm -d "$URL" --dir "$D" up
expect_rc 0 "up: a wrapped file"
expect_err "warning: $D/00002_wrapped.sql:2:1: BEGIN is redundant"
expect_err "warning: $D/00002_wrapped.sql:5:1: COMMIT is redundant"
expect_no_err "END is redundant"
expect_sql "SELECT to_regclass('w1') IS NOT NULL AND to_regclass('w2') IS NOT NULL" "t"
expect_eq "$(applied_versions)" "$(printf '1\n2')" "the wrapped file is applied"
mm -d "$URL" --dir "$D" down
expect_rc 0 "down: a wrapped Down section"
expect_err "warning: $D/00002_wrapped.sql:7:1: BEGIN is redundant"
expect_sql "SELECT to_regclass('w1') IS NULL AND to_regclass('w2') IS NULL" "t"
expect_eq "$(applied_versions)" "1" "the wrapped file is rolled back"

# a failure inside the wrapper leaves nothing, and points at its own line
goose_dir wrapped_fail
cat >"$D/00002_wrapped_fail.sql" <<'EOF'
-- +goose Up
BEGIN;
CREATE TABLE wf1 (id int);
INSERT INTO wf_missing VALUES (1);
COMMIT;
EOF
fresh_db
mm -d "$URL" --dir "$D" up
expect_rc 1 "up: a failure inside a wrapped file"
expect_err "$D/00002_wrapped_fail.sql:4:13"
expect_sql "SELECT to_regclass('wf1') IS NULL" "t"
expect_eq "$(applied_versions)" "1" "only the base migration applied"

goose_dir block_fail
cat >"$D/00002_block_fail.sql" <<'EOF'
-- +goose Up
-- +goose StatementBegin
BEGIN;
CREATE TABLE bf1 (id int);
INSERT INTO bf_missing VALUES (1);
COMMIT;
-- +goose StatementEnd
EOF
fresh_db
mm -d "$URL" --dir "$D" up
expect_rc 1 "up: a failure inside a wrapped StatementBegin block"
expect_err "$D/00002_block_fail.sql:5:13"
expect_sql "SELECT to_regclass('bf1') IS NULL" "t"
expect_eq "$(applied_versions)" "1" "only the base migration applied"
# fixed, the same block applies, as one unit without its BEGIN and COMMIT
sed -i 's/^INSERT INTO bf_missing.*$/INSERT INTO bf1 VALUES (1);/' "$D/00002_block_fail.sql"
mm -d "$URL" --dir "$D" up
expect_rc 0 "up: a wrapped StatementBegin block"
expect_err "warning: $D/00002_block_fail.sql:3:1: BEGIN is redundant"
expect_sql "SELECT count(*) FROM bf1" "1"
expect_eq "$(applied_versions)" "$(printf '1\n2')" "the wrapped block is applied"

# ---------------------------------------------------------------- NO TRANSACTION: as written
goose_dir notx
cat >"$D/00002_notx.sql" <<'EOF'
-- +goose NO TRANSACTION
-- +goose Up
BEGIN;
CREATE TABLE nt1 (id int);
COMMIT;
CREATE INDEX CONCURRENTLY nt1_id ON nt1 (id);
EOF
fresh_db
mm -d "$URL" --dir "$D" up
expect_rc 0 "up: NO TRANSACTION with its own BEGIN and COMMIT"
expect_no_err "redundant"
expect_sql "SELECT to_regclass('nt1_id') IS NOT NULL" "t"

# ---------------------------------------------------------------- empty blocks
goose_dir empty_ok
cat >"$D/00002_empty.sql" <<'EOF'
-- +goose Up
CREATE TABLE e1 (id int);
-- +goose StatementBegin
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
-- nothing to undo here
-- +goose StatementEnd
EOF
fresh_db
mm -d "$URL" --dir "$D" up
expect_rc 0 "up: empty blocks where goose accepts them"
expect_sql "SELECT to_regclass('e1') IS NOT NULL" "t"
goose_dir empty_bad
cat >"$D/00002_empty.sql" <<'EOF'
-- +goose Up
-- +goose StatementBegin
-- +goose StatementEnd
CREATE TABLE dropped_by_goose (id int);
EOF
fresh_db
mm -d "$URL" --dir "$D" up
expect_rc 2 "up: SQL after an empty block"
expect_err "$D/00002_empty.sql:4:1: error: goose drops this line: it follows the empty -- +goose StatementBegin block at line 2"
untouched "SQL after an empty block"

finish
