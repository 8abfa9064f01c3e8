#!/usr/bin/env bash
# The smoke run (issue 13, DESIGN §10): what CI runs on the server versions
# that do not get the whole suite (13, 16, 17). One test per version:
#   1. `make demo`'s story (tests/demo.sh) from start to end;
#   2. the bundled modules applied to an empty database, then `verify` and
#      `drift` are clean, and a hand-made index is drift;
#   3. the goose fixture application (tests/fixtures/goose_app) up, reset and
#      up again: the schema is the same both times, and reset leaves what an
#      empty database with modmig's own tables has.
#
#   tests/pgtmp.sh --version 16 -- tests/smoke.sh [BUILD_DIR]
#
# meson runs it as the test "smoke" (suite smoke) with the build's binaries;
# run alone, it starts its own cluster (PGTMP_VERSION chooses the version).
build=${1:-${MODMIG_BUILD_ROOT:-build}}
root=$(cd "$(dirname "$0")/.." && pwd)
case $build in /*) ;; *) build=$root/$build ;; esac
export MODMIG=${MODMIG:-$build/modmig}
source "$root/tests/integration/lib.sh"

echo "smoke on PostgreSQL $(psql -qAtX -d postgres -c 'SHOW server_version')"

# 1. the demo's story, quietly unless it fails
if (cd "$ROOT" && bash tests/demo.sh "$build") >"$TMP/demo.log" 2>&1; then pass; else
  fail "tests/demo.sh failed; its last lines:"; tail -n 30 "$TMP/demo.log" >&2
fi

# 2. the bundled modules, then verify
new_db
mm -d "$URL" up
expect_rc 0 "up of the bundled modules"
expect_out "migrations applied"
mm -d "$URL" verify
expect_rc 0 "verify after up"
mm -d "$URL" up
expect_rc 0 "up with nothing pending"
# the live schema equals what the applied migrations build on a shadow database
mm -d "$URL" drift
expect_rc 0 "drift after up"
sql "CREATE INDEX smoke_by_hand ON identity.persons (created_at)"
mm -d "$URL" drift
expect_rc 3 "drift after a change by hand"
expect_out "smoke_by_hand"

# 3. goose_app: up, reset, up
G=$ROOT/tests/fixtures/goose_app
ALL=$(file_versions "$G")
new_db
mkdir -p "$TMP/one"; cp "$G/$(ls "$G" | grep '\.sql$' | sort | head -n 1)" "$TMP/one/"
mm -d "$URL" --dir "$TMP/one" up
expect_rc 0 "baseline: the first migration"
mm -d "$URL" --dir "$TMP/one" down
expect_rc 0 "baseline: rolled back"
EMPTY=$(schema_dump)
new_db
mm -d "$URL" --dir "$G" up
expect_rc 0 "goose_app up"
expect_eq "$(applied_versions)" "$ALL" "goose_app: every migration applied"
A1=$(schema_dump)
mm -d "$URL" --dir "$G" verify
expect_rc 0 "goose_app verify"
mm -d "$URL" --dir "$G" reset
expect_rc 0 "goose_app reset"
expect_eq "$(applied_versions)" "" "nothing applied after reset"
R=$(schema_dump)
expect_eq "$(md5sum <<<"$R")" "$(md5sum <<<"$EMPTY")" "reset leaves the empty baseline"
[ "$R" = "$EMPTY" ] || diff <(echo "$EMPTY") <(echo "$R") | head -n 20 >&2
mm -d "$URL" --dir "$G" up
expect_rc 0 "goose_app up again"
A2=$(schema_dump)
expect_eq "$(md5sum <<<"$A2")" "$(md5sum <<<"$A1")" "the same schema before and after reset"
[ "$A1" = "$A2" ] || diff <(echo "$A1") <(echo "$A2") | head -n 20 >&2

finish
