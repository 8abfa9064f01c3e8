#!/usr/bin/env bash
# Every online command on the bundled modules: the embedded set (the `modules`
# binary, modmig_cli_main over its compiled-in migrations) and the same modules
# read from disk by modmig with -m modules/modules.yaml.
source "$(dirname "$0")/lib.sh"

ALL=$(file_versions "$ROOT"/modules/*/migrations)
N=$(echo "$ALL" | wc -l)
LAST=$(echo "$ALL" | tail -n 1)
BILLING=$(file_versions "$ROOT/modules/billing/migrations")
BILLING_LAST=$(echo "$BILLING" | tail -n 1)
# cooperative: no module depends on it, so down --module may take it any time
COOP=$(file_versions "$ROOT/modules/cooperative/migrations")
COOP_LAST=$(echo "$COOP" | tail -n 1)
# schemas of the modules that have migrations
SCHEMAS=$(for d in "$ROOT"/modules/*/migrations; do
  m=$(basename "$(dirname "$d")")
  ls "$d"/*.sql >/dev/null 2>&1 || continue
  awk -v m="$m" '$0 ~ "- name: "m"$" {f=1; next} /- name:/ {f=0} f && /schema:/ {print $2}' \
    "$ROOT/modules/modules.yaml"
done | sort)
schema_list=$(echo "$SCHEMAS" | sed "s/.*/'&'/" | paste -sd, -)
[ "$N" -gt 3 ] || { echo "too few bundled migrations ($N)" >&2; exit 1; }

module_schemas() { sql "SELECT nspname FROM pg_namespace WHERE nspname IN ($schema_list) ORDER BY 1"; }

# ---------------------------------------------------------------- up from empty
new_db
mapp -d "$URL" up
expect_rc 0 "up from empty"
expect_eq "$(applied_versions)" "$ALL" "version table after up"
expect_sql "SELECT count(*) FROM goose_db_version WHERE version_id = 0 AND is_applied" "1"
expect_sql "SELECT count(*) FROM goose_db_version WHERE version_id > 0 AND NOT is_applied" "0"
expect_eq "$(history_versions applied)" "$ALL" "history: one applied row per migration"
expect_eq "$(module_schemas)" "$SCHEMAS" "module schemas exist"
# one line per applied migration on stdout
for v in $(echo "$ALL" | head -n 3); do
  if [[ "$OUT" == *"$v"* ]]; then pass; else fail "up output does not mention $v"; fi
done

# up again: nothing to do, nothing changes
fp=$(schema_fingerprint)
mapp -d "$URL" up
expect_rc 0 "up with nothing pending"
expect_eq "$(schema_fingerprint)" "$fp" "second up changes nothing"
expect_eq "$(history_versions applied)" "$ALL" "second up writes no history"

# ---------------------------------------------------------------- status, version
mapp -d "$URL" status
expect_rc 0 "status"
for v in $ALL; do
  line=$(printf '%s\n' "$OUT" | grep -E "(^|[^0-9])0*$v([^0-9]|$)" | head -n 1)
  if [[ "$line" == *applied* ]]; then pass; else fail "status line for $v: [$line]"; fi
done
mapp -d "$URL" --json status
expect_rc 0 "status --json"
states=$(printf '%s' "$OUT" | json_states 2>&1)
expect_eq "$(echo "$states" | awk '{print $1}' | sort -n)" "$ALL" "status --json versions"
expect_eq "$(echo "$states" | awk '$2 != "applied"' )" "" "status --json: all applied"
mapp -d "$URL" status --module billing
expect_rc 0 "status --module billing"
expect_out "$BILLING_LAST"
expect_no_out "$(echo "$ALL" | head -n 1)"

mapp -d "$URL" version
expect_rc 0 "version"
expect_out "$LAST"

# ---------------------------------------------------------------- down
mapp -d "$URL" down
expect_rc 0 "down"
expect_eq "$(applied_versions)" "$(echo "$ALL" | grep -vx "$LAST")" "down rolls back the last one"
expect_eq "$(history_versions rolled_back | tail -n 1)" "$LAST" "history records the rollback"
mapp -d "$URL" version
expect_out "$(echo "$ALL" | grep -vx "$LAST" | tail -n 1)"
mapp -d "$URL" status
line=$(printf '%s\n' "$OUT" | grep -E "(^|[^0-9])0*$LAST([^0-9]|$)" | head -n 1)
if [[ "$line" == *pending* ]]; then pass; else fail "status after down: $LAST line [$line]"; fi
mapp -d "$URL" up
expect_rc 0
expect_eq "$(applied_versions)" "$ALL" "up re-applies it"

# down --module cooperative: cooperative's latest, nothing else
mapp -d "$URL" down --module cooperative
expect_rc 0 "down --module cooperative"
expect_eq "$(applied_versions)" "$(echo "$ALL" | grep -vx "$COOP_LAST")" "down --module cooperative"
mapp -d "$URL" down --module cooperative
expect_rc 0
second=$(echo "$COOP" | tail -n 2 | head -n 1)
expect_eq "$(applied_versions)" "$(echo "$ALL" | grep -vx -e "$COOP_LAST" -e "$second")" \
  "second down --module cooperative"
mapp -d "$URL" up --module cooperative
expect_rc 0 "up --module cooperative"
expect_eq "$(applied_versions)" "$ALL" "up --module cooperative restores cooperative"
# billing has dependents (entitlements, stripe) applied after it: refused
mapp -d "$URL" down --module billing
expect_rc 2 "down --module billing with dependents applied after it"
expect_eq "$(applied_versions)" "$ALL" "a refused down changes nothing"

# down --to V
cut=$(echo "$ALL" | sed -n 3p)
mapp -d "$URL" down --to "$cut"
expect_rc 0 "down --to $cut"
expect_eq "$(applied_versions)" "$(echo "$ALL" | head -n 3)" "down --to keeps <= $cut"
mapp -d "$URL" up
expect_rc 0

# ---------------------------------------------------------------- redo
before=$(history_versions applied | wc -l)
mapp -d "$URL" redo
expect_rc 0 "redo"
expect_eq "$(applied_versions)" "$ALL" "redo leaves the same set applied"
expect_eq "$(history_versions applied | wc -l)" "$((before + 1))" "redo adds one applied event"
expect_eq "$(history_versions applied | tail -n 1)" "$LAST" "redo re-applied the last one"
expect_eq "$(history_versions rolled_back | tail -n 1)" "$LAST" "redo rolled back the last one"

# ---------------------------------------------------------------- reset
mapp -d "$URL" reset
expect_rc 0 "reset"
expect_eq "$(applied_versions)" "" "reset rolls back everything"
expect_eq "$(module_schemas)" "" "reset drops the module schemas"
expect_sql "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog','information_schema')
  AND tablename NOT LIKE '%goose%' AND tablename NOT LIKE '%modmig%' AND tablename NOT LIKE '%history%'
  AND tablename NOT LIKE '%registry%' AND tablename NOT LIKE '%module%'" "0"
mapp -d "$URL" --json status
expect_rc 0
expect_eq "$(printf '%s' "$OUT" | json_states | awk '$2 != "pending"')" "" "status --json after reset: all pending"
mapp -d "$URL" version
expect_rc 0
expect_out "0"

# ---------------------------------------------------------------- up --to, --by-one, --module
third=$(echo "$ALL" | sed -n 3p)
mapp -d "$URL" up --to "$third"
expect_rc 0 "up --to $third"
expect_eq "$(applied_versions)" "$(echo "$ALL" | head -n 3)" "up --to applies up to and including V"
mapp -d "$URL" up --by-one
expect_rc 0 "up --by-one"
expect_eq "$(applied_versions)" "$(echo "$ALL" | head -n 4)" "up --by-one applies exactly one"
IDENTITY=$(file_versions "$ROOT/modules/identity/migrations")
mapp -d "$URL" up --module identity
expect_rc 0 "up --module identity"
expect_eq "$(applied_versions)" "$( (echo "$ALL" | head -n 4; echo "$IDENTITY") | sort -nu)" \
  "up --module applies only that module"
mapp -d "$URL" up
expect_rc 0
expect_eq "$(applied_versions)" "$ALL" "up completes the rest"

# ---------------------------------------------------------------- -m modules/modules.yaml
EMBEDDED_SCHEMA=$(schema_dump)
new_db
mm -d "$URL" -m "$ROOT/modules/modules.yaml" up
expect_rc 0 "up -m modules.yaml"
expect_eq "$(applied_versions)" "$ALL" "-m: version table"
expect_eq "$(history_versions applied)" "$ALL" "-m: history"
expect_eq "$(schema_dump)" "$EMBEDDED_SCHEMA" "-m and the embedded set build the same schema"
mm -d "$URL" -m "$ROOT/modules/modules.yaml" status
expect_rc 0
expect_out "applied"
mapp -d "$URL" --json status
expect_rc 0 "embedded status on a database migrated from disk"
expect_eq "$(printf '%s' "$OUT" | json_states | awk '$2 != "applied"')" "" "embedded status: all applied"
mm -d "$URL" -m "$ROOT/modules/modules.yaml" down --module cooperative
expect_rc 0
expect_eq "$(applied_versions)" "$(echo "$ALL" | grep -vx "$COOP_LAST")" "-m down --module cooperative"
mm -d "$URL" -m "$ROOT/modules/modules.yaml" redo
expect_rc 0 "-m redo"
mm -d "$URL" -m "$ROOT/modules/modules.yaml" reset
expect_rc 0 "-m reset"
expect_eq "$(applied_versions)" "" "-m reset"
expect_eq "$(module_schemas)" "" "-m reset drops the module schemas"

# DATABASE_URL instead of -d
new_db
DATABASE_URL=$URL mm up --by-one
expect_rc 0 "DATABASE_URL"
expect_eq "$(applied_versions)" "$(echo "$ALL" | head -n 1)" "up --by-one via DATABASE_URL"

finish
