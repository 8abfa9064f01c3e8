#!/usr/bin/env bash
# modmig verify: clean after up; every kind of finding named with module,
# version and file (changed, no_file, pending, missing, out_of_order, failed,
# registry, tampered, state), in text and JSON; and verify changes nothing.
source "$(dirname "$0")/lib.sh"

ALL=$(file_versions "$ROOT"/modules/*/migrations)
N=$(echo "$ALL" | wc -l)

# kinds of the findings in verify --json on stdin, one "kind version module file" per line
json_findings() {
  python3 -c '
import json, sys
for f in json.load(sys.stdin):
    assert set(f) == {"kind", "version", "module", "file", "message"}, f
    assert f["message"], f
    print(f["kind"], f["version"], f["module"] or "-", f["file"] or "-")'
}
history_count() { sql "SELECT count(*) FROM $(history_table)"; }
# run verify and check that it changed nothing in the database
verify_unchanged() {
  local fp h; fp=$(schema_fingerprint); h=$(history_count 2>/dev/null)
  mm "$@" verify
  expect_eq "$(schema_fingerprint)" "$fp" "verify $* changed the schema or version rows"
  expect_eq "$(history_count 2>/dev/null)" "$h" "verify $* changed the history"
}

# ---------------------------------------------------------------- fresh database
new_db
mm -d "$URL" verify
expect_rc 3 "verify on a fresh database"
expect_out "state"
expect_out "run 'modmig up'"
expect_out "pending"
expect_sql "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'goose%'" "0"

# ---------------------------------------------------------------- clean after up
mm -d "$URL" up
expect_rc 0 "up"
verify_unchanged -d "$URL"
expect_rc 0 "verify after up"
expect_out "ok: $N applied migrations verified"
mm -d "$URL" --json verify
expect_rc 0 "verify --json after up"
expect_eq "$OUT" "[]" "verify --json clean"

# verify takes no lock: it answers while another session holds the migration lock
KEY=$(printf '%s' "$("$MODMIG" -d "$URL" --json doctor)" | python3 -c '
import json, re, sys
d = json.load(sys.stdin)
print(re.search(r"advisory key (-?\d+)", [c for c in d["checks"] if c["name"] == "lock"][0]["detail"]).group(1))')
psql -qAtX -d "$DB" -c "SELECT pg_advisory_lock($KEY)" -c "SELECT pg_sleep(30)" >/dev/null 2>&1 &
LOCKER=$!
for _ in $(seq 50); do
  [ "$(sql "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND granted")" = 1 ] && break
  sleep 0.1
done
run timeout 10 "$MODMIG" -d "$URL" --lock-timeout 1s verify
expect_rc 0 "verify while the lock is held"
kill "$LOCKER" 2>/dev/null; wait "$LOCKER" 2>/dev/null

# ---------------------------------------------------------------- an edited applied file
copy_modules
new_db
mm -d "$URL" -m "$MODS/modules.yaml" up
expect_rc 0 "up from a copy of the modules"
EDITED=modules/billing/migrations/04002_billing_invoice_lines.sql
printf '\n-- an edit after the fact\n' >>"$TMP/$EDITED"
verify_unchanged -d "$URL" -m "$MODS/modules.yaml"
expect_rc 3 "verify with an edited applied file"
line=$(printf '%s\n' "$OUT" | grep '^changed')
if [[ "$line" == *04002* && "$line" == *billing* && "$line" == *04002_billing_invoice_lines.sql* ]]; then
  pass; else fail "changed line lacks version, module or file: [$line]"; fi
expect_out "1 problem found: 1 changed"
mm -d "$URL" -m "$MODS/modules.yaml" --json verify
expect_rc 3 "verify --json with an edited file"
got=$(printf '%s' "$OUT" | json_findings 2>&1)
expect_eq "$got" "changed 4002 billing $TMP/$EDITED" "verify --json finding"

# ---------------------------------------------------------------- pending, missing, out of order
cp "$ROOT/$EDITED" "$TMP/$EDITED"
add_migration identity 02005 identity_extra "SELECT 1;" "SELECT 1;"
add_migration stripe 10003 stripe_extra "SELECT 1;" "SELECT 1;"
verify_unchanged -d "$URL" -m "$MODS/modules.yaml"
expect_rc 3 "verify with a missing and a pending migration"
expect_out "missing       02005 identity $MODS/identity/migrations/02005_identity_extra.sql"
expect_out "pending       10003 stripe $MODS/stripe/migrations/10003_stripe_extra.sql"
expect_out "2 problems found: 1 pending, 1 missing"
# 02004 arrives after 02005 went in: out of order within identity, before and after up
IDX=$MODS/identity/migrations/02004_identity_persons_created_idx.sql
new_db
mv "$IDX" "$TMP/02004.sql"
mm -d "$URL" -m "$MODS/modules.yaml" up
expect_rc 0 "up without 02004"
mv "$TMP/02004.sql" "$IDX"
verify_unchanged -d "$URL" -m "$MODS/modules.yaml"
expect_rc 3 "verify with an out-of-order arrival"
expect_out "out_of_order  02004 identity $IDX: not applied, and 2005 of the same module already is"
expect_no_out "missing"
mm -d "$URL" -m "$MODS/modules.yaml" up
expect_rc 0 "up applies 02004 out of order"
verify_unchanged -d "$URL" -m "$MODS/modules.yaml"
expect_rc 3 "verify after an out-of-order apply"
expect_out "out_of_order  02004 identity $IDX: applied out of order: after 2005"
expect_out "1 problem found: 1 out_of_order"

# ---------------------------------------------------------------- applied version with no file
rm "$MODS/stripe/migrations/10003_stripe_extra.sql"
verify_unchanged -d "$URL" -m "$MODS/modules.yaml"
expect_rc 3 "verify with an applied version that has no file"
expect_out "no_file       10003 stripe -: version 10003 is applied but no migration file has it"
mm -d "$URL" -m "$MODS/modules.yaml" --json verify
expect_out '"kind":"no_file","version":10003,"module":"stripe","file":null'

# ---------------------------------------------------------------- the history's trigger removed
new_db
mm -d "$URL" up
expect_rc 0
sql "DROP TRIGGER modmig_append_only ON goose_db_version_history"
verify_unchanged -d "$URL"
expect_rc 3 "verify without the history trigger"
expect_out "tampered"
expect_out "append-only trigger"
mm -d "$URL" --json verify
expect_eq "$(printf '%s' "$OUT" | json_findings | awk '{print $1}')" "tampered" "only tampered"
# a history table gone entirely is a state finding
sql "DROP TABLE goose_db_version_history"
verify_unchanged -d "$URL"
expect_rc 3 "verify without the history table"
expect_out "state"
expect_out "history table"

# ---------------------------------------------------------------- registry disagreement
mkdir -p "$TMP/reg/alpha/migrations" "$TMP/reg/beta/migrations"
printf 'version_table: goose_db_version\nmodules:\n  - name: alpha\n  - name: beta\n' >"$TMP/reg/modules.yaml"
printf -- '-- +goose Up\nCREATE TABLE alpha_t (id int);\n-- +goose Down\nDROP TABLE alpha_t;\n' \
  >"$TMP/reg/alpha/migrations/01001_alpha.sql"
new_db
mm -d "$URL" -m "$TMP/reg/modules.yaml" up
expect_rc 0 "up on the registry fixture"
printf 'version_table: goose_db_version\nmodules:\n  - name: alpha\n  - name: gamma\n  - name: beta\n' \
  >"$TMP/reg/modules.yaml"
mkdir -p "$TMP/reg/gamma/migrations"
verify_unchanged -d "$URL" -m "$TMP/reg/modules.yaml"
expect_rc 3 "verify with a module inserted mid-manifest"
expect_out "registry"
expect_out "module beta is at position 3"
mm -d "$URL" -m "$TMP/reg/modules.yaml" --json verify
expect_eq "$(printf '%s' "$OUT" | json_findings | awk '{print $1}')" "registry" "registry finding"

# ---------------------------------------------------------------- a failed NO TRANSACTION migration
mkdir -p "$TMP/notx"
printf -- '-- +goose Up\nCREATE TABLE dup (x int);\nINSERT INTO dup VALUES (1), (1);\n-- +goose Down\nDROP TABLE dup;\n' \
  >"$TMP/notx/00001_dup.sql"
printf -- '-- +goose NO TRANSACTION\n-- +goose Up\nCREATE INDEX CONCURRENTLY dup_plain ON dup (x);\nCREATE UNIQUE INDEX CONCURRENTLY dup_x ON dup (x);\n-- +goose Down\nDROP INDEX CONCURRENTLY IF EXISTS dup_x;\nDROP INDEX CONCURRENTLY IF EXISTS dup_plain;\n' \
  >"$TMP/notx/00002_dup_idx.sql"
new_db
mm -d "$URL" --dir "$TMP/notx" up
expect_rc 1 "up fails on the unique index"
verify_unchanged -d "$URL" --dir "$TMP/notx"
expect_rc 3 "verify after a failed NO TRANSACTION migration"
line=$(printf '%s\n' "$OUT" | grep '^failed')
if [[ "$line" == *"00002 - $TMP/notx/00002_dup_idx.sql"*"unit 2"* ]]; then
  pass; else fail "failed line: [$line]"; fi
mm -d "$URL" --dir "$TMP/notx" --json verify
expect_eq "$(printf '%s' "$OUT" | json_findings | awk '{print $1, $2}')" "failed 2" "failed finding"

# ---------------------------------------------------------------- usage
mm verify extra
expect_rc 2 "verify with an argument"
expect_err "unexpected argument 'extra'"
mm verify --help
expect_rc 0
expect_out "usage: modmig [GLOBAL OPTIONS] verify"

finish
