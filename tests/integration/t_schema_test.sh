#!/usr/bin/env bash
# modmig test: passes on the bundled modules (exit 0) and drops its shadow;
# on the fixtures in tests/fixtures/mtest built to fail it exits 3 and names
# exactly the migration at fault: a Down that leaves a function behind, a
# Down that fails, a migration without Down (a warning), two modules whose
# migrations depend on order, a module that alters another module's table.
# --json is parsed with python3's json, --junit with xml.etree; --from-ref
# upgrades from a revision of a temporary git repository.
source "$(dirname "$0")/lib.sh"

# Tests share one cluster: test runs as this test's own role, and only the
# shadow databases that role owns are counted.
ME=t_mtest_$RANDOM$RANDOM
psql -qX -d postgres -c "CREATE ROLE $ME LOGIN SUPERUSER" >/dev/null
shadows() { psql -qAtX -d postgres -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'modmig\_shadow\_%' AND pg_get_userbyid(datdba) = '$ME'"; }
new_db
URL="postgresql://$ME@/$DB?host=$PGHOST&port=$PGPORT"
cd "$ROOT" || exit 1
FX=tests/fixtures/mtest  # relative: messages name files as given
# one case line as printed: outcome, check, subject: message
line() { printf '%-7s  %-13s  %s' "$1" "$2" "$3"; }

# ------------------------------------------------------------ the bundled modules
mm -d "$URL" -m "$ROOT/modules/modules.yaml" test
expect_rc 0 "test on the bundled modules"
expect_out "$(line passed empty "empty database: 26 migrations apply; verify and drift are clean")"
expect_out "$(line passed round_trip "04001 billing_init: Down restores the schema before Up; Up again gives the same schema")"
expect_out "$(line passed allow_missing "04004 billing_open_invoices: module billing: applied last, after 9 newer migrations of modules that do not depend on it, it gives the schema of version order")"
expect_out "$(line passed ownership "05001 entitlements_init: changes objects only in schema entitlements")"
# audit's trigger on organization.memberships calls audit's own function: a warning
expect_out "$(line warning ownership "07002 audit_membership_changes: adds a trigger to another module's table; everything else is in schema audit")"
expect_out "adds trigger memberships_audit on table organization.memberships of module organization, calling its own function"
expect_out "test: 60 passed, 1 warning, 0 failed"
expect_no_out "FAILED"
expect_eq "$(shadows)" "0" "the shadow database is dropped after success"
expect_eq "$(sql "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")" "0" \
  "the target database is not touched"

# ------------------------------------------------------------ Downs built to fail
mm -d "$URL" -m "$FX/downs/modules.yaml" test
expect_rc 3 "test with broken Downs"
expect_out "$(line FAILED round_trip "01002 app_helper: Down does not restore the schema before Up: 1 difference")"
expect_out "function app.helper(): only in the schema after Down"
expect_out "$(line FAILED round_trip "01003 app_flag: Down fails: migration 1003 failed: column \"flagged\" of relation \"accounts\" does not exist")"
expect_out "tests/fixtures/mtest/downs/app/migrations/01003_app_flag.sql:6:1: error"
expect_out "$(line warning round_trip "01004 app_backfill: irreversible: it has no Down section")"
expect_out "$(line passed round_trip "01001 app_init: Down restores the schema before Up; Up again gives the same schema")"
expect_out "test: 7 passed, 1 warning, 2 failed"
expect_eq "$(printf '%s\n' "$OUT" | grep -c '^FAILED')" "2" "exactly two failures, both named"
expect_eq "$(shadows)" "0" "the shadow database is dropped after failures"

# the same as JSON and as JUnit XML
mm -d "$URL" -m "$FX/downs/modules.yaml" --json test --junit "$TMP/junit.xml"
expect_rc 3 "test --json --junit with broken Downs"
expect_eq "$(printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["ok"], d["passed"], d["warnings"], d["failed"])
for c in d["checks"]:
    if c["outcome"] != "passed":
        print(c["check"], c["outcome"], c["version"], c["module"], c["file"], c["details"][0] if c["details"] else "-")')" \
  "False 7 1 2
round_trip failed 1002 app tests/fixtures/mtest/downs/app/migrations/01002_app_helper.sql function app.helper(): only in the schema after Down
round_trip failed 1003 app tests/fixtures/mtest/downs/app/migrations/01003_app_flag.sql tests/fixtures/mtest/downs/app/migrations/01003_app_flag.sql:6:1: error: migration 1003 failed: column \"flagged\" of relation \"accounts\" does not exist
round_trip warning 1004 app tests/fixtures/mtest/downs/app/migrations/01004_app_backfill.sql -" "test --json"
expect_eq "$(python3 -c '
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
print(root.tag, root.get("tests"), root.get("failures"), root.get("skipped"))
for s in root.iter("testsuite"):
    print(s.get("name"), s.get("tests"), s.get("failures"), s.get("skipped"))
for c in root.iter("testcase"):
    f = c.find("failure")
    if f is not None:
        print(c.get("classname"), c.get("name"), f.get("message"), f.text.splitlines()[0])
    s = c.find("skipped")
    if s is not None:
        print(c.get("classname"), c.get("name"), "skipped:", s.get("message"))' "$TMP/junit.xml")" \
  "testsuites 10 2 1
modmig.empty 1 0 0
modmig.round_trip 4 2 1
modmig.allow_missing 1 0 0
modmig.ownership 4 0 0
modmig.round_trip 01002 app_helper Down does not restore the schema before Up: 1 difference function app.helper(): only in the schema after Down
modmig.round_trip 01003 app_flag Down fails: migration 1003 failed: column \"flagged\" of relation \"accounts\" does not exist tests/fixtures/mtest/downs/app/migrations/01003_app_flag.sql:6:1: error: migration 1003 failed: column \"flagged\" of relation \"accounts\" does not exist
modmig.round_trip 01004 app_backfill skipped: irreversible: it has no Down section" "test --junit"

# ------------------------------------------------------------ order matters
mm -d "$URL" -m "$FX/order/modules.yaml" test
expect_rc 3 "test with two modules whose migrations depend on order"
expect_out "$(line FAILED allow_missing "01002 one_greeting: 01002 one_greeting and 03001 two_greeting: the order matters: 01002 after 03001 gives another schema than version order")"
expect_out "function public.greeting(): definition differs at line 4: \"AS \$function\$ SELECT 'two' \$function\$\" in version order, \"AS \$function\$ SELECT 'one' \$function\$\" in 01002 applied last"
# three's migration sits between them and does not matter
expect_out "$(line passed allow_missing "02001 three_init: module three: applied last, after 1 newer migration of modules that do not depend on it, it gives the schema of version order")"
expect_eq "$(printf '%s\n' "$OUT" | grep -c '^FAILED')" "1" "exactly one failure"

# ------------------------------------------------------------ ownership
mm -d "$URL" -m "$FX/ownership/modules.yaml" test
expect_rc 3 "test with a module that alters another module's table"
expect_out "$(line FAILED ownership "02002 other_nickname: changes objects outside schema other: grants on table app.accounts")"
expect_out "grants on table app.accounts (module app) to PUBLIC, not a role of module other"
expect_out "table app.accounts: column nickname: only in the schema after it (module app)"
# a foreign key to app's table is fine
expect_out "$(line passed ownership "02001 other_init: changes objects only in schema other")"
expect_eq "$(printf '%s\n' "$OUT" | grep -c '^FAILED')" "1" "exactly one failure"
mm -d "$URL" -m "$FX/ownership/modules.yaml" -q test
expect_rc 3 "test -q"
expect_no_out "passed   "
expect_out "$(line FAILED ownership "02002 other_nickname")"

# ------------------------------------------------------------ --from-ref
# the extracted revision goes to $TMPDIR: a directory of this test's own, so
# that the check at the end sees no other run's
export TMPDIR=$TMP/tmpdir
mkdir -p "$TMPDIR"
REPO=$TMP/repo
mkdir -p "$REPO" && cp -r "$FX/good" "$REPO/db"
git -C "$REPO" init -q && git -C "$REPO" -c user.name=t -c user.email=t@t add -A &&
  git -C "$REPO" -c user.name=t -c user.email=t@t commit -qm v1 && git -C "$REPO" tag v1
# a new migration in the working tree: the upgrade applies it
printf -- '-- +goose Up\nCREATE INDEX notes_account ON other.notes (account_id);\n\n-- +goose Down\nDROP INDEX other.notes_account;\n' \
  >"$REPO/db/other/migrations/02002_other_notes_account.sql"
mm -d "$URL" -m "$REPO/db/modules.yaml" test --from-ref v1
expect_rc 0 "test --from-ref v1 with a new migration"
expect_out "$(line passed upgrade "v1: upgrading from v1 gives the schema of a fresh apply")"
# an applied migration edited after v1: a fresh apply differs from the upgrade
sed -i 's/name text NOT NULL/name text NOT NULL, email text/' "$REPO/db/app/migrations/01001_app_init.sql"
mm -d "$URL" -m "$REPO/db/modules.yaml" test --from-ref v1
expect_rc 3 "test --from-ref v1 after editing an applied migration"
expect_out "$(line FAILED upgrade "v1: upgrading from v1 differs from a fresh apply: 1 difference")"
expect_out "table app.accounts: column email: only in a fresh apply"
mm -d "$URL" -m "$REPO/db/modules.yaml" test --from-ref no-such-rev
expect_rc 2 "test --from-ref with an unknown revision"
expect_err "cannot read the migrations at git revision no-such-rev"
cp -r "$FX/good" "$TMP/nogit"
if ! git -C "$TMP/nogit" rev-parse 2>/dev/null; then
  mm -d "$URL" -m "$TMP/nogit/modules.yaml" test --from-ref HEAD
  expect_rc 2 "test --from-ref outside a git work tree"
  expect_err "is not in a git work tree"
fi

# ------------------------------------------------------------ --dev-url, signals
DEV=t_mtest_dev_$RANDOM$RANDOM
psql -qX -d postgres -c "CREATE DATABASE $DEV" >/dev/null
psql -qX -d "$DEV" -c "CREATE TABLE public.junk (x int)" >/dev/null
mm -d "$URL" -m "$FX/good/modules.yaml" test --dev-url "postgresql://$ME@/$DEV?host=$PGHOST&port=$PGPORT"
expect_rc 0 "test --dev-url"
expect_out "test: 7 passed, 0 warnings, 0 failed"
expect_eq "$(psql -qAtX -d "$DEV" -c "SELECT to_regclass('public.junk') IS NULL")" "t" "--dev-url: emptied first"
expect_eq "$(shadows)" "0" "--dev-url: no temporary database"
SLOW=$TMP/slow
mkdir -p "$SLOW"
printf -- '-- +goose Up\nCREATE TABLE slow (id int);\nSELECT pg_sleep(4);\n-- +goose Down\nDROP TABLE slow;\n' >"$SLOW/00001_slow.sql"
for sig in TERM INT; do
  "$MODMIG" -d "$URL" --dir "$SLOW" test >"$TMP/sig.out" 2>"$TMP/sig.err" &
  pid=$!
  for _ in $(seq 100); do  # wait until the shadow runs the slow migration
    [ "$(psql -qAtX -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(4)%' AND datname LIKE 'modmig\_shadow\_%' AND usename = '$ME'")" = 1 ] && break
    sleep 0.1
  done
  expect_eq "$(shadows)" "1" "a shadow database exists while test runs (SIG$sig)"
  kill -"$sig" "$pid"
  wait "$pid"; RC=$?
  expect_eq "$RC" "$([ "$sig" = TERM ] && echo 143 || echo 130)" "test's exit code after SIG$sig"
  expect_eq "$(shadows)" "0" "shadow dropped after SIG$sig"
  ERR=$(cat "$TMP/sig.err")
  expect_err "interrupted by SIG$sig; the shadow database was dropped"
done
# without CREATEDB: exit 1, and the hint names --dev-url
psql -qX -d postgres -c "DROP ROLE IF EXISTS mtest_plain" -c "CREATE ROLE mtest_plain LOGIN NOCREATEDB" >/dev/null 2>&1
mm -d "postgresql://mtest_plain@/$DB?host=$PGHOST&port=$PGPORT" -m "$FX/good/modules.yaml" test
expect_rc 1 "test without CREATEDB"
expect_err "cannot create a temporary shadow database"
expect_err "--dev-url"
expect_eq "$(shadows)" "0" "no shadow database is left behind"
expect_eq "$(ls "$TMPDIR" | grep -c '^modmig-from-' || true)" "0" "the extracted revision is removed"

finish
