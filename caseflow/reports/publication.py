"""Publication timeliness of penalty decisions (SPEC §7): how many of an agency's published-kind
decisions dated in a period were published on time, late, or are overdue or pending, per
channel (信用中国 platform, enterprise publicity system), and the cases behind one class.

The rules stay in ``caseflow.penalties.rules``; here they are asked once per the values each
one reads: whether a decision is published at all (procedure, categories), whether on the
platform (decision date, severity) and its deadlines (decision date, other province).

On PostgreSQL one statement answers: the date-only rules run in Python for every day of the
period (a few hundred days, no table read) and go as array parameters; the database reads
each decision's verdict from them by its day, classifies it with CASE (``rules.timeliness``)
and groups by the two classes and (procedure, categories), whose publication Python then
decides. A city's year of decisions is read from the heap once, which is most of the cost:
the columns needed are in no index. On SQLite (a district's database, small) Python
classifies the rows.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import NamedTuple

from sqlalchemy import Boolean, Date, Integer, Text, bindparam, case, cast, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.expression import Grouping

from caseflow.core.models import load_calendar
from caseflow.extensions import db
from caseflow.reports import rules as r

CHANNELS = ("platform", "enterprise")


class Verdict(NamedTuple):
    on_platform: bool
    platform_deadline: dt.date
    enterprise_deadline: dt.date


class _Rules:
    """The penalties' publication rules, each run once per distinct value of what it reads."""

    def __init__(self):
        from caseflow.penalties import rules as pr
        from caseflow.penalties.operations import params

        self.pr, self.cal, self.p = pr, load_calendar(), params()
        self._categories: dict[str | None, tuple[str, ...]] = {}
        self._published: dict[tuple[bool, str | None], bool] = {}
        self._deadlines: dict[tuple[dt.date, bool], object] = {}
        self._on_platform: dict[tuple[dt.date, str], bool] = {}
        self._verdicts: dict[tuple, Verdict | None] = {}

    def categories(self, text: str | None) -> tuple[str, ...]:
        """The categories column as JSON text, parsed once per distinct text."""
        try:
            return self._categories[text]
        except KeyError:
            parsed = json.loads(text) if text else None
            out = self._categories[text] = tuple(parsed) if isinstance(parsed, list) else ()
            return out

    def published(self, simple: bool, categories: str | None) -> bool:
        key = (simple, categories)
        if key not in self._published:
            # is_published reads the procedure and the categories only
            self._published[key] = self.pr.is_published(self.pr.DecisionFacts(
                dt.date.min, self.categories(categories), simple_procedure=simple))
        return self._published[key]

    def deadlines(self, day: dt.date, other_province: bool):
        key = (day, other_province)
        if key not in self._deadlines:
            self._deadlines[key] = self.pr.publication_deadlines(
                self.pr.DecisionFacts(day, (), other_province=other_province), self.cal, self.p)
        return self._deadlines[key]

    def on_platform(self, day: dt.date, severity: str) -> bool:
        key = (day, severity)
        if key not in self._on_platform:
            self._on_platform[key] = self.pr.platform_period(
                self.pr.DecisionFacts(day, (), severity=severity), self.p).published
        return self._on_platform[key]

    def verdict(self, day: dt.date, other_province: bool, severity: str, simple: bool,
                categories: str | None) -> Verdict | None:
        """None for a decision that is not published at all."""
        key = (day, other_province, severity, simple, categories)
        try:
            return self._verdicts[key]
        except KeyError:
            pass
        v = None
        if self.published(simple, categories):
            dl = self.deadlines(day, other_province)
            v = Verdict(self.on_platform(day, severity), dl.platform, dl.enterprise)
        self._verdicts[key] = v
        return v


def _postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _in_period(agency_id: int, period: r.Period):
    from caseflow.penalties.models import PenaltyDecision as D

    return (D.agency_id == agency_id, D.decision_date >= period.start, D.decision_date <= period.end)


# ----------------------------------------------------------------------------- PostgreSQL

def _array(name: str, values: list, item_type):
    """A typed array parameter, parenthesised to take a subscript: ``(CAST(:x AS date[]))[i]``."""
    return Grouping(cast(bindparam(name, values, type_=ARRAY(item_type)), ARRAY(item_type)))


def _classified(agency_id: int, period: r.Period, today: dt.date, rules: _Rules):
    """The SQL of each decision's platform class (NULL when it does not go on the platform)
    and enterprise class, its publication aside (decided in Python per procedure and
    categories).

    The date-only verdicts of every day of the period go as arrays, read by the day's offset
    (``decision_date - start``, 1-based): ``on_platform`` three per day (by severity), the
    deadlines two per day (home, other province). Subscripts of arrays without NULLs are
    constant time; a join to the arrays ``unnest``-ed cost more than the classification."""
    from caseflow.penalties.models import PenaltyDecision as D
    from caseflow.penalties.rules import SEVERITIES

    on_platform, platform_dl, enterprise_dl = [], [], []
    day = period.start
    while day <= period.end:
        on_platform += [rules.on_platform(day, severity) for severity in SEVERITIES]
        for other in (False, True):
            dl = rules.deadlines(day, other)
            platform_dl.append(dl.platform)
            enterprise_dl.append(dl.enterprise)
        day += dt.timedelta(days=1)
    offset = D.decision_date - literal(period.start, Date)
    by_severity = offset * len(SEVERITIES) + case(
        {severity: k + 1 for k, severity in enumerate(SEVERITIES)}, value=D.severity)
    by_province = offset * 2 + cast(D.other_province, Integer) + 1
    today_ = literal(today, Date)

    def timeliness(published_on, deadline):  # rules.timeliness
        return case((published_on.is_not(None), case((published_on <= deadline, "on_time"),
                                                     else_="late")),
                    (today_ > deadline, "overdue"), else_="pending")

    platform = case((_array("on_platform", on_platform, Boolean)[by_severity], timeliness(
        D.platform_published_on, _array("platform_dl", platform_dl, Date)[by_province])))
    enterprise = timeliness(D.enterprise_published_on,
                            _array("enterprise_dl", enterprise_dl, Date)[by_province])
    return D, platform, enterprise


def _counts_pg(agency_id: int, period: r.Period, today: dt.date, rules: _Rules) -> dict:
    D, platform, enterprise = _classified(agency_id, period, today, rules)
    cats = cast(D.categories, Text)
    rows = db.session.execute(
        select(D.simple_procedure, cats, platform, enterprise, func.count())
        .where(*_in_period(agency_id, period))
        .group_by(D.simple_procedure, cats, platform, enterprise))
    out = {ch: dict.fromkeys(r.PUBLICATION_CLASSES, 0) for ch in CHANNELS}
    for simple, categories, on_platform, on_enterprise, n in rows:
        if not rules.published(simple, categories):
            continue
        if on_platform is not None:
            out["platform"][on_platform] += n
        out["enterprise"][on_enterprise] += n
    return out


def _case_ids_pg(agency_id: int, period: r.Period, today: dt.date, channel: str, cls: str,
                 rules: _Rules) -> list[int]:
    D, platform, enterprise = _classified(agency_id, period, today, rules)
    rows = db.session.execute(
        select(D.case_id, D.simple_procedure, cast(D.categories, Text))
        .where(*_in_period(agency_id, period), (platform if channel == "platform" else enterprise) == cls)
        .order_by(D.case_id))
    return [case_id for case_id, simple, categories in rows if rules.published(simple, categories)]


# ----------------------------------------------------------------------------- SQLite

def _classes_py(agency_id: int, period: r.Period, today: dt.date, rules: _Rules
                ) -> dict[str, dict[str, list[int]]]:
    """Every case id by channel and class, classified in Python (ids ascending)."""
    from caseflow.penalties.models import PenaltyDecision as D

    out = {ch: {c: [] for c in r.PUBLICATION_CLASSES} for ch in CHANNELS}
    platform, enterprise = out["platform"], out["enterprise"]
    rows = db.session.execute(
        select(D.case_id, D.decision_date, D.other_province, D.severity, D.simple_procedure,
               cast(D.categories, Text), D.platform_published_on, D.enterprise_published_on)
        .where(*_in_period(agency_id, period)).order_by(D.case_id))
    for case_id, day, other, severity, simple, cats, on_platform, on_enterprise in rows:
        v = rules.verdict(day, other, severity, simple, cats)
        if v is None:
            continue
        if v.on_platform:
            platform[r.timeliness(on_platform, v.platform_deadline, today)].append(case_id)
        enterprise[r.timeliness(on_enterprise, v.enterprise_deadline, today)].append(case_id)
    return out


# ----------------------------------------------------------------------------- the API

def counts(agency_id: int, period: r.Period, today: dt.date) -> dict[str, dict[str, int]]:
    """{channel: {class: number of decisions}}, every channel and class present."""
    rules = _Rules()
    if _postgresql():
        return _counts_pg(agency_id, period, today, rules)
    return {ch: {c: len(ids) for c, ids in by_class.items()}
            for ch, by_class in _classes_py(agency_id, period, today, rules).items()}


def every_class(agency_id: int, period: r.Period, today: dt.date) -> dict[str, dict[str, list[int]]]:
    """{channel: {class: case ids}}, classified in Python on any database (SQLite's path, and
    what the tests hold PostgreSQL's statement to)."""
    return _classes_py(agency_id, period, today, _Rules())


def case_ids(agency_id: int, period: r.Period, today: dt.date, channel: str, cls: str) -> list[int]:
    """The case ids of one channel's class, ascending."""
    if channel not in CHANNELS or cls not in r.PUBLICATION_CLASSES:
        raise ValueError(f"{channel}_{cls}")
    rules = _Rules()
    if _postgresql():
        return _case_ids_pg(agency_id, period, today, channel, cls, rules)
    return _classes_py(agency_id, period, today, rules)[channel][cls]
