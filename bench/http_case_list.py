"""The case list over HTTP: gunicorn (2 sync workers) on 127.0.0.1, 8 logged-in clients.

    .venv/bin/python bench/http_case_list.py --database-url URL [--duration 10] [--clients 8]
                                             [--workers 2] [--load-cases N]

Phases, each ``--duration`` seconds with ``--clients`` client processes (raw sockets and
prebuilt requests, so the client costs a fraction of the server; ``--client-only`` measures the
client against a bare socket server):

1. ``GET /healthz`` — the same app and gunicorn, no login, no database: the baseline;
2. ``GET /cases/`` — the HTML list, first page, as a case officer of the agency owning the most
   cases (session login, agency scoping, state counts, clocks);
3. the HTML list's last page (keyset cursor of the agency's oldest page);
4. ``GET /api/v1/cases`` first and last page (bearer token).

On PostgreSQL the phases repeat one page, so after the first request each worker serves it
from its page cache (``caseflow.cases.pages``: checked against the agency's change counter on
every request). Then the first pages again with the cache off (``LIST_CACHE_ENTRIES=0``):
what each request costs when the agency's cases change between any two of them.

Then the raw indexed keyset query on a psycopg connection (first and last page).
Goals: each list phase ≥ 25 % of /healthz's requests per second and p99 ≤ 25 ms.

With an empty database (or none: a temporary SQLite file) ``--load-cases`` cases are inserted
first (Core inserts in one agency, plus a quarter as many in another).
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

USER = "bench-http"


def load_cases(n: int) -> None:
    """Cases in two agencies, received over three years (Core inserts; no events)."""
    from sqlalchemy import select, text

    from caseflow.accounts.models import Agency
    from caseflow.accounts.operations import create_agency
    from caseflow.cases.models import Case
    from caseflow.extensions import db

    rng = random.Random(1)
    a = db.session.scalar(select(Agency).where(Agency.code == "bench-http")) or create_agency(
        "bench-http", "market_supervision", "上海市基准区市场监督管理局", "沪市监基")
    b = db.session.scalar(select(Agency).where(Agency.code == "bench-http-b")) or create_agency(
        "bench-http-b", "market_supervision", "上海市对照区市场监督管理局", "沪市监对")
    db.session.flush()
    uid = common.ensure_user(a.id, USER, ["case_officer"])
    now = dt.datetime.now(dt.timezone.utc)
    states = ["clue", "verifying", "filed", "investigating", "notified", "decided", "closed"]
    total = n + n // 4

    def rows():
        for i in range(total):
            agency = a if i % 5 else b
            created = now - dt.timedelta(minutes=total - i)
            state = rng.choice(states)
            yield dict(owner_agency_id=agency.id, number=f"沪市监基〔2025〕{i:07d}号",
                       title=f"涉嫌销售假冒注册商标的商品案 {i}", channel="report",
                       ip_type=rng.choice(["trademark", "patent", "copyright"]),
                       received_on=created.date(), state=state, created_by_id=uid, version=1,
                       description="", location="", infringement_kind="", reporter_name="",
                       reporter_contact="", trademark_numbers="", is_major=False,
                       illegal_business_volume=0, illegal_gains=0, sales_amount=0,
                       unsold_goods_value=0, copies=0,
                       next_due_on=(created.date() + dt.timedelta(days=30)
                                    if state not in ("closed",) else None),
                       created_at=created, updated_at=created)

    common.insert_rows(Case, rows())
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SELECT setval(pg_get_serial_sequence('case_record', 'id'), "
                                "(SELECT max(id) FROM case_record))"))
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE case_record"))
    else:
        db.session.execute(text("ANALYZE"))
        db.session.commit()


def prepare(url: str, load: int, instance: str):
    """(agency id, last-page cursor, number of the agency's cases)."""
    from sqlalchemy import func, select

    from caseflow.cases.models import Case
    from caseflow.cases.queries import encode_cursor
    from caseflow.extensions import db

    app = common.make_app(url, instance)
    common.migrate(app)
    with app.app_context():
        if not db.session.scalar(select(Case.id).limit(1)):
            t0 = time.perf_counter()
            load_cases(load)
            print(f"# loaded {load + load // 4} cases in {time.perf_counter() - t0:.1f}s")
        agency_id = common.largest_agency()
        common.ensure_user(agency_id, USER, ["case_officer"])
        n = db.session.scalar(select(func.count()).select_from(Case).where(
            Case.owner_agency_id == agency_id))
        page = app.config["PAGE_SIZE"]
        # the row after which exactly one page remains: the agency's oldest page
        before_last = db.session.scalars(
            select(Case).where(Case.owner_agency_id == agency_id)
            .order_by(Case.created_at.asc(), Case.id.asc()).offset(page).limit(1)).first()
        cursor = encode_cursor(before_last) if before_last else None
        db.session.remove()
    return app, agency_id, cursor, n, page


def raw_query_ms(url: str, agency_id: int, page: int, last: tuple | None) -> tuple[float, float]:
    """The keyset query alone (columns of a list row), median ms on a psycopg connection."""
    from bench.timing import timed

    if not url.startswith("postgresql"):
        import sqlite3

        conn = sqlite3.connect(url.split("///", 1)[1])
        ph = "?"
    else:
        import psycopg

        conn = psycopg.connect(common.libpq_url(url), autocommit=True)
        ph = "%s"
    sql = ("SELECT id, number, title, state, ip_type, received_on, next_due_on, pending_action, "
           "trademark_numbers FROM case_record WHERE owner_agency_id = {ph} {extra} "
           "ORDER BY created_at DESC, id DESC LIMIT {ph}")
    first_sql = sql.format(ph=ph, extra="")
    cur = conn.cursor()

    def first():
        cur.execute(first_sql, (agency_id, page + 1))
        cur.fetchall()

    out = [timed(first, 50)]
    if last:
        last_sql = sql.format(ph=ph, extra=f"AND (created_at, id) < ({ph}, {ph})")

        def deep():
            cur.execute(last_sql, (agency_id, last[0], last[1], page + 1))
            cur.fetchall()

        out.append(timed(deep, 50))
    else:
        out.append(out[0])
    conn.close()
    return out[0], out[1]


def client_only(duration: float, clients: int) -> None:
    """The client against a socket server that answers at once (what the client can do)."""
    import socketserver
    import threading

    class H(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.recv(65536)
            self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    class S(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        request_queue_size = 1024

    srv = S(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    r = common.hammer(srv.server_address[1], [[common.raw_request("/")]] * clients, duration)
    srv.shutdown()
    print(f"# client alone (threaded socket server): {r['rps']:.0f} req/s, p50 {r['p50']:.2f} ms")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--load-cases", type=int, default=100_000)
    ap.add_argument("--client-only", action="store_true")
    args = ap.parse_args()
    if args.client_only:
        client_only(args.duration, args.clients)
        return
    tmp = tempfile.mkdtemp(prefix="caseflow-bench-http-")
    url = common.normalize_url(args.database_url or f"sqlite:///{tmp}/bench.db")
    app, agency_id, cursor, n, page = prepare(url, args.load_cases, tmp)
    from caseflow.cases.queries import decode_cursor

    last = decode_cursor(cursor, str) if cursor else None
    print(f"# case list over HTTP: agency {agency_id} with {n} cases on {url.split(':')[0]}, "
          f"page size {page}, gunicorn {args.workers} sync workers, {args.clients} clients, "
          f"{args.duration:.0f} s per phase")
    rows = {}
    with common.Gunicorn(url, workers=args.workers, log=f"{tmp}/gunicorn.log") as g:
        cookies = [common.login_cookie(g.base, USER) for _ in range(args.clients)]
        tokens = [common.api_token(g.base, USER) for _ in range(args.clients)]
        phases = {
            "hello": [[common.raw_request("/healthz")] for _ in range(args.clients)],
            "html_first": [[common.raw_request("/cases/", {"Cookie": c})] for c in cookies],
            "html_last": [[common.raw_request(f"/cases/?cursor={cursor}", {"Cookie": c})]
                          for c in cookies],
            "api_first": [[common.raw_request("/api/v1/cases", {"Authorization": f"Bearer {t}"})]
                          for t in tokens],
            "api_last": [[common.raw_request(f"/api/v1/cases?cursor={cursor}",
                                             {"Authorization": f"Bearer {t}"})] for t in tokens],
        }
        # warm both workers on every path (templates compiled, statements cached)
        for reqs in phases.values():
            for _ in range(4):
                for r in reqs[:2]:
                    common._fetch(g.port, r[0])
        for name, reqs in phases.items():
            rows[name] = common.hammer(g.port, reqs, args.duration)
    uncached = {}
    if url.startswith("postgresql"):
        # the same first pages with the page cache off: what every request costs when the
        # agency's cases change between any two of them (each change is a miss)
        with common.Gunicorn(url, workers=args.workers, log=f"{tmp}/gunicorn-nocache.log",
                             extra_env={"CASEFLOW_LIST_CACHE_ENTRIES": "0"}) as g:
            cookies = [common.login_cookie(g.base, USER) for _ in range(args.clients)]
            tokens = [common.api_token(g.base, USER) for _ in range(args.clients)]
            for name, reqs in (
                    ("html_first", [[common.raw_request("/cases/", {"Cookie": c})] for c in cookies]),
                    ("api_first", [[common.raw_request("/api/v1/cases", {"Authorization": f"Bearer {t}"})]
                                   for t in tokens])):
                for _ in range(4):
                    for r in reqs[:2]:
                        common._fetch(g.port, r[0])
                uncached[name] = common.hammer(g.port, reqs, args.duration)
    raw_first, raw_last = raw_query_ms(url, agency_id, page, last)
    hello = rows["hello"]["rps"]
    print("| phase | req/s | × hello | p50 ms | p95 ms | p99 ms | non-2xx |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in [*rows.items(), *((f"{k} (no page cache)", v) for k, v in uncached.items())]:
        bad = r["n"] - r["ok"]
        print(f"| {name} | {r['rps']:.0f} | {r['rps'] / hello:.2f} | {r['p50']:.2f} | "
              f"{r['p95']:.2f} | {r['p99']:.2f} | {bad} |")
    print(f"# raw keyset query (psycopg/sqlite3, list-row columns): first page {raw_first:.2f} ms, "
          f"last page {raw_last:.2f} ms; list p50 ÷ raw: "
          + ", ".join(f"{k} {rows[k]['p50'] / (raw_first if 'first' in k else raw_last):.1f}×"
                      for k in rows if k != "hello"))
    common.result("hello_rps", hello, "req/s", ">= 1", note="GET /healthz, the baseline")
    for name in ("html_first", "html_last", "api_first", "api_last"):
        r = rows[name]
        errors = r["n"] - r["ok"]
        common.result(f"case_list_{name}_throughput", r["rps"] / hello, "× hello", ">= 0.25",
                      ratio=r["rps"] / hello, note=f"{r['rps']:.0f} req/s vs {hello:.0f}"
                      + (f"; {errors} non-2xx" if errors else "")
                      + (f"; page cache off: {uncached[name]['rps']:.0f} req/s, p99 "
                         f"{uncached[name]['p99']:.0f} ms" if name in uncached else ""))
        common.result(f"case_list_{name}_p99", r["p99"], "ms", "<= 25")
        if errors:
            common.result(f"case_list_{name}_errors", errors, "responses", "<= 0")
    common.result("case_list_last_vs_first_p50", rows["html_last"]["p50"] / rows["html_first"]["p50"],
                  "×", "<= 1.25", note="keyset: the last page costs the same as the first")
    common.result("case_list_raw_query_last_page", raw_last, "ms", "<= 5",
                  ratio=raw_last / raw_first)


if __name__ == "__main__":
    main()
