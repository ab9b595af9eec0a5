"""Tables shared by every domain: the working-day calendar overrides and counters."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from caseflow.core.calendar import WorkCalendar
from caseflow.core.db import UTCDateTime
from caseflow.core.timeutil import utcnow
from caseflow.extensions import db


class CalendarDay(db.Model):
    """An administrator's entry for a day: holiday or (make-up) working day.

    Rows take precedence over the ``chinesecalendar`` package, so a year it does not yet
    cover is entered here when the State Council publishes the arrangement.
    """

    __tablename__ = "calendar_day"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(String(200), default="")
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CaseNumberCounter(db.Model):
    """Last case number handed out per agency and year (incremented atomically)."""

    __tablename__ = "case_number_counter"

    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


def load_calendar() -> WorkCalendar:
    rows = db.session.execute(select(CalendarDay.day, CalendarDay.is_workday)).all()
    return WorkCalendar({d: w for d, w in rows})
