"""Case list cost: the HTML page and the API against the raw indexed keyset query.

    .venv/bin/python bench/case_list.py [--cases 20000] [--database-url URL]

Prints milliseconds per call and ratios against the raw query, on the first page and a
deep page (keyset pagination must cost the same on both), plus OFFSET for comparison.
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

from bench.timing import timed  # noqa: E402

from sqlalchemy import func, select, text  # noqa: E402

from caseflow import create_app  # noqa: E402
from caseflow.extensions import db  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=20000)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    url = args.database_url or f"sqlite:///{tmp}/bench.db"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": tmp, "SECRET_KEY": "b",
                      "WTF_CSRF_ENABLED": False, "ARGON2_PARAMS": {"time_cost": 1, "memory_cost": 1024,
                                                                     "parallelism": 1}})
    from caseflow.accounts.operations import create_agency, create_user
    from caseflow.cases.models import Case
    from caseflow.cases.queries import CaseFilters, list_cases

    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        from bench.common import ensure_user, insert_rows, largest_agency
        from caseflow.accounts.models import Agency, User

        t0 = time.perf_counter()
        generated = db.session.scalar(select(Case.id).limit(1)) is not None
        if generated:  # a generated database: its busiest agency, as it is
            agency = db.session.get(Agency, largest_agency())
            user = db.session.get(User, ensure_user(agency.id, "bench", ["case_officer"]))
            args.cases = db.session.scalar(select(func.count()).select_from(Case).where(
                Case.owner_agency_id == agency.id)) * 4 // 3
        else:
            agency = create_agency("bench", "market_supervision", "基准测试局", "沪市监基")
            other = create_agency("other", "cultural_enforcement", "其他局", "沪其他")
            user = create_user(agency, "bench", "Load-test-pass-1", ["case_officer"])
            db.session.commit()
            rng = random.Random(1)
            t0 = time.perf_counter()
            now = dt.datetime.now(dt.timezone.utc)
            insert_rows(Case, (dict(
                owner_agency_id=agency.id if i % 4 else other.id,
                number=f"沪市监基〔2025〕{i:06d}号", title=f"涉嫌销售假冒注册商标的商品 {i}",
                channel="report", ip_type="trademark", received_on=dt.date(2025, 1, 1),
                state=rng.choice(["clue", "verifying", "filed", "investigating"]),
                created_by_id=user.id, version=1, description="", location="",
                infringement_kind="", reporter_name="", reporter_contact="", is_major=False,
                illegal_business_volume=0, illegal_gains=0, sales_amount=0,
                unsold_goods_value=0, copies=0, created_at=now - dt.timedelta(seconds=i),
                updated_at=now) for i in range(args.cases)), chunk=5000)
            db.session.commit()
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        load = time.perf_counter() - t0
        page = app.config["PAGE_SIZE"]

        # cursor of a deep page (about 90% through the agency's cases)
        f = CaseFilters()
        deep_id = db.session.scalars(select(Case).where(Case.owner_agency_id == agency.id)
                                     .order_by(Case.created_at.desc(), Case.id.desc())
                                     .offset(int(args.cases * 0.75 * 0.9)).limit(1)).one()
        from caseflow.cases.queries import encode_cursor

        deep_cursor = encode_cursor(deep_id)

        def raw(first=True):
            stmt = select(Case.id, Case.number, Case.title, Case.state).where(
                Case.owner_agency_id == agency.id)
            if not first:
                stmt = stmt.where(Case.created_at < deep_id.created_at)
            db.session.execute(stmt.order_by(Case.created_at.desc(), Case.id.desc()).limit(page)).all()

        def raw_offset():
            db.session.execute(select(Case.id).where(Case.owner_agency_id == agency.id)
                               .order_by(Case.created_at.desc(), Case.id.desc())
                               .offset(int(args.cases * 0.75 * 0.9)).limit(page)).all()

        def op(cursor=None):
            list_cases(user, f, cursor, page, str)
            db.session.rollback()

        results = {
            "raw keyset, page 1": timed(lambda: raw(True)),
            "raw keyset, deep page": timed(lambda: raw(False)),
            "raw OFFSET, deep page": timed(raw_offset),
            "list_cases(), page 1": timed(lambda: op(None)),
            "list_cases(), deep page": timed(lambda: op(deep_cursor)),
        }
    client = app.test_client()
    client.post("/login", data={"username": "bench", "password": "Load-test-pass-1"})
    tok = client.post("/api/v1/auth/token", json={"username": "bench", "password": "Load-test-pass-1"}).json["token"]
    hdr = {"Authorization": f"Bearer {tok}"}
    from caseflow.cases import pages

    kept = app.extensions.get(pages.EXTENSION)
    # the pages rendered every time (page cache off), then as served (kept pages, PostgreSQL)
    for label, cache in (("", None), (" (page cache)", kept)):
        if label and (cache is None or not url.startswith("postgresql")):
            continue
        app.extensions[pages.EXTENSION] = cache
        results[f"HTML /cases/, page 1{label}"] = timed(lambda: client.get("/cases/"), 15)
        results[f"HTML /cases/, deep page{label}"] = timed(
            lambda: client.get(f"/cases/?cursor={deep_cursor}"), 15)
        results[f"API /api/v1/cases, page 1{label}"] = timed(
            lambda: client.get("/api/v1/cases", headers=hdr), 15)
        results[f"API /api/v1/cases, deep page{label}"] = timed(
            lambda: client.get(f"/api/v1/cases?cursor={deep_cursor}", headers=hdr), 15)
    app.extensions[pages.EXTENSION] = kept

    base = results["raw keyset, page 1"]
    print(f"# Case list — {args.cases} cases on {url.split(':')[0]}, page size {page}, "
          f"loaded in {load:.1f}s")
    print("| measurement | median ms | × raw keyset page 1 |\n|---|---:|---:|")
    for k, v in results.items():
        print(f"| {k} | {v:.2f} | {v / base:.1f} |")
    from bench.common import result

    result("case_list_operation_deep_vs_first", results["list_cases(), deep page"]
           / results["list_cases(), page 1"], "×", "<= 1.25",
           note=f"list_cases() {results['list_cases(), page 1']:.2f} ms on page 1, raw keyset "
                f"{base:.2f} ms, OFFSET {results['raw OFFSET, deep page']:.2f} ms")


if __name__ == "__main__":
    main()
