#!/usr/bin/env bash
# Robustness 5 (issue 5): valgrind memcheck on the CLI's up / status / down /
# validate paths (embedded modules and a --dir goose directory) against a fresh
# database, and on the dry runs, repair --dry-run, create, fix and validate
# --json with problems: no memory errors and no definite or indirect leaks.
#
# Under the ASan+UBSan build (valgrind cannot run it) the same commands run
# directly, and the sanitizers, with LeakSanitizer on, are the check: every
# command must give the expected exit code and result, and no sanitizer report.
# Without valgrind (and not sanitized) the test is skipped (exit 77), which
# does not count as a pass.
source "$(dirname "$0")/lib.sh"

if [ -n "${MODMIG_SANITIZED:-}" ] || grep -q 'libasan' <<<"$(ldd "$MODMIG" 2>/dev/null)"; then
  MODE=asan
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
  WRAP=()
elif command -v valgrind >/dev/null; then
  MODE=valgrind
  WRAP=(valgrind -q --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite,indirect
        --show-leak-kinds=definite,indirect --error-exitcode=99 --num-callers=30)
else
  echo "$TEST_NAME: valgrind is not installed (apt-get install valgrind); skipped" >&2
  exit 77
fi
echo "$TEST_NAME: checking memory with $MODE"

# vg EXPECTED_RC ARGS...: run modmig under the checker.
vg() {
  local want=$1; shift
  LAST_CMD="${WRAP[*]} modmig $*"
  "${WRAP[@]}" "$MODMIG" "$@" >"$TMP/.out" 2>"$TMP/.err"
  RC=$?
  OUT=$(cat "$TMP/.out"); ERR=$(cat "$TMP/.err")
  if [ "$RC" = 99 ]; then fail "memcheck found errors or leaks"; return; fi
  expect_rc "$want" "($MODE: modmig $*)"
  case "$ERR" in
    *"ERROR: AddressSanitizer"*|*"ERROR: LeakSanitizer"*|*"runtime error:"*|*"Invalid read"*|*"Invalid write"*|*"definitely lost"*)
      fail "memory checker report for modmig $*";;
    *) pass;;
  esac
}

NBUNDLED=$(ls "$ROOT"/modules/*/migrations/*.sql | wc -l)

# The embedded (bundled) modules.
new_db
vg 0 validate
vg 0 -d "$URL" up
expect_sql "SELECT count(*) FROM goose_db_version WHERE version_id > 0 AND is_applied" "$NBUNDLED"
vg 0 -d "$URL" status
expect_out "applied"
vg 0 -d "$URL" --json status
vg 0 -d "$URL" down
expect_sql "SELECT count(*) FROM goose_db_version WHERE version_id > 0 AND is_applied" "$((NBUNDLED - 1))"
vg 0 -d "$URL" up
expect_sql "SELECT count(*) FROM goose_db_version WHERE version_id > 0 AND is_applied" "$NBUNDLED"
# A failure path: a database that does not exist.
vg 1 -d "postgresql://$PGUSER@/no_such_db_$RANDOM?host=$PGHOST&port=$PGPORT" up

# A --dir goose directory read from disk, with a block and NO TRANSACTION.
d=$TMP/dir
mkdir -p "$d"
printf -- '-- +goose Up\nCREATE TABLE a (id int PRIMARY KEY, t text);\nINSERT INTO a VALUES (1, $$x;y$$);\n-- +goose Down\nDROP TABLE a;\n' >"$d/20240101000000_a.sql"
printf -- '-- +goose Up\n-- +goose StatementBegin\nCREATE FUNCTION fa() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END; $$;\n-- +goose StatementEnd\n-- +goose Down\nDROP FUNCTION fa();\n' >"$d/20240102000000_b.sql"
printf -- '-- +goose NO TRANSACTION\n-- +goose Up\nCREATE INDEX CONCURRENTLY a_t ON a (t);\n-- +goose Down\nDROP INDEX CONCURRENTLY a_t;\n' >"$d/20240103000000_c.sql"
printf -- '-- +goose Up\nSELECT 1/0;\n-- +goose Down\n' >"$TMP/bad.sql"
new_db
vg 0 --dir "$d" validate
vg 0 inspect "$d/20240102000000_b.sql"
vg 0 inspect "$d/20240101000000_a.sql" --json
vg 0 -d "$URL" --dir "$d" up
expect_sql "SELECT count(*) FROM goose_db_version WHERE version_id > 0 AND is_applied" "3"
vg 0 -d "$URL" --dir "$d" status
vg 0 -d "$URL" --dir "$d" down
vg 0 -d "$URL" --dir "$d" down
expect_sql "SELECT count(*) FROM goose_db_version WHERE version_id > 0 AND is_applied" "1"
# A failing migration (error path through the server's error report).
cp "$TMP/bad.sql" "$d/20240104000000_bad.sql"
vg 1 -d "$URL" --dir "$d" up
expect_sql "SELECT count(*) FROM goose_db_version WHERE version_id > 0 AND is_applied" "3"
# Dry runs and repair (what they would do; nothing changes).
rm "$d/20240104000000_bad.sql"
vg 0 -d "$URL" --dir "$d" down --dry-run
expect_out "DROP INDEX CONCURRENTLY a_t;"
vg 0 -d "$URL" --dir "$d" --json redo --dry-run
vg 0 -d "$URL" --dir "$d" repair --recreate-triggers --dry-run
expect_sql "SELECT count(*) FROM goose_db_version WHERE version_id > 0 AND is_applied" "3"
# goose's create and fix in a directory of their own.
c=$TMP/created
mkdir -p "$c"
cp "$d/20240101000000_a.sql" "$c/"
vg 0 --dir "$c" create add_things -s
vg 0 --dir "$c" --json fix --dry-run
expect_out '/00002_a.sql","from_version":20240101000000,"to_version":2'
# A malformed file (parse error path), in text and with every problem in JSON.
printf -- '-- +goose Up\n -- +goose StatementBegin\nSELECT 1;\n' >"$d/20240105000000_worse.sql"
vg 2 --dir "$d" validate
vg 2 --dir "$d" --json validate
expect_out '"problems":['
finish
