"""Credit-register import (检查对象名录库): ``inspections.operations.import_businesses`` rows/s.

    .venv/bin/python bench/register_import.py [--database-url URL] [--rows 200000]

Writes a CSV of ``--rows`` businesses in the register's format (the columns
``IMPORT_COLUMNS``: valid unified social credit codes, Chinese names, district, industry,
risk class, address; 0.5 % of the rows faulty — bad check character, missing name, a
duplicate — so the validation rejects some), then, as a coordinator of a bench agency:

1. imports it into an empty directory (every row new) and commits;
2. imports it again (every row an update of the existing business) and rolls back.

Each is timed from the open file to the import report flushed (validation, the SHA-256 of
the file, the rows written, the audit record). Goal: ≥ 50,000 rows/s. The bench agency's
businesses are deleted at the end.
"""
from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

STREETS = ["南京西路街道", "静安寺街道", "江宁路街道", "石门二路街道", "曹家渡街道", "天目西路街道",
           "北站街道", "宝山路街道", "芷江西路街道", "共和新路街道", "大宁路街道", "彭浦新村街道"]
INDUSTRIES = ["批发和零售业", "住宿和餐饮业", "制造业", "信息传输、软件和信息技术服务业",
              "租赁和商务服务业", "文化、体育和娱乐业", "居民服务、修理和其他服务业"]
SHOPS = ["商贸有限公司", "贸易商行", "服饰店", "电子科技有限公司", "日用品经营部", "餐饮管理有限公司"]


def write_register(path: Path, rows: int, seed: int = 7) -> int:
    """The CSV (UTF-8 with BOM, as Excel saves it); the number of faulty rows."""
    from caseflow.perf.generate import credit_code

    rng = random.Random(seed)
    faulty = 0
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(["统一社会信用代码", "名称", "区", "行业", "信用风险分类", "地址"])
        prev = None
        for i in range(rows):
            code = credit_code("91", "310106", _org8(i))
            name = f"上海{rng.choice(['静安', '江宁', '大宁', '彭浦'])}{i}{rng.choice(SHOPS)}"
            r = rng.random()
            if r < 0.002:
                code = code[:-1] + ("0" if code[-1] != "0" else "1")  # wrong check character
                faulty += 1
            elif r < 0.004:
                name = ""
                faulty += 1
            elif r < 0.005 and prev:
                code = prev  # a duplicate within the file
                faulty += 1
            prev = code
            w.writerow([code, name, rng.choice(STREETS), rng.choice(INDUSTRIES),
                        rng.choices("ABCD", weights=(30, 50, 15, 5))[0],
                        f"上海市静安区{rng.choice(['愚园路', '武定路', '常德路', '延安中路'])}{rng.randint(1, 1500)}号"])
    return faulty


_ALPHA = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # what an organisation code body may hold


def _org8(i: int) -> str:
    out = []
    n = i + 10_000_000
    for _ in range(8):
        n, d = divmod(n, 31)
        out.append(_ALPHA[d])
    return "".join(reversed(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--rows", type=int, default=200_000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="caseflow-bench-import-"))
    url = common.normalize_url(args.database_url or f"sqlite:///{tmp}/bench.db")
    app = common.make_app(url, str(tmp))
    common.migrate(app)
    csv_path = tmp / "register.csv"
    t0 = time.perf_counter()
    faulty = write_register(csv_path, args.rows)
    print(f"# wrote {args.rows} rows ({csv_path.stat().st_size / 1e6:.1f} MB, {faulty} faulty) "
          f"in {time.perf_counter() - t0:.1f}s")
    from sqlalchemy import delete, func, select

    from caseflow.accounts.models import Agency, User
    from caseflow.accounts.operations import create_agency
    from caseflow.extensions import db
    from caseflow.inspections import operations as ops
    from caseflow.inspections.models import Business

    rates = {}
    with app.app_context(), app.test_request_context("/"):
        agency = db.session.scalar(select(Agency).where(Agency.code == "bench-import"))
        if agency is None:
            agency = create_agency("bench-import", "market_supervision", "上海市导入区市场监督管理局",
                                   "沪市监导")
            db.session.commit()
        uid = common.ensure_user(agency.id, "bench-import", ["coordinator"])
        db.session.execute(delete(Business).where(Business.agency_id == agency.id))
        db.session.commit()
        for run in ("insert", "update"):
            user = db.session.get(User, uid)
            t0 = time.perf_counter()
            with csv_path.open("rb") as f:
                report = ops.import_businesses(user, f, "register.csv")
            elapsed = time.perf_counter() - t0
            assert report.rejected_count >= faulty * 0.9, (report.rejected_count, faulty)
            assert (report.imported if run == "insert" else report.updated) == \
                report.total - report.rejected_count
            rates[run] = (report.total / elapsed, elapsed, (report.imported, report.updated,
                                                            report.rejected_count))
            if run == "insert":
                db.session.commit()
            else:
                db.session.rollback()
        n = db.session.scalar(select(func.count()).select_from(Business).where(
            Business.agency_id == agency.id))
        db.session.execute(delete(Business).where(Business.agency_id == agency.id))
        db.session.commit()
    print(f"# import_businesses on {url.split(':')[0]}: {args.rows} rows; {n} businesses stored")
    print("| run | rows/s | seconds | imported | updated | rejected |\n|---|---:|---:|---:|---:|---:|")
    for run, (rate, elapsed, (imported, updated, rejected)) in rates.items():
        print(f"| {run} | {rate:.0f} | {elapsed:.2f} | {imported} | {updated} | {rejected} |")
    common.result("register_import_new_rows", rates["insert"][0], "rows/s", ">= 50000",
                  note=f"{args.rows} rows, every one new")
    common.result("register_import_update_rows", rates["update"][0], "rows/s", ">= 50000",
                  note=f"{args.rows} rows, every one already in the directory")


if __name__ == "__main__":
    main()
