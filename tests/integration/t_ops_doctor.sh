#!/usr/bin/env bash
# modmig doctor: healthy after up (exit 0, every item ok); pending work, an
# unreachable server (password never shown), a held lock (holder's pid named),
# a stripped search_path, a removed history trigger and missing privileges;
# and doctor changes nothing.
source "$(dirname "$0")/lib.sh"

# "name ok" for each check of doctor --json on stdin, and a check of the fields
json_checks() {
  python3 -c '
import json, sys
d = json.load(sys.stdin)
assert isinstance(d["healthy"], bool)
for c in d["checks"]:
    assert set(c) == {"name", "ok", "detail", "fix"}, c
    assert c["detail"], c
    assert (c["fix"] is None) == c["ok"], c
    print(c["name"].replace(" ", "_"), "ok" if c["ok"] else "FAIL")'
}
item_line() { printf '%s\n' "$OUT" | grep -E "^(ok|FAIL) +$1 " | head -n 1; }

# ---------------------------------------------------------------- fresh database: pending
new_db
fp=$(schema_fingerprint)
mm -d "$URL" doctor
expect_rc 3 "doctor on a fresh database"
expect_eq "$(schema_fingerprint)" "$fp" "doctor changed a fresh database"
expect_sql "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'goose%'" "0"
expect_out "FAIL  pending"
expect_out "fix: run 'modmig up'"
[[ "$(item_line connection)" == ok* ]] && pass || fail "connection item: $(item_line connection)"

# ---------------------------------------------------------------- healthy
mm -d "$URL" up
expect_rc 0
fp=$(schema_fingerprint)
mm -d "$URL" doctor
expect_rc 0 "doctor after up"
expect_no_out "FAIL"
expect_out "healthy: all"
for name in configuration connection "server version" search_path "version table" history \
  "module registry" lock pending verify privileges; do
  [[ "$(item_line "$name")" == ok* ]] && pass || fail "item $name: [$(item_line "$name")]"
done
expect_out "$PGUSER@/$DB"
# the server's version against the supported range (13 through 18; older fails)
[[ "$(item_line "server version")" == *"server_version_num $(pg_major)"*", supported (13 through 18)" ]] \
  && pass || fail "server version item: [$(item_line "server version")]"
mm -d "$URL" --json doctor
expect_rc 0 "doctor --json"
got=$(printf '%s' "$OUT" | json_checks 2>&1)
expect_eq "$(echo "$got" | grep -vc ' ok$')" "0" "doctor --json: every check ok ($got)"
expect_out '"healthy":true'
expect_eq "$(schema_fingerprint)" "$fp" "doctor changed the database"

# ---------------------------------------------------------------- one pending migration
mm -d "$URL" down
expect_rc 0
mm -d "$URL" doctor
expect_rc 3 "doctor with one pending migration"
line=$(item_line pending)
[[ "$line" == FAIL*"1 migration not applied"* ]] && pass || fail "pending line: [$line]"
expect_out "fix: run 'modmig up'"
mm -d "$URL" --json doctor
expect_out '"healthy":false'
expect_eq "$(printf '%s' "$OUT" | json_checks | grep FAIL)" "pending FAIL" "only pending fails"
mm -d "$URL" up
expect_rc 0

# ---------------------------------------------------------------- unreachable server
mm -d "postgresql://u:s3cretpw@127.0.0.1:1/x" doctor
expect_rc 3 "doctor with an unreachable server"
line=$(item_line connection)
[[ "$line" == FAIL*"cannot connect"* ]] && pass || fail "connection line: [$line]"
expect_out "fix: nothing listens there: is the server running, and are the host and port right?"
expect_no_out "s3cretpw"
expect_no_err "s3cretpw"
mm -d "postgresql://u:s3cretpw@127.0.0.1:1/x" --json doctor
expect_rc 3
expect_no_out "s3cretpw"
expect_eq "$(printf '%s' "$OUT" | json_checks | tr '\n' ' ')" "configuration ok connection FAIL " "json checks"
# a malformed connection string is a failed connection item too
mm -d "postgresql://u:s3cretpw@host:notaport/x" doctor
expect_rc 3 "doctor with a malformed URL"
expect_out "FAIL  connection"
expect_no_out "s3cretpw"

# ---------------------------------------------------------------- the lock and who holds it
mm -d "$URL" doctor
KEY=$(item_line lock | grep -o 'advisory key -\?[0-9]*' | awk '{print $3}')
[ -n "$KEY" ] && pass || fail "no advisory key in the lock line"
psql -qAtX -d "$DB" -v ON_ERROR_STOP=1 -c "SET application_name = 'ops_locker'" \
  -c "SELECT pg_advisory_lock($KEY)" -c "SELECT pg_backend_pid()" -c "SELECT pg_sleep(60)" \
  >"$TMP/locker.out" 2>&1 &
LOCKER=$!
for _ in $(seq 100); do
  [ "$(wc -l <"$TMP/locker.out")" -ge 2 ] && break
  sleep 0.1
done
HOLDER=$(sed -n 2p "$TMP/locker.out")
run timeout 20 "$MODMIG" -d "$URL" doctor
expect_rc 0 "a held lock alone is not a failure"
line=$(item_line lock)
[[ "$line" == ok*"held by pid $HOLDER (ops_locker"* ]] && pass || fail "lock line: [$line] holder $HOLDER"
kill "$LOCKER" 2>/dev/null; wait "$LOCKER" 2>/dev/null

# ---------------------------------------------------------------- a stripped search_path
mm -d "$URL&options=-csearch_path%3Dbilling" doctor
expect_rc 0 "doctor with a search_path in options"
line=$(item_line search_path)
[[ "$line" == ok*"search_path=billing was removed"* ]] && pass || fail "search_path line: [$line]"

# ---------------------------------------------------------------- the history's trigger removed
sql "DROP TRIGGER modmig_no_truncate ON goose_db_version_history"
mm -d "$URL" doctor
expect_rc 3 "doctor without a history trigger"
line=$(item_line history)
[[ "$line" == FAIL*"append-only trigger"* ]] && pass || fail "history line: [$line]"
line=$(item_line verify)
[[ "$line" == FAIL*"1 tampered"* ]] && pass || fail "verify line: [$line]"
expect_out "fix: run 'modmig verify' for details"

# ---------------------------------------------------------------- privileges
new_db
mm -d "$URL" up
expect_rc 0
psql -qX -d postgres -c "DROP ROLE IF EXISTS ops_weak" -c "CREATE ROLE ops_weak LOGIN" >/dev/null 2>&1
psql -qX -d postgres -c "REVOKE CREATE ON DATABASE \"$DB\" FROM PUBLIC" >/dev/null
WEAK="postgresql://ops_weak@/$DB?host=$PGHOST&port=$PGPORT"
sql "SET client_min_messages = warning; DROP SCHEMA fedwiki CASCADE" >/dev/null
mm -d "$WEAK" doctor
expect_rc 3 "doctor as a role without CREATE"
line=$(item_line privileges)
[[ "$line" == FAIL*"cannot create in"*billing*"fedwiki (to be created"* ]] && pass || fail "privileges line: [$line]"
expect_out "GRANT CREATE ON SCHEMA billing TO ops_weak;"
expect_out "GRANT CREATE ON DATABASE"
# the state tables are not readable by this role: an item with a fix, not an error
line=$(item_line state)
[[ "$line" == FAIL*"permission denied"* ]] && pass || fail "state line: [$line]"
expect_out "GRANT SELECT, INSERT ON"
[[ "$(item_line lock)" == ok*"free"* ]] && pass || fail "lock item without state: [$(item_line lock)]"
sql "GRANT CREATE ON SCHEMA public, identity, organization, billing, entitlements, cooperative, audit, integration, stripe TO ops_weak" >/dev/null
psql -qX -d postgres -c "GRANT CREATE ON DATABASE \"$DB\" TO ops_weak" >/dev/null
mm -d "$WEAK" doctor
line=$(item_line privileges)
[[ "$line" == ok*"can create in all"* ]] && pass || fail "privileges after GRANT: [$line]"
psql -qX -d postgres -c "DROP DATABASE \"$DB\"" -c "DROP ROLE ops_weak" >/dev/null 2>&1

# ---------------------------------------------------------------- usage
mm doctor --help
expect_rc 0
expect_out "usage: modmig [GLOBAL OPTIONS] doctor"
mm doctor now
expect_rc 2 "doctor with an argument"

finish
