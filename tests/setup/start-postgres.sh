#!/usr/bin/env bash
# Makes PostgreSQL usable for the scheduler's PostgreSQL tests (tests/NodeAgent.Tests/Postgres) on a Debian 12
# machine, idempotently: installs the packages that are missing, makes sure cluster 15/main exists and runs
# (pg_ctlcluster: no systemd is needed), and that the role `nodeagent` (password `nodeagent`, CREATEDB) can log in
# over TCP at 127.0.0.1:5432, where the tests connect (NODEAGENT_TEST_POSTGRES overrides that in the tests).
# Prints nothing when all of that already holds; one line for each thing it changes; errors on stderr.
set -euo pipefail

VERSION=15
CLUSTER=main
PORT=5432
ROLE=nodeagent
PASSWORD=nodeagent
say() { echo "start-postgres: $*"; }
die() { echo "start-postgres: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (sudo $0)"

# --- packages ------------------------------------------------------------------------------------
# Debian's postinst creates cluster 15/main and may start it; both are checked below either way.
"$(dirname "$0")/ensure-packages.sh" start-postgres postgresql "postgresql-$VERSION" "postgresql-client-$VERSION"

# --- the cluster -----------------------------------------------------------------------------------
status() { pg_lsclusters --no-header "$VERSION" "$CLUSTER" 2>/dev/null | awk '{print $4}'; }

if ! pg_lsclusters --no-header "$VERSION" "$CLUSTER" >/dev/null 2>&1; then
  pg_createcluster --port "$PORT" "$VERSION" "$CLUSTER" >/dev/null || die "pg_createcluster $VERSION $CLUSTER failed"
  say "cluster $VERSION/$CLUSTER created"
fi

port=$(pg_lsclusters --no-header "$VERSION" "$CLUSTER" | awk '{print $3}')
[ "$port" = "$PORT" ] || die "cluster $VERSION/$CLUSTER is configured for port $port, not $PORT; set port = $PORT in /etc/postgresql/$VERSION/$CLUSTER/postgresql.conf (or point NODEAGENT_TEST_POSTGRES at port $port)"

if [[ $(status) != online* ]]; then
  # /run is empty after a restart of the machine or container: the socket directory and, possibly, a postmaster.pid
  # naming a PID that some other process has by now (PostgreSQL then refuses to start) are left to fix.
  install -d -o postgres -g postgres -m 2775 /run/postgresql
  datadir=$(pg_lsclusters --no-header "$VERSION" "$CLUSTER" | awk '{print $6}')
  pidfile=$datadir/postmaster.pid
  if [ -f "$pidfile" ]; then
    pid=$(head -n 1 "$pidfile" 2>/dev/null || true)
    if [ -z "$pid" ] || [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" != postgres ]; then
      rm -f "$pidfile"
      say "stale $pidfile removed"
    fi
  fi
  pg_ctlcluster "$VERSION" "$CLUSTER" start \
    || die "pg_ctlcluster $VERSION $CLUSTER start failed; see /var/log/postgresql/postgresql-$VERSION-$CLUSTER.log"
  say "cluster $VERSION/$CLUSTER started on port $PORT"
fi

deadline=$((SECONDS + 60))
until pg_isready -q -h 127.0.0.1 -p "$PORT"; do
  if ((SECONDS >= deadline)); then
    tail -n 20 "/var/log/postgresql/postgresql-$VERSION-$CLUSTER.log" >&2 2>/dev/null || true
    die "PostgreSQL does not accept connections on 127.0.0.1:$PORT after 60 s; check listen_addresses in /etc/postgresql/$VERSION/$CLUSTER/postgresql.conf and the log above"
  fi
  sleep 0.2
done

# --- the role the tests log in as ------------------------------------------------------------------
# The check is the tests' own way in: a password login over TCP, then whether the role may create databases.
can_create_databases() {
  PGPASSWORD=$PASSWORD PGCONNECT_TIMEOUT=10 psql -X -q -t -A -h 127.0.0.1 -p "$PORT" -U "$ROLE" -d postgres \
    -c "SELECT rolcreatedb FROM pg_roles WHERE rolname = current_user" 2>&1
}

as_postgres() { runuser -u postgres -- psql -X -q -t -A -v ON_ERROR_STOP=1 -p "$PORT" -d postgres "$@"; }

if [ "$(can_create_databases)" != t ]; then
  if [ "$(as_postgres -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" = 1 ]; then
    as_postgres -c "ALTER ROLE $ROLE WITH LOGIN CREATEDB PASSWORD '$PASSWORD'" >/dev/null || die "cannot alter role $ROLE"
    say "role $ROLE given LOGIN, CREATEDB and its password"
  else
    as_postgres -c "CREATE ROLE $ROLE WITH LOGIN CREATEDB PASSWORD '$PASSWORD'" >/dev/null || die "cannot create role $ROLE"
    say "role $ROLE created (LOGIN, CREATEDB)"
  fi
  answer=$(can_create_databases) || true
  [ "$answer" = t ] || die "role $ROLE still cannot log in over TCP at 127.0.0.1:$PORT with its password: $answer; check the 'host ... 127.0.0.1/32 scram-sha-256' line in /etc/postgresql/$VERSION/$CLUSTER/pg_hba.conf"
fi
