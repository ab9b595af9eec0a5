"""The dashboard's monthly tallies (PostgreSQL) and the distinct-case count of stage exits.

- ``Period.tally_plan`` against a day-by-day sum, for every kind of period;
- the tallies against the rows they describe after writes of every kind: the operations, raw
  ``UPDATE``/``DELETE``/``INSERT``, cascades, ``TRUNCATE`` and compaction (PostgreSQL);
- ``case_counts`` and ``stage_histograms`` against plain SQL over the rows, for periods that
  cut months at either end, on SQLite and PostgreSQL;
- ``prev_left_on`` as the operations write it, and a case leaving a stage twice counted once.
"""
from __future__ import annotations

import datetime as dt
import random
from collections import Counter, defaultdict

import pytest
from sqlalchemy import Date, insert, text

from caseflow.cases import tally
from caseflow.cases.models import StageExit
from caseflow.core.timeutil import today_local
from caseflow.extensions import db
from caseflow.reports import operations as ops
from caseflow.reports.rules import Period

# ----------------------------------------------------------------------------- the plan


def _plan_sum(period: Period, per_day: dict[dt.date, int]) -> int:
    months, add, subtract = period.tally_plan()
    total = 0
    if months:
        assert months.start.day == 1 and (months.end + dt.timedelta(days=1)).day == 1
        total += sum(n for d, n in per_day.items() if months.start <= d <= months.end)
    for sign, parts in ((1, add), (-1, subtract)):
        for p in parts:
            total += sign * sum(n for d, n in per_day.items() if p.start <= d <= p.end)
    return total


def test_tally_plan_counts_every_day_of_the_period_once():
    rng = random.Random(7)
    first = dt.date(2023, 1, 1)
    per_day = {first + dt.timedelta(days=i): rng.randint(0, 9) for i in range(4 * 366)}
    for _ in range(600):
        a = first + dt.timedelta(days=rng.randint(0, 4 * 366 - 1))
        b = a + dt.timedelta(days=rng.choice([0, 1, 5, 20, 31, 45, 200, 400, 800]))
        p = Period(a, b)
        assert _plan_sum(p, per_day) == sum(n for d, n in per_day.items() if a <= d <= b), p


@pytest.mark.parametrize("period, expected", [
    # a whole year: all from the tally
    (Period(dt.date(2025, 1, 1), dt.date(2025, 12, 31)),
     (Period(dt.date(2025, 1, 1), dt.date(2025, 12, 31)), [], [])),
    # this year up to the 23rd: November read whole, the rest of it subtracted
    (Period(dt.date(2026, 1, 1), dt.date(2026, 11, 23)),
     (Period(dt.date(2026, 1, 1), dt.date(2026, 11, 30)), [],
      [Period(dt.date(2026, 11, 24), dt.date(2026, 11, 30))])),
    # a few days inside one month: counted day by day
    (Period(dt.date(2025, 3, 15), dt.date(2025, 3, 20)),
     (None, [Period(dt.date(2025, 3, 15), dt.date(2025, 3, 20))], [])),
    # cut at both ends, across a new year
    (Period(dt.date(2024, 12, 28), dt.date(2025, 2, 3)),
     (Period(dt.date(2025, 1, 1), dt.date(2025, 1, 31)),
      [Period(dt.date(2024, 12, 28), dt.date(2024, 12, 31)),
       Period(dt.date(2025, 2, 1), dt.date(2025, 2, 3))], [])),
    # February of a leap year, from the 2nd: read whole, the 1st subtracted
    (Period(dt.date(2024, 2, 2), dt.date(2024, 2, 29)),
     (Period(dt.date(2024, 2, 1), dt.date(2024, 2, 29)), [],
      [Period(dt.date(2024, 2, 1), dt.date(2024, 2, 1))])),
])
def test_tally_plan_examples(period, expected):
    assert period.tally_plan() == expected


# ----------------------------------------------------------------------------- the data

def _spread(world, make_case, drive, n=24, seed=3):
    """Cases received over the last 14 months, about half driven through several stages on
    back-dated days, one suspended and resumed twice (it leaves two stages twice)."""
    rng = random.Random(seed)
    today = today_local()
    cases = []
    for i in range(n):
        received = today - dt.timedelta(days=rng.randint(40, 420))
        c = make_case(title=f"分布案件{i}", received_at=received.isoformat(),
                      channel=rng.choice(["report", "complaint", "inspection"]),
                      ip_type=rng.choice(["trademark", "patent", "copyright"]))
        day = received
        for action in rng.choice([(), ("accept",), ("accept", "file"), ("reject",),
                                  ("accept", "file", "investigate")]):
            day = min(day + dt.timedelta(days=rng.randint(0, 20)), today)
            drive(c, action, effective_on=day.isoformat())
        cases.append(c)
    loop = make_case(title="中止两次的案件",
                     received_at=(today - dt.timedelta(days=200)).isoformat())
    day = today - dt.timedelta(days=200)
    for action, gap in (("accept", 3), ("file", 4), ("investigate", 1), ("suspend", 20),
                        ("resume", 15), ("suspend", 30), ("resume", 25)):
        day += dt.timedelta(days=gap)
        drive(loop, action, effective_on=day.isoformat())
    cases.append(loop)
    return cases, loop


def _raw_case_counts(agency_id: int, p: Period) -> Counter:
    rows = db.session.execute(text(
        "SELECT state, ip_type, channel, received_on FROM case_record "
        "WHERE owner_agency_id = :a").columns(received_on=Date), {"a": agency_id})
    return Counter((s, ip, ch, d.year, d.month) for s, ip, ch, d in rows if p.start <= d <= p.end)


def _raw_stages(agency_id: int, p: Period) -> tuple[dict, dict]:
    rows = db.session.execute(text(
        "SELECT case_id, stage, days, left_on FROM case_stage_exit WHERE agency_id = :a")
        .columns(left_on=Date), {"a": agency_id})
    hist, cases = defaultdict(Counter), defaultdict(set)
    for case_id, stage, days, left in rows:
        if p.start <= left <= p.end:
            hist[stage][days] += 1
            cases[stage].add(case_id)
    return dict(hist), {s: len(v) for s, v in cases.items()}


def _periods(today: dt.date) -> list[Period]:
    y = today.year
    return [Period(dt.date(y, 1, 1), today), Period.year(y - 1),
            Period(today - dt.timedelta(days=150), today),
            Period(today - dt.timedelta(days=400), today - dt.timedelta(days=33)),
            Period(today - dt.timedelta(days=200), today - dt.timedelta(days=170)),
            Period(today - dt.timedelta(days=3 * 365), today), Period(today, today)]


def _assert_dashboard_counts_match(agency_id: int, today: dt.date):
    for p in _periods(today):
        got = Counter()
        for state, ip, ch, year, month, n in ops.case_counts(agency_id, p):
            assert n > 0
            got[(state, ip, ch, int(year), int(month))] += n
        assert got == _raw_case_counts(agency_id, p), p
        hist, cases = ops.stage_histograms(agency_id, p)
        raw_hist, raw_cases = _raw_stages(agency_id, p)
        assert {s: dict(h) for s, h in hist.items()} == {s: dict(h) for s, h in raw_hist.items()}, p
        assert cases == raw_cases, p


def test_dashboard_counts_match_the_rows_for_any_period(world, make_case, drive):
    cases, loop = _spread(world, make_case, drive)
    today = today_local()
    assert sum(n for *_, n in ops.case_counts(world.amr.id, Period(today - dt.timedelta(days=500),
                                                                   today))) == len(cases)
    _assert_dashboard_counts_match(world.amr.id, today)
    # the case that left two stages twice counts once for each
    p = Period(today - dt.timedelta(days=200), today)
    hist, distinct = ops.stage_histograms(world.amr.id, p)
    assert sum(hist["suspended"].values()) >= 2 and sum(hist["investigating"].values()) >= 2
    # its second exits are repeats: fewer distinct cases than exits
    assert distinct["suspended"] < sum(hist["suspended"].values())
    assert distinct["investigating"] < sum(hist["investigating"].values())
    loop_exits = db.session.execute(text(
        "SELECT stage, count(*) FROM case_stage_exit WHERE case_id = :c GROUP BY stage"),
        {"c": loop.id}).all()
    assert dict(loop_exits)["investigating"] == 2 and dict(loop_exits)["suspended"] == 2


def test_operations_write_the_previous_exit_of_the_stage(world, make_case, drive):
    _, loop = _spread(world, make_case, drive, n=0)
    rows = db.session.execute(text(
        "SELECT stage, left_on, prev_left_on FROM case_stage_exit WHERE case_id = :c "
        "ORDER BY id").columns(left_on=Date, prev_left_on=Date), {"c": loop.id}).all()
    seen: dict[str, dt.date] = {}
    for stage, left, prev in rows:
        assert prev == seen.get(stage), (stage, left, prev)
        seen[stage] = left
    assert [r.stage for r in rows if r.prev_left_on is not None] == ["investigating", "suspended"]


# ----------------------------------------------------------------------------- PostgreSQL

def _require_pg():
    if not tally.kept():
        pytest.skip("the tallies are kept on PostgreSQL only")


def _tally_matches_rows():
    month = db.session.execute(text(
        "SELECT agency_id, month, state, ip_type, channel, sum(n) FROM case_month_tally "
        "GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0")).all()
    month_raw = db.session.execute(text(
        "SELECT owner_agency_id, date_trunc('month', received_on::timestamp)::date, state, ip_type, "
        "channel, count(*) FROM case_record GROUP BY 1, 2, 3, 4, 5")).all()
    assert sorted(month) == sorted(month_raw)
    stage = db.session.execute(text(
        "SELECT agency_id, month, stage, days, sum(n) FROM stage_exit_tally "
        "GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0")).all()
    stage_raw = db.session.execute(text(
        "SELECT agency_id, date_trunc('month', left_on::timestamp)::date, stage, days, count(*) "
        "FROM case_stage_exit GROUP BY 1, 2, 3, 4")).all()
    assert sorted(stage) == sorted(stage_raw)
    return len(month_raw), len(stage_raw)


def test_tallies_follow_every_kind_of_write(world, make_case, drive):
    _require_pg()
    cases, loop = _spread(world, make_case, drive)
    assert _tally_matches_rows() != (0, 0)
    # raw SQL: a case moved to another month and agency, states changed in bulk
    db.session.execute(text("UPDATE case_record SET received_on = received_on - 40, "
                            "owner_agency_id = :o WHERE id = :c"),
                       {"o": world.culture.id, "c": cases[0].id})
    db.session.execute(text("UPDATE case_record SET state = 'rejected', state_reason = '批量' "
                            "WHERE state = 'clue'"))
    db.session.execute(text("UPDATE case_stage_exit SET days = days + 1, left_on = left_on - 31, "
                            "prev_left_on = prev_left_on - 31 WHERE case_id = :c"), {"c": loop.id})
    # a case deleted: its exits go by the cascade
    db.session.execute(text("DELETE FROM case_record WHERE id = :c"), {"c": cases[1].id})
    # exits written by a bulk insert (of a case with none yet; the writer fills prev_left_on)
    fresh = make_case(title="批量写入的案件", received_at="2024-05-01")
    db.session.execute(insert(StageExit), [
        dict(case_id=fresh.id, agency_id=world.amr.id, stage="clue", entered_on=dt.date(2024, 5, 1),
             left_on=dt.date(2024, 5, d), days=d - 1, prev_left_on=prev)
        for d, prev in ((2, None), (9, dt.date(2024, 5, 2)), (30, dt.date(2024, 5, 9)))])
    _tally_matches_rows()
    _assert_dashboard_counts_match(world.amr.id, today_local())
    _assert_dashboard_counts_match(world.culture.id, today_local())
    db.session.commit()
    # compaction: one row per key, the same sums
    before = db.session.execute(text("SELECT count(*) FROM case_month_tally")).scalar()
    folded = tally.compact()
    db.session.commit()
    keys = _tally_matches_rows()
    assert folded > 0
    assert db.session.execute(text("SELECT count(*) FROM case_month_tally")).scalar() == keys[0] < before
    assert db.session.execute(text("SELECT count(*) FROM stage_exit_tally")).scalar() == keys[1]
    _assert_dashboard_counts_match(world.amr.id, today_local())
    # a second pass has nothing to fold and rewrites nothing; after one more change, only the
    # keys it touched are rewritten
    ids = set(db.session.execute(text("SELECT id FROM case_month_tally")).scalars())
    assert tally.compact() == 0
    assert set(db.session.execute(text("SELECT id FROM case_month_tally")).scalars()) == ids
    db.session.execute(text("UPDATE case_record SET channel = 'hotline_12315' WHERE id = :c"),
                       {"c": cases[3].id})
    assert tally.compact() > 0
    now = set(db.session.execute(text("SELECT id FROM case_month_tally")).scalars())
    assert len(ids - now) <= 2 and len(now - ids) <= 2  # the case's old key and its new one
    _tally_matches_rows()
    # TRUNCATE empties the tally with its table
    db.session.execute(text("TRUNCATE case_stage_exit"))
    assert db.session.execute(text("SELECT count(*) FROM stage_exit_tally")).scalar() == 0
    db.session.rollback()
    _tally_matches_rows()


def test_the_tally_is_exact_inside_a_rolled_back_write(world, make_case, drive):
    """A writer's deltas belong to its transaction: rolled back with it, never half there."""
    _require_pg()
    _spread(world, make_case, drive, n=6)
    keys = _tally_matches_rows()
    db.session.execute(text("UPDATE case_record SET received_on = received_on - 100"))
    _tally_matches_rows()
    db.session.rollback()
    assert _tally_matches_rows() == keys
