"""Reminders of assistance and mediation deadlines: acceptance (7 WD), the end of the
mediation (45 WD after acceptance) and telling the parties (7 WD after the end) — 2 working
days ahead and once overdue, to the IP office's staff (and the mediator's clerk)."""
from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from sqlalchemy import select

from caseflow.accounts.models import User, UserRole
from caseflow.core.models import load_calendar
from caseflow.core.timeutil import LOCAL_TZ, local_date
from caseflow.extensions import db
from caseflow.mediation import rules
from caseflow.mediation.labels import CLOCK_LABELS
from caseflow.mediation.models import AssistanceRequest
from caseflow.mediation.operations import STAFF_ROLES
from caseflow.reminders.registry import ReminderSpec, reminder_source

WINDOW_WD = 2


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(8, 30), LOCAL_TZ).astimezone(dt.timezone.utc)


def _working_days_before(cal, day: dt.date, n: int) -> dt.date:
    while n > 0:
        day -= dt.timedelta(days=1)
        if cal.is_workday(day):
            n -= 1
    return day


@reminder_source
def mediation_deadlines(now: dt.datetime):
    cal = load_calendar()
    today = local_date(now)
    staff: dict[int, list[int]] = {}
    open_requests = db.session.scalars(select(AssistanceRequest).where(
        (AssistanceRequest.state.not_in([s.value for s in rules.CLOSED]))
        | (AssistanceRequest.closed_on.is_not(None) & AssistanceRequest.notified_on.is_(None))))
    for req in open_requests:
        clock = rules.current_deadline(rules.clocks(cal, req.received_on, req.accepted_on,
                                                    req.decided_on, req.closed_on,
                                                    req.notified_on))
        if clock is None:
            continue
        warn = _working_days_before(cal, clock.due, WINDOW_WD)
        if today < warn:
            continue
        kind = "overdue" if today > clock.due else "due_soon"
        if req.agency_id not in staff:
            staff[req.agency_id] = list(db.session.scalars(
                select(User.id).join(UserRole).where(User.agency_id == req.agency_id,
                                                     User.active.is_(True),
                                                     UserRole.role.in_(list(STAFF_ROLES)))
                .distinct()))
        subject = _("%(clock)s: %(code)s due on %(due)s", clock=str(CLOCK_LABELS[clock.name]),
                    code=req.receipt_code, due=clock.due.isoformat())
        when = _at(clock.due + dt.timedelta(days=1)) if kind == "overdue" else _at(warn)
        for uid in staff[req.agency_id]:
            yield ReminderSpec(uid, f"assistance:{req.id}:{clock.name}:{kind}:{clock.due}", kind,
                               subject, req.requester_name, f"/mediation/{req.id}", min(when, now))
