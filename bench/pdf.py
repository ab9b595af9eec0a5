"""PDF costs: one penalty decision (行政处罚决定书) and a 5,000-row publication list job.

    .venv/bin/python bench/pdf.py [--database-url URL] [--rows 5000]

1. The decision PDF as ``/cases/<id>/decision.pdf`` renders it (``render_pdf`` of
   ``pdf/penalty_decision.html`` in Chinese): median of 5 after a warm-up. Target ≤ 1 s.
2. The publication list as the app makes it: a publisher starts the job
   (``penalties.operations.start_pdf_list``, the period chosen to hold about --rows published
   decisions) and a fresh process runs the scheduler's job function on it
   (``run_export_jobs``), as the scheduler process would. Its wall time and the peak RSS of
   that process. Targets ≤ 60 s and ≤ 1 GB.

The database: a given one with decisions is used as it is; an empty or missing one is filled
like bench/publication_export.py does (``caseflow.perf.generate`` when it exists, topped up
with decisions by ``load_decisions``). Without --database-url: a SQLite file in a temporary
directory. Ends with ``RESULT {json}`` lines for ``make bench``.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from bench.publication_export import (BENCH_PASSWORD, BENCH_USER, database_url,  # noqa: E402
                                      make_app, result)


def ensure_sqlite_data(app, n: int) -> int:
    """SQLite: migrate and fill with ``n`` decisions of one agency through the ORM."""
    import datetime as dt
    from decimal import Decimal

    from flask_migrate import upgrade
    from sqlalchemy import insert

    from caseflow.accounts.models import User
    from caseflow.accounts.operations import create_agency, create_user
    from caseflow.cases.models import Case
    from caseflow.extensions import db
    from caseflow.penalties.models import PenaltyDecision

    with app.app_context():
        upgrade()
        user = db.session.scalar(db.select(User).where(User.username == BENCH_USER))
        if user is not None:
            return user.id
        agency = create_agency("bench-amr", "market_supervision", "上海市基准区市场监督管理局", "沪市监基")
        agency.credit_code = "11310117MB2C12345X"
        officer = create_user(agency, "bench_officer", BENCH_PASSWORD, ["case_officer"])
        user = create_user(agency, BENCH_USER, BENCH_PASSWORD, ["publisher"])
        db.session.commit()
        now = dt.datetime.now(dt.timezone.utc)
        cases = [dict(owner_agency_id=agency.id, number=f"BENCH-{i}", title=f"案件{i}",
                      channel="report", ip_type="trademark", received_on=dt.date(2024, 1, 1),
                      state="decided", created_by_id=officer.id, version=1, created_at=now,
                      updated_at=now, description="", location="", infringement_kind="",
                      reporter_name="", reporter_contact="", is_major=False,
                      illegal_business_volume=0, illegal_gains=0, sales_amount=0,
                      unsold_goods_value=0, copies=0) for i in range(n)]
        db.session.execute(insert(Case), cases)
        ids = db.session.scalars(db.select(Case.id).order_by(Case.id)).all()
        rows = [dict(case_id=cid, agency_id=agency.id, number=f"沪市监基处罚〔2026〕{i}号",
                     categories=["罚款", "没收违法所得"] if i % 3 else ["罚款"],
                     violation_type="销售侵犯注册商标专用权的商品", facts=f"经查，事实{i}。",
                     published_facts=f"经查，事实{i}。", basis="《中华人民共和国商标法》第六十条第二款",
                     content=f"罚款{1000 + i}元。", fine_amount=Decimal(1000 + i) + Decimal("0.5"),
                     confiscated_amount=Decimal(0), licence="",
                     decision_date=dt.date(2025, 1, 1) + dt.timedelta(days=i % 600),
                     severity="general", lower_amount=False, simple_procedure=False,
                     special_sector=False, other_province=False,
                     subject_name=f"张{i}" if i % 4 == 0 else f"上海{i}贸易有限公司",
                     subject_kind="自然人" if i % 4 == 0 else "法人及非法人组织",
                     credit_code="" if i % 4 == 0 else f"91310117MA1J{i:06d}",
                     legal_rep="" if i % 4 == 0 else "王某", id_type="身份证" if i % 4 == 0 else "",
                     id_number="11010519491231002X" if i % 4 == 0 else "",
                     recorded_by_id=officer.id, version=1) for i, cid in enumerate(ids)]
        db.session.execute(insert(PenaltyDecision), rows)
        db.session.commit()
        return user.id


def period_for(app, user_id: int, rows: int):
    """From the agency's first decision up to the day that brings about ``rows`` published."""
    from caseflow.accounts.models import User
    from caseflow.extensions import db
    from caseflow.penalties import operations as ops
    from caseflow.penalties import rules as r

    with app.app_context():
        user = db.session.get(User, user_id)
        seen = 0
        first = last = None
        for d in db.session.scalars(ops.export_selection(user, None, None)
                                    .execution_options(yield_per=2000)):
            if not r.is_published(ops.facts_of(d)):
                continue
            first = first or d.decision_date
            if seen >= rows and d.decision_date != last:
                break
            last = d.decision_date
            seen += 1
        db.session.rollback()
        return first, last


def decision_pdf_seconds(app, repeat: int = 5) -> tuple[float, int]:
    from flask_babel import force_locale

    from caseflow.core.pdf import render_pdf
    from caseflow.extensions import db
    from caseflow.penalties.models import PenaltyDecision

    with app.app_context(), app.test_request_context():
        d = db.session.scalar(db.select(PenaltyDecision).where(
            PenaltyDecision.subject_kind == "法人及非法人组织").order_by(PenaltyDecision.id).limit(1))

        def once():
            with force_locale("zh_Hans_CN"):
                return render_pdf("pdf/penalty_decision.html", d=d, case=d.case)

        pdf = once()  # warm-up: fonts, templates
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            once()
            times.append(time.perf_counter() - t0)
        return statistics.median(times), len(pdf)


def run_job_child(url: str, instance: str) -> None:
    """In a fresh process: the scheduler's job function, once; prints time and peak RSS."""
    app = make_app(url, instance)
    from caseflow.penalties import operations as ops

    t0 = time.perf_counter()
    with app.app_context():
        n = ops.run_export_jobs("bench-pdf", limit=1)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"jobs": n, "seconds": time.perf_counter() - t0,
                      "cpu_seconds": ru.ru_utime + ru.ru_stime,
                      "peak_rss_mb": ru.ru_maxrss / 1024}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--decisions", type=int, default=6000,
                    help="decisions to load into an empty database")
    ap.add_argument("--cases", type=int, default=3000)
    ap.add_argument("--businesses", type=int, default=3000)
    ap.add_argument("--run-job-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--instance", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    tmp = args.instance or tempfile.mkdtemp(prefix="bench-pdf-")
    if args.database_url or os.environ.get("CASEFLOW_BENCH_DATABASE_URL") \
            or os.environ.get("CASEFLOW_TEST_DATABASE_URL"):
        url = database_url(args.database_url) if not args.run_job_child else args.database_url
    else:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
    if args.run_job_child:
        run_job_child(url, tmp)
        return
    app = make_app(url, tmp)
    if url.startswith("postgresql"):
        from bench.publication_export import ensure_data

        user_id = ensure_data(app, args.decisions, args.cases, args.businesses)
    else:
        user_id = ensure_sqlite_data(app, args.decisions)

    seconds, size = decision_pdf_seconds(app)
    print(f"decision PDF: {seconds:.2f} s median ({size / 1024:.0f} KB)", flush=True)

    from caseflow.accounts.models import User
    from caseflow.extensions import db
    from caseflow.penalties import operations as ops
    from caseflow.penalties.models import ExportJob

    date_from, date_to = period_for(app, user_id, args.rows)
    with app.app_context():
        db.session.execute(text("UPDATE export_job SET state = 'failed', error = 'bench: left over' "
                                "WHERE state IN ('queued', 'running')"))
        job = ops.start_pdf_list(db.session.get(User, user_id), date_from, date_to)
        db.session.commit()
        job_id = job.id
    t0 = time.perf_counter()
    child = subprocess.run([sys.executable, __file__, "--run-job-child", "--database-url", url,
                            "--instance", tmp], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if child.returncode != 0:
        sys.exit(f"the job process failed:\n{child.stderr[-3000:]}")
    info = json.loads(child.stdout.strip().splitlines()[-1])
    child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    with app.app_context():
        job = db.session.get(ExportJob, job_id)
        state, rows, error, pdf_size = job.state, job.row_count, job.error, job.size
    if state != "done":
        sys.exit(f"job {job_id} {state}: {error}")
    print(f"PDF list job: {rows:,} rows ({date_from} – {date_to}), {pdf_size / 1e6:.1f} MB, "
          f"{info['seconds']:.1f} s in the job function ({wall:.1f} s with process start), "
          f"peak RSS {info['peak_rss_mb']:.0f} MB; the process used {info['cpu_seconds']:.1f} s "
          f"of CPU (wall time above CPU time means the cores were shared)", flush=True)
    result("decision PDF (Chinese) render time", round(seconds, 3), "s", "<= 1", seconds <= 1)
    result(f"PDF list job time ({rows:,} rows)", round(info["seconds"], 1), "s", "<= 60",
           info["seconds"] <= 60)
    peak = max(info["peak_rss_mb"], child_rss)
    result(f"PDF list job peak RSS ({rows:,} rows)", round(peak), "MB", "<= 1024", peak <= 1024)


if __name__ == "__main__":
    main()
