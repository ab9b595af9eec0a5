"""双公示 CSV export through the app against PostgreSQL's own COPY of the same rows.

    .venv/bin/python bench/publication_export.py --database-url postgresql://… [--decisions 1000000]
        [--repeat 3] [--check]

The export runs as the app runs it (``penalties.operations.export_csv``: permission, the SQL
rows streamed from COPY to a file while hashing, the batch record and the audit), for the
publisher of the agency with the most decisions; a selection this large runs as two halves
at once (``csv_sql.split_key``: the line after the data says where it splits). --check runs
the Python path once more (``operations.write_csv``) and requires the same bytes.

The reference is ``COPY (SELECT …) TO STDOUT CSV`` of the same selection's raw columns on the
raw connection, written to a file the same way. Peak RSS (getrusage) before and after the export shows the memory stays constant.

The database: a given one that already holds the decisions is used as it is (e.g. made by
``flask caseflow generate``); an empty one is migrated and filled by ``caseflow.perf.generate``
(--cases, --businesses), then the agency with the most decisions is topped up to --decisions
by ``load_decisions`` below (INSERT … SELECT generate_series, seconds per 100k rows). PostgreSQL only: COPY is the yardstick.
Without --database-url, CASEFLOW_BENCH_DATABASE_URL, then CASEFLOW_TEST_DATABASE_URL (as set
by scripts/with-postgres.sh) with the database name caseflow_bench.

The two sides run in turn, --repeat times; the ratio of the best runs is the RESULT (the
medians are printed too: on a shared machine compare them across runs). Ends with
``RESULT {json}`` lines (name, value, unit, target, ratio, met) for ``make bench``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

BENCH_USER = "bench_publisher"
BENCH_PASSWORD = "Bench-export-pass-1"


def result(name, value, unit, target, met, ratio=None):
    line = {"name": name, "value": value, "unit": unit, "target": target}
    if ratio is not None:
        line["ratio"] = ratio
    line["met"] = bool(met)
    print("RESULT " + json.dumps(line, ensure_ascii=False), flush=True)


def rss_mb() -> float:
    """Peak resident set size of this process so far (Linux: ru_maxrss in KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def database_url(given: str | None) -> str:
    url = given or os.environ.get("CASEFLOW_BENCH_DATABASE_URL")
    if not url:
        base = os.environ.get("CASEFLOW_TEST_DATABASE_URL")
        if not base:
            sys.exit("give --database-url postgresql://… (or run under scripts/with-postgres.sh)")
        url = make_url(base).set(database="caseflow_bench").render_as_string(hide_password=False)
    if url.startswith("postgresql://"):
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    if not url.startswith("postgresql"):
        sys.exit("this benchmark compares with PostgreSQL's COPY: give a PostgreSQL URL")
    u = make_url(url)
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                            {"n": u.database}).scalar():
            conn.execute(text(f'CREATE DATABASE "{u.database}"'))
    admin.dispose()
    return url


def make_app(url: str, instance: str):
    from caseflow import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": instance,
                       "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
                       "ARGON2_PARAMS": {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}})


def _zero_values(table, given: dict) -> dict:
    """SQL for every NOT NULL column without a server default that ``given`` leaves out."""
    from sqlalchemy import JSON, Boolean, Date, DateTime, Numeric, Integer

    out = dict(given)
    for col in table.columns:
        if col.name in out or col.primary_key or col.nullable or col.server_default is not None:
            continue
        default = getattr(col.default, "arg", None)
        if isinstance(default, bool):
            out[col.name] = "true" if default else "false"
        elif isinstance(default, (int, float)):
            out[col.name] = str(default)
        elif isinstance(default, str):
            out[col.name] = "'" + default.replace("'", "''") + "'"
        elif isinstance(col.type, Boolean):
            out[col.name] = "false"
        elif isinstance(col.type, (Integer, Numeric)):
            out[col.name] = "0"
        elif isinstance(col.type, DateTime):
            out[col.name] = "now()"
        elif isinstance(col.type, Date):
            out[col.name] = "DATE '2024-01-01'"
        elif isinstance(col.type, JSON):
            out[col.name] = "'[]'::json"
        else:
            out[col.name] = "''"
    return out


def load_decisions(conn, n: int, agency_id: int, user_id: int, start: int = 0,
                   batch: int = 200_000) -> None:
    """``n`` cases and their penalty decisions for one agency, varied like real ones: four
    kinds of party, several penalty kinds, amounts with cents, three years of dates, every
    ~1000th row with commas, quotes and a line break, some formula-like names, a few rows
    refused (no basis) and some warning-only (never published)."""
    from caseflow.cases.models import Case

    case_cols = _zero_values(Case.__table__, {
        "owner_agency_id": str(int(agency_id)), "number": "'BENCH-' || g",
        "title": "'涉嫌销售假冒注册商标的商品 ' || g", "channel": "'report'",
        "ip_type": "'trademark'", "received_on": "DATE '2024-01-01'", "state": "'decided'",
        "created_by_id": str(int(user_id)), "version": "1", "created_at": "now()",
        "updated_at": "now()"})
    names = ", ".join(case_cols)
    values = ", ".join(case_cols.values())
    decision = {
        "case_id": "c.id", "agency_id": "c.owner_agency_id",
        "number": "'沪市监基处罚〔' || (2024 + i % 3) || '〕' || i || '号'",
        "categories": """(CASE i % 10 WHEN 0 THEN '["警告"]' WHEN 1 THEN '["罚款", "没收违法所得"]'
                         WHEN 2 THEN '["罚款", "吊销许可证件"]' WHEN 3 THEN '["通报批评"]'
                         ELSE '["罚款"]' END)::json""",
        "violation_type": "'销售侵犯注册商标专用权的商品'",
        "facts": "'经查，当事人销售假冒注册商标的商品' || i || '件，违法经营额' || (i % 997) * 10 || '元。'",
        "published_facts": """CASE WHEN i % 1000 = 7 THEN '经查，当事人销售"假冒"商品, 共' || i || E'件。\\n另查明……'
                              ELSE '经查，当事人销售假冒注册商标的商品' || i || '件。' END""",
        "basis": "CASE WHEN i % 2003 = 0 THEN '' ELSE '《中华人民共和国商标法》第六十条第二款' END",
        "content": "'没收侵权商品，罚款' || (1000 + (i % 500) * 100) || '元。'",
        "fine_amount": "CASE WHEN i % 10 = 3 THEN 0 ELSE (1000 + (i % 500) * 100 + (i % 7) * 0.01) END",
        "confiscated_amount": "(i % 13) * 250.5",
        "licence": "CASE WHEN i % 10 = 2 THEN '食品经营许可证 JY' || i ELSE '' END",
        "decision_date": "DATE '2024-01-01' + (i % 1000)::int",
        "severity": "CASE i % 5 WHEN 0 THEN 'minor' WHEN 1 THEN 'serious' ELSE 'general' END",
        "lower_amount": "i % 3 = 0", "simple_procedure": "i % 50 = 0", "special_sector": "false",
        "other_province": "false",
        "enterprise_published_on": "CASE WHEN i % 2 = 0 THEN DATE '2024-01-10' + (i % 1000)::int END",
        "subject_name": """CASE WHEN i % 4 = 0 THEN '张' || (i % 1000) WHEN i % 1009 = 0 THEN '=上海' || i
                           ELSE '上海' || i || '贸易有限公司' END""",
        "subject_kind": "CASE i % 4 WHEN 0 THEN '自然人' WHEN 1 THEN '个体工商户' ELSE '法人及非法人组织' END",
        "credit_code": "CASE WHEN i % 4 = 0 THEN '' ELSE '91310117MA1J' || lpad((i % 1000000)::text, 6, '0') END",
        "legal_rep": "CASE WHEN i % 4 >= 2 THEN '王' || (i % 100) ELSE '' END",
        "id_type": "CASE WHEN i % 4 = 0 THEN '身份证' ELSE '' END",
        "id_number": "CASE WHEN i % 4 = 0 THEN '1101051949123100' || lpad((i % 100)::text, 2, '0') ELSE '' END",
        "recorded_by_id": str(int(user_id)), "created_at": "now()", "updated_at": "now()",
        "version": "1"}
    from caseflow.penalties.models import PenaltyDecision

    decision = _zero_values(PenaltyDecision.__table__, decision)
    done = 0
    while done < n:
        k = min(batch, n - done)
        conn.execute(text(f"INSERT INTO case_record ({names}) SELECT {values} "
                          f"FROM generate_series({start + done + 1}, {start + done + k}) g"))
        conn.execute(text(
            f"INSERT INTO penalty_decision ({', '.join(decision)}) SELECT {', '.join(decision.values())} "
            f"FROM (SELECT c.id, c.owner_agency_id, row_number() OVER (ORDER BY c.id) + {start + done} AS i "
            f"FROM case_record c LEFT JOIN penalty_decision p ON p.case_id = c.id "
            f"WHERE c.owner_agency_id = {int(agency_id)} AND p.id IS NULL "
            f"AND c.number LIKE 'BENCH-%') c"))
        conn.commit()
        done += k
        print(f"  loaded {done:,} decisions", flush=True)


def ensure_data(app, n: int, cases: int, businesses: int):
    """Fill an empty database (``caseflow.perf.generate`` when it exists, with ``cases`` and
    ``businesses``), then top the agency with the most decisions up to ``n`` decisions with
    ``load_decisions``; a database that already has them is used as it is. Returns the id of a
    publisher of that agency (made when missing)."""
    from flask_migrate import upgrade

    from caseflow.accounts.models import Agency, User
    from caseflow.accounts.operations import create_agency, create_user
    from caseflow.extensions import db

    def scalar(sql, **p):
        v = db.session.execute(text(sql), p).scalar()
        db.session.commit()  # no transaction left open (the generator drops indexes)
        return v

    with app.app_context():
        upgrade()
        t0 = time.perf_counter()
        if scalar("SELECT count(*) FROM agency") == 0:
            try:
                from caseflow.perf.generate import generate  # the shared generator
            except ImportError:
                generate = None
            if generate is not None:
                print(f"generating {cases:,} cases, {businesses:,} businesses with "
                      "caseflow.perf.generate …", flush=True)
                db.session.remove()
                generate(db.engine, cases=cases, businesses=businesses, seed=1,
                         password=BENCH_PASSWORD)
        agency_id = scalar("SELECT agency_id FROM penalty_decision GROUP BY agency_id "
                           "ORDER BY count(*) DESC LIMIT 1")
        if agency_id is None:
            agency = create_agency("bench-amr", "market_supervision", "上海市基准区市场监督管理局",
                                   "沪市监基")
            agency.credit_code = "11310117MB2C12345X"
            db.session.commit()
            agency_id = agency.id
        have = scalar("SELECT count(*) FROM penalty_decision WHERE agency_id = :a", a=agency_id)
        if have < n:
            print(f"loading {n - have:,} decisions into agency {agency_id} …", flush=True)
            officer_id = scalar("SELECT min(id) FROM user_account WHERE agency_id = :a", a=agency_id)
            if officer_id is None:
                officer_id = create_user(db.session.get(Agency, agency_id), "bench_officer",
                                         BENCH_PASSWORD, ["case_officer"]).id
                db.session.commit()
            start = scalar("SELECT count(*) FROM case_record WHERE number LIKE 'BENCH-%'")
            db.session.remove()
            with db.engine.connect() as conn:
                load_decisions(conn, n - have, agency_id, officer_id, start=start)
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
            print(f"data ready in {time.perf_counter() - t0:.0f} s", flush=True)
        user = db.session.scalar(db.select(User).where(User.username == BENCH_USER))
        if user is None:
            user = create_user(db.session.get(Agency, agency_id), BENCH_USER, BENCH_PASSWORD,
                               ["publisher"])
            db.session.commit()
        return user.id


COPY_REFERENCE = """COPY (SELECT d.subject_name, d.subject_kind, d.credit_code, d.legal_rep,
  d.id_type, d.id_number, d.number, d.violation_type, d.published_facts, d.basis, d.categories,
  d.content, d.fine_amount, d.confiscated_amount, d.licence, d.decision_date, d.valid_until,
  a.name, a.credit_code
FROM penalty_decision d JOIN agency a ON a.id = d.agency_id
WHERE d.agency_id = {agency} AND d.withdrawn_on IS NULL AND d.simple_procedure = false
ORDER BY d.decision_date, d.id) TO STDOUT WITH (FORMAT csv)"""


def copy_reference(app, agency_id: int, path: str) -> tuple[int, float]:
    """COPY of the raw columns of the same selection, to a file: (rows, seconds)."""
    from caseflow.extensions import db

    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            t0 = time.perf_counter()
            rows = 0
            with open(path, "wb") as out, raw.driver_connection.cursor() as cur:
                with cur.copy(COPY_REFERENCE.format(agency=int(agency_id))) as copy:
                    for row in copy:
                        out.write(row)
                        rows += 1
            seconds = time.perf_counter() - t0
            raw.driver_connection.rollback()
        finally:
            raw.close()
    return rows, seconds


def app_export(app, user_id: int, path: str, date_to: dt.date | None = None):
    """The export as the app runs it (operation + batch + audit, committed)."""
    from caseflow.accounts.models import User
    from caseflow.extensions import db
    from caseflow.penalties import operations as ops

    with app.app_context(), app.test_request_context():
        user = db.session.get(User, user_id)
        t0 = time.perf_counter()
        batch = ops.export_csv(user, None, date_to, path)
        db.session.commit()
        seconds = time.perf_counter() - t0
        return batch.row_count, len(batch.refused), batch.size, seconds


def python_export(app, user_id: int, path: str):
    """The Python path (``operations.write_csv``, any database) of the same export: its
    rows, refusals and SHA-256, for --check."""
    import hashlib

    from caseflow.accounts.models import User
    from caseflow.extensions import db
    from caseflow.penalties import operations as ops

    with app.app_context():
        user = db.session.get(User, user_id)
        with open(path, "wb") as out:
            count, refused = ops.write_csv(user, ops.export_selection(user, None, None), out)
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        db.session.rollback()
        return count, [x["id"] for x in refused], digest.hexdigest()


def split_of(app, agency_id: int):
    """Where the export splits in two (``csv_sql.split_key``), or None: one COPY."""
    from caseflow.extensions import db
    from caseflow.penalties import csv_sql

    with app.app_context():
        raw = db.session.connection().connection.driver_connection
        with raw.cursor() as cur:
            key = csv_sql.split_key(cur, agency_id, None, None)
        db.session.rollback()
        return key


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--decisions", type=int, default=1_000_000,
                    help="decisions to load when the database has none (default 1,000,000)")
    ap.add_argument("--cases", type=int, default=20_000,
                    help="cases for caseflow.perf.generate when the database is empty")
    ap.add_argument("--businesses", type=int, default=20_000,
                    help="businesses for caseflow.perf.generate when the database is empty")
    ap.add_argument("--repeat", type=int, default=2,
                    help="runs of each side, interleaved; the best of each counts (medians shown)")
    ap.add_argument("--check", action="store_true",
                    help="also run the Python path once and require the same bytes (slow: "
                         "about a minute per million rows)")
    args = ap.parse_args()
    url = database_url(args.database_url)
    tmp = tempfile.mkdtemp(prefix="bench-export-")
    app = make_app(url, tmp)
    user_id = ensure_data(app, args.decisions, args.cases, args.businesses)
    from caseflow.accounts.models import User
    from caseflow.extensions import db

    with app.app_context():
        agency_id = db.session.get(User, user_id).agency_id
        total = db.session.execute(text("SELECT count(*) FROM penalty_decision WHERE agency_id = :a"),
                                   {"a": agency_id}).scalar()
    key = split_of(app, agency_id)
    print(f"agency {agency_id}: {total:,} decisions; the export runs "
          + (f"in two halves split at {key[0]} id {key[1]}" if key else "as one COPY"), flush=True)
    out = os.path.join(tmp, "out.csv")
    copy_runs, app_runs = [], []
    rss_before = rss_mb()
    for _ in range(args.repeat):
        rows, seconds = copy_reference(app, agency_id, out)
        copy_runs.append((rows, seconds))
        print(f"COPY reference: {rows:,} rows in {seconds:.2f} s = {rows / seconds:,.0f} rows/s",
              flush=True)
        rows, refused, size, seconds = app_export(app, user_id, out)
        app_runs.append((rows, seconds))
        print(f"app export:     {rows:,} rows ({refused:,} refused, {size / 1e6:.0f} MB) in "
              f"{seconds:.2f} s = {rows / seconds:,.0f} rows/s; peak RSS {rss_mb():.0f} MB",
              flush=True)
    growth = rss_mb() - rss_before
    if args.check:
        with app.app_context():
            batch = db.session.execute(text(
                "SELECT row_count, sha256, refused FROM export_batch ORDER BY id DESC LIMIT 1")).one()
        t0 = time.perf_counter()
        count, refused_ids, sha = python_export(app, user_id, out)
        same = (count, sha) == (batch.row_count, batch.sha256) and refused_ids == [
            x["id"] for x in (batch.refused if isinstance(batch.refused, list) else json.loads(batch.refused))]
        print(f"Python path:    {count:,} rows in {time.perf_counter() - t0:.0f} s, "
              f"sha256 {sha[:16]}…: {'the same bytes' if same else 'DIFFERENT from the SQL path'}",
              flush=True)
    os.unlink(out)

    def rate(runs, pick):
        return pick([rows / seconds for rows, seconds in runs])

    copy_rate, app_rate = rate(copy_runs, max), rate(app_runs, max)
    ratio = round(app_rate / copy_rate, 3)
    median = round(rate(app_runs, statistics.median) / rate(copy_runs, statistics.median), 3)
    print(f"app {app_rate:,.0f} rows/s vs COPY {copy_rate:,.0f} rows/s (best runs): ratio {ratio}; "
          f"medians {rate(app_runs, statistics.median):,.0f} vs "
          f"{rate(copy_runs, statistics.median):,.0f} rows/s: ratio {median}; "
          f"peak RSS {rss_before:.0f} MB before the exports, {rss_mb():.0f} MB after", flush=True)
    result("csv export rows/s vs COPY", ratio, "ratio", ">= 0.5", ratio >= 0.5)
    result(f"csv export peak RSS growth over {app_runs[0][0]:,} rows", round(growth, 1), "MB",
           "< 100 (constant memory)", growth < 100)
    if args.check:
        result("csv export same bytes as the Python path", same, "bool", "true", same)


if __name__ == "__main__":
    main()
