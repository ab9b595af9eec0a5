"""SQLite with two writers: no "database is locked" may reach a user.

    .venv/bin/python bench/sqlite_writers.py [--seconds 30] [--clients 4]

A temporary SQLite database (WAL), gunicorn with 2 sync workers on 127.0.0.1 (two processes
writing the same file), and ``--clients`` client processes that, for ``--seconds``, each
create a clue through the API (``POST /api/v1/cases``, a read-then-write with audit record,
idempotency key and clocks), accept it (``POST …/transitions``) and read the list. Counted:
responses that are server errors or mention "database is locked", and the same words in
gunicorn's log. Goal: 0.
"""
from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402



def clue(i: int) -> dict:
    from caseflow.perf.generate import credit_code

    today = dt.date.today()
    return {"title": f"某商行涉嫌销售假冒注册商标的商品 {i}", "channel": "report",
            "ip_type": "trademark", "received_at": (today - dt.timedelta(days=1)).isoformat(),
            "description": "举报人反映该商行销售假冒运动鞋。", "location": "松江区中山中路100号",
            "parties": [{"kind": "business", "name": f"上海某某商行{i}",
                         "credit_code": credit_code("92", "310117", f"{i % 10**8:08d}")}],
            "amounts": {"illegal_business_volume": "8000", "illegal_gains": "2000"}}


def client(base, token, seconds, out, n):
    import requests

    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {token}"
    stats = {"requests": 0, "ok": 0, "server_errors": 0, "locked": 0, "other": {}}
    end = time.time() + seconds
    i = 0

    def record(r):
        stats["requests"] += 1
        if "database is locked" in r.text:
            stats["locked"] += 1
        if r.status_code >= 500:
            stats["server_errors"] += 1
        elif r.status_code < 400:
            stats["ok"] += 1
        else:
            stats["other"][r.status_code] = stats["other"].get(r.status_code, 0) + 1

    while time.time() < end:
        i += 1
        r = s.post(f"{base}/api/v1/cases", json=clue(n * 100000 + i),
                   headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=60)
        record(r)
        if r.status_code == 201 or r.status_code == 200:
            case = r.json()
            r = s.post(f"{base}/api/v1/cases/{case['id']}/transitions",
                       json={"action": "accept", "version": case.get("version")}, timeout=60)
            record(r)
        record(s.get(f"{base}/api/v1/cases?limit=20", timeout=60))
    out.put(stats)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--clients", type=int, default=4)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="caseflow-bench-sqlite-")
    url = f"sqlite:///{tmp}/writers.db"
    app = common.make_app(url, tmp)
    common.migrate(app)
    from caseflow.accounts.operations import create_agency
    from caseflow.extensions import db

    with app.app_context():
        agency = create_agency("bench-sqlite", "market_supervision", "上海市松江区市场监督管理局",
                               "沪市监松处")
        db.session.commit()
        for k in range(2):
            common.ensure_user(agency.id, f"bench-writer{k}", ["case_officer", "inspector"])
    log = f"{tmp}/gunicorn.log"
    with common.Gunicorn(url, workers=2, log=log) as g:
        tokens = [common.api_token(g.base, f"bench-writer{k % 2}") for k in range(args.clients)]
        ctx = mp.get_context("fork")
        q = ctx.Queue()
        procs = [ctx.Process(target=client, args=(g.base, tokens[k], args.seconds, q, k))
                 for k in range(args.clients)]
        t0 = time.perf_counter()
        for p in procs:
            p.start()
        stats = [q.get() for _ in procs]
        for p in procs:
            p.join()
        elapsed = time.perf_counter() - t0
    logged = Path(log).read_text(errors="replace").count("database is locked")
    total = {k: sum(s[k] for s in stats) for k in ("requests", "ok", "server_errors", "locked")}
    other = {}
    for s in stats:
        for code, n in s["other"].items():
            other[code] = other.get(code, 0) + n
    print(f"# SQLite (WAL) with 2 gunicorn workers writing, {args.clients} clients, "
          f"{args.seconds:.0f} s: {total['requests']} requests ({total['requests'] / elapsed:.0f}/s), "
          f"{total['ok']} ok, {total['server_errors']} server errors, 4xx {other or 0}, "
          f"{total['locked']} 'database is locked' answers, {logged} in the server log")
    common.result("sqlite_two_writers_locked", total["locked"] + logged, "errors", "<= 0",
                  note=f"{total['requests']} requests in {args.seconds:.0f} s")
    common.result("sqlite_two_writers_server_errors", total["server_errors"], "responses", "<= 0")


if __name__ == "__main__":
    main()
