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


# ---- goose parity with --dir: create NAME [-s] and fix, as goose writes and renames --------
G=$TMP/goose
mkdir -p "$G"
printf -- '-- +goose Up\nCREATE TABLE ga (id int);\n-- +goose Down\nDROP TABLE ga;\n' >"$G/00001_a.sql"
printf -- '-- +goose Up\nCREATE TABLE gb (id int);\n-- +goose Down\nDROP TABLE gb;\n' >"$G/00002_b.sql"
printf -- '-- +goose Up\nCREATE TABLE gc (id int);\n-- +goose Down\nDROP TABLE gc;\n' >"$G/20240105093000_c.sql"
# goose's SQL template (v3 up to v3.26), byte for byte
TEMPLATE=$'-- +goose Up\n-- +goose StatementBegin\nSELECT \'up SQL query\';\n-- +goose StatementEnd\n\n-- +goose Down\n-- +goose StatementBegin\nSELECT \'down SQL query\';\n-- +goose StatementEnd'
before=$(date -u +%Y%m%d%H%M%S)
mm --dir "$G" create add_users
after=$(date -u +%Y%m%d%H%M%S)
expect_rc 0 "create NAME with --dir"
ts=${OUT#"$G/"}; ts=${ts%%_*}
[[ "$OUT" =~ ^"$G"/[0-9]{14}_add_users\.sql$ && "$ts" -ge "$before" && "$ts" -le "$after" ]] && pass ||
	fail "create --dir: want $G/YYYYMMDDhhmmss_add_users.sql of the UTC time between $before and $after, got $OUT"
[ -f "$OUT" ] && expect_eq "$(cat "$OUT")" "$TEMPLATE" "create --dir writes goose's template" || fail "no file $OUT"
rm -f "$OUT"
# -s: the highest sequential version + 1, five digits; the timestamp does not count
mm --dir "$G" create -s add_orders
expect_rc 0 "create -s"
expect_eq "$OUT" "$G/00003_add_orders.sql" "create -s: 00002 + 1"
expect_eq "$(cat "$G/00003_add_orders.sql")" "$TEMPLATE" "create -s writes goose's template"
mm --dir "$G" --json create --sequential add_more
expect_rc 0
got=$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["path"])' 2>&1)
expect_eq "$got" "$G/00004_add_more.sql" "create --sequential --json"
rm -f "$G/00003_add_orders.sql" "$G/00004_add_more.sql"

# refusals: exit 2, one line, no file written
files_now() { ls "$G" | tr '\n' ' '; }
files=$(files_now)
refuse() { # message args...
	local want=$1; shift
	mm "$@"
	expect_rc 2 "modmig $*"
	expect_err "$want"
	expect_eq "$OUT" "" "modmig $* prints nothing on stdout"
	expect_eq "$(files_now)" "$files" "modmig $* changes no file"
}
refuse "bad migration name 'AddUsers'" --dir "$G" create AddUsers
expect_err "as goose would write it: addusers"
refuse "bad migration name 'add users'" --dir "$G" create "add users"
refuse "bad migration name 'a__b'" --dir "$G" create a__b
refuse "bad migration name '../x'" --dir "$G" create ../x
refuse "'create' takes only NAME with '--dir'" --dir "$G" create billing add_x
refuse "'--sequential' needs '--dir'" -m "$ROOT/modules/modules.yaml" create -s billing add_x
refuse "'create' needs -m MANIFEST or --dir DIR" create add_x
mkdir "$G/00003_taken.sql" # a directory is no migration, but its name is taken
files=$(files_now)
refuse "$G/00003_taken.sql already exists" --dir "$G" create -s taken
rmdir "$G/00003_taken.sql"
files=$(files_now)
# two creates in the same second would give one version twice: the second is refused
for i in 1 2 3; do
	mm --dir "$G" create dup_a; first=$OUT
	mm --dir "$G" create dup_b
	[ "$RC" = 2 ] && break
	rm -f "$first" "$OUT"
done
expect_rc 2 "create in the same second as another file"
expect_err "is taken: $first has it"
expect_err "hint: run create again in a second, or pass -s"
rm -f "$first"

# fix: refused in manifest mode, nothing renamed
refuse "'fix' renumbers a plain goose directory" -m "$ROOT/modules/modules.yaml" fix
expect_err "hint: pass --dir DIR"
# --dry-run prints and renames nothing
mm --dir "$G" list --json
order=$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(" ".join(r["name"] for r in json.load(sys.stdin)))')
mm --dir "$G" fix --dry-run
expect_rc 0 "fix --dry-run"
expect_eq "$OUT" "would rename $G/20240105093000_c.sql => $G/00003_c.sql" "fix --dry-run prints the rename"
expect_eq "$(files_now)" "$files" "fix --dry-run renames nothing"
# a target that exists: refused before the first rename
printf -- '-- +goose Up\nCREATE TABLE gd (id int);\n' >"$G/20240106093000_d.sql"
mkdir "$G/00004_d.sql"
files=$(files_now)
refuse "cannot rename $G/20240106093000_d.sql: $G/00004_d.sql already exists" --dir "$G" fix
rmdir "$G/00004_d.sql"
mm --dir "$G" --json fix --dry-run
got=$(printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["dry_run"], " ".join("%s>%s:%d" % (r["from"].rsplit("/", 1)[1], r["to"].rsplit("/", 1)[1], r["to_version"]) for r in d["renamed"]))' 2>&1)
expect_eq "$got" "True 20240105093000_c.sql>00003_c.sql:3 20240106093000_d.sql>00004_d.sql:4" "fix --json --dry-run"
mm --dir "$G" fix
expect_rc 0 "fix"
expect_eq "$OUT" "renamed $G/20240105093000_c.sql => $G/00003_c.sql
renamed $G/20240106093000_d.sql => $G/00004_d.sql" "fix prints each rename"
expect_eq "$(files_now)" "00001_a.sql 00002_b.sql 00003_c.sql 00004_d.sql " "fix renumbers the timestamped files"
mm --dir "$G" list --json
expect_eq "$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(" ".join(r["name"] for r in json.load(sys.stdin)))')" "$order d" "fix keeps the order"
mm --dir "$G" fix
expect_eq "$OUT" "nothing to fix: no timestamped migrations in $G" "fix again: nothing to do"
# the fixed directory applies
new_db
mm -d "$URL" --dir "$G" up
expect_rc 0 "up on the fixed directory"
expect_sql "SELECT string_agg(version_id::text, ',' ORDER BY id) FROM goose_db_version WHERE version_id > 0" "1,2,3,4"

finish
