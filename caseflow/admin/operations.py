"""System settings kept by the system administrator (系统管理员): the holiday calendar."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from caseflow.accounts.models import Role
from caseflow.cases.messages import text as messages
from caseflow.cases.models import Case
from caseflow.cases.rules import OPEN_STATES
from caseflow.core import audit
from caseflow.core.errors import InvalidInput, PermissionDenied
from caseflow.core.models import CalendarDay, load_calendar
from caseflow.extensions import db


def can_manage_calendar(user) -> bool:
    return user.has_role(Role.SYS_ADMIN)


def _check(user) -> None:
    # user None: the operator at the server's console (flask caseflow calendar-set)
    if user is not None and not can_manage_calendar(user):
        raise PermissionDenied(messages("forbidden"))


def set_calendar_day(user, day: dt.date, is_workday: bool, note: str) -> CalendarDay:
    """Record a holiday or (make-up) working day and recompute every open case's due date."""
    _check(user)
    note = (note or "").strip()
    if len(note) > 200:
        raise InvalidInput({"note": messages("string_too_long", max_length=200)})
    if not dt.date(2000, 1, 1) <= day <= dt.date(2100, 12, 31):
        raise InvalidInput({"day": messages("date_too_old")})
    row = db.session.get(CalendarDay, day) or CalendarDay(day=day)
    old = None if row.is_workday is None else row.is_workday
    row.is_workday = is_workday
    row.note = note
    row.updated_by_id = getattr(user, "id", None)
    db.session.add(row)
    db.session.flush()
    audit.record("calendar.set", user=user, obj_type="calendar_day", obj_id=day.isoformat(),
                 old=old, new=is_workday, note=note)
    recompute_open_cases()
    return row


def delete_calendar_day(user, day: dt.date) -> None:
    _check(user)
    row = db.session.get(CalendarDay, day)
    if row is None:
        return
    db.session.delete(row)
    db.session.flush()
    audit.record("calendar.delete", user=user, obj_type="calendar_day", obj_id=day.isoformat())
    recompute_open_cases()


def recompute_open_cases() -> int:
    """Due dates depend on the calendar: refresh the stored next due date of open cases."""
    from caseflow.cases.operations import refresh_due

    calendar = load_calendar()
    n = 0
    for case in db.session.scalars(select(Case).where(Case.state.in_([s.value for s in OPEN_STATES]))):
        refresh_due(case, calendar)
        n += 1
    return n
