#!/usr/bin/env bash
# Messages and exit codes keep the README's promise: one line per message,
# a hint that fits the cause of a connection failure (doctor's too), hints
# for failed statements, exact wording, exit 2 for bad input, and timeouts
# anywhere on the command line, for redo and reset too.
source "$(dirname "$0")/lib.sh"

copy_modules
M=(-m "$MODS/modules.yaml")
one_line_error() { # stderr's error is on one line with TEXT
  if printf '%s\n' "$ERR" | grep -q "error: .*$1"; then pass; else fail "no one-line error with [$1]"; fi
}

# ---------------------------------------------------------------- one line
NL_DIR="$TMP/no
such"
mm --dir "$NL_DIR" validate
expect_rc 2
one_line_error "such: No such file or directory"

# ---------------------------------------------------------------- connection failures
new_db
psql -qX -d postgres -c "SET client_min_messages TO warning" -c "DROP ROLE IF EXISTS mm_pw_user" -c "CREATE ROLE mm_pw_user LOGIN PASSWORD 'right'" >/dev/null
HBA=$MODMIG_TEST_PGDATA/pg_hba.conf
cp "$HBA" "$TMP/hba.saved"
{ echo "local all mm_pw_user scram-sha-256"; cat "$TMP/hba.saved"; } >"$HBA"
psql -qAtX -d postgres -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
restore_hba() { cat "$TMP/hba.saved" >"$HBA"; psql -qAtX -d postgres -c "SELECT pg_reload_conf()" >/dev/null; }
WRONG="postgresql://mm_pw_user:wrong@/$DB?host=$PGHOST&port=$PGPORT"
mm -d "$WRONG" "${M[@]}" status
expect_rc 1
expect_err "refused the password"
expect_no_err "is the server running"
expect_no_err "wrong@"
mm -d "$WRONG" "${M[@]}" doctor
expect_rc 3
expect_out "refused the password"
expect_no_out "is the server running"
mm -d "$WRONG" "${M[@]}" --json status
expect_eq "$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["error"]["sqlstate"])')" "28P01" "wrong password: SQLSTATE 28P01"
restore_hba
mm -d "postgresql://$PGUSER@/no_such_db_here?host=$PGHOST&port=$PGPORT" "${M[@]}" status
expect_rc 1
expect_err "has no such database"
mm -d "postgresql://$PGUSER@/no_such_db_here?host=$PGHOST&port=$PGPORT" "${M[@]}" doctor
expect_out "has no such database"
mm -d "postgresql://$PGUSER@/x?host=$TMP&port=1" "${M[@]}" status
expect_rc 1
expect_err "is the server running"
mm -d "postgresql://$PGUSER@/x?host=$TMP&port=1" "${M[@]}" doctor
expect_out "is the server running"

# ---------------------------------------------------------------- failed statements
D=$TMP/goose
mkdir -p "$D"
printf -- '-- +goose Up\nCREATE TABLE t (id int);\nSELECT * FROM no_such_table;\n-- +goose Down\nDROP TABLE t;\n' >"$D/00001_bad.sql"
mm -d "$URL" --dir "$D" up
expect_rc 1
expect_err "00001_bad.sql:3:15: error: migration 1 failed"
expect_err "hint: fix the statement at the line shown, then apply again: the migration ran in one transaction, so nothing of it was kept"

# ---------------------------------------------------------------- wording
# a directory that is not there: exit 2, and where to look
mm --dir "$TMP/no_such_dir" validate
expect_rc 2
expect_err "cannot open directory $TMP/no_such_dir: No such file or directory"
expect_err "hint: check the directory given with --dir"
mm "${M[@]}" create identity
expect_rc 2
expect_err "modmig: missing NAME"
expect_no_err "MODULE and NAME"
mm "${M[@]}" create
expect_err "missing MODULE and NAME"
mkdir -p "$TMP/one/core/migrations"
printf 'version_table: goose_db_version\nmodules:\n  - name: core\n' >"$TMP/one/modules.yaml"
printf -- '-- +goose Up\nSELECT 1;\n' >"$TMP/one/core/migrations/01001_x.sql"
mm -m "$TMP/one/modules.yaml" validate
expect_rc 0
expect_out "ok: 1 migration in 1 module"
mm "${M[@]}" validate
expect_out "ok: 26 migrations in 10 modules"

# validate reports every problem of a run, and statements the grammar could not parse
V=$TMP/validate
mkdir -p "$V"
printf -- '-- +goose Up\nCREATE TABL a(id int);\nSELECT 1;\n' >"$V/00001_typo.sql"
printf -- '-- +goose Up\nSELECT 1;\n-- +goose StatementEnd\n' >"$V/00002_end.sql"
printf -- 'SELECT 1;\n-- +goose Up\n' >"$V/00003_before.sql"
mm --dir "$V" validate
expect_rc 2
expect_err "00002_end.sql:3:1: error:"
expect_err "00003_before.sql:1:1: error:"
expect_err "00001_typo.sql:2:1: warning: statement not parsed by PostgreSQL's grammar"
expect_err "2 problems found"
rm "$V/00002_end.sql" "$V/00003_before.sql"
mm --dir "$V" validate
expect_rc 0
expect_err "00001_typo.sql:2:1: warning: statement not parsed"
mm inspect "$V/00001_typo.sql"
expect_out "line 2 (not parsed by PostgreSQL's grammar"

# doctor in --dir mode: no module registry, no module schemas
new_db
printf -- '-- +goose Up\nCREATE TABLE t (id int);\n-- +goose Down\nDROP TABLE t;\n' >"$D/00001_bad.sql"
mm -d "$URL" --dir "$D" up
expect_rc 0
mm -d "$URL" --dir "$D" doctor
expect_rc 0
expect_no_out "module registry"
expect_no_out "module schema"
expect_out "can create in schema public"

# the sqlc header names the manifest it came from
mkdir -p "$TMP/app"
cp -r "$MODS"/* "$TMP/app/"
(cd "$TMP" && "$MODMIG" -m "$TMP/app/modules.yaml" sqlc-schemas -o "$TMP/sqlc.sql" >/dev/null)
expect_eq "$(head -n 1 "$TMP/sqlc.sql")" "-- Code generated by \`modmig sqlc-schemas\` from app/modules.yaml. DO NOT EDIT." "sqlc header"

# ---------------------------------------------------------------- bad input exits 2
mm inspect "$MODS/identity"
expect_rc 2
mm -m "$MODS" validate
expect_rc 2
new_db
mm -d "$URL" "${M[@]}" plan -o /nonexistent/x
expect_rc 2
expect_err "cannot write the plan to /nonexistent/x"

# ---------------------------------------------------------------- timeouts anywhere, redo and reset too
new_db
printf -- '-- +goose Up\nCREATE TABLE s (id int);\n-- +goose Down\nSELECT pg_sleep(3);\nDROP TABLE s;\n' >"$D/00001_bad.sql"
printf -- '-- +goose Up\nSELECT pg_sleep(3);\n-- +goose Down\nSELECT 1;\n' >"$D/00002_slow.sql"
mm -d "$URL" --dir "$D" --statement-timeout 500ms up
expect_rc 1
expect_err "statement timeout"
expect_eq "$(applied_versions | paste -sd' ')" "1" "the slow one timed out before the command"
mm -d "$URL" --dir "$D" up --statement-timeout 500ms
expect_rc 1
expect_err "statement timeout"
rm "$D/00002_slow.sql"
mm -d "$URL" --dir "$D" redo --statement-timeout 500ms
expect_rc 1
expect_err "statement timeout"
mm -d "$URL" --dir "$D" --statement-timeout 500ms reset
expect_rc 1
expect_err "statement timeout"
expect_eq "$(applied_versions | paste -sd' ')" "1" "nothing was rolled back"

# ---------------------------------------------------------------- lock wait wording
new_db
printf -- '-- +goose Up\nSELECT pg_sleep(3);\n' >"$D/00002_slow.sql"
"$MODMIG" -d "$URL" --dir "$D" up >"$TMP/bg.out" 2>&1 &
bg=$!
sleep 1
mm -d "$URL" --dir "$D" up
wait $bg
expect_rc 0
expect_err "waiting for the migration lock held by pid"
expect_no_err "waiting: waiting"
finish
