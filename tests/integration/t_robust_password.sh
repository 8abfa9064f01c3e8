#!/usr/bin/env bash
# The password is scrubbed from argv (issue 9, finding 11): once -d is read,
# its password no longer shows in ps or /proc/PID/cmdline, while the rest of
# the argument stays readable and modmig still connects with the original.
# Checked on a running `modmig up`, held in its migration by an advisory lock,
# for a URL (-d URL, -dURL, --database=URL, --database URL after the
# command) and for key=value strings (quoted and not).
source "$(dirname "$0")/lib.sh"
set -m


D=$TMP/m
mkdir -p "$D"
cat >"$D/00001_slow.sql" <<'EOF'
-- +goose Up
SELECT pg_advisory_xact_lock(4500);
CREATE TABLE pw_t (id int);
-- +goose Down
DROP TABLE pw_t;
EOF

SECRET=s3cr3t-Pw_9
check() { # TAG ARGS...: modmig ARGS while held (in a new_db); cmdline must lack the secret
  local tag=$1; shift
  PGAPPNAME=holder psql -qAtX -d "$DB" -c "SELECT pg_advisory_lock(4500)" -c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
  local holder=$!
  wait_for "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND objid = 4500 AND granted" 1 ||
    fail "($tag) the holder has no lock"
  local args=("$@")
  args=("${args[@]//@URL@/$URL}")
  args=("${args[@]//@KV@/host=$PGHOST port=$PGPORT dbname=$DB user=$PGUSER}")
  LAST_CMD="modmig ${args[*]}"
  "$MODMIG" "${args[@]}" >"$TMP/out" 2>"$TMP/err" &
  local pid=$!
  wait_for "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND objid = 4500 AND NOT granted" 1 ||
    fail "($tag) modmig did not reach its migration"
  local cmdline
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline")
  if [[ "$cmdline" == *"$SECRET"* ]]; then fail "($tag) the password is in /proc/$pid/cmdline: $cmdline"; else pass; fi
  local psline
  psline=$(ps -o args= -p "$pid")
  if [[ "$psline" == *"$SECRET"* ]]; then fail "($tag) ps shows the password: $psline"; else pass; fi
  if [[ "$cmdline" == *"$DB"* ]]; then pass; else fail "($tag) the rest of the argument is gone: $cmdline"; fi
  CMDLINE=$cmdline
  sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'holder' AND datname = current_database()" >/dev/null
  wait "$holder" 2>/dev/null
  wait "$pid"; RC=$?
  OUT=$(cat "$TMP/out"); ERR=$(cat "$TMP/err")
  expect_rc 0 "($tag) up connected with the original argument and finished"
  expect_sql "SELECT to_regclass('pw_t') IS NOT NULL" "t"
  expect_no_err "$SECRET"
}

url_with_password() { echo "$URL" | sed "s#://$PGUSER@#://$PGUSER:$SECRET@#"; }

new_db
check "-d URL" -d "$(url_with_password)" --dir "$D" up
expect_eq "$(grep -o "://$PGUSER:[x]*@" <<<"$CMDLINE")" "://$PGUSER:$(printf 'x%.0s' $(seq 1 ${#SECRET}))@" \
  "(-d URL) the password is overwritten, user and host stay"
new_db
check "-dURL" "-d$(url_with_password)" --dir "$D" up
new_db
check "--database=URL" "--database=$(url_with_password)" --dir "$D" up
new_db
check "--database after the command" --dir "$D" up --database "$(url_with_password)"
new_db
check "URL query password" -d "$URL&password=$SECRET" --dir "$D" up
new_db
check "key=value" -d "@KV@ password=$SECRET" --dir "$D" up
expect_eq "$(grep -o "password=[x]*" <<<"$CMDLINE")" "password=$(printf 'x%.0s' $(seq 1 ${#SECRET}))" \
  "(key=value) password=xxxx"
new_db
check "key=value quoted" -d "password='$SECRET' @KV@" --dir "$D" up

finish
