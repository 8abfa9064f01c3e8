#!/usr/bin/env bash
# The throwaway PostgreSQL (DESIGN §9): start a private cluster, run a command
# against it, then stop and remove the cluster, also when interrupted.
#
#   tests/pgtmp.sh [--] COMMAND [ARGS...]
#
# The command sees PGHOST (a private socket directory), PGPORT, PGUSER,
# PGDATABASE, DATABASE_URL, MODMIG_TEST_PGDATA (the data directory),
# MODMIG_TEST_PGBIN and MODMIG_TEST_PG=1. Its exit code is returned.
# As root, the server runs as the unprivileged user "postgres" (or "nobody").
set -euo pipefail
[ "${1:-}" = "--" ] && shift
[ $# -gt 0 ] || { echo "usage: tests/pgtmp.sh [--] COMMAND [ARGS...]" >&2; exit 2; }

bindir=$(pg_config --bindir 2>/dev/null || true)
if [ ! -x "$bindir/initdb" ]; then
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
fi
[ -x "$bindir/initdb" ] || { echo "pgtmp: initdb not found (install postgresql)" >&2; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/modmig-pg.XXXXXX")
chmod 755 "$dir"
runas=()
if [ "$(id -u)" = 0 ]; then
  user=postgres; id "$user" >/dev/null 2>&1 || user=nobody
  chown "$user" "$dir"
  runas=(runuser -u "$user" --)
fi

started=""
cleanup() {
  trap - EXIT INT TERM HUP
  if [ -n "$started" ]; then
    "${runas[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM HUP

# A free port: nothing listens on TCP there and no socket file is in use.
port=""
for _ in $(seq 1 50); do
  p=$(( 20000 + RANDOM % 40000 ))
  if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { echo "pgtmp: no free port found" >&2; exit 1; }

"${runas[@]}" "$bindir/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 \
  --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
"${runas[@]}" "$bindir/pg_ctl" -D "$dir/data" -w -t 60 -l "$dir/server.log" \
  -o "-p $port -k $dir -c listen_addresses='' -c fsync=off -c full_page_writes=off -c max_connections=300" \
  start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
started=1

export PGHOST=$dir PGPORT=$port PGUSER=postgres PGDATABASE=postgres
export DATABASE_URL="postgresql://postgres@/postgres?host=$dir&port=$port"
export MODMIG_TEST_PG=1 MODMIG_TEST_PGDATA=$dir/data MODMIG_TEST_PGBIN=$bindir
export MODMIG_TEST_PGRUNAS="${runas[*]}"
rc=0
"$@" || rc=$?
exit $rc
