"""The official Chinese working-day calendar (法定节假日 and 调休 make-up working days).

Plain Python, no Flask. ``chinesecalendar`` knows the State Council's published holiday
arrangements for the years it covers; for later years an administrator enters the
arrangement into the ``calendar_day`` table, whose rows always take precedence. A date in a
year that neither source covers falls back to Monday–Friday and is reported as *unverified*
so that a clock computed over it can say so.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import chinese_calendar

ONE_DAY = dt.timedelta(days=1)

#: chinesecalendar's answer per day (None: a year it does not cover). Its data never change
#: while the process runs, and each of its lookups scans every holiday it knows (~50 µs), so
#: the answers are kept: deadlines of thousands of decisions (dashboards) cost milliseconds.
_OFFICIAL: dict[dt.date, bool | None] = {}


def _official(day: dt.date) -> bool | None:
    try:
        return _OFFICIAL[day]
    except KeyError:
        pass
    try:
        value = chinese_calendar.is_workday(day)
    except NotImplementedError:
        value = None
    if len(_OFFICIAL) < 100_000:  # bounded: ~270 years of days
        _OFFICIAL[day] = value
    return value


class WorkCalendar:
    def __init__(self, overrides: Mapping[dt.date, bool] | None = None):
        self.overrides = dict(overrides or {})
        self._override_years = {d.year for d in self.overrides}

    def is_covered(self, day: dt.date) -> bool:
        """True when the day's status comes from an official source, not the weekday fallback."""
        if day in self.overrides or day.year in self._override_years:
            return True
        return _official(day) is not None

    def is_workday(self, day: dt.date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        value = _official(day)
        return day.weekday() < 5 if value is None else value

    def add_working_days(self, start: dt.date, n: int) -> dt.date:
        """The n-th working day after ``start`` (the start day itself is not counted).

        行政处罚法 §85: 2/3/5/7/10/15-day periods in working days exclude holidays.
        """
        if n < 0:
            raise ValueError("n must be >= 0")
        day = start
        counted = 0
        while counted < n:
            day += ONE_DAY
            if self.is_workday(day):
                counted += 1
        return day

    def next_workday_on_or_after(self, day: dt.date) -> dt.date:
        while not self.is_workday(day):
            day += ONE_DAY
        return day

    def add_calendar_days(self, start: dt.date, n: int) -> dt.date:
        """A calendar-day period of n days starting the day after ``start``.

        民事诉讼法 §85: if the last day is a holiday or rest day, the period ends on the
        next working day.
        """
        return self.next_workday_on_or_after(start + dt.timedelta(days=n))

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days in (start, end]; negative when end is before start."""
        if end == start:
            return 0
        sign = 1
        if end < start:
            start, end, sign = end, start, -1
        count = 0
        day = start
        while day < end:
            day += ONE_DAY
            if self.is_workday(day):
                count += 1
        return sign * count

    def uncovered_between(self, start: dt.date, end: dt.date) -> bool:
        """True when any day in [start, end] relies on the weekday fallback."""
        years = range(start.year, end.year + 1)
        return any(not self.is_covered(dt.date(y, 6, 30)) for y in years)
