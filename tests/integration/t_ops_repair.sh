#!/usr/bin/env bash
# modmig repair, in the way of Flyway's: explicit, --dry-run-able, each action
# its own history event; verify and doctor honour it. An out-of-order
# migration that up accepted no longer keeps verify at exit 3 forever, a
# changed file's new checksum can be accepted, with a reason, adopted rows get
# their checksums, the history's triggers come back, and registry rows that
# nothing was applied under are cleared. In production each needs --yes.
source "$(dirname "$0")/lib.sh"

D=$TMP/ops
mkdir -p "$D"
mig() { printf -- '-- +goose Up\nCREATE TABLE %s (id int);\n-- +goose Down\nDROP TABLE %s;\n' "$2" "$2" >"$D/$1_$2.sql"; }
hist() { sql "SELECT count(*) FROM $(history_table) WHERE event = '$1'"; }
mig 00001 a
mig 00003 c
new_db
mm -d "$URL" --dir "$D" up
expect_rc 0
mig 00002 b
mm -d "$URL" --dir "$D" up
expect_rc 0
expect_err "out of order"
mm -d "$URL" --dir "$D" verify
expect_rc 3
expect_out "out_of_order"

mm -d "$URL" --dir "$D" repair --acknowledge 2 --dry-run
expect_rc 0
expect_out "would record acknowledged"
expect_eq "$(hist acknowledged)" "0" "a dry run records nothing"
mm -d "$URL" --dir "$D" verify
expect_rc 3
MODMIG_ENV=production mm -d "$URL" --dir "$D" repair --acknowledge 2
expect_rc 2
expect_err "refusing to run repair in production without --yes"
expect_eq "$(hist acknowledged)" "0" "refused in production: nothing recorded"
MODMIG_ENV=production mm -d "$URL" --dir "$D" repair --acknowledge 2 --yes
expect_rc 0
expect_out "recorded acknowledged"
expect_eq "$(hist acknowledged)" "1" "acknowledged is its own history event"
mm -d "$URL" --dir "$D" verify
expect_rc 0
mm -d "$URL" --dir "$D" doctor
expect_rc 0
# a decision verify does not need is refused, as --record-checksums V with a checksum
mm -d "$URL" --dir "$D" repair --acknowledge 2
expect_rc 2
expect_err "version 2 is acknowledged already: there is nothing to acknowledge"
mm -d "$URL" --dir "$D" --json repair --acknowledge 3 --dry-run
expect_rc 2
expect_eq "$(printf '%s' "$OUT" | python3 -c 'import json,sys; e=json.load(sys.stdin)["error"]; print(e["code"], e["version"], e["message"])')" \
  "refused 3 version 3 was applied in order: there is nothing to acknowledge" "repair --json --acknowledge of a version in order"
mm -d "$URL" --dir "$D" repair --accept-checksum 1 --reason "nothing changed"
expect_rc 2
expect_err "version 1's file has its recorded sha256"
expect_eq "$(hist acknowledged) $(hist checksum_accepted)" "1 0" "refused decisions record nothing"

# a changed file: its new checksum accepted, with a reason
printf -- '-- a comment added after the fact\n' >>"$D/00001_a.sql"
mm -d "$URL" --dir "$D" verify
expect_rc 3
expect_out "changed"
mm -d "$URL" --dir "$D" repair --accept-checksum 1
expect_rc 2
expect_err "needs --reason"
mm -d "$URL" --dir "$D" repair --accept-checksum 1 --reason "comment only" --dry-run
expect_rc 0
expect_eq "$(hist checksum_accepted)" "0" "a dry run records nothing"
mm -d "$URL" --dir "$D" --json repair --accept-checksum 1 --reason "comment only"
expect_rc 0
expect_eq "$(printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["action"], d["version"], d["reason"])')" \
  "checksum_accepted 1 comment only" "repair --json"
expect_sql "SELECT count(*) FROM $(history_table) WHERE event = 'checksum_accepted' AND sha256 = '$(sha256sum "$D/00001_a.sql" | cut -d' ' -f1)'" "1"
mm -d "$URL" --dir "$D" verify
expect_rc 0

# refusals: exit 2, nothing recorded
before=$(sql "SELECT count(*) FROM $(history_table)")
mm -d "$URL" --dir "$D" repair --acknowledge 9
expect_rc 2
expect_err "version 9 is not applied"
mm -d "$URL" --dir "$D" repair
expect_rc 2
mm -d "$URL" --dir "$D" repair --acknowledge 2 --accept-checksum 1 --reason x
expect_rc 2
# version 0 is no version: --record-checksums 0 is not every adopted row
for opt in --acknowledge --record-checksums; do
  mm -d "$URL" --dir "$D" repair $opt 0
  expect_rc 2
  expect_err "invalid value '0' for '$opt'"
  mm -d "$URL" --dir "$D" --json repair $opt 0 --dry-run
  expect_eq "$RC $(printf '%s' "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["error"]["code"])')" "2 usage" "repair --json $opt 0"
done
expect_eq "$(sql "SELECT count(*) FROM $(history_table)")" "$before" "refusals record nothing"

# everything a repair could change: schema (triggers included), version
# table, history and registry
H=$(history_table)
state() {
  db_fingerprint
  sql "SELECT event, version, module, file, sha256, error FROM $H ORDER BY id"
  sql "SELECT name, position FROM goose_db_version_modules ORDER BY position" 2>/dev/null
}

# ---------------------------------------------------------- adopted rows: checksums
# goose applied 1 and 2; modmig's up adopts the table and records nothing for them
A=$TMP/adopt
mkdir -p "$A"
printf -- '-- +goose Up\nCREATE TABLE a (id int);\n-- +goose Down\nDROP TABLE a;\n' >"$A/00001_a.sql"
printf -- '-- +goose Up\nCREATE TABLE b (id int);\n-- +goose Down\nDROP TABLE b;\n' >"$A/00002_b.sql"
new_db
H=$(history_table)
sql "CREATE TABLE goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL,
       is_applied boolean NOT NULL, tstamp timestamp DEFAULT now());
     INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true), (2, true);
     CREATE TABLE a (id int); CREATE TABLE b (id int);"
mm -d "$URL" --dir "$A" up
expect_rc 0
H=$(history_table)
mm -d "$URL" --dir "$A" verify
expect_rc 0
expect_out "then record the file's checksum with 'modmig repair --record-checksums 1'"
sum1=$(sha256sum "$A/00001_a.sql" | cut -d' ' -f1)
sum2=$(sha256sum "$A/00002_b.sql" | cut -d' ' -f1)
before=$(state)
mm -d "$URL" --dir "$A" repair --record-checksums 1 --dry-run
expect_rc 0
expect_out "would record checksum_recorded: sha256 ${sum1:0:12}... of adopted migration 1 ($A/00001_a.sql)"
expect_eq "$(state)" "$before" "record-checksums --dry-run changes nothing"
mm -d "$URL" --dir "$A" repair --record-checksums 1
expect_rc 0
expect_out "recorded checksum_recorded"
expect_sql "SELECT event, version, file, sha256, coalesce(error, '-') FROM $H WHERE event = 'checksum_recorded'" \
  "checksum_recorded|1|00001_a.sql|$sum1|-"
mm -d "$URL" --dir "$A" --json verify
expect_eq "$(printf '%s' "$OUT" | python3 -c 'import json,sys; print([(f["kind"], f["version"]) for f in json.load(sys.stdin)])')" \
  "[('unverified', 2)]" "verify: only 2 is unverified now"
# a version with a checksum is refused: a changed file is accepted, with a reason
before=$(state)
mm -d "$URL" --dir "$A" repair --record-checksums 1
expect_rc 2
expect_err "version 1 has a recorded sha256 already: it is not adopted"
mm -d "$URL" --dir "$A" --json repair --record-checksums 1
expect_rc 2
expect_eq "$(printf '%s' "$OUT" | python3 -c 'import json,sys; e=json.load(sys.stdin)["error"]; print(e["code"], e["exit"])')" \
  "refused 2" "repair --json: the refusal"
mm -d "$URL" --dir "$A" repair --record-checksums 7
expect_rc 2
expect_err "version 7 is not applied"
expect_eq "$(state)" "$before" "refusals change nothing"
# every adopted row at once
mm -d "$URL" --dir "$A" --json repair --record-checksums --reason "adopted from goose"
expect_rc 0
expect_eq "$(printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["action"], d["version"], [(r["version"], r["sha256"]) for r in d["recorded"]])')" \
  "checksum_recorded None [(2, '$sum2')]" "repair --json --record-checksums"
expect_sql "SELECT version, sha256, error FROM $H WHERE event = 'checksum_recorded' ORDER BY id" \
  "1|$sum1|
2|$sum2|adopted from goose"
mm -d "$URL" --dir "$A" verify
expect_rc 0
expect_no_out "unverified"
before=$(state)
mm -d "$URL" --dir "$A" repair --record-checksums
expect_rc 0
expect_out "nothing to record"
expect_eq "$(state)" "$before" "nothing to record: nothing recorded"
# a dry run with the table lock takes no lease: it does not even create the lock table
sql "DROP TABLE goose_db_version_lock"
before=$(state)
mm -d "$URL" --dir "$A" --lock table repair --recreate-triggers --dry-run
expect_rc 0
expect_eq "$(state)" "$before" "a dry run with --lock table writes nothing"
mm -d "$URL" --dir "$A" up
expect_rc 0
# verify compares with the recorded checksum from then on
printf -- '-- changed\n' >>"$A/00002_b.sql"
mm -d "$URL" --dir "$A" verify
expect_rc 3
expect_out "changed"
printf -- '-- +goose Up\nCREATE TABLE b (id int);\n-- +goose Down\nDROP TABLE b;\n' >"$A/00002_b.sql"

# ---------------------------------------------------------- the history's triggers
trig() { sql "SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = '$H'::regclass AND NOT tgisinternal ORDER BY 1"; }
want_trig="modmig_append_only|O
modmig_no_truncate|O"
expect_eq "$(trig)" "$want_trig" "up created both triggers"
# the guard function dropped with its triggers: both are gone
sql "SET client_min_messages = warning; DROP FUNCTION goose_db_version_guard() CASCADE"
mm -d "$URL" --dir "$A" verify
expect_rc 3
expect_out "(0 of 2 present): past events may have been changed; run 'modmig repair --recreate-triggers'"
mm -d "$URL" --dir "$A" doctor
expect_rc 3
expect_out "run 'modmig repair --recreate-triggers', then check 'modmig history' for changes"
before=$(state)
mm -d "$URL" --dir "$A" repair --recreate-triggers --dry-run
expect_rc 0
expect_out "would record triggers_recreated: modmig_append_only, modmig_no_truncate on \"public\".\"goose_db_version_history\" (0 of 2 were in place)"
expect_eq "$(state)" "$before" "recreate-triggers --dry-run changes nothing"
MODMIG_ENV=production mm -d "$URL" --dir "$A" repair --recreate-triggers
expect_rc 2
expect_err "hint: check what it records with --dry-run"
expect_eq "$(state)" "$before" "refused in production: nothing changed"
mm -d "$URL" --dir "$A" repair --recreate-triggers --reason "dropped by a cleanup script"
expect_rc 0
expect_out "recorded triggers_recreated"
expect_eq "$(trig)" "$want_trig" "both triggers are back, enabled"
expect_sql "SELECT event, coalesce(version::text, '-'), coalesce(module, '-'), error FROM $H ORDER BY id DESC LIMIT 1" \
  "triggers_recreated|-|-|dropped by a cleanup script"
expect_eq "$(sql "DELETE FROM $H" 2>&1 | head -n 1)" \
  "ERROR:  the modmig history is append-only: DELETE is not allowed" "the history is append-only again"
mm -d "$URL" --dir "$A" verify
expect_rc 0
mm -d "$URL" --dir "$A" doctor
expect_rc 0
# one disabled, one in place: the disabled one is replaced
sql "ALTER TABLE $H DISABLE TRIGGER modmig_no_truncate"
mm -d "$URL" --dir "$A" verify
expect_rc 3
mm -d "$URL" --dir "$A" repair --recreate-triggers
expect_rc 0
expect_out "(1 of 2 were in place)"
expect_eq "$(trig)" "$want_trig" "the disabled trigger is enabled again"
before=$(state)
mm -d "$URL" --dir "$A" repair --recreate-triggers
expect_rc 0
expect_out "nothing to recreate"
expect_eq "$(state)" "$before" "nothing to recreate: nothing recorded"
mm -d "$URL" --dir "$A" verify
expect_rc 0

# ---------------------------------------------------------- the module registry
R=$TMP/reg
manifest() { # the module names, in order
  { echo "version_table: goose_db_version"; echo "modules:"
    for m in "$@"; do echo "  - name: $m"; done; } >"$R/modules.yaml"
}
migration() { # MODULE VERSION SQL
  mkdir -p "$R/$1/migrations"
  printf -- '-- +goose Up\n%s\n-- +goose Down\nSELECT 1;\n' "$3" >"$R/$1/migrations/$2_$1.sql"
}
reg() { sql "SELECT name, position FROM goose_db_version_modules ORDER BY position"; }
mkdir -p "$R"
manifest core extra tail
migration core 01001 "CREATE TABLE core_t (id int);"
migration extra 02001 "CREATE TABLE extra_t (id int, broken);"
migration tail 03001 "CREATE TABLE tail_t (id int);"
new_db
H=goose_db_version_history
# a run registers all three modules, then fails under extra: nothing applied there
mm -d "$URL" -m "$R/modules.yaml" up
expect_rc 1
expect_eq "$(reg)" "core|1
extra|2
tail|3" "the failed run registered every module"
# extra is renamed in the manifest: up and verify refuse the registry
mv "$R/extra" "$R/extras"
manifest core extras tail
rm "$R/extras/migrations/02001_extra.sql"
migration extras 02001 "CREATE TABLE extras_t (id int);"
mm -d "$URL" -m "$R/modules.yaml" up
expect_rc 2
expect_err "position 2 was registered for module extra"
mm -d "$URL" -m "$R/modules.yaml" verify
expect_rc 3
expect_out "registered for module extra; restore the manifest, or, if nothing was applied under the modules it no longer has, run 'modmig repair --clear-registry'"
mm -d "$URL" -m "$R/modules.yaml" doctor
expect_rc 3
expect_out "run 'modmig repair --clear-registry'"
before=$(state)
mm -d "$URL" -m "$R/modules.yaml" repair --clear-registry --dry-run
expect_rc 0
expect_out "would record registry_cleared: module extra at position 2 (versions 2001..2999), nothing applied under it"
expect_out "would record registry_cleared: module tail at position 3 (versions 3001..3999), nothing applied under it"
expect_eq "$(state)" "$before" "clear-registry --dry-run changes nothing"
MODMIG_ENV=production mm -d "$URL" -m "$R/modules.yaml" repair --clear-registry
expect_rc 2
expect_eq "$(state)" "$before" "refused in production: nothing changed"
mm -d "$URL" -m "$R/modules.yaml" --json repair --clear-registry --reason "extra was renamed"
expect_rc 0
expect_eq "$(printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["action"], len(d["recorded"]), d["recorded"][0]["message"])')" \
  "registry_cleared 2 recorded registry_cleared: module extra at position 2 (versions 2001..2999), nothing applied under it" \
  "repair --json --clear-registry"
expect_eq "$(reg)" "core|1" "only the rows after the agreeing prefix are cleared"
expect_sql "SELECT event, coalesce(version::text, '-'), module, error FROM $H WHERE event = 'registry_cleared' ORDER BY id" \
  "registry_cleared|-|extra|extra was renamed
registry_cleared|-|tail|extra was renamed"
mm -d "$URL" -m "$R/modules.yaml" up
expect_rc 0
expect_eq "$(reg)" "core|1
extras|2
tail|3" "up registers the manifest's modules again"
mm -d "$URL" -m "$R/modules.yaml" verify
expect_rc 0
mm -d "$URL" -m "$R/modules.yaml" doctor
expect_rc 0
# tail renamed now that 3001 is applied under it: refused, nothing changed
mv "$R/tail" "$R/tails"
manifest core extras tails
before=$(state)
mm -d "$URL" -m "$R/modules.yaml" repair --clear-registry
expect_rc 2
expect_err "cannot clear module tail (position 3) from the registry: version 3001 was applied under it"
expect_err "hint: keep module tail at position 3"
mm -d "$URL" -m "$R/modules.yaml" --json repair --clear-registry
expect_rc 2
expect_eq "$(printf '%s' "$OUT" | python3 -c 'import json,sys; e=json.load(sys.stdin)["error"]; print(e["code"], e["exit"])')" \
  "refused 2" "repair --json --clear-registry: the refusal"
expect_eq "$(state)" "$before" "a refused clear changes nothing"
mv "$R/tails" "$R/tail"
manifest core extras tail
mm -d "$URL" -m "$R/modules.yaml" repair --clear-registry
expect_rc 0
expect_out "nothing to clear: the module registry matches the manifest"
expect_eq "$(state)" "$before" "nothing to clear: nothing recorded"
mm -d "$URL" --dir "$A" repair --clear-registry
expect_rc 2
expect_err "a plain goose directory has no module registry to clear"
expect_err "hint: use -m with a manifest: a goose directory (--dir) has no modules"
# ---------------------------------------------------------- clear-registry under the fence
# A migrator whose migration released the session lock (or that runs behind a
# pooler, where the lock means nothing) applies a version under module extra
# while repair clears extra: repair waits for that migration's transaction at
# the fence and sees the version there, refuses, and keeps the registry row.
F=$TMP/fence
fmanifest() { # DIR MODULE...
  local d=$1; shift
  mkdir -p "$d"
  { echo "version_table: goose_db_version"; echo "modules:"
    for m in "$@"; do echo "  - name: $m"; mkdir -p "$d/$m/migrations"; done; } >"$d/modules.yaml"
}
fmanifest "$F/old" core extra
fmanifest "$F/new" core extras
for d in old new; do
  printf -- '-- +goose Up\nCREATE TABLE fence_core (id int);\n-- +goose Down\nDROP TABLE fence_core;\n' >"$F/$d/core/migrations/01001_core.sql"
done
new_db
mm -d "$URL" -m "$F/old/modules.yaml" up
expect_rc 0
printf -- '-- +goose Up\nSELECT pg_advisory_unlock_all();\nSELECT pg_advisory_xact_lock(4470);\nCREATE TABLE fence_extra (id int);\n-- +goose Down\nDROP TABLE fence_extra;\n' \
  >"$F/old/extra/migrations/02001_extra.sql"
holder_start 4470
"$MODMIG" -d "$URL" -m "$F/old/modules.yaml" up >"$TMP/fence_up.out" 2>&1 &
up_pid=$!
wait_for "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4470 AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())" 1 ||
  fail "the migrator never reached migration 2001"
"$MODMIG" -d "$URL" -m "$F/new/modules.yaml" repair --clear-registry --reason "extra was renamed" >"$TMP/fence_rep.out" 2>"$TMP/fence_rep.err" &
rep_pid=$!
sleep 1
holder_stop
wait "$up_pid"; expect_eq "$?" "0" "the migrator applies 2001 under extra"
wait "$rep_pid"; RC=$?; OUT=$(cat "$TMP/fence_rep.out"); ERR=$(cat "$TMP/fence_rep.err"); LAST_CMD="repair --clear-registry (at the fence)"
expect_rc 2 "clear-registry refused: 2001 was applied under extra meanwhile"
expect_err "cannot clear module extra (position 2) from the registry"
expect_err "a version was applied under it by another migrator meanwhile"
expect_err "nothing was recorded"
expect_sql "SELECT name, position FROM goose_db_version_modules ORDER BY position" "core|1
extra|2"
expect_sql "SELECT count(*) FROM goose_db_version_history WHERE event = 'registry_cleared'" "0"

# the same for a version: rolled back at the fence by a down whose Down released
# the session lock, its changed file's checksum is not accepted
G=$TMP/fence_down
mkdir -p "$G"
printf -- '-- +goose Up\nCREATE TABLE fence_g (id int);\n-- +goose Down\nSELECT pg_advisory_unlock_all();\nSELECT pg_advisory_xact_lock(4471);\nDROP TABLE fence_g;\n' >"$G/00001_g.sql"
new_db
mm -d "$URL" --dir "$G" up
expect_rc 0
printf -- '-- changed\n' >>"$G/00001_g.sql"
holder_start 4471
"$MODMIG" -d "$URL" --dir "$G" down >"$TMP/fence_down.out" 2>&1 &
down_pid=$!
wait_for "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4471 AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())" 1 ||
  fail "down never reached the Down section of 1"
"$MODMIG" -d "$URL" --dir "$G" repair --accept-checksum 1 --reason "comment only" >"$TMP/fence_rep.out" 2>"$TMP/fence_rep.err" &
rep_pid=$!
sleep 1
holder_stop
wait "$down_pid"; expect_eq "$?" "0" "down rolls 1 back"
wait "$rep_pid"; RC=$?; OUT=$(cat "$TMP/fence_rep.out"); ERR=$(cat "$TMP/fence_rep.err"); LAST_CMD="repair --accept-checksum (at the fence)"
expect_rc 2 "accept-checksum refused: 1 was rolled back meanwhile"
expect_err "version 1 was rolled back by another migrator meanwhile"
expect_sql "SELECT count(*) FROM goose_db_version_history WHERE event = 'checksum_accepted'" "0"

finish
