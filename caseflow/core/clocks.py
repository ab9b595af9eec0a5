"""Legal clocks: a period that starts on a day, may be paused and extended, and stops.

Plain Python, no Flask. A clock is recomputed from scratch every time from facts that the
case's event history yields, so correcting an event corrects every date that depends on it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from .calendar import WorkCalendar


class Unit(StrEnum):
    WORKING_DAYS = "wd"
    CALENDAR_DAYS = "d"


@dataclass
class Pause:
    start: dt.date
    end: dt.date | None = None  # None: still paused

    def days(self, today: dt.date) -> int:
        """Calendar days the clock stood still (start day to the day before it resumed)."""
        end = self.end or today
        return max((end - self.start).days, 0)


@dataclass
class ClockSpec:
    """What a case's history says about one clock."""

    name: str
    start: dt.date
    days: int
    unit: Unit
    source: str  # legal basis shown beside the clock
    extensions: list[int] = field(default_factory=list)
    pauses: list[Pause] = field(default_factory=list)
    stopped_on: dt.date | None = None
    party_clock: bool = False  # runs against the party, not the agency (e.g. 陈述申辩期)


@dataclass
class ClockState:
    name: str
    start: dt.date
    due: dt.date
    unit: Unit
    source: str
    days: int
    extended_by: int
    paused: bool
    paused_days: int
    stopped_on: dt.date | None
    overdue: bool
    days_left: int | None  # calendar days until due; None once stopped
    party_clock: bool
    calendar_verified: bool

    @property
    def met(self) -> bool | None:
        if self.stopped_on is None:
            return None
        return self.stopped_on <= self.due


def evaluate(spec: ClockSpec, today: dt.date, calendar: WorkCalendar) -> ClockState:
    total = spec.days + sum(spec.extensions)
    paused_days = sum(p.days(spec.stopped_on or today) for p in spec.pauses)
    paused = spec.stopped_on is None and any(p.end is None for p in spec.pauses)
    if spec.unit is Unit.WORKING_DAYS:
        # A pause on a working-day clock shifts it by the working days it covered.
        shifted = spec.start
        due = calendar.add_working_days(spec.start, total)
        if paused_days:
            shifted = spec.start + dt.timedelta(days=paused_days)
            due = calendar.add_working_days(shifted, total)
    else:
        due = calendar.add_calendar_days(spec.start, total + paused_days)
    end_ref = spec.stopped_on or today
    if spec.stopped_on is not None:
        overdue = spec.stopped_on > due
        days_left = None
    else:
        overdue = (not paused) and today > due
        days_left = (due - today).days
    return ClockState(
        name=spec.name,
        start=spec.start,
        due=due,
        unit=spec.unit,
        source=spec.source,
        days=spec.days,
        extended_by=sum(spec.extensions),
        paused=paused,
        paused_days=paused_days,
        stopped_on=spec.stopped_on,
        overdue=overdue,
        days_left=days_left,
        party_clock=spec.party_clock,
        calendar_verified=not calendar.uncovered_between(spec.start, max(due, end_ref)),
    )
