#!/bin/sh
# Run a command against a throw-away PostgreSQL 15 cluster:
#   scripts/with-postgres.sh pytest …
# The cluster lives in a temporary directory, runs as the `postgres` user (PostgreSQL
# refuses root), listens on 127.0.0.1:$CASEFLOW_PG_PORT (default: a free port), and is removed
# afterwards. CASEFLOW_TEST_DATABASE_URL points the test suite at it.
set -eu
PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
# A free port unless one is given (several runs may share the machine).
PORT="${CASEFLOW_PG_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
DIR="$(mktemp -d /tmp/caseflow-pg.XXXXXX)"
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
[ "$(id -u)" -eq 0 ] && chown postgres "$DIR"
cleanup() {
  as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT INT TERM
as_pg "$PGBIN/initdb" -D "$DIR/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -o \
  "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
  start >/dev/null
export CASEFLOW_TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$PORT/caseflow_test"
echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT"
"$@"
