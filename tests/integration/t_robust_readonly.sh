#!/usr/bin/env bash
# Read-only servers (issue 9, finding 10): against a hot standby, or a
# database whose default_transaction_read_only is on, up, down, redo, reset
# and stamp are refused before anything runs (exit 2, nothing changed), with
# a message that says why; their dry runs only read, and work there; doctor
# says so too and does not advise up. The
# server reports both settings when the connection starts (PostgreSQL 14+),
# so up with nothing to do still costs its one round trip.
MODMIG_TEST_NEEDS="standby"
source "$(dirname "$0")/lib.sh"

# a doctor item's line with its columns' padding squeezed: "FAIL writable read-only: ..."
doctor_item() { grep -E "^(ok|FAIL) +$1 " <<<"$OUT" | tr -s ' '; }

D=$TMP/m
mkdir -p "$D"
cat >"$D/00001_one.sql" <<'EOF'
-- +goose Up
CREATE TABLE ro_one (id int);
-- +goose Down
DROP TABLE ro_one;
EOF
cat >"$D/00002_two.sql" <<'EOF'
-- +goose Up
CREATE TABLE ro_two (id int);
-- +goose Down
DROP TABLE ro_two;
EOF

# ---- the hot standby
new_db
mm -d "$URL" --dir "$D" up --to 1
expect_rc 0 "migration 1 applied on the primary"
wait_standby_replay
S=$(standby_url)
for cmd in "up" "down --yes" "redo --yes" "reset" "stamp 2"; do
  # shellcheck disable=SC2086
  mm -d "$S" --dir "$D" $cmd
  expect_rc 2 "(standby) $cmd is refused"
  expect_err "modmig: error: refusing to "
  expect_err "on a read-only server: the server is a hot standby (in recovery) and takes no writes"
  expect_err "connect to the primary server; nothing was changed"
done
expect_eq "$(applied_versions)" "1" "(standby) nothing changed on the primary"
expect_sql "SELECT to_regclass('ro_two') IS NULL" "t"
mm -d "$S" --dir "$D" up --dry-run
expect_rc 0 "(standby) a dry run only reads"
expect_out "would apply"
for cmd in "down" "redo" "reset" "stamp 2"; do
  # shellcheck disable=SC2086
  mm -d "$S" --dir "$D" $cmd --dry-run
  expect_rc 0 "(standby) $cmd --dry-run only reads"
  expect_out "dry run: 1 migration would be "
done
expect_out "would stamp 00002"
mm -d "$S" --dir "$D" --lock table down --dry-run
expect_rc 0 "(standby) a dry run with the table lock takes no lease"
expect_out "DROP TABLE ro_one;"
# read-only commands still work there
mm -d "$S" --dir "$D" status
expect_rc 0 "(standby) status"
mm -d "$S" --dir "$D" doctor
expect_rc 3 "(standby) doctor is not healthy"
expect_eq "$(doctor_item writable)" "FAIL writable read-only: the server is a hot standby (in recovery) and takes no writes" "(standby) doctor: not writable"
expect_out "connect to the primary server"
expect_eq "$(doctor_item pending | cut -d, -f1)" "FAIL pending 1 migration not applied (0 missing" "(standby) doctor: pending"
expect_out "apply them on the primary server"
expect_no_out "run 'modmig up'"
expect_out "but the server is read-only: nothing can be created here"
expect_no_out "to create it"
# and the primary is fine
mm -d "$URL" --dir "$D" doctor
expect_eq "$(doctor_item writable)" "ok writable the server takes writes (not a hot standby, default_transaction_read_only off)" "(primary) doctor: writable"

# ---- default_transaction_read_only on a database
new_db
mm -d "$URL" --dir "$D" up --to 1
sql "ALTER DATABASE \"$DB\" SET default_transaction_read_only = on" >/dev/null
fp=$(db_fingerprint)
mm -d "$URL" --dir "$D" up
expect_rc 2 "(read-only default) up is refused"
expect_err "refusing to migrate on a read-only server: default_transaction_read_only is on for this database or user: every transaction is read-only"
expect_err "default_transaction_read_only is off; nothing was changed"
mm -d "$URL" --dir "$D" down
expect_rc 2 "(read-only default) down is refused"
expect_err "refusing to roll back on a read-only server"
for cmd in "down" "redo" "reset" "stamp 2"; do
  # shellcheck disable=SC2086
  mm -d "$URL" --dir "$D" $cmd --dry-run
  expect_rc 0 "(read-only default) $cmd --dry-run only reads"
done
expect_out "would stamp 00002"
expect_eq "$(db_fingerprint)" "$fp" "(read-only default) nothing changed"
mm -d "$URL" --dir "$D" doctor
expect_rc 3 "(read-only default) doctor"
expect_out "read-only: default_transaction_read_only is on"
# a user for whom it is off can migrate
# (from another database: in this one every transaction is read-only now)
psql -qAtX -d postgres -c "ALTER ROLE $PGUSER IN DATABASE \"$DB\" SET default_transaction_read_only = off" >/dev/null
mm -d "$URL" --dir "$D" up
expect_rc 0 "(read-only default) writable for this user again"
expect_eq "$(applied_versions | tr '\n' ' ')" "1 2 " "applied"
psql -qAtX -d postgres -c "ALTER ROLE $PGUSER IN DATABASE \"$DB\" RESET default_transaction_read_only" >/dev/null

finish
