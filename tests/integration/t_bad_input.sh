#!/usr/bin/env bash
# Bad input is exit 2 with the file and line, and changes nothing.
#
# - tests/fixtures/bad_sql/*.sql start with  "-- expect: <line>: <text>"
#   and run as `modmig inspect FILE`;
# - tests/fixtures/manifests/bad/*.yaml start with "# expect: <line>:<col>: <text>"
#   and run as `modmig -m FILE validate`, then as `up` against a fresh database,
#   which must stay untouched.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

SQL_DIR=$ROOT/tests/fixtures/bad_sql
MANIFEST_DIR=$ROOT/tests/fixtures/manifests/bad
found_sql=0
found_manifests=0

# The first line of a fixture without its comment marker and a CR of CRLF.
expect_line() { head -n1 "$1" | tr -d '\r'; }

# ---- malformed migration files --------------------------------------------
for f in "$SQL_DIR"/*.sql; do
	[ -e "$f" ] || continue
	found_sql=$((found_sql + 1))
	header=$(expect_line "$f")
	if [[ ! "$header" =~ ^--\ expect:\ ([0-9]+):\ (.*)$ ]]; then
		fail "$f: first line is not '-- expect: <line>: <text>': $header"
		continue
	fi
	line=${BASH_REMATCH[1]}
	want=${BASH_REMATCH[2]}
	mm inspect "$f"
	expect_rc 2 "inspect $(basename "$f")"
	expect_err "$f:$line"
	expect_err "$want"
	expect_eq "$OUT" "" "inspect $(basename "$f") printed units"
	mm --json inspect "$f"
	expect_rc 2 "inspect --json $(basename "$f")"
done

# ---- malformed manifests ------------------------------------------------------
for f in "$MANIFEST_DIR"/*.yaml; do
	[ -e "$f" ] || continue
	found_manifests=$((found_manifests + 1))
	header=$(expect_line "$f")
	if [[ ! "$header" =~ ^#\ expect:\ ([0-9]+):([0-9]+):\ (.*)$ ]]; then
		fail "$f: first line is not '# expect: <line>:<col>: <text>': $header"
		continue
	fi
	where="$f:${BASH_REMATCH[1]}:${BASH_REMATCH[2]}"
	want=${BASH_REMATCH[3]}
	mm -m "$f" validate
	expect_rc 2 "validate $(basename "$f")"
	expect_err "$where"
	expect_err "$want"
	mm -m "$f" list
	expect_rc 2 "list $(basename "$f")"
	expect_err "$where"
done

total=$((found_sql + found_manifests))
if [ "$total" -ge 10 ] && [ "$found_sql" -gt 0 ] && [ "$found_manifests" -gt 0 ]; then
	pass
else
	fail "too few bad-input fixtures: $found_sql in $SQL_DIR, $found_manifests in $MANIFEST_DIR (want 10 or more, some of each)"
fi

# ---- online commands with bad input leave the database untouched ------------------
# Each scenario gets its own database, so one failure does not hide the next.
fresh_db() {
	new_db
	before=$(schema_fingerprint)
}
untouched() { # what
	expect_sql "SELECT to_regclass('goose_db_version') IS NULL" "t"
	expect_sql "SELECT count(*) FROM pg_namespace WHERE nspname NOT LIKE 'pg\_%' AND nspname NOT IN ('public', 'information_schema')" "0"
	expect_eq "$(schema_fingerprint)" "$before" "database changed by $1"
}

fresh_db
for f in "$MANIFEST_DIR"/*.yaml; do
	[ -e "$f" ] || continue
	mm -d "$URL" -m "$f" up
	expect_rc 2 "up with $(basename "$f")"
	expect_err "$f:"
	mm -d "$URL" -m "$f" status
	expect_rc 2 "status with $(basename "$f")"
done
untouched "up with bad manifests"

# A manifest of our own, so this part never depends on the fixtures above.
cat >"$TMP/unknown_key.yaml" <<'EOF'
version_table: goose_db_version
modules:
  - name: db
    shema: db
EOF
fresh_db
mm -d "$URL" -m "$TMP/unknown_key.yaml" up
expect_rc 2 "up with an unknown manifest key"
expect_err "$TMP/unknown_key.yaml:4:"
untouched "up with an unknown manifest key"

# A malformed file late in the sequence: the migrations before it must not
# run either, since exit 2 promises that nothing was changed.
cp -r modules "$TMP/"
late=$(ls "$TMP"/modules/stripe/migrations/*.sql | tail -1)
printf '%s\n' '-- +goose Up' 'CREATE TABLE stripe.unterminated (id int)' >"$late"
fresh_db
mm -d "$URL" -m "$TMP/modules/modules.yaml" up
expect_rc 2 "up with a malformed migration"
expect_err "$late:"
untouched "up with a malformed migration"

# A goose directory with a file name that is not <version>_<name>.sql.
mkdir -p "$TMP/goose"
printf '%s\n' '-- +goose Up' 'CREATE TABLE a (id int);' >"$TMP/goose/00001_a.sql"
printf '%s\n' '-- +goose Up' 'CREATE TABLE b (id int);' >"$TMP/goose/second.sql"
fresh_db
mm -d "$URL" --dir "$TMP/goose" up
expect_rc 2 "up --dir with a badly named file"
expect_err "second.sql"
untouched "up --dir with a badly named file"

# Usage errors are found before connecting.
fresh_db
for args in "up --to abc" "up --to -5" "down --to x" "up --lock-timeout xyz" "status --bogus"; do
	mm -d "$URL" $args
	expect_rc 2 "modmig $args"
done
untouched "usage errors"

# A connection that fails says so in one line, exit 1, and never shows the password.
mm -d "postgresql://someone:s3cr3t-pw@127.0.0.1:1/nodb?connect_timeout=2" status
expect_rc 1 "unreachable server"
expect_err "error"
expect_no_err "s3cr3t-pw"
expect_no_out "s3cr3t-pw"

finish
