#!/usr/bin/env bash
# --json never goes silent: every command prints exactly one JSON document on
# stdout, for success and failure alike; a failure is {"error":{...}} with
# code, message, hint, file, line, column, sqlstate and next_step. Each
# document is read with python3's json module.
source "$(dirname "$0")/lib.sh"

copy_modules
M=(-m "$MODS/modules.yaml")
BAD_URL="postgresql://$PGUSER@/no_such_db_$RANDOM?host=$PGHOST&port=$PGPORT"
COVERED=""

# json_check WHAT ok|error [PYTHON EXPR on d]: stdout is one JSON document
# (json.loads refuses anything after it), of the expected kind
json_check() {
  local what=$1 kind=$2 expr=${3:-True} res
  res=$(printf '%s' "$OUT" | python3 -c '
import json, sys
kind, expr = sys.argv[1], sys.argv[2]
try:
    d = json.loads(sys.stdin.read())
except ValueError as e:
    print("not one JSON document: %s" % e); sys.exit(0)
is_err = isinstance(d, dict) and "error" in d
if kind == "error":
    if not is_err: print("no error object"); sys.exit(0)
    e = d["error"]
    for k in ("code", "message", "hint", "file", "line", "column", "sqlstate", "next_step"):
        if k not in e: print("error lacks %s" % k); sys.exit(0)
    if not isinstance(e["message"], str) or "\n" in e["message"]: print("bad message"); sys.exit(0)
elif is_err:
    print("unexpected error object"); sys.exit(0)
if not eval(expr, {"d": d}): print("failed: %s" % expr); sys.exit(0)
print("ok")' "$kind" "$expr")
  if [ "$res" = ok ]; then pass; else fail "$what --json ($kind): $res"; fi
  COVERED="$COVERED $what"
}

new_db
# ---------------------------------------------------------------- offline
mm "${M[@]}" --json validate
expect_rc 0; json_check validate ok 'd["ok"] and d["migrations"] == 26'
mm "${M[@]}" --json list
expect_rc 0; json_check list ok 'len(d) == 26 and d[0]["name"] == "db_init"'
mm --json inspect "$MODS/db/migrations/01001_db_init.sql"
expect_rc 0; json_check inspect ok 'd["version"] == 1001 and len(d["up"]) > 0'
mm "${M[@]}" --json create identity add_avatars
expect_rc 0; json_check create ok 'd["path"].endswith("_add_avatars.sql")'
rm -f "$MODS"/identity/migrations/*_add_avatars.sql
mm "${M[@]}" --json sqlc-schemas -o "$TMP/sqlc.sql"
expect_rc 0; json_check sqlc-schemas ok 'd["written"] is True'
mm "${M[@]}" sqlc-schemas --json -o "$TMP/sqlc.sql" --check
expect_rc 0; json_check sqlc-schemas ok 'd["written"] is False and d["up_to_date"]'

echo "-- tampered" >>"$TMP/sqlc.sql"
mm "${M[@]}" --json sqlc-schemas -o "$TMP/sqlc.sql" --check
expect_rc 3; json_check sqlc-schemas error 'd["error"]["code"] == "stale"'
mm -m "$TMP/nowhere/modules.yaml" --json list
expect_rc 2; json_check list error 'd["error"]["file"].endswith("modules.yaml")'
printf -- '-- +goose Up\nSELECT 1;\n-- +goose StatementEnd\n' >"$TMP/bad.sql"
mm --json inspect "$TMP/bad.sql"
expect_rc 2; json_check inspect error 'd["error"]["code"] == "parse" and d["error"]["line"] == 3'
mm "${M[@]}" --json create nosuchmodule x
expect_rc 2; json_check create error 'd["error"]["code"] == "not_found"'
mkdir -p "$TMP/gdir" && printf -- '-- +goose Up\nSELECT 1;\n' >"$TMP/gdir/20240105093000_a.sql"
mm --dir "$TMP/gdir" --json fix
expect_rc 0; json_check fix ok 'd["dry_run"] is False and d["renamed"][0]["to"].endswith("/00001_a.sql")'
mm "${M[@]}" --json fix
expect_rc 2; json_check fix error 'd["error"]["code"] == "usage" and "--dir" in d["error"]["hint"]'
cp -r "$MODS" "$TMP/broken"
printf -- '-- +goose Up\nSELECT 1;\n-- +goose StatementEnd\n' >"$TMP/broken/identity/migrations/02050_bad.sql"
mm -m "$TMP/broken/modules.yaml" --json validate
expect_rc 2; json_check validate error 'd["error"]["file"].endswith("02050_bad.sql") and d["error"]["line"] == 3'

mm "${M[@]}" --json lint
expect_rc 0; json_check lint ok 'd["errors"] == 0'
mm -m "$TMP/nowhere/modules.yaml" --json lint
expect_rc 2; json_check lint error 'd["error"]["code"] == "not_found"'

# ---------------------------------------------------------------- online, success
mm -d "$URL" "${M[@]}" --json up --dry-run
expect_rc 0
json_check up ok 'd["dry_run"] and len(d["migrations"]) == 26 and d["migrations"][0]["name"] == "db_init" and d["migrations"][0]["units"][0]["sql"]'
expect_sql "SELECT to_regclass('goose_db_version') IS NULL" "t"
mm -d "$URL" "${M[@]}" --json plan -o "$TMP/plan.json"
expect_rc 0; json_check plan ok 'True'
mm -d "$URL" "${M[@]}" --json up --to 2001
expect_rc 0
json_check up ok 'len(d["migrations"]) == 3 and d["migrations"][2]["name"] == "identity_init" and d["version"] == 2001'
mm -d "$URL" "${M[@]}" --json verify
expect_rc 3; json_check verify ok 'any(f["kind"] == "pending" for f in d)'
mm -d "$URL" "${M[@]}" --json up
expect_rc 0; json_check up ok 'len(d["migrations"]) == 23'
mm -d "$URL" "${M[@]}" --json verify
expect_rc 0; json_check verify ok 'd == []'
mm -d "$URL" "${M[@]}" --json repair --recreate-triggers --dry-run
expect_rc 0; json_check repair ok 'd["action"] == "triggers_recreated" and d["dry_run"] and d["recorded"] == []'
mm -d "$URL" "${M[@]}" --json repair --acknowledge 1001 --dry-run
expect_rc 2; json_check repair error 'd["error"]["code"] == "refused" and d["error"]["version"] == 1001'
mm -d "$URL" "${M[@]}" --json repair --acknowledge 1500
expect_rc 2; json_check repair error 'd["error"]["code"] == "not_found"'
mm -d "$URL" "${M[@]}" --json status
expect_rc 0; json_check status ok 'len(d["migrations"]) == 26 and len(d["modules"]) == 10 and d["applied"] == 26'
mm -d "$URL" "${M[@]}" --json version
expect_rc 0; json_check version ok 'd["version"] == 10002'
mm -d "$URL" "${M[@]}" --json doctor
expect_rc 0; json_check doctor ok 'd["healthy"]'
mm -d "$URL" "${M[@]}" --json history
# one applied event per migration, plus the unit progress of NO TRANSACTION ones
expect_rc 0; json_check history ok 'len([e for e in d if not e["event"].startswith("unit_")]) == 26 and all(e["event"] == "applied" or e["event"].startswith("unit_") for e in d)'
mm -d "$URL" "${M[@]}" --json down --dry-run
expect_rc 0; json_check down ok 'd["dry_run"] and d["migrations"][0]["direction"] == "down" and d["migrations"][0]["name"] == "stripe_invoice_links" and d["migrations"][0]["units"][0]["line"] > 0'
mm -d "$URL" "${M[@]}" --json down
expect_rc 0; json_check down ok 'd["migrations"][0]["direction"] == "down" and d["migrations"][0]["name"] == "stripe_invoice_links"'
mm -d "$URL" "${M[@]}" --json redo --dry-run
expect_rc 0; json_check redo ok 'd["dry_run"] and [m["direction"] for m in d["migrations"]] == ["down", "up"]'
mm -d "$URL" "${M[@]}" --json redo
expect_rc 0; json_check redo ok 'len(d["migrations"]) == 2'
mm -d "$URL" "${M[@]}" --json schema --module billing
expect_rc 0; json_check schema ok 'True'
mm -d "$URL" "${M[@]}" --json drift
expect_rc 0; json_check drift ok 'd["drift"] is False'
mm -d "$URL" -m "$ROOT/tests/fixtures/mtest/good/modules.yaml" --json test
expect_rc 0; json_check test ok 'd["ok"] and d["failed"] == 0 and d["checks"][0]["check"] == "empty"'
mm -d "$URL" "${M[@]}" --json reset --dry-run
expect_rc 0; json_check reset ok 'd["dry_run"] and len(d["migrations"]) == 25 and d["version"] == 10001'
mm -d "$URL" "${M[@]}" --json reset
expect_rc 0; json_check reset ok 'len(d["migrations"]) == 25 and d["version"] == 0'
mm -d "$URL" "${M[@]}" --json stamp 1002 --dry-run
expect_rc 0; json_check stamp ok 'd["dry_run"] and [m["version"] for m in d["stamped"]] == [1001, 1002]'
mm -d "$URL" "${M[@]}" --json stamp 1002
expect_rc 0; json_check stamp ok 'len(d["stamped"]) == 2'

# ---------------------------------------------------------------- online, failure
for cmd in up plan status version verify doctor history schema drift test; do
  args=(); [ "$cmd" = plan ] && args=(-o "$TMP/plan2.json")
  mm -d "$BAD_URL" "${M[@]}" --json "$cmd" "${args[@]}"
  if [ "$cmd" = doctor ]; then
    expect_rc 3; json_check doctor ok 'not d["healthy"]'
  else
    expect_rc 1; json_check "$cmd" error 'd["error"]["code"] == "connect"'
  fi
done
mm -d "$URL" "${M[@]}" --json down --module nosuch
expect_rc 2; json_check down error 'd["error"]["code"] == "not_found"'
mm -d "$URL" "${M[@]}" --json redo --bogus
expect_rc 2; json_check redo error 'd["error"]["code"] == "usage"'
mm -d "$URL" "${M[@]}" --production --json reset
expect_rc 2; json_check reset error 'd["error"]["code"] == "refused"'
mm -d "$URL" "${M[@]}" --json stamp 1500
expect_rc 2; json_check stamp error 'd["error"]["exit"] == 2'
# a failing statement: sqlstate, file, line
add_migration cooperative 6050 broken "SELECT 1;
SELECT * FROM no_such_table;" ""
new_db
mm -d "$URL" "${M[@]}" --json up
expect_rc 1
json_check up error 'd["error"]["code"] == "sql" and d["error"]["sqlstate"] == "42P01" and d["error"]["file"].endswith("6050_broken.sql") and d["error"]["line"] == 3'

# every command of modmig --help was run both ways
mm --help
for cmd in $(printf '%s\n' "$OUT" | awk '/^Commands:/{on=1; next} on && /^$/{exit} on {print $1}'); do
  [ "$cmd" = help ] && continue
  n=$(printf '%s\n' $COVERED | grep -cx -- "$cmd")
  if [ "$n" -ge 2 ]; then pass; else fail "command $cmd was not run with --json in success and failure ($n)"; fi
done
finish
