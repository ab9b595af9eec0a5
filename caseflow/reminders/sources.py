"""Reminder sources for the legal clocks: cases, criminal referrals, credit publication.

Each source reads the current state and yields a reminder for every clock that is due soon
or overdue *now*; the key carries the clock's due date, so a clock yields the same reminder
every minute (stored once) until it is met, and a new one when its due date moves.
``due_at`` is the moment the reminder became due (the start of its window), so a scheduler
that was down catches up with what fell due meanwhile.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import joinedload, selectinload

from caseflow.accounts.models import Role, User, UserRole
from caseflow.cases import messages
from caseflow.cases.models import Case
from caseflow.cases.operations import case_clocks
from caseflow.cases.rules import OPEN_STATES
from caseflow.core.models import load_calendar
from caseflow.core.timeutil import LOCAL_TZ, local_date, to_local
from caseflow.extensions import db
from caseflow.penalties import operations as penalty_ops
from caseflow.penalties.models import PenaltyDecision
from caseflow.referrals.models import Referral
from caseflow.referrals.operations import clocks_of
from caseflow.referrals.rules import AGENCY, FINAL, POLICE, PROCURATORATE
from caseflow.reminders.registry import ReminderSpec, reminder_source

DUE_SOON = "due_soon"
OVERDUE = "overdue"

CASE_WINDOW_DAYS = 3  # agency clocks of a case: remind 3 calendar days ahead
REFERRAL_WINDOW = dt.timedelta(hours=24)  # referral clocks run in hours and days
PUBLICATION_WINDOW_WD = 2  # publication deadlines: 2 working days ahead


def local_midnight(day: dt.date) -> dt.datetime:
    """The start of a Beijing-time calendar day, as a UTC moment."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=LOCAL_TZ).astimezone(dt.timezone.utc)


def app_path(endpoint: str, **values) -> str:
    """A path inside the application without a request (the scheduler has none)."""
    root = current_app.config.get("APPLICATION_ROOT") or "/"
    return current_app.url_map.bind("localhost", script_name=root).build(endpoint, values)


class Recipients:
    """Active users of an agency holding one of some roles, looked up once per agency."""

    def __init__(self, roles: tuple[str, ...]):
        self.roles = roles
        self._cache: dict[int, list[int]] = {}

    def of(self, agency_id: int | None) -> list[int]:
        if not agency_id:
            return []
        if agency_id not in self._cache:
            self._cache[agency_id] = list(db.session.scalars(
                select(User.id).join(UserRole, UserRole.user_id == User.id)
                .where(User.agency_id == agency_id, User.active.is_(True),
                       UserRole.role.in_(self.roles))
                .distinct().order_by(User.id)))
        return self._cache[agency_id]


# ----------------------------------------------------------------------------- cases


@reminder_source
def case_clock_reminders(now: dt.datetime) -> Iterator[ReminderSpec]:
    """The agency's running clocks of open cases, due within 3 days or overdue → the case's
    officers. Party clocks (the party's statement, the fine payment) are not the officers'
    deadline; paused clocks do not run."""
    today = local_date(now)
    calendar = load_calendar()
    # next_due_on is the earliest running agency clock (kept by the case operations), so
    # only cases with something due inside the window are loaded
    stmt = (select(Case)
            .where(Case.state.in_([s.value for s in OPEN_STATES]),
                   Case.next_due_on.is_not(None),
                   Case.next_due_on <= today + dt.timedelta(days=CASE_WINDOW_DAYS))
            .options(selectinload(Case.events))
            .order_by(Case.id))
    for case in db.session.scalars(stmt):
        officers = [u.id for u in case.officers if u.active]
        if not officers:
            continue
        for clock in case_clocks(case, today, calendar):
            if clock.party_clock or clock.paused or clock.stopped_on is not None \
                    or clock.days_left is None:
                continue
            label = messages.CLOCK_LABELS.get(clock.name, clock.name)
            values = {"case": case.display_number, "clock": label, "due": clock.due.isoformat()}
            if clock.overdue:
                kind, due_at = OVERDUE, local_midnight(clock.due + dt.timedelta(days=1))
                subject = _("Case %(case)s: %(clock)s overdue since %(due)s", **values)
            elif clock.days_left <= CASE_WINDOW_DAYS:
                kind = DUE_SOON
                due_at = local_midnight(clock.due - dt.timedelta(days=CASE_WINDOW_DAYS))
                subject = _("Case %(case)s: %(clock)s due on %(due)s", **values)
            else:
                continue
            body = _("%(title)s — legal basis: %(source)s", title=case.title, source=clock.source)
            key = f"case:{case.id}:{clock.name}:{kind}:{clock.due.isoformat()}"
            link = app_path("cases.detail", case_id=case.id)
            for user_id in officers:
                yield ReminderSpec(user_id, key, kind, subject, body, link, due_at)


# ----------------------------------------------------------------------------- referrals


@reminder_source
def referral_clock_reminders(now: dt.datetime) -> Iterator[ReminderSpec]:
    """Referral clocks (国务院令第310号) not yet met, due within 24 h or overdue → the case
    officers and approvers of the agency that must act."""
    recipients = Recipients((Role.CASE_OFFICER, Role.APPROVER))
    stmt = (select(Referral)
            .where(Referral.state.not_in([s.value for s in FINAL]))
            .options(selectinload(Referral.events), selectinload(Referral.team),
                     joinedload(Referral.case))
            .order_by(Referral.id))
    for referral in db.session.scalars(stmt):
        acting = {AGENCY: referral.agency_id, POLICE: referral.police_agency_id,
                  PROCURATORATE: referral.procuratorate_id}
        for clock in clocks_of(referral):
            if clock.done_at is not None:
                continue
            if now > clock.due:
                kind, due_at = OVERDUE, clock.due
            elif now >= clock.due - REFERRAL_WINDOW:
                kind, due_at = DUE_SOON, clock.due - REFERRAL_WINDOW
            else:
                continue
            users = recipients.of(acting.get(clock.party))
            if not users:
                continue
            values = {"case": referral.case.display_number,
                      "clock": messages.REFERRAL_CLOCK_LABELS.get(clock.name, clock.name),
                      "due": to_local(clock.due).strftime("%Y-%m-%d %H:%M")}
            if kind == OVERDUE:
                subject = _("Referral of case %(case)s: %(clock)s overdue since %(due)s", **values)
            else:
                subject = _("Referral of case %(case)s: %(clock)s due at %(due)s", **values)
            source = clock.source if not clock.source.startswith("§") \
                else f"国务院令第310号 {clock.source}"
            body = _("%(title)s — legal basis: %(source)s", title=referral.case.title,
                     source=source)
            due_utc = clock.due.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%MZ")
            key = f"referral:{referral.id}:{clock.name}:{kind}:{due_utc}"
            link = app_path("referrals.detail", referral_id=referral.id)
            for user_id in users:
                yield ReminderSpec(user_id, key, kind, subject, body, link, due_at)


# ----------------------------------------------------------------------------- publication


def _window_start(today: dt.date, deadline: dt.date, calendar, working_days: int) -> dt.date:
    """The first day from which ``deadline`` lies within ``working_days`` working days."""
    start = today
    for _i in range(31):  # a window never spans more than a long holiday
        before = start - dt.timedelta(days=1)
        if calendar.add_working_days(before, working_days) < deadline:
            break
        start = before
    return start


@reminder_source
def publication_reminders(now: dt.datetime) -> Iterator[ReminderSpec]:
    """Credit publication (总局令第45号): the credit-platform and enterprise-system deadlines
    due within 2 working days or overdue, and an overdue withdrawal → the agency's
    publishers."""
    today = local_date(now)
    calendar = load_calendar()
    recipients = Recipients((Role.PUBLISHER,))
    D = PenaltyDecision
    stmt = (select(D)
            .where(D.simple_procedure.is_(False),
                   or_(and_(D.withdrawn_on.is_(None), D.ended_on.is_(None),
                            or_(D.platform_published_on.is_(None),
                                D.enterprise_published_on.is_(None))),
                       and_(D.changed_on.is_not(None), D.withdrawn_on.is_(None))))
            .order_by(D.id))
    for d in db.session.scalars(stmt):
        users = recipients.of(d.agency_id)
        if not users:
            continue
        st = penalty_ops.status(d, today)
        if not st["publishable"]:
            continue
        dl = st["deadlines"]
        pending = []  # (what, deadline) not yet met
        if not (d.withdrawn_on or d.ended_on):
            if st["platform"].published and not d.platform_published_on:
                pending.append(("platform", dl.platform))
            if not d.enterprise_published_on:
                pending.append(("enterprise", dl.enterprise))
        due: list[tuple[str, dt.date, str]] = []  # (what, deadline, kind)
        for what, deadline in pending:
            if what in st["overdue"]:
                due.append((what, deadline, OVERDUE))
            elif today <= deadline <= calendar.add_working_days(today, PUBLICATION_WINDOW_WD):
                due.append((what, deadline, DUE_SOON))
        if "withdraw" in st["overdue"]:
            due.append(("withdraw", st["withdraw_due"], OVERDUE))
        for what, deadline, kind in due:
            label = {"platform": _("publication on the credit platform"),
                     "enterprise": _("publication on the enterprise credit system"),
                     "withdraw": _("withdrawal from publication")}[what]
            values = {"number": d.number, "what": label, "due": deadline.isoformat()}
            if kind == OVERDUE:
                due_at = local_midnight(deadline + dt.timedelta(days=1))
                subject = _("Decision %(number)s: %(what)s overdue since %(due)s", **values)
            else:
                due_at = local_midnight(_window_start(today, deadline, calendar,
                                                      PUBLICATION_WINDOW_WD))
                subject = _("Decision %(number)s: %(what)s due on %(due)s", **values)
            body = _("Party: %(party)s", party=d.subject_name)
            key = f"decision:{d.id}:{what}:{kind}:{deadline.isoformat()}"
            link = app_path("penalties.queue") + f"#decision-{d.id}"
            for user_id in users:
                yield ReminderSpec(user_id, key, kind, subject, body, link, due_at)
