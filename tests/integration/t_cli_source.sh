#!/usr/bin/env bash
# Where migrations come from (DESIGN §7): -m, --dir, the program's own
# embedded migrations, MODMIG_MANIFEST / MODMIG_DIR, ./modules/modules.yaml,
# else a usage error. The standalone modmig never falls back to the bundled
# example application, and a command with nothing to do writes nothing.
source "$(dirname "$0")/lib.sh"

state_tables() { # the tables modmig or goose would have created
	sql "SELECT count(*) FROM pg_class WHERE relname LIKE 'goose_db_version%'"
}

EMPTY=$TMP/empty
mkdir -p "$EMPTY"

# ---- nowhere to find migrations: exit 2, nothing touched --------------------------------
new_db
for cmd in validate list up status down verify; do
	LAST_CMD="(in an empty directory) modmig $cmd"
	(cd "$EMPTY" && env -u MODMIG_MANIFEST -u MODMIG_DIR "$MODMIG" -d "$URL" $cmd) \
		>"$TMP/.out" 2>"$TMP/.err"
	RC=$?; OUT=$(cat "$TMP/.out"); ERR=$(cat "$TMP/.err")
	expect_rc 2 "modmig $cmd with no source"
	expect_err "no migrations: pass -m MANIFEST or --dir DIR"
	expect_eq "$(state_tables)" "0" "modmig $cmd with no source creates nothing"
done
expect_sql "SELECT count(*) FROM pg_namespace WHERE nspname IN ('identity', 'billing')" "0"

# ---- each source, in order of precedence ------------------------------------------------
run env -u MODMIG_DIR MODMIG_MANIFEST="$ROOT/modules/modules.yaml" bash -c "cd '$EMPTY' && '$MODMIG' validate"
expect_rc 0 "MODMIG_MANIFEST"
expect_out "ok: 26 migrations in 10 modules"
run env -u MODMIG_MANIFEST MODMIG_DIR="$ROOT/tests/fixtures/goose_app" bash -c "cd '$EMPTY' && '$MODMIG' validate"
expect_rc 0 "MODMIG_DIR"
expect_out "migrations in $ROOT/tests/fixtures/goose_app"
# -m wins over the environment; --dir too
run env MODMIG_DIR="$ROOT/tests/fixtures/goose_app" bash -c "cd '$EMPTY' && '$MODMIG' -m '$ROOT/modules/modules.yaml' validate"
expect_out "in 10 modules"
run env MODMIG_MANIFEST="$ROOT/modules/modules.yaml" bash -c "cd '$EMPTY' && '$MODMIG' --dir '$ROOT/tests/fixtures/goose_app' validate"
expect_out "migrations in $ROOT/tests/fixtures/goose_app"
# ./modules/modules.yaml of the working directory
mkdir -p "$TMP/proj" && cp -r "$ROOT/modules" "$TMP/proj/"
run env -u MODMIG_MANIFEST -u MODMIG_DIR bash -c "cd '$TMP/proj' && '$MODMIG' --json list"
expect_rc 0 "./modules/modules.yaml is found"
expect_out "\"file\":\"modules/identity/migrations/"

# ---- the application's own binary reads its embedded migrations anywhere --------------
run bash -c "cd '$EMPTY' && env -u MODMIG_MANIFEST -u MODMIG_DIR '$MODULES_APP' validate"
expect_rc 0 "modules (embedded) in an empty directory"
expect_out "ok: 26 migrations in 10 modules"
# and -m still wins over what it embeds
run bash -c "cd '$EMPTY' && '$MODULES_APP' --dir '$ROOT/tests/fixtures/goose_app' validate"
expect_rc 0
expect_out "migrations in $ROOT/tests/fixtures/goose_app"

# ---- a command with nothing to do writes nothing ------------------------------------------
new_db
for cmd in "down" "down --module billing" "down --to 0" "redo" "reset"; do
	mapp -d "$URL" $cmd
	expect_eq "$(state_tables)" "0" "modules $cmd on a fresh database creates no table"
done
# after a no-op down, a different manifest is still accepted: nothing was registered
mkdir -p "$TMP/other/one/migrations"
printf 'modules:\n  - name: one\n' >"$TMP/other/modules.yaml"
printf -- '-- +goose Up\nCREATE TABLE one_t (id int);\n' >"$TMP/other/one/migrations/01001_one.sql"
mm -d "$URL" -m "$TMP/other/modules.yaml" up
expect_rc 0 "another manifest after no-op commands of the bundled app"
expect_sql "SELECT string_agg(name, ',' ORDER BY position) FROM goose_db_version_modules" "one"

finish
