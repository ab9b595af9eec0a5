"""The SQL path of the 双公示 CSV beyond the rows themselves: a large export cut in two halves
run at once on two connections (one snapshot), the categories as other writers spell their
JSON, and the agency's cells added by the client. Every test holds the bytes to the Python
path's (``operations.write_csv``)."""
import datetime as dt

import psycopg
import pytest
from sqlalchemy import select, text, update

from caseflow.extensions import db
from caseflow.penalties import csv_sql
from caseflow.penalties import operations as ops
from caseflow.penalties.models import PenaltyDecision
from tests.penalties.test_export_csv_sql import (decisions, python_bytes,  # noqa: F401 (a fixture)
                                                 records, sql_bytes)

D = dt.date


@pytest.fixture()
def pg(app, decisions):  # noqa: F811 (the fixture imported above)
    if db.session.get_bind().dialect.name != "postgresql":
        pytest.skip("the SQL path is PostgreSQL's")
    return decisions


def _same(publisher, *period):
    py, sql = python_bytes(publisher, *period), sql_bytes(publisher, *period)
    assert sql[0] == py[0]
    assert sql[1:] == py[1:]
    return py


def _keys(agency_id):
    """(decision_date, id) of every decision of the agency in export order, with whether it
    is exported, refused or not published at all."""
    return list(db.session.execute(
        select(PenaltyDecision.decision_date, PenaltyDecision.id, PenaltyDecision.subject_name)
        .where(PenaltyDecision.agency_id == agency_id)
        .order_by(PenaltyDecision.decision_date, PenaltyDecision.id)))


@pytest.fixture()
def splits(monkeypatch):
    """Force a split at the given key; count the split exports."""
    used = []
    real = csv_sql.copy_rows_split

    def spy(*args, **kwargs):
        used.append(args[2:4])
        return real(*args, **kwargs)

    monkeypatch.setattr(csv_sql, "copy_rows_split", spy)

    def at(key):
        monkeypatch.setattr(csv_sql, "split_key", lambda *a: key)
        return used

    return at


def _key_at(rows, where):
    first, last = rows[0], rows[-1]
    by_name = {name: (day, i) for day, i, name in rows}
    return {
        "before every row": (first[0] - dt.timedelta(days=1), 0),
        "on the first row": (first[0], first[1]),
        "in the middle": tuple(rows[len(rows) // 2][:2]),
        "inside a day, between two ids": (rows[len(rows) // 2][0], rows[len(rows) // 2][1] - 1),
        "on a refused row": by_name["缺依据"],
        "on a row never published": by_name["仅警告"],
        "on the last row": (last[0], last[1]),
        "after every row": (last[0] + dt.timedelta(days=1), 0),
    }[where]


@pytest.mark.parametrize("where", ["before every row", "on the first row", "in the middle",
                                   "inside a day, between two ids", "on a refused row",
                                   "on a row never published", "on the last row",
                                   "after every row"])
def test_two_halves_give_the_same_bytes(pg, splits, where):
    publisher, _ = pg
    key = _key_at(_keys(publisher.agency_id), where)
    used = splits(key)
    _same(publisher)
    assert len(used) == 1  # the split path ran
    first, second = used[0]
    assert "(p.decision_date, p.id) <" in first and "(p.decision_date, p.id) >=" in second


@pytest.mark.parametrize("period", [(D(2026, 6, 2), D(2026, 6, 4)), (D(2026, 6, 3), None),
                                    (None, D(2025, 1, 1))])
def test_two_halves_within_a_period(pg, splits, period):
    publisher, _ = pg
    rows = _keys(publisher.agency_id)
    splits(tuple(rows[len(rows) // 2][:2]))
    _same(publisher, *period)


def test_the_split_key_is_the_middle_of_the_selection(pg, monkeypatch):
    publisher, _ = pg
    raw = db.session.connection().connection.driver_connection
    with raw.cursor() as cur:
        assert csv_sql.split_key(cur, publisher.agency_id, None, None) is None  # small: one COPY
        monkeypatch.setattr(csv_sql, "SPLIT_ABOVE", 0)
        key = csv_sql.split_key(cur, publisher.agency_id, None, None)
        # the sample is the whole table here (fewer pages than SAMPLE_PAGES): the exact middle
        selection = list(db.session.execute(
            select(PenaltyDecision.decision_date, PenaltyDecision.id)
            .where(PenaltyDecision.agency_id == publisher.agency_id,
                   PenaltyDecision.withdrawn_on.is_(None),
                   PenaltyDecision.simple_procedure.is_(False))
            .order_by(PenaltyDecision.decision_date, PenaltyDecision.id)))
        assert key == tuple(selection[len(selection) // 2])
        assert csv_sql.split_key(cur, publisher.agency_id, D(2030, 1, 1), None) is None  # no rows
    # the export takes the split path on its own
    used = []
    real = csv_sql.copy_rows_split
    monkeypatch.setattr(csv_sql, "copy_rows_split", lambda *a, **k: used.append(1) or real(*a, **k))
    _same(publisher)
    assert used == [1]


def test_a_failing_half_fails_the_export_and_gives_the_connections_back(pg, splits, monkeypatch):
    publisher, _ = pg
    rows = _keys(publisher.agency_id)
    splits(tuple(rows[len(rows) // 2][:2]))
    real = csv_sql.copy_sql
    checked_out = db.engine.pool.checkedout()
    for broken in ("before", "after"):
        def copy_sql(*args, **half):
            if broken in half:
                return "COPY (SELECT 1 / (SELECT count(*) - count(*) FROM agency)) TO STDOUT"
            return real(*args, **half)

        monkeypatch.setattr(csv_sql, "copy_sql", copy_sql)
        with pytest.raises(psycopg.errors.DivisionByZero):
            sql_bytes(publisher)
        assert db.engine.pool.checkedout() == checked_out
    monkeypatch.setattr(csv_sql, "copy_sql", real)
    _same(publisher)  # the session goes on


def test_the_halves_see_one_snapshot(pg):
    publisher, _ = pg
    first, second = db.engine.raw_connection(), db.engine.raw_connection()
    try:
        csv_sql.share_snapshot(first.driver_connection, second.driver_connection)
        count = "SELECT count(*) FROM penalty_decision WHERE withdrawn_on IS NULL"
        before = first.driver_connection.execute(count).fetchone()[0]
        with db.engine.begin() as other:  # committed after the snapshot was taken
            other.execute(update(PenaltyDecision).values(withdrawn_on=D(2026, 9, 1),
                                                         withdraw_reason="复议撤销"))
        assert second.driver_connection.execute(count).fetchone()[0] == before > 0
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize("spelling", ['["罚款","没收违法所得"]', '[ "罚款" , "没收违法所得" ]',
                                      '["\\u7f5a\\u6b3e", "\\u6ca1\\u6536\\u8fdd\\u6cd5\\u6240\\u5f97"]',
                                      '["警告","警告"]', '["警告", "罚款"]', '[]'])
def test_categories_however_the_json_is_spelt(pg, spelling):
    """The ORM writes \\u escapes; other writers (the generators, imports) write the
    characters, with or without spaces. jsonb gives the SQL one spelling."""
    publisher, made = pg
    db.session.execute(update(PenaltyDecision).where(PenaltyDecision.id.in_(
        [made["plain org"].id, made["person"].id, made["minor light"].id]))
        .values(categories=text(f"'{spelling}'::json")))
    db.session.commit()
    py = _same(publisher)
    names = {r["行政相对人名称"]: r for r in records(py[0])}
    if spelling in ('["警告","警告"]', "[]"):
        assert "上海某某商行" not in names
    else:
        assert names["上海某某商行"]["处罚类别"].startswith(("罚款", "警告、罚款"))


@pytest.mark.parametrize("name, code", [('=上海市"某"区, 市场监督管理局', "-1310117MB2C12345X"),
                                        ("上海市某区\n市场监督管理局", "11310117MB2C12345X")])
def test_the_agency_cells_quoted_like_the_python_rows(pg, world, name, code):
    publisher, _ = pg
    world.amr.name, world.amr.credit_code = name, code
    db.session.commit()
    py = _same(publisher)
    rec = records(py[0])[0]
    assert rec["处罚机关"] == rec["数据来源单位"] == ("'" + name if name[0] == "=" else name)
    assert rec["处罚机关统一社会信用代码"] == ("'" + code if code[0] == "-" else code)
    assert rec["备注"] == ""


def test_an_agency_without_a_code_refuses_every_row(pg, world):
    publisher, _ = pg
    world.amr.credit_code = None
    db.session.commit()
    raw, count, refused = _same(publisher)
    assert count == 0 and records(raw) == []
    assert all("处罚机关统一社会信用代码" in x["missing"] for x in refused) and refused


def test_whitespace_is_what_str_strip_removes():
    assert csv_sql.WHITESPACE == "".join(chr(c) for c in range(0x110000) if chr(c).isspace())


def test_row_end_is_what_csv_writer_writes():
    assert ops.io_bytes_row(["x", "a,b", "c", "a,b", "c", ""]) == b"x" + csv_sql.row_end("a,b", "c")
