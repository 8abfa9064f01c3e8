#!/usr/bin/env bash
# Robustness 1 (issue 5): 16 `modmig up` processes and 8 example services
# (startup API, policy apply) are released at the same moment against one empty
# database, 12 times, each time on a fresh database. Every process exits 0,
# every migration is applied exactly once (version table and history), and the
# history holds no duplicates.
#
#   MODMIG_ROBUST_REPS=N overrides the number of repetitions (default 12).
source "$(dirname "$0")/lib.sh"

REPS=${MODMIG_ROBUST_REPS:-12}
N_CLI=16
N_SVC=8
N=$((N_CLI + N_SVC))

# The bundled set: the CLI's embedded migrations and the example service's are
# both compiled from modules/. The expected versions come from the file names.
VT=$(sed -n 's/^version_table:[[:space:]]*\([^[:space:]#]*\).*/\1/p' "$ROOT/modules/modules.yaml")
VT=${VT:-goose_db_version}
case "$VT" in *.*) VT_SCHEMA=${VT%%.*}; VT_NAME=${VT#*.};; *) VT_SCHEMA=public; VT_NAME=$VT;; esac
VTQ="\"$VT_SCHEMA\".\"$VT_NAME\""
EXPECTED=$(ls "$ROOT"/modules/*/migrations/*.sql | sed 's#.*/##; s/_.*//; s/^0*//' | sort -n | tr '\n' ' ' | sed 's/ $//')
N_MIG=$(echo "$EXPECTED" | wc -w)
[ "$N_MIG" -gt 0 ] || { echo "no bundled migrations found under modules/" >&2; exit 1; }

# The history table: next to the version table, its name contains 'history'.
# Its version and event columns are found by name.
find_history() {
  HIST=$(sql "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
              WHERE schemaname = '$VT_SCHEMA' AND tablename LIKE '%history%' ORDER BY 1 LIMIT 1")
  local tname; tname=$(sql "SELECT tablename FROM pg_tables WHERE schemaname = '$VT_SCHEMA'
                            AND tablename LIKE '%history%' ORDER BY 1 LIMIT 1")
  HIST_V=$(sql "SELECT column_name FROM information_schema.columns WHERE table_schema = '$VT_SCHEMA'
                AND table_name = '$tname' AND column_name IN ('version_id', 'version') ORDER BY column_name DESC LIMIT 1")
  HIST_E=$(sql "SELECT column_name FROM information_schema.columns WHERE table_schema = '$VT_SCHEMA'
                AND table_name = '$tname' AND column_name IN ('event', 'kind', 'action', 'event_type', 'type', 'op', 'operation')
                ORDER BY array_position(ARRAY['event','kind','action','event_type','type','op','operation']::name[], column_name::name) LIMIT 1")
}

# One process of a round, by its number: the first N_CLI are `modmig up`, the
# others example services (policy apply). run_together (lib.sh) releases all
# N at once; a copy's output is in $TMP/log.I.
cat >"$TMP/worker.sh" <<EOF
#!/bin/sh
if [ "\$1" -le $N_CLI ]; then exec "$MODMIG" -d "\$2" -q up; fi
DATABASE_URL=\$2 MODMIG_POLICY=apply exec "$EXAMPLE_SERVICE"
EOF
chmod +x "$TMP/worker.sh"
for rep in $(seq 1 "$REPS"); do
  new_db
  run_together "$N" "$TMP/worker.sh" @I@ "$URL"
  expect_eq "$BAD" "" "rep $rep: every process exits 0 (runs above $N_CLI are services)"

  # Version table: exactly the bundled versions applied, each once.
  got=$(sql "SELECT string_agg(version_id::text, ' ' ORDER BY version_id) FROM $VTQ WHERE is_applied AND version_id > 0" 2>&1)
  expect_eq "$got" "$EXPECTED" "rep $rep: applied versions"
  expect_sql "SELECT count(*) FROM (SELECT version_id FROM $VTQ WHERE is_applied GROUP BY 1 HAVING count(*) > 1) d" "0"
  expect_sql "SELECT count(*) FROM $VTQ WHERE NOT is_applied" "0"

  # History: exactly one 'applied' event per version, nothing else applied.
  find_history
  if [ -z "$HIST" ] || [ -z "$HIST_V" ] || [ -z "$HIST_E" ]; then
    fail "rep $rep: no history table with version and event columns beside $VT (found [$HIST] [$HIST_V] [$HIST_E])"
  else
    [ "$rep" = 1 ] && echo "history table $HIST: version column $HIST_V, event column $HIST_E"
    applied="lower($HIST_E::text) IN ('applied', 'apply', 'up')"
    got=$(sql "SELECT string_agg($HIST_V::text, ' ' ORDER BY $HIST_V) FROM $HIST WHERE $applied" 2>&1)
    expect_eq "$got" "$EXPECTED" "rep $rep: history has one applied event per version"
    expect_sql "SELECT count(*) FROM (SELECT $HIST_V FROM $HIST WHERE $applied GROUP BY 1 HAVING count(*) > 1) d" "0"
    # No other kind of event either: nobody failed or rolled back (NO TRANSACTION
    # migrations also record the progress of each unit).
    expect_sql "SELECT count(*) FROM $HIST WHERE NOT ($applied OR $HIST_E::text LIKE 'unit\_%')" "0"
  fi
  # Every service saw the final state: it printed its search path.
  svc_ok=0
  for i in $(seq $((N_CLI + 1)) "$N"); do grep -q '^search_path: ' "$TMP/log.$i" && svc_ok=$((svc_ok + 1)); done
  expect_eq "$svc_ok" "$N_SVC" "rep $rep: services printed their search path"
  psql -qX -d postgres -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1
  [ "$FAILURES" -gt 0 ] && { echo "stopping after rep $rep" >&2; break; }
done
finish
