#!/usr/bin/env bash
# The fence (DESIGN §6, issue 9 findings 2 and 7), on a direct connection:
# whatever happens to the session lock, no version is applied twice.
#   1. migrations that call pg_advisory_unlock_all() (and a NO TRANSACTION
#      file that runs DISCARD ALL) under 8 concurrent `up` runs x 5 rounds
#   2. --table goose_db_version and --table public.goose_db_version at once:
#      one table, one lock key, no double apply
#   3. --table '"public".goose_db_version' creates no schema named "public"
#      (with quotes); a quoted mixed-case name keeps its case; a three-part or
#      malformed name is refused with exit 2 and nothing is created
#   4. two version tables used for the first time at the same moment, 20 tries
#   5. stamp under the fence
#   6. a NO TRANSACTION run whose first unit released the session lock: a
#      second migrator waits while that run's session is connected (even once
#      its client is killed, while its unit still runs), then finishes or
#      reports it part-way; never runs a unit twice
# Each checks the exit codes, the messages and the version and history rows.
source "$(dirname "$0")/lib.sh"

ROUNDS=${MODMIG_FENCE_ROUNDS:-5}
N=8

# A plain goose directory of $1 migrations; every third one releases all
# advisory locks of its session, and migration 5 is NO TRANSACTION with
# DISCARD ALL.
make_dir() {
  local d=$1 n=$2 i v
  rm -rf "$d"; mkdir -p "$d"
  for i in $(seq 1 "$n"); do
    v=$(printf '%05d' "$i")
    {
      echo "-- +goose Up"
      [ $((i % 3)) = 0 ] && echo "SELECT pg_advisory_unlock_all();"
      echo "CREATE TABLE t$i (id int);"
      echo "SELECT pg_sleep(0.01);"
      echo "-- +goose Down"
      echo "DROP TABLE t$i;"
    } >"$d/${v}_m$i.sql"
  done
  cat >"$d/00005_m5.sql" <<'EOF'
-- +goose NO TRANSACTION
-- +goose Up
DISCARD ALL;
CREATE TABLE t5 (id int);
SELECT pg_sleep(0.02);
-- +goose Down
DROP TABLE t5;
EOF
}

# run_together (lib.sh) starts $N copies at once; @I@ is the copy's number.

# Exactly versions 1..$1 applied once each, one 'applied' history row each,
# and no other event (vt and history given as quoted names).
check_once() {
  local n=$1 vt=$2 hist=$3 what=$4 want
  want=$(seq 1 "$n" | tr '\n' ' ' | sed 's/ $//')
  expect_eq "$(sql "SELECT string_agg(version_id::text, ' ' ORDER BY version_id) FROM $vt WHERE version_id > 0")" "$want" \
    "$what: every version has exactly one row in the version table"
  expect_eq "$(sql "SELECT string_agg(version::text, ' ' ORDER BY version) FROM $hist WHERE event = 'applied'")" "$want" \
    "$what: every version has exactly one 'applied' history row"
  expect_eq "$(sql "SELECT count(*) FROM $hist WHERE event NOT IN ('applied', 'unit_started', 'unit_done')")" "0" \
    "$what: no failed or other events"
}

# ---- 1. migrations that release the session lock --------------------------
make_dir "$TMP/mig" 12
dups=0
for round in $(seq 1 "$ROUNDS"); do
  new_db
  run_together "$N" "$MODMIG" -d "$URL" --dir "$TMP/mig" -q up
  expect_eq "$BAD" "" "round $round: every run exits 0"
  check_once 12 goose_db_version goose_db_version_history "round $round"
  dups=$((dups + $(sql "SELECT count(*) - count(DISTINCT version_id) FROM goose_db_version")))
  expect_sql "SELECT count(*) FROM pg_tables WHERE tablename ~ '^t[0-9]+$'" "12"
  mm -d "$URL" --dir "$TMP/mig" verify
  expect_rc 0
  psql -qX -d postgres -c "DROP DATABASE \"$DB\" WITH (FORCE)" >/dev/null 2>&1
done
echo "unlock_all/DISCARD ALL: $ROUNDS rounds x $N concurrent runs, $dups duplicate version rows"
expect_eq "$dups" "0" "no duplicates over all rounds"

# ---- 2. two spellings of one table -------------------------------------------
cat >"$TMP/spell_up.sh" <<EOF
#!/bin/sh
# odd copies spell the table unqualified, even ones schema-qualified
if [ \$((\$1 % 2)) = 1 ]; then t=goose_db_version; else t=public.goose_db_version; fi
exec "$MODMIG" -d "\$2" --dir "$TMP/mig" --table "\$t" -q up
EOF
chmod +x "$TMP/spell_up.sh"
for round in $(seq 1 "$ROUNDS"); do
  new_db
  run_together "$N" "$TMP/spell_up.sh" @I@ "$URL"
  expect_eq "$BAD" "" "spellings round $round: every run exits 0"
  check_once 12 goose_db_version goose_db_version_history "spellings round $round"
  expect_sql "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'goose_db_version%'" "4"
  psql -qX -d postgres -c "DROP DATABASE \"$DB\" WITH (FORCE)" >/dev/null 2>&1
done
new_db
mm -d "$URL" --dir "$TMP/mig" --table goose_db_version status
key1=$(mm -d "$URL" --dir "$TMP/mig" --table goose_db_version doctor; echo "$OUT" | grep -o 'advisory key [-0-9]*')
key2=$(mm -d "$URL" --dir "$TMP/mig" --table public.goose_db_version doctor; echo "$OUT" | grep -o 'advisory key [-0-9]*')
key3=$(mm -d "$URL" --dir "$TMP/mig" --table '"public"."goose_db_version"' doctor; echo "$OUT" | grep -o 'advisory key [-0-9]*')
expect_eq "$key2" "$key1" "public.goose_db_version has the key of goose_db_version"
expect_eq "$key3" "$key1" "\"public\".\"goose_db_version\" has the key of goose_db_version"
[ -n "$key1" ] && pass || fail "doctor names the advisory key"

# ---- 3. identifiers follow SQL's rules ---------------------------------------
mm -d "$URL" --dir "$TMP/mig" --table '"public".goose_db_version' up --to 2
expect_rc 0
expect_sql "SELECT count(*) FROM pg_namespace WHERE nspname LIKE '%\"%'" "0"
expect_sql "SELECT string_agg(version_id::text, ' ' ORDER BY id) FROM public.goose_db_version" "0 1 2"
mm -d "$URL" --dir "$TMP/mig" up
expect_rc 0
expect_sql "SELECT count(*) FROM public.goose_db_version WHERE version_id > 0" "12"

new_db
sql 'CREATE SCHEMA "Mig"'
mm -d "$URL" --dir "$TMP/mig" --table '"Mig"."Versions.Of App"' up --to 3
expect_rc 0
expect_sql "SELECT string_agg(version_id::text, ' ' ORDER BY id) FROM \"Mig\".\"Versions.Of App\"" "0 1 2 3"
expect_sql "SELECT count(*) FROM \"Mig\".\"Versions.Of App_history\" WHERE event = 'applied'" "3"
expect_sql "SELECT count(*) FROM pg_class WHERE relname = 'versions'" "0"
mm -d "$URL" --dir "$TMP/mig" --table '"Mig"."Versions.Of App"' status
expect_rc 0
expect_out "00003"
# an unqualified mixed-case name folds to lower case, like in SQL
new_db
mm -d "$URL" --dir "$TMP/mig" --table 'MyVersions' up --to 1
expect_rc 0
expect_sql "SELECT count(*) FROM public.myversions WHERE version_id = 1" "1"

for bad in 'a.b.c' 'x y' '"unclosed' 'goose_db_version; DROP TABLE t1' ''; do
  new_db
  mm -d "$URL" --dir "$TMP/mig" --table "$bad" up
  if [ -z "$bad" ]; then expect_rc 2; continue; fi
  expect_rc 2 "for --table '$bad'"
  expect_err "version table"
  expect_sql "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')" "0"
done

# ---- 4. two version tables, first use at the same moment ---------------------
# migrations that create nothing, so that every version table can apply them
rm -rf "$TMP/noop"; mkdir -p "$TMP/noop"
for i in 1 2; do printf -- '-- +goose Up\nSELECT %d;\n' "$i" >"$TMP/noop/0000${i}_noop.sql"; done
fails=0
for try in $(seq 1 20); do
  new_db
  sql "CREATE SCHEMA app" >/dev/null
  run_together 4 "$MODMIG" -d "$URL" --dir "$TMP/noop" --table 'app.vt_@I@' -q up
  [ -n "$BAD" ] && fails=$((fails + 1))
  expect_sql "SELECT count(*) FROM pg_tables WHERE schemaname = 'app' AND tablename ~ '^vt_[0-9]$'" "4"
  psql -qX -d postgres -c "DROP DATABASE \"$DB\" WITH (FORCE)" >/dev/null 2>&1
done
expect_eq "$fails" "0" "two version tables created at once: no failure in 20 tries"
fails=0
for try in $(seq 1 10); do
  new_db
  run_together 4 "$MODMIG" -d "$URL" --dir "$TMP/noop" --table 'newschema@I@.vt' -q up
  [ -n "$BAD" ] && fails=$((fails + 1))
  run_together 4 "$MODMIG" -d "$URL" --dir "$TMP/noop" --table 'shared.vt_@I@' -q up
  [ -n "$BAD" ] && fails=$((fails + 1))
  expect_sql "SELECT count(*) FROM pg_tables WHERE tablename ~ '^vt(_[0-9])?$'" "8"
  psql -qX -d postgres -c "DROP DATABASE \"$DB\" WITH (FORCE)" >/dev/null 2>&1
done
expect_eq "$fails" "0" "state created in new schemas at once: no failure in 10 tries"

# ---- 5. stamp takes the fence too -------------------------------------------
new_db
run_together 6 "$MODMIG" -d "$URL" --dir "$TMP/mig" -q stamp 4
expect_eq "$BAD" "" "concurrent stamps exit 0"
expect_sql "SELECT string_agg(version_id::text, ' ' ORDER BY version_id) FROM goose_db_version WHERE version_id > 0" "1 2 3 4"
expect_sql "SELECT count(*) FROM goose_db_version_history WHERE event = 'stamped'" "4"

# ---- 6. a live NO TRANSACTION run is waited for, a dead one is not ----------
set -m
mkdir -p "$TMP/live"
cat >"$TMP/live/00001_two_units.sql" <<'EOF'
-- +goose NO TRANSACTION
-- +goose Up
SELECT pg_advisory_unlock_all();
CREATE TABLE IF NOT EXISTS live_1 (id int);
-- +goose StatementBegin
SELECT pg_advisory_xact_lock(4461); INSERT INTO live_1 VALUES (1);
-- +goose StatementEnd
-- +goose Down
DROP TABLE live_1;
EOF
for how in finishes killed; do
  new_db
  holder_start 4461
  "$MODMIG" -d "$URL" --dir "$TMP/live" up >"$TMP/a.out" 2>"$TMP/a.err" &
  a=$!
  wait_for "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND objid = 4461 AND NOT granted" 1 ||
    fail "($how) the first migrator never reached its last unit"
  LAST_CMD="modmig up (second migrator, $how)"
  "$MODMIG" -d "$URL" --dir "$TMP/live" --lock-timeout 60s up >"$TMP/b.out" 2>"$TMP/b.err" &
  b=$!
  wait_for "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'modmig' AND datname = current_database()" 2 ||
    fail "($how) the second migrator did not connect"
  sleep 1
  if [ "$how" = killed ]; then kill -KILL "$a"; wait "$a" 2>/dev/null; fi
  kill -0 "$b" 2>/dev/null || fail "($how) the second migrator did not wait for the live run"
  holder_stop
  wait "$b"; RC=$?
  ERR=$(cat "$TMP/b.err"); OUT=$(cat "$TMP/b.out")
  expect_err "waiting for another migrator's run of NO TRANSACTION migration"
  expect_err "still connected"
  expect_sql "SELECT count(*) FROM live_1" "1"
  expect_sql "SELECT count(*) FROM goose_db_version_history WHERE event = 'unit_started' AND failed_unit = 3" "1"
  if [ "$how" = finishes ]; then
    wait "$a"; expect_eq "$?" "0" "($how) the first migrator finishes"
    expect_rc 0 "($how) the second migrator is done once the first one is"
    expect_sql "SELECT count(*) FROM goose_db_version WHERE version_id = 1" "1"
  else
    # its client died while the unit ran; the unit finished on the server and
    # its session ended: the second migrator stops waiting and says so
    expect_rc 1 "($how) the second migrator reports the run that died"
    expect_err "NO TRANSACTION migration 1 stopped part-way and is not applied"
    expect_err "unit 3 of 3 was running when the run ended and may have taken effect"
    expect_sql "SELECT count(*) FROM goose_db_version WHERE version_id = 1" "0"
  fi
done

# ---- 7. a migrator waiting for the lock is not the run's session ------------
# Two migrators connected before a NO TRANSACTION run recorded its unit wait
# for the lock; the run dies. Whichever gets the lock must not take the other
# (same application_name, connected before the event) for the run's session:
# it would wait for it while the other waits for the lock (for ever in the
# library, which has no lock timeout by default).
mkdir -p "$TMP/waiters"
cat >"$TMP/waiters/00001_gate.sql" <<'EOF'
-- +goose Up
SELECT pg_advisory_xact_lock(4463);
-- +goose Down
SELECT 1;
EOF
cat >"$TMP/waiters/00002_two_units.sql" <<'EOF'
-- +goose NO TRANSACTION
-- +goose Up
CREATE TABLE waiters_1 (id int);
SELECT pg_advisory_xact_lock(4462);
-- +goose Down
DROP TABLE waiters_1;
EOF
advisory() { # KEY GRANTED: sessions of this database holding (t) or waiting for (f) lock KEY
  sql "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted = '$2' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
}
new_db
holder_start 4462
PGAPPNAME=gate psql -qAtX -d "$DB" -c "SELECT pg_advisory_lock(4463)" -c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
gate=$!
for i in $(seq 1 200); do [ "$(advisory 4463 t)" = 1 ] && break; sleep 0.05; done
"$MODMIG" -d "$URL" --dir "$TMP/waiters" up >"$TMP/w0.out" 2>&1 &
a=$!
for i in $(seq 1 200); do [ "$(advisory 4463 f)" = 1 ] && break; sleep 0.05; done
expect_eq "$(advisory 4463 f)" "1" "the first migrator waits at the gate"
"$MODMIG" -d "$URL" --dir "$TMP/waiters" --lock-timeout 30s up >"$TMP/w1.out" 2>"$TMP/w1.err" &
w1=$!
"$MODMIG" -d "$URL" --dir "$TMP/waiters" --lock-timeout 30s up >"$TMP/w2.out" 2>"$TMP/w2.err" &
w2=$!
wait_for "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'modmig' AND datname = current_database()" 3 ||
  fail "the waiting migrators did not connect"
sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'gate' AND datname = current_database()" >/dev/null
wait "$gate" 2>/dev/null
for i in $(seq 1 200); do [ "$(advisory 4462 f)" = 1 ] && break; sleep 0.05; done
expect_eq "$(advisory 4462 f)" "1" "the first migrator runs unit 2 of its NO TRANSACTION migration"
kill -KILL "$a"; wait "$a" 2>/dev/null
started=$SECONDS
holder_stop
for w in 1 2; do
  if [ "$w" = 1 ]; then wait "$w1"; else wait "$w2"; fi
  RC=$?; ERR=$(cat "$TMP/w$w.err"); OUT=$(cat "$TMP/w$w.out"); LAST_CMD="modmig up (waiting migrator $w)"
  expect_rc 1 "waiting migrator $w reports the run that died"
  expect_err "NO TRANSACTION migration 2 stopped part-way and is not applied"
  expect_no_err "waiting for another migrator's run"
done
[ $((SECONDS - started)) -lt 20 ] && pass || fail "the waiting migrators took $((SECONDS - started))s: one waited for the other"
expect_sql "SELECT count(*) FROM goose_db_version WHERE version_id = 2" "0"
expect_sql "SELECT count(*) FROM goose_db_version_history WHERE event = 'unit_started' AND version = 2" "2"

# ---- 8. up --resume waits for a run whose session is connected --------------
# The operator resumes a NO TRANSACTION run whose client was killed while its
# unit still runs on the server (or whose migration released the session
# lock): resuming now would run that unit a second time, at once. --resume
# waits while the run's session is connected, then resumes.
new_db
holder_start 4461
"$MODMIG" -d "$URL" --dir "$TMP/live" up >"$TMP/a.out" 2>"$TMP/a.err" &
a=$!
wait_for "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND objid = 4461 AND NOT granted" 1 ||
  fail "(resume) the first migrator never reached its last unit"
kill -KILL "$a"; wait "$a" 2>/dev/null
"$MODMIG" -d "$URL" --dir "$TMP/live" --lock-timeout 60s up --resume >"$TMP/b.out" 2>"$TMP/b.err" &
b=$!
wait_for "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'modmig' AND datname = current_database()" 2 ||
  fail "(resume) the resuming migrator did not connect"
sleep 1.5
expect_sql "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND objid = 4461 AND NOT granted" "1"
kill -0 "$b" 2>/dev/null && pass || fail "(resume) the resuming migrator did not wait for the unit still running"
holder_stop
wait "$b"; RC=$?
ERR=$(cat "$TMP/b.err"); OUT=$(cat "$TMP/b.out"); LAST_CMD="modmig up --resume (while the run's unit still runs)"
expect_rc 0 "(resume) resumed once the run's session was gone"
expect_err "waiting for another migrator's run of NO TRANSACTION migration"
expect_sql "SELECT string_agg(event || ':' || coalesce(failed_unit::text, '-'), ',' ORDER BY id) FROM goose_db_version_history WHERE version = 1 AND id > 5" \
  "resumed:3,unit_started:3,unit_done:3,applied:-"

finish
