"""Load test of a mixed workload: gunicorn on 127.0.0.1, locust headless (bench/locustfile.py).

    .venv/bin/python bench/load.py --database-url URL [--users 50] [--run-time 60]
                                   [--workers 4] [--spawn-rate 10]

Logins ``bench-load-{inspector,officer,coordinator}N`` (30 of each, one per simulated
user) are created in the agency owning the most
cases. Prints p50/p95/p99 per request kind and overall, failures, and the RESULT lines:
server errors (5xx or no answer) must be 0 at 50 users.
"""
from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

USERS = {"inspector": ["inspector"], "officer": ["case_officer", "inspector"],
         "coordinator": ["coordinator"]}
ACCOUNTS = 30  # per role: every simulated user logs in with an account of its own


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--spawn-rate", type=float, default=10)
    ap.add_argument("--run-time", type=int, default=60)
    ap.add_argument("--workers", type=int, default=4)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="caseflow-bench-load-")
    url = common.normalize_url(args.database_url or f"sqlite:///{tmp}/bench.db")
    app = common.make_app(url, tmp)
    common.migrate(app)
    with app.app_context():
        agency_id = common.largest_agency()
        if agency_id is None:
            from caseflow.accounts.operations import create_agency
            from caseflow.extensions import db

            agency = create_agency("bench-load", "market_supervision", "上海市压测区市场监督管理局",
                                   "沪市监压")
            db.session.commit()
            agency_id = agency.id
        for name, roles in USERS.items():
            for i in range(ACCOUNTS):
                common.ensure_user(agency_id, f"bench-load-{name}{i}", roles)
    prefix = f"{tmp}/locust"
    env = dict(os.environ, BENCH_PASSWORD=common.PASSWORD, BENCH_ACCOUNTS=str(ACCOUNTS),
               **{f"BENCH_{k.upper()}": f"bench-load-{k}" for k in USERS})
    locust = str(Path(sys.executable).with_name("locust"))
    with common.Gunicorn(url, workers=args.workers, log=f"{tmp}/gunicorn.log", timeout=120) as g:
        proc = subprocess.run(
            [locust, "-f", str(Path(__file__).with_name("locustfile.py")), "--headless",
             "-u", str(args.users), "-r", str(args.spawn_rate), "-t", f"{args.run_time}s",
             "--host", g.base, "--csv", prefix, "--only-summary", "--stop-timeout", "30",
             "--loglevel", "WARNING"],
            cwd=common.ROOT, env=env, capture_output=True, text=True,
            timeout=args.run_time + 180)
    rows = list(csv.DictReader(open(f"{prefix}_stats.csv")))
    failures = list(csv.DictReader(open(f"{prefix}_failures.csv")))
    server_errors = 0
    for f in failures:
        err, n = f.get("Error", ""), int(f.get("Occurrences", 0) or 0)
        # 5xx answers, or none at all (connection refused/reset, timeout)
        if any(f"{code} Server Error" in err or f"HTTPError('{code}" in err or f" {code} " in err
               for code in range(500, 600)) or "Connection" in err or "Timeout" in err \
                or "status_code=0" in err:
            server_errors += n
    print(f"# load test: {args.users} users ({args.spawn_rate}/s), {args.run_time} s, gunicorn "
          f"{args.workers} sync workers, {url.split(':')[0]}")
    print("| request | count | failures | p50 ms | p95 ms | p99 ms | req/s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    total = None
    for r in rows:
        line = (f"| {r['Type']} {r['Name']} | {r['Request Count']} | {r['Failure Count']} | "
                f"{r['50%']} | {r['95%']} | {r['99%']} | {float(r['Requests/s']):.1f} |")
        print(line)
        if r["Name"] == "Aggregated":
            total = r
    for f in failures:
        print(f"# failure: {f['Method']} {f['Name']}: {f['Error'][:200]} × {f['Occurrences']}")
    if proc.returncode not in (0, 1):  # 1: some requests failed (reported above)
        print(proc.stderr[-3000:], file=sys.stderr)
    if total is None:
        sys.exit("locust wrote no statistics")
    n = int(total["Request Count"])
    common.result(f"load_{args.users}_users_server_errors", server_errors, "responses", "<= 0",
                  note=f"{n} requests in {args.run_time} s ({float(total['Requests/s']):.0f}/s), "
                       f"{total['Failure Count']} failures in all; p50 {total['50%']} ms, "
                       f"p95 {total['95%']} ms, p99 {total['99%']} ms")


if __name__ == "__main__":
    main()
