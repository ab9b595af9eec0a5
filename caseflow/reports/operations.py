"""Dashboard and district figures (SPEC §7): aggregates over the rows, or on PostgreSQL over
the monthly tallies the database keeps (``caseflow.cases.tally``) for whole months.

Every case figure comes with the case-list filter (``args``) that lists exactly the cases it
counts, so a number on the dashboard and the list behind it cannot disagree: both are the
agency's own cases (``own``) or, for referrals, the cases the user may see anyway.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import and_, case, func, or_, select

from caseflow.accounts.models import Agency, AgencyKind, Role
from caseflow.cases import tally
from caseflow.cases.models import Case, StageExit
from caseflow.cases.rules import Channel, IPType, State
from caseflow.core.errors import InvalidInput, PermissionDenied
from caseflow.core.timeutil import LOCAL_TZ, today_local
from caseflow.extensions import db
from caseflow.reports import publication
from caseflow.reports import rules as r

#: stages a case leaves (terminal states have no time "in" them)
STAGES = (State.CLUE, State.VERIFYING, State.FILED, State.INVESTIGATING, State.LEGAL_REVIEW,
          State.NOTIFIED, State.HEARING, State.DECIDED, State.NO_PENALTY, State.EXECUTING,
          State.SUSPENDED, State.REFERRED)

DISTRICT_KINDS = (AgencyKind.IP_OFFICE, AgencyKind.JOINT_OFFICE)


def _msg(code: str, **p) -> str:
    from caseflow.cases import messages

    return messages.text(code, **p)


# ----------------------------------------------------------------------------- permissions

def can_view_dashboard(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.works_cases)


def can_view_district(user) -> bool:
    return can_view_dashboard(user) and user.agency.kind in {k.value for k in DISTRICT_KINDS}


def can_generate_report(user) -> bool:
    return can_view_dashboard(user) and user.has_role(Role.APPROVER, Role.COORDINATOR)


def _require(ok: bool) -> None:
    if not ok:
        raise PermissionDenied(_msg("forbidden"))


def parse_period(args, today: dt.date | None = None) -> r.Period:
    """``from``/``to`` (YYYY-MM-DD) or ``year``; default this year up to today."""
    today = today or today_local()
    errors: dict[str, str] = {}
    year = (args.get("year") or "").strip()
    if year and not (args.get("from") or args.get("to")):
        if not (year.isascii() and year.isdigit() and 2000 <= int(year) <= today.year):
            raise InvalidInput({"year": _msg("report_year")})
        y = int(year)
        return r.Period(dt.date(y, 1, 1), min(dt.date(y, 12, 31), max(today, dt.date(y, 1, 1))))
    days = {}
    for name in ("from", "to"):
        raw = (args.get(name) or "").strip()
        if raw:
            try:
                days[name] = dt.date.fromisoformat(raw)
            except ValueError:
                errors[name] = _msg("date_parsing")
    if errors:
        raise InvalidInput(errors)
    try:
        return r.check_period(days.get("from"), days.get("to"), today)
    except r.PeriodError as e:
        raise InvalidInput({e.field: _msg(e.code)}) from e


def _iso(day: dt.date) -> str:
    return day.isoformat()


def _utc_bounds(period: r.Period) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants of local midnight at the start and after the end of the period."""
    start = dt.datetime.combine(period.start, dt.time.min, LOCAL_TZ).astimezone(dt.timezone.utc)
    end = dt.datetime.combine(period.end + dt.timedelta(days=1), dt.time.min,
                              LOCAL_TZ).astimezone(dt.timezone.utc)
    return start, end


# ----------------------------------------------------------------------------- figures

@dataclass
class Figure:
    key: str
    n: int
    args: dict  # case-list filter behind the figure


@dataclass
class StageTime:
    stage: str
    intervals: int
    cases: int
    median: float | None
    p90: float | None
    args: dict


@dataclass
class Dashboard:
    agency: Agency
    period: r.Period
    today: dt.date
    received: int = 0
    by_state: list[Figure] = field(default_factory=list)
    months: list[r.Period] = field(default_factory=list)
    ip_by_month: dict[str, list[Figure]] = field(default_factory=dict)
    channel_by_month: dict[str, list[Figure]] = field(default_factory=dict)
    stages: list[StageTime] = field(default_factory=list)
    week: r.Period | None = None
    due_this_week: Figure | None = None
    overdue: Figure | None = None
    referrals: list[Figure] = field(default_factory=list)
    publication: dict[str, list[Figure]] = field(default_factory=dict)
    on_time_share: dict[str, float | None] = field(default_factory=dict)
    pace: object = None  # inspections.rules.Pace for the period's year
    g60_done: int = 0
    mediation: object = None  # mediation figures for an IP office

    @property
    def ip_totals(self) -> dict[str, int]:
        return {k: sum(f.n for f in v) for k, v in self.ip_by_month.items()}

    @property
    def channel_totals(self) -> dict[str, int]:
        return {k: sum(f.n for f in v) for k, v in self.channel_by_month.items()}


def _received_args(period: r.Period, **extra) -> dict:
    return {"own": "1", "received_from": _iso(period.start), "received_to": _iso(period.end), **extra}


def _own_received(agency_id: int, period: r.Period):
    return (Case.owner_agency_id == agency_id, Case.received_on >= period.start,
            Case.received_on <= period.end)


def _case_rows(agency_id: int, period: r.Period):
    """(state, ip_type, channel, year, month, n) counted from the cases (the covering index)."""
    year, month = func.extract("year", Case.received_on), func.extract("month", Case.received_on)
    return db.session.execute(
        select(Case.state, Case.ip_type, Case.channel, year, month, func.count())
        .where(*_own_received(agency_id, period))
        .group_by(Case.state, Case.ip_type, Case.channel, year, month)).all()


def case_counts(agency_id: int, period: r.Period) -> list[tuple]:
    """(state, ip_type, channel, year, month, n) of the agency's cases received in the period,
    n > 0: on PostgreSQL from the monthly tally, the days of cut months counted from the cases
    (``Period.tally_plan``); on SQLite all counted from the cases."""
    if not tally.kept():
        return list(_case_rows(agency_id, period))
    months, add, subtract = period.tally_plan()
    counts: Counter = Counter()
    if months:
        for state, ip, channel, m, n in tally.month_counts(agency_id, months.start, months.end):
            counts[(state, ip, channel, m.year, m.month)] += int(n)
    for parts, sign in ((add, 1), (subtract, -1)):
        for part in parts:
            for state, ip, channel, year, month, n in _case_rows(agency_id, part):
                counts[(state, ip, channel, int(year), int(month))] += sign * n
    return [(*key, n) for key, n in counts.items() if n]


def _stage_rows(agency_id: int, period: r.Period):
    return db.session.execute(
        select(StageExit.stage, StageExit.days, func.count())
        .where(StageExit.agency_id == agency_id, StageExit.left_on >= period.start,
               StageExit.left_on <= period.end)
        .group_by(StageExit.stage, StageExit.days)).all()


def stage_histograms(agency_id: int, period: r.Period) -> tuple[dict[str, Counter], dict[str, int]]:
    """Days spent in each stage left during the period, as {stage: {days: count}}, and the
    number of distinct cases per stage.

    The exits come from the monthly tally on PostgreSQL (``Period.tally_plan``) and from the
    exits themselves on SQLite. A case that left a stage more than once in the period counts
    once: its exits whose previous exit of that stage also fell in the period (``prev_left_on``
    on or after the start; a small partial index) are subtracted from the exits."""
    counts: Counter = Counter()
    if tally.kept():
        months, add, subtract = period.tally_plan()
        if months:
            for stage, days, n in tally.stage_exit_counts(agency_id, months.start, months.end):
                counts[(stage, days)] += int(n)
        for parts, sign in ((add, 1), (subtract, -1)):
            for part in parts:
                for stage, days, n in _stage_rows(agency_id, part):
                    counts[(stage, days)] += sign * n
    else:
        counts.update({(stage, days): n for stage, days, n in _stage_rows(agency_id, period)})
    hist: dict[str, Counter] = defaultdict(Counter)
    for (stage, days), n in counts.items():
        if n:
            hist[stage][days] = n
    repeats = dict(db.session.execute(
        select(StageExit.stage, func.count())
        .where(StageExit.agency_id == agency_id, StageExit.left_on >= period.start,
               StageExit.left_on <= period.end, StageExit.prev_left_on.is_not(None),
               StageExit.prev_left_on >= period.start)
        .group_by(StageExit.stage)).all())
    cases = {stage: sum(h.values()) - repeats.get(stage, 0) for stage, h in hist.items()}
    return hist, cases


def stage_condition(stage: str, period: r.Period):
    """The cases that left ``stage`` during the period (the list behind a stage figure)."""
    return select(StageExit.case_id).where(StageExit.stage == stage, StageExit.left_on >= period.start,
                                           StageExit.left_on <= period.end)


def referral_condition(agency_id: int, period: r.Period, states):
    """Referrals the agency made, received (police) or was copied (procuratorate), created in
    the period, in one of ``states``: the same rule for the dashboard and the case list."""
    from caseflow.referrals.models import Referral

    start, end = _utc_bounds(period)
    return select(Referral.case_id).where(
        or_(Referral.agency_id == agency_id, Referral.police_agency_id == agency_id,
            Referral.procuratorate_id == agency_id),
        Referral.state.in_(tuple(states)), Referral.created_at >= start, Referral.created_at < end)


def referral_counts(user, period: r.Period) -> dict[str, int]:
    """Distinct cases per referral outcome, among the cases the user may see: one pass over
    the period's referrals of the agency (the same rule as ``referral_condition``)."""
    from caseflow.referrals.models import Referral
    from caseflow.sharing.operations import active_grant_exists

    if not can_view_dashboard(user):
        return {name: 0 for name in r.REFERRAL_OUTCOMES}
    start, end = _utc_bounds(period)
    a = user.agency_id
    group = case(*[(Referral.state.in_(states), name) for name, states in r.REFERRAL_OUTCOMES.items()])
    # the case of a referral the agency made is its own (a referral is made by the case's owner,
    # which never changes); one it received or oversees it sees through an active share
    rows = db.session.execute(
        select(group, func.count(Referral.case_id.distinct()))
        .where(or_(Referral.agency_id == a,
                   and_(or_(Referral.police_agency_id == a, Referral.procuratorate_id == a),
                        active_grant_exists(a, Referral.case_id))),
               Referral.created_at >= start, Referral.created_at < end)
        .group_by(group))
    counts = {name: n for name, n in rows if name is not None}
    return {name: counts.get(name, 0) for name in r.REFERRAL_OUTCOMES}


def _pace(agency_id: int, period: r.Period, today: dt.date):
    from caseflow.inspections.operations import yearly_progress

    year = period.end.year
    return yearly_progress(agency_id, min(today, dt.date(year, 12, 31)))


def g60_completed(agency_id: int, year: int) -> int:
    """Cross-region G60 actions completed in the year that the agency led or took part in."""
    from caseflow.actions.models import JointAction, action_participant

    part = select(action_participant.c.action_id).where(action_participant.c.agency_id == agency_id)
    return db.session.scalar(select(func.count(JointAction.id)).where(
        JointAction.kind == "g60", JointAction.state == "completed",
        or_(JointAction.lead_agency_id == agency_id, JointAction.id.in_(part)),
        JointAction.completed_on >= dt.date(year, 1, 1),
        JointAction.completed_on <= dt.date(year, 12, 31))) or 0


def clock_counts(agency_id: int, today: dt.date) -> tuple[int, int]:
    """The agency's cases whose next deadline falls this week (from today), and overdue ones.
    count(*), not count(id): the clock index alone answers (an index-only scan)."""
    week = r.week_of(today)
    due = db.session.scalar(select(func.count()).select_from(Case).where(
        Case.owner_agency_id == agency_id, Case.next_due_on >= today, Case.next_due_on <= week.end))
    overdue = db.session.scalar(select(func.count()).select_from(Case).where(
        Case.owner_agency_id == agency_id, Case.next_due_on < today))
    return due or 0, overdue or 0


def dashboard(user, period: r.Period, today: dt.date | None = None) -> Dashboard:
    """The figures of the user's own agency for the period."""
    _require(can_view_dashboard(user))
    today = today or today_local()
    agency = user.agency
    d = Dashboard(agency=agency, period=period, today=today, months=period.months())

    # cases by state, IP type and channel (received in the period)
    states: Counter = Counter()
    ip = defaultdict(Counter)
    ch = defaultdict(Counter)
    month_of = {(m.start.year, m.start.month): i for i, m in enumerate(d.months)}
    for state, ip_type, channel, year, month, n in case_counts(agency.id, period):
        states[state] += n
        i = month_of[(int(year), int(month))]
        ip[ip_type][i] += n
        ch[channel][i] += n
    d.received = sum(states.values())
    d.by_state = [Figure(s.value, states[s.value], _received_args(period, state=s.value))
                  for s in State if states[s.value]]
    d.ip_by_month = {t.value: [Figure(t.value, ip[t.value][i], _received_args(m, ip_type=t.value))
                               for i, m in enumerate(d.months)] for t in IPType if ip[t.value]}
    d.channel_by_month = {c.value: [Figure(c.value, ch[c.value][i], _received_args(m, channel=c.value))
                                    for i, m in enumerate(d.months)] for c in Channel if ch[c.value]}

    # time in each stage (stages left during the period)
    hist, cases = stage_histograms(agency.id, period)
    for s in STAGES:
        h = hist.get(s.value)
        if not h:
            continue
        d.stages.append(StageTime(
            s.value, sum(h.values()), cases.get(s.value, 0), r.percentile(h, 0.5),
            r.percentile(h, 0.9), {"own": "1", "stage": s.value, "stage_from": _iso(period.start),
                                   "stage_to": _iso(period.end)}))

    # clocks: due this week (from today) and overdue, whatever the period
    d.week = r.week_of(today)
    due, overdue = clock_counts(agency.id, today)
    d.due_this_week = Figure("due_week", due, {"own": "1", "due": "week"})
    d.overdue = Figure("overdue", overdue, {"own": "1", "overdue": "1"})

    # referrals and their outcomes
    d.referrals = [Figure(g, n, {"referral": g, "referred_from": _iso(period.start),
                                 "referred_to": _iso(period.end)})
                   for g, n in referral_counts(user, period).items()]

    # publication timeliness (counts only; the case list asks for one class's ids)

    for chan, by_class in publication.counts(agency.id, period, today).items():
        d.publication[chan] = [Figure(c, by_class[c], {
            "own": "1", "publication": f"{chan}_{c}", "decided_from": _iso(period.start),
            "decided_to": _iso(period.end)}) for c in r.PUBLICATION_CLASSES]
        d.on_time_share[chan] = r.on_time_share(by_class)

    # the yearly target: dual-random inspections and joint actions, with pace
    d.pace = _pace(agency.id, period, today)
    d.g60_done = g60_completed(agency.id, period.end.year)
    if agency.kind == AgencyKind.IP_OFFICE:
        from caseflow.mediation.operations import figures

        d.mediation = figures(agency.id, period.end.year)
    return d


def publication_case_ids(agency_id: int, period: r.Period, key: str) -> list[int]:
    """The case ids behind one publication figure (``<channel>_<class>``)."""
    chan, _, cls = key.partition("_")
    if chan not in publication.CHANNELS or cls not in r.PUBLICATION_CLASSES:
        raise ValueError(key)
    return publication.case_ids(agency_id, period, today_local(), chan, cls)


# ----------------------------------------------------------------------------- district view

@dataclass
class DistrictRow:
    agency: Agency
    received: int
    open_now: int
    filed: int
    referred: int
    fines: float
    platform_share: float | None
    pace: object
    own: bool


def district_agencies(user) -> list[Agency]:
    """The agencies of the viewer's district (same region), the viewing office excepted."""
    region = user.agency.region
    stmt = select(Agency).where(Agency.kind != AgencyKind.JOINT_OFFICE.value)
    stmt = stmt.where(Agency.region == region) if region else stmt.where(Agency.id == user.agency_id)
    return list(db.session.scalars(stmt.order_by(Agency.id)))


def district(user, period: r.Period, today: dt.date | None = None) -> list[DistrictRow]:
    """Aggregate counts per agency of the district: numbers only, never case details. Only the
    viewer's own agency's numbers link to cases (the others' cases are not theirs to list)."""
    from caseflow.penalties.models import PenaltyDecision

    _require(can_view_district(user))
    today = today or today_local()
    agencies = district_agencies(user)
    ids = [a.id for a in agencies]
    if not ids:
        return []
    received = dict(db.session.execute(select(Case.owner_agency_id, func.count()).where(
        Case.owner_agency_id.in_(ids), Case.received_on >= period.start,
        Case.received_on <= period.end).group_by(Case.owner_agency_id)).all())
    open_states = [s.value for s in State if s not in (State.REJECTED, State.CLOSED, State.TERMINATED)]
    open_now = dict(db.session.execute(select(Case.owner_agency_id, func.count()).where(
        Case.owner_agency_id.in_(ids), Case.state.in_(open_states)).group_by(Case.owner_agency_id)).all())
    filed = dict(db.session.execute(select(Case.owner_agency_id, func.count()).where(
        Case.owner_agency_id.in_(ids), Case.filed_on >= period.start, Case.filed_on <= period.end
    ).group_by(Case.owner_agency_id)).all())
    from caseflow.referrals.models import Referral

    start, end = _utc_bounds(period)
    referred = dict(db.session.execute(select(Referral.agency_id, func.count(func.distinct(Referral.case_id)))
                                       .where(Referral.agency_id.in_(ids), Referral.created_at >= start,
                                              Referral.created_at < end,
                                              Referral.state.notin_(r.REFERRAL_OUTCOMES["preparing"]
                                                                    + r.REFERRAL_OUTCOMES["refused"]))
                                       .group_by(Referral.agency_id)).all())
    fines = dict(db.session.execute(select(PenaltyDecision.agency_id, func.sum(PenaltyDecision.fine_amount))
                                    .where(PenaltyDecision.agency_id.in_(ids),
                                           PenaltyDecision.decision_date >= period.start,
                                           PenaltyDecision.decision_date <= period.end)
                                    .group_by(PenaltyDecision.agency_id)).all())

    rows = []
    for a in agencies:
        platform = publication.counts(a.id, period, today)["platform"]
        rows.append(DistrictRow(
            agency=a, received=received.get(a.id, 0), open_now=open_now.get(a.id, 0),
            filed=filed.get(a.id, 0), referred=referred.get(a.id, 0),
            fines=float(fines.get(a.id) or 0),
            platform_share=r.on_time_share(platform),
            pace=_pace(a.id, period, today), own=a.id == user.agency_id))
    return rows


def district_ip_types(user, period: r.Period) -> dict[str, int]:
    """Cases received in the district in the period, by IP type (a district-wide count)."""
    _require(can_view_district(user))
    ids = [a.id for a in district_agencies(user)]
    return dict(db.session.execute(select(Case.ip_type, func.count()).where(
        Case.owner_agency_id.in_(ids), Case.received_on >= period.start,
        Case.received_on <= period.end).group_by(Case.ip_type)).all()) if ids else {}


def record_view(user, what: str, period: r.Period) -> None:
    from caseflow.core import audit

    audit.record(f"report.{what}", user=user, obj_type="agency", obj_id=user.agency_id,
                 period_from=_iso(period.start), period_to=_iso(period.end))

