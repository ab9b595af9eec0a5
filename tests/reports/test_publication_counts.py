"""Publication timeliness counted by ``reports.publication`` (one SQL statement on PostgreSQL,
Python on SQLite) against ``publication.every_class`` (every id, the Python loop),
over seeded random decisions of every kind: each category set (empty and warning only too),
simple procedure, the three severities, both sides of the platform rule change, another
province or not, published early, on the deadline, a day late, or not at all (pending and
overdue); another agency's decisions and those outside the period never count."""
from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from sqlalchemy import insert, select

from caseflow.cases.models import Case
from caseflow.core.models import load_calendar
from caseflow.extensions import db
from caseflow.penalties import rules as pr
from caseflow.penalties.models import PenaltyDecision
from caseflow.reports import publication
from caseflow.reports.rules import PUBLICATION_CLASSES, Period

D = dt.date
CHANNELS = ("platform", "enterprise")
#: across a new year and the Spring Festival, the platform rule change (2026-04-01) inside
PERIOD = Period(D(2025, 12, 1), D(2026, 6, 18))
TODAY = D(2026, 6, 18)  # a working day; the last ~4 weeks' deadlines are still ahead: pending
CATEGORY_SETS = ([], ["警告"], ["罚款"], ["警告", "罚款"], ["罚款", "没收违法所得"],
                 ["没收非法财物", "罚款"], ["通报批评"], ["警告", "通报批评"], ["吊销许可证件"],
                 ["罚款", "责令停产停业", "其他"])


def _cases(agency, user, n: int, tag: str) -> list[int]:
    now = dt.datetime.now(dt.timezone.utc)
    rows = [dict(owner_agency_id=agency.id, number=f"沪测〔2026〕{tag}{i:05d}号", title=f"案件{i}",
                 channel="report", ip_type="trademark", received_on=D(2025, 6, 1), state="decided",
                 created_by_id=user.id, version=1, description="", location="",
                 infringement_kind="", reporter_name="", reporter_contact="", is_major=False,
                 illegal_business_volume=0, illegal_gains=0, sales_amount=0, unsold_goods_value=0,
                 copies=0, created_at=now, updated_at=now) for i in range(n)]
    db.session.execute(insert(Case), rows)
    return list(db.session.scalars(select(Case.id).where(Case.owner_agency_id == agency.id,
                                                         Case.number.like(f"%{tag}%"))
                                   .order_by(Case.id)))


def _published_on(rng: random.Random, deadline: D, how: str) -> D | None:
    return {"early": deadline - dt.timedelta(days=rng.randint(1, 6)), "on_deadline": deadline,
            "late": deadline + dt.timedelta(days=rng.randint(1, 30)), "never": None}[how]


def _decision(rng: random.Random, case_id: int, agency, user, day: D, cal, p, **over) -> dict:
    categories = rng.choice(CATEGORY_SETS)
    other = over.pop("other_province", rng.random() < 0.3)
    dl = pr.publication_deadlines(pr.DecisionFacts(day, (), other_province=other), cal, p)
    hows = ("early", "on_deadline", "late", "never")
    return over | dict(
        case_id=case_id, agency_id=agency.id, number=f"沪测罚〔2026〕{case_id}号",
        categories=categories, violation_type="销售侵犯注册商标专用权的商品", facts="事实",
        published_facts="事实", basis="依据", content="内容", fine_amount=Decimal("2000"),
        confiscated_amount=Decimal(0), licence="", decision_date=day, valid_until=None,
        severity=rng.choice(pr.SEVERITIES), lower_amount=False,
        simple_procedure=rng.random() < 0.12, special_sector=False, other_province=other,
        subject_name="上海某某商行", subject_kind="法人及非法人组织", credit_code="", legal_rep="",
        id_type="", id_number="", recorded_by_id=user.id, version=1,
        platform_published_on=_published_on(rng, dl.platform, rng.choice(hows)),
        enterprise_published_on=_published_on(rng, dl.enterprise, rng.choice(hows))) | over


def _due_today(cal, p) -> list[tuple[D, bool]]:
    """(decision date, other province) whose platform or enterprise deadline is today."""
    out = []
    for n in range(60):
        day = TODAY - dt.timedelta(days=n)
        for other in (False, True):
            dl = pr.publication_deadlines(pr.DecisionFacts(day, (), other_province=other), cal, p)
            if TODAY in (dl.platform, dl.enterprise):
                out.append((day, other))
    return out


@pytest.fixture(params=["default", "other province longer"])
def params(request, monkeypatch):
    """The publication parameters, also with another province's deadline differing from a
    local one (by default both are 20 working days, so a mix-up would go unnoticed)."""
    p = pr.PublicationParams()
    if request.param != "default":
        p.platform_wd, p.other_province_wd = 5, (10, 15)
    monkeypatch.setattr("caseflow.penalties.operations.params", lambda: p)
    return p


@pytest.fixture()
def decisions(world, params):
    """~600 random decisions of amr in the period, and some that must not count: amr's
    before and after the period, the culture squad's inside it."""
    rng = random.Random(20261123)
    cal, p = load_calendar(), params
    span = (PERIOD.end - PERIOD.start).days

    def days_in(n):
        return [PERIOD.start + dt.timedelta(days=rng.randint(0, span)) for _ in range(n)]

    # (decision date, fields forced): amr's in the period, each end and the rule change too
    amr = [(day, {}) for day in (PERIOD.start, PERIOD.end, p.rule_change - dt.timedelta(days=1),
                                 p.rule_change, *days_in(600))]
    # unpublished with a deadline of today: still pending (overdue from tomorrow)
    due_today = _due_today(cal, p)
    assert {other for _, other in due_today} == {False, True}
    amr += [(day, dict(other_province=other, categories=["罚款"], severity="serious",
                       simple_procedure=False, platform_published_on=None,
                       enterprise_published_on=None)) for day, other in due_today]
    outside = [(day, {}) for day in (PERIOD.start - dt.timedelta(days=1),
                                     PERIOD.end + dt.timedelta(days=1), D(2025, 6, 30),
                                     D(2026, 9, 1)) * 4]
    culture = [(day, {}) for day in days_in(60)]
    rows = []
    for agency, user, plan, tag in ((world.amr, world.officer, amr + outside, "A"),
                                    (world.culture, world.other, culture, "C")):
        ids = _cases(agency, user, len(plan), tag)
        rows += [_decision(rng, cid, agency, user, day, cal, p, **over)
                 for cid, (day, over) in zip(ids, plan)]
    db.session.execute(insert(PenaltyDecision), rows)
    db.session.commit()
    counted = {row["case_id"] for row in rows[:len(amr)]}  # the only ones that may count
    return rows, counted


def test_counts_and_case_ids_agree_with_every_id(app, decisions):
    rows, counted = decisions
    agency_id = rows[0]["agency_id"]
    want = publication.every_class(agency_id, PERIOD, TODAY)
    assert publication.counts(agency_id, PERIOD, TODAY) == {
        ch: {c: len(want[ch][c]) for c in PUBLICATION_CLASSES} for ch in CHANNELS}
    for ch in CHANNELS:
        for c in PUBLICATION_CLASSES:
            assert publication.case_ids(agency_id, PERIOD, TODAY, ch, c) == sorted(want[ch][c]), (ch, c)
            assert want[ch][c], (ch, c)  # the data reach every class of both channels
    every = [i for ch in CHANNELS for c in PUBLICATION_CLASSES for i in want[ch][c]]
    assert set(every) <= counted
    # each counted decision once per channel; the enterprise channel has every published one
    enterprise = [i for c in PUBLICATION_CLASSES for i in want["enterprise"][c]]
    assert len(enterprise) == len(set(enterprise))


def test_classes_by_hand(app, decisions, params):
    """Every decision classified here from its own dates: the boundaries are right in both
    implementations (not only equal to each other)."""
    rows, counted = decisions
    agency_id = rows[0]["agency_id"]
    cal, p = load_calendar(), params
    got = {(ch, c): set(publication.case_ids(agency_id, PERIOD, TODAY, ch, c))
           for ch in CHANNELS for c in PUBLICATION_CLASSES}
    seen = set()
    for row in rows:
        if row["case_id"] not in counted:
            assert all(row["case_id"] not in ids for ids in got.values())
            continue
        cats = set(row["categories"])
        published = not row["simple_procedure"] and cats and cats != {"警告"}
        on_platform = published and (row["decision_date"] < p.rule_change or row["severity"] != "minor")
        dl = pr.publication_deadlines(pr.DecisionFacts(row["decision_date"], (),
                                                       other_province=row["other_province"]), cal, p)
        for ch, deadline, on in (("platform", dl.platform, row["platform_published_on"]),
                                 ("enterprise", dl.enterprise, row["enterprise_published_on"])):
            where = {c for c in PUBLICATION_CLASSES if row["case_id"] in got[(ch, c)]}
            if not (on_platform if ch == "platform" else published):
                assert not where, (row, ch)
                continue
            if on is not None:
                expected = "on_time" if on <= deadline else "late"
            else:
                expected = "overdue" if TODAY > deadline else "pending"
            assert where == {expected}, (row, ch)
            seen.add((ch, expected, deadline == (on or TODAY)))
    # published exactly on the deadline is on time, unpublished on the deadline pending
    for ch in CHANNELS:
        assert (ch, "on_time", True) in seen and (ch, "pending", True) in seen, ch


def test_other_agency_and_empty(app, decisions, world):
    culture = publication.counts(world.culture.id, PERIOD, TODAY)
    want = publication.every_class(world.culture.id, PERIOD, TODAY)
    assert culture == {ch: {c: len(v) for c, v in want[ch].items()} for ch in CHANNELS}
    assert sum(culture["enterprise"].values()) > 0
    quiet = Period(D(2020, 1, 1), D(2020, 12, 31))
    assert publication.counts(world.amr.id, quiet, TODAY) == {
        ch: dict.fromkeys(PUBLICATION_CLASSES, 0) for ch in CHANNELS}
    assert publication.case_ids(world.amr.id, quiet, TODAY, "platform", "late") == []
    with pytest.raises(ValueError):
        publication.case_ids(world.amr.id, PERIOD, TODAY, "fax", "late")
