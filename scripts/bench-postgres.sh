#!/bin/sh
# Run a command against a throw-away PostgreSQL 15 cluster with DEFAULT settings (fsync on,
# synchronous commit, shared_buffers 128 MB …: what the benchmarks' figures must hold on):
#   scripts/bench-postgres.sh make-something …
# Like scripts/with-postgres.sh, but none of its speed-ups for tests. The cluster lives in a
# temporary directory (BENCH_PGDIR_PARENT, default /tmp), runs as the `postgres` user when
# started as root, listens on 127.0.0.1:$CASEFLOW_PG_PORT (default: a free port) and is removed
# afterwards. BENCH_DATABASE_URL (and CASEFLOW_TEST_DATABASE_URL) point at database caseflow_bench.
set -eu
PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
PORT="${CASEFLOW_PG_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
DIR="$(mktemp -d "${BENCH_PGDIR_PARENT:-/tmp}/caseflow-bench-pg.XXXXXX")"
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
[ "$(id -u)" -eq 0 ] && chown postgres "$DIR"
cleanup() {
  as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT INT TERM
as_pg "$PGBIN/initdb" -D "$DIR/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
# only where it listens: every other setting is PostgreSQL's default
as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -o \
  "-p $PORT -k $DIR -c listen_addresses=127.0.0.1" start >/dev/null
as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres caseflow_bench
export BENCH_DATABASE_URL="postgresql://postgres@127.0.0.1:$PORT/caseflow_bench"
export CASEFLOW_TEST_DATABASE_URL="$BENCH_DATABASE_URL"
echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') (default settings) on 127.0.0.1:$PORT"
"$@"
