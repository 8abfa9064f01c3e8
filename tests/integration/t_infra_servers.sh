#!/usr/bin/env bash
# The test servers themselves (DESIGN §9): what tests/pgtmp.sh promises with
# --pgbouncer and --standby holds on the server version under test, so that
# tests built on them (issue 9) test what they claim.
#   - the server is the version asked for (MODMIG_TEST_PGVERSION);
#   - PgBouncer pools in transaction mode and 16 concurrent clients share at
#     most 4 server backends;
#   - a database created after start-up is reachable through the bouncer;
#   - the standby is read-only, and wait_standby_replay makes what the primary
#     just wrote visible there;
#   - schema_dump sees a difference and ignores creation order.
MODMIG_TEST_NEEDS="pgbouncer standby"
source "$(dirname "$0")/lib.sh"

expect_eq "$(psql -qAtX -d postgres -c "SELECT current_setting('server_version_num')::int / 10000")" "$(pg_major)" \
  "the server's major version is MODMIG_TEST_PGVERSION"

# ---------------------------------------------------------------- PgBouncer
new_db
B=$(bouncer_url)
expect_sql "SELECT 1" "1"
run psql -qAtX -d "$B" -c "SELECT current_database()"
expect_rc 0 "a database created after start-up, through the bouncer"
expect_out "$DB"

# 16 clients at once, each holding its transaction for a moment
for i in $(seq 1 16); do
  psql -qAtX -d "$B" -c "SELECT pg_backend_pid() FROM pg_sleep(0.3)" >"$TMP/pid.$i" 2>&1 &
done
wait
backends=$(cat "$TMP"/pid.* | sort -u | grep -c '^[0-9]*$')
[ "$backends" -ge 1 ] && [ "$backends" -le 4 ] && pass ||
  fail "16 clients through the bouncer used $backends backends (want 1..4): $(cat "$TMP"/pid.* | tr '\n' ' ')"

# its admin console says transaction pooling
run psql -qAtX -d "postgresql://$PGUSER@/pgbouncer?host=$MODMIG_TEST_BOUNCER_HOST&port=$MODMIG_TEST_BOUNCER_PORT" -c "SHOW CONFIG"
expect_rc 0 "the bouncer's admin console"
expect_eq "$(grep '^pool_mode|' <<<"$OUT" | cut -d'|' -f2)" "transaction" "pool_mode"

# ---------------------------------------------------------------- the standby
S=$(standby_url)
wait_standby_replay 30
run psql -qAtX -d "$S" -c "SELECT pg_is_in_recovery()"
expect_rc 0 "the new database is on the standby"
expect_out "t"
sql "CREATE TABLE replicated (id int PRIMARY KEY); INSERT INTO replicated VALUES (1), (2)"
wait_standby_replay 30
run psql -qAtX -d "$S" -c "SELECT count(*) FROM replicated"
expect_rc 0 "a table created on the primary"
expect_eq "$OUT" "2" "its rows replayed on the standby"
run psql -qAtX -d "$S" -c "CREATE TABLE nope (id int)"
expect_rc 1 "the standby is read-only"
expect_err "read-only transaction"
# replication uses the same server version
expect_eq "$(psql -qAtX -d "$S" -c "SELECT current_setting('server_version_num')::int / 10000")" "$(pg_major)" \
  "the standby runs the same version"

# ---------------------------------------------------------------- schema_dump
new_db
sql "CREATE TABLE a (id int PRIMARY KEY, v text DEFAULT 'x'); CREATE TABLE b (id int REFERENCES a); CREATE INDEX b_id ON b (id)"
D1=$(schema_dump)
new_db
sql "CREATE TABLE a (id int PRIMARY KEY, v text DEFAULT 'x'); CREATE TABLE b (id int REFERENCES a); CREATE INDEX b_id ON b (id)"
sql "CREATE TABLE z (id int); DROP TABLE z"   # OIDs move on
expect_eq "$(schema_dump)" "$D1" "the same schema built twice, other OIDs"
new_db
sql "CREATE TABLE b0 (x int); DROP TABLE b0; CREATE TABLE a (id int PRIMARY KEY, v text DEFAULT 'x')"
sql "CREATE TABLE b (id int REFERENCES a); CREATE INDEX b_id ON b (id)"
expect_eq "$(schema_dump)" "$D1" "creation order does not matter"
fp=$(db_fingerprint)
for change in "ALTER TABLE a ALTER v SET DEFAULT 'y'" "COMMENT ON TABLE a IS 'c'" "GRANT SELECT ON a TO PUBLIC" \
              "CREATE INDEX a_v ON a (v)" "ALTER TABLE a ADD CHECK (id > 0)"; do
  sql "BEGIN; $change; COMMIT" >/dev/null
  [ "$(db_fingerprint)" != "$fp" ] && pass || fail "schema_dump does not see: $change"
  fp=$(db_fingerprint)
done

finish
