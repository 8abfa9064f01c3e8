#!/usr/bin/env bash
# The offline CLI: validate, list, inspect, create, sqlc-schemas, help for
# every command, usage errors (exit 2 naming the option) and NO_COLOR.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

CORE_COMMANDS="validate list inspect create sqlc-schemas up down redo reset status version"
# Every command in the table gets the help checks, including ones added later.
COMMANDS=$("$MODMIG" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF && $1 != "help" {print $1}')
for c in $CORE_COMMANDS; do
	[[ " $(echo $COMMANDS) " == *" $c "* ]] && pass || fail "modmig --help does not list $c"
done
FIX=$ROOT/tests/fixtures/inspect

# ---- validate -------------------------------------------------------------
mm validate
expect_rc 0 "validate on the bundled modules"
expect_out "ok: "
expect_out " migrations in 10 modules"
bundled_count=$(printf '%s' "$OUT" | sed -n 's/^ok: \([0-9]*\) migrations.*/\1/p')

mm -m modules/modules.yaml validate
expect_rc 0 "validate -m on the modules on disk"
expect_out "ok: $bundled_count migrations in 10 modules"

mm validate --json
expect_rc 0
got=$(printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["ok"], d["migrations"], d["modules"])' 2>&1)
expect_eq "$got" "True $bundled_count 10" "validate --json"

# A plain goose directory: no modules, goose's versions.
goose_files=$(ls tests/fixtures/goose_app/*.sql | wc -l)
mm --dir tests/fixtures/goose_app validate
expect_rc 0 "validate --dir"
expect_out "ok: $goose_files migrations in tests/fixtures/goose_app"
mm --dir tests/fixtures/goose_app --table app_versions list --json
expect_rc 0 "list --dir --table"
got=$(printf '%s' "$OUT" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(len(r), all(x["module"] is None for x in r), len(str(r[0]["version"])))' 2>&1)
expect_eq "$got" "$goose_files True 14" "list --json on a goose directory"

# Every problem, not only the first: text and --json list the same ones.
mkdir -p "$TMP/vbad"
printf -- '-- +goose Up\nSELECT 1;\n-- +goose StatementEnd\n' >"$TMP/vbad/00001_a.sql"
printf -- '-- +goose Up\nCREATE TABLE t (id int);\n' >"$TMP/vbad/00002_fine.sql"
printf -- 'SELECT 1;\n-- +goose Up\n' >"$TMP/vbad/00003_c.sql"
mm --dir "$TMP/vbad" validate
expect_rc 2 "validate with two bad files"
expect_err "$TMP/vbad/00001_a.sql:3:"
expect_err "$TMP/vbad/00003_c.sql:1:"
expect_err "2 problems found"
mm --dir "$TMP/vbad" --json validate
expect_rc 2 "validate --json with two bad files"
got=$(printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
ps = d["problems"]
for p in ps:
    assert set(("code", "message", "hint", "file", "line", "column")) <= set(p), p
    assert p["code"] == "parse" and p["hint"] and "\n" not in p["message"], p
assert d["error"] == ps[0], d
print(len(ps), " ".join("%s:%s" % (p["file"].rsplit("/", 1)[1], p["line"]) for p in ps))
' 2>&1)
expect_eq "$got" "2 00001_a.sql:3 00003_c.sql:1" "validate --json lists every problem"
# one bad file name stops the listing: there is nothing to parse; still a list
printf -- '-- +goose Up\n' >"$TMP/vbad/x_bad.sql"
mm --dir "$TMP/vbad" --json validate
expect_rc 2 "validate --json with a bad file name"
got=$(printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["problems"]), d["problems"][0]["code"], d["error"]["code"])' 2>&1)
expect_eq "$got" "1 version version" "validate --json: a source that cannot be read is one problem"

# ---- list -----------------------------------------------------------------
mm list
expect_rc 0
expect_out "VERSION"
expect_out "identity_init"
expect_out "no-tx"
first_line=$(printf '%s\n' "$OUT" | sed -n 1p)
expect_eq "$(echo $first_line)" "VERSION MODULE NAME TX UP DOWN" "list header"

mm list --json
expect_rc 0
got=$(printf '%s' "$OUT" | python3 -c '
import json, sys
rows = json.load(sys.stdin)
versions = [r["version"] for r in rows]
assert versions == sorted(versions) and len(set(versions)) == len(versions), "not ascending"
for r in rows:
    assert (r["version"] - 1) // 1000 >= 1, r
    assert r["file"].endswith("%05d_%s.sql" % (r["version"], r["name"])), r
    assert isinstance(r["no_transaction"], bool) and r["up_units"] >= 0, r
print(len(rows), sum(r["no_transaction"] for r in rows) > 0, rows[0]["module"])
' 2>&1)
expect_eq "$got" "$bundled_count True db" "list --json: ascending, complete, with a no-tx migration"

# ---- inspect ----------------------------------------------------------------
# The exact bytes: compact JSON in the documented key order, sql exactly as sent.
for f in "$FIX"/*.sql; do
	want=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), separators=(",", ":"), ensure_ascii=False))' "${f%.sql}.json")
	mm inspect --json "$f"
	expect_rc 0 "inspect --json $f"
	expect_eq "$OUT" "$want" "inspect --json $(basename "$f")"
done

mm inspect "$FIX/00042_inspect_demo.sql"
expect_rc 0
expect_out "version 42, in one transaction"
expect_out "-- up unit 3 of 3, line 8"
expect_out "-- down unit 2 of 2, line 18"
expect_out "RETURN 'café; ünïcode';"

mm inspect "$FIX/00043_inspect_concurrent.sql"
expect_rc 0
expect_out "NO TRANSACTION"

mm inspect
expect_rc 2 "inspect without a file"
expect_err "missing FILE"

# ---- create -------------------------------------------------------------------
cp -r modules "$TMP/"
mm -m "$TMP/modules/modules.yaml" create billing add_refunds
expect_rc 0 "create"
last_billing=$(ls modules/billing/migrations | sort | tail -1 | cut -d_ -f1)
next=$(printf '%05d' $((10#$last_billing + 1)))
expect_out "billing/migrations/${next}_add_refunds.sql"
if [ -f "$TMP/modules/billing/migrations/${next}_add_refunds.sql" ]; then pass; else fail "create wrote no file"; fi
mm -m "$TMP/modules/modules.yaml" validate
expect_rc 0 "validate after create"
expect_out "ok: $((bundled_count + 1)) migrations"
mm inspect "$TMP/modules/billing/migrations/${next}_add_refunds.sql"
expect_rc 0 "the created file parses"

mm -m "$TMP/modules/modules.yaml" create nosuchmodule thing
expect_rc 2 "create in an unknown module"
expect_err "unknown module 'nosuchmodule'"
expect_err "known modules: db, identity"

mm create billing add_refunds
expect_rc 2 "create without -m"
expect_err "needs -m"

mm -m "$TMP/modules/modules.yaml" create billing
expect_rc 2 "create without NAME"

# ---- sqlc-schemas -------------------------------------------------------------------
mm sqlc-schemas --check
expect_rc 0 "the committed sqlc_schemas.sql is fresh"

mm sqlc-schemas -o "$TMP/schemas.sql"
expect_rc 0
if cmp -s "$TMP/schemas.sql" sqlc_schemas.sql; then pass; else fail "sqlc-schemas -o differs from the committed file"; fi
mm sqlc-schemas --check -o "$TMP/schemas.sql"
expect_rc 0 "fresh after writing"

echo "CREATE SCHEMA IF NOT EXISTS leftover;" >>"$TMP/schemas.sql"
mm sqlc-schemas --check -o "$TMP/schemas.sql"
expect_rc 3 "stale sqlc schemas"
expect_err "$TMP/schemas.sql is stale"
expect_err "run 'modmig sqlc-schemas' and commit the result"

mm sqlc-schemas --check -o "$TMP/none.sql"
expect_rc 3 "missing sqlc schemas"
expect_err "$TMP/none.sql is missing"
if [ ! -e "$TMP/none.sql" ]; then pass; else fail "--check wrote a file"; fi

(cd "$TMP" && "$MODMIG" sqlc-schemas >/dev/null 2>&1)
if cmp -s "$TMP/sqlc_schemas.sql" sqlc_schemas.sql; then pass; else fail "sqlc-schemas did not write ./sqlc_schemas.sql"; fi

# ---- help -------------------------------------------------------------------------
for args in "--help" "-h" "help"; do
	mm $args
	expect_rc 0 "modmig $args"
	expect_out "usage: modmig"
	for c in $COMMANDS; do expect_out "  $c"; done
done
for c in $COMMANDS; do
	mm "$c" --help
	expect_rc 0 "modmig $c --help"
	expect_out "usage: modmig"
	expect_out " $c"
	expect_eq "$ERR" "" "modmig $c --help writes nothing to stderr"
	mm help "$c"
	expect_rc 0 "modmig help $c"
	expect_out "usage: modmig"
	mm "$c" -h
	expect_rc 0 "modmig $c -h"
done
mm help frobnicate
expect_rc 2 "help for an unknown command"
expect_err "unknown command 'frobnicate'"
mm --version
expect_rc 0
expect_out "modmig "

# ---- usage errors: exit 2, one line naming the option, and a hint ----------------------
usage_error() { # expected-text args...
	local want=$1; shift
	mm "$@"
	expect_rc 2 "modmig $*"
	expect_err "modmig: "
	expect_err "$want"
	expect_err "hint: run 'modmig"
	expect_eq "$OUT" "" "modmig $* prints nothing on stdout"
}
usage_error "'abc' for '--to'" up --to abc
usage_error "'-5' for '--to'" up --to -5
usage_error "'1.5' for '--to'" down --to 1.5
usage_error "option '--to' needs a value" up --to
usage_error "'xyz' for '--lock-timeout'" --lock-timeout xyz up
usage_error "'xyz' for '--lock-timeout'" up --lock-timeout xyz
usage_error "'10parsecs' for '--lock-timeout'" status --lock-timeout 10parsecs
usage_error "unknown option '--bogus'" list --bogus
usage_error "unknown option '--bogus'" --bogus list
usage_error "unknown option '-Z'" status -Z
usage_error "option '--module' needs a value" status --module
usage_error "'--to' and '--by-one'" up --to 2001 --by-one
usage_error "unknown command 'frobnicate'" frobnicate
usage_error "missing command" -q
usage_error "unexpected argument 'extra'" validate extra
usage_error "hint: run 'modmig up --help'" up --strict=yes
usage_error "'-m' and '--dir'" -m modules/modules.yaml --dir tests/fixtures/goose_app list
usage_error "'-m' and '--dir'" -m modules/modules.yaml list --dir tests/fixtures/goose_app
usage_error "'--table' needs '--dir'" --table my_versions validate
# A command takes exactly the options its row in runner/cli/commands.def lists:
# another command's option is unknown to it, by long name and by short letter.
usage_error "unknown option '--to'" validate --to 2001
usage_error "unknown option '--check'" up --check
usage_error "unknown option '--yes'" status --yes
usage_error "unknown option '-o'" up -o plan.txt
usage_error "unknown option '--dry-run'" plan -o x --dry-run

# Each command's help lists exactly the options of its row, and each of them is
# accepted by that command's parser: "--help" after a listed option still prints help
# (a flag) or reaches the option's own value check (an option with a value).
for c in $COMMANDS; do
	mm "$c" --help
	opts=$(sed -n '/^Options:/,/^$/p' <<<"$OUT" | grep -oE -- '--[a-z][a-z-]*' | sort -u)
	for o in $opts; do
		mm "$c" "$o" x --help
		[[ "$ERR" != *"unknown option"* ]] && pass || fail "modmig $c --help lists $o but $c rejects it: $ERR"
	done
done

# Global options also work after the command.
mm list -m modules/modules.yaml --json
expect_rc 0 "global options after the command"
printf '%s' "$OUT" | python3 -m json.tool >/dev/null 2>&1 && pass || fail "list --json after the command is not JSON"

# ---- colors ----------------------------------------------------------------------------
# script(1) gives modmig a terminal, so colors would be on unless disabled.
tty_run() { script -qec "$*" /dev/null </dev/null 2>&1; }
if command -v script >/dev/null; then
	esc=$(printf '\033')
	got=$(tty_run "'$MODMIG' list")
	[[ "$got" == *"$esc["* ]] && pass || fail "no colors on a terminal: the color checks below prove nothing"
	got=$(NO_COLOR=1 tty_run "'$MODMIG' list")
	[[ "$got" != *"$esc"* ]] && pass || fail "NO_COLOR=1 still printed escape codes"
	got=$(tty_run "'$MODMIG' --no-color list")
	[[ "$got" != *"$esc"* ]] && pass || fail "--no-color still printed escape codes"
	got=$(NO_COLOR=1 tty_run "'$MODMIG' inspect '$ROOT/modules/modules.yaml'")
	[[ "$got" == *"error"* && "$got" != *"$esc"* ]] && pass || fail "NO_COLOR not honoured on stderr: $got"
fi
mm list
[[ "$OUT" != *$'\033'* ]] && pass || fail "colors written to a pipe"

finish
