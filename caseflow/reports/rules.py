"""Reporting rules (SPEC §7): periods, percentiles, outcome groups, timeliness, plan targets.

Plain Python, no Flask and no database: the operations module feeds these functions counts
and dates it read, so every figure's arithmetic is tested on its own.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Mapping


class PeriodError(ValueError):
    def __init__(self, code: str, field: str):
        super().__init__(code)
        self.code = code
        self.field = field


@dataclass(frozen=True)
class Period:
    """A reporting period of whole days, both ends included."""

    start: dt.date
    end: dt.date

    @classmethod
    def year(cls, year: int) -> "Period":
        return cls(dt.date(year, 1, 1), dt.date(year, 12, 31))

    def __contains__(self, day: dt.date) -> bool:
        return self.start <= day <= self.end

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def months(self) -> list["Period"]:
        """The calendar months the period touches, each cut to the period."""
        out, y, m = [], self.start.year, self.start.month
        while dt.date(y, m, 1) <= self.end:
            first = max(dt.date(y, m, 1), self.start)
            ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
            last = min(dt.date(ny, nm, 1) - dt.timedelta(days=1), self.end)
            out.append(Period(first, last))
            y, m = ny, nm
        return out

    def tally_plan(self) -> tuple["Period | None", list["Period"], list["Period"]]:
        """How to count the period from a monthly tally: (the run of months to read from the
        tally or None, day ranges to count and add, day ranges to count and subtract).

        Whole months come from the tally. A month the period cuts is either counted day by day
        over the days inside the period or read whole from the tally less the days outside it,
        whichever covers fewer days (a period ending today subtracts the rest of the month,
        which has nothing in it yet). The months read form one run: only the first and last
        can be cut."""
        tallied, add, subtract = [], [], []
        for m in self.months():
            first = m.start.replace(day=1)
            nxt = (first + dt.timedelta(days=32)).replace(day=1)
            last = nxt - dt.timedelta(days=1)
            outside = [Period(first, m.start - dt.timedelta(days=1))] if m.start > first else []
            if m.end < last:
                outside.append(Period(m.end + dt.timedelta(days=1), last))
            if not outside:
                tallied.append(first)
            elif m.days <= sum(o.days for o in outside):
                add.append(m)
            else:
                tallied.append(first)
                subtract.extend(outside)
        if not tallied:
            return None, add, subtract
        end = (tallied[-1] + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        return Period(tallied[0], end), add, subtract


#: the longest period a dashboard or ledger covers at once (a bounded query)
MAX_PERIOD_DAYS = 3 * 366 + 1
EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2099, 12, 31)


def check_period(start: dt.date | None, end: dt.date | None, today: dt.date) -> Period:
    """Validate a user's period. Missing ends default to this year up to today; an end alone
    starts the period on 1 January of the end's year."""
    start = start or dt.date((end or today).year, 1, 1)
    end = end or max(today, start)
    if start < EARLIEST:
        raise PeriodError("period_too_early", "from")
    if start > LATEST or end > LATEST:
        raise PeriodError("filter_date_range", "to" if end > LATEST else "from")
    if end < start:
        raise PeriodError("period_reversed", "to")
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise PeriodError("period_too_long", "to")
    return Period(start, end)


def week_of(today: dt.date) -> Period:
    """Monday to Sunday of the week ``today`` falls in."""
    monday = today - dt.timedelta(days=today.weekday())
    return Period(monday, monday + dt.timedelta(days=6))


# ----------------------------------------------------------------------------- percentiles

def percentile(histogram: Mapping[int, int], p: float) -> float | None:
    """The p-th percentile (0–1) of values given as {value: count}, interpolated linearly
    between the two nearest ranks (PostgreSQL's percentile_cont, numpy's default)."""
    items = sorted((v, n) for v, n in histogram.items() if n > 0)
    total = sum(n for _, n in items)
    if total == 0:
        return None
    if not 0 <= p <= 1:
        raise ValueError("p must be between 0 and 1")
    pos = p * (total - 1)
    lo_rank, hi_rank = math.floor(pos), math.ceil(pos)
    lo = hi = None
    seen = 0
    for value, n in items:
        if lo is None and lo_rank < seen + n:
            lo = value
        if hi_rank < seen + n:
            hi = value
            break
        seen += n
    return lo + (hi - lo) * (pos - lo_rank)


# ----------------------------------------------------------------------------- referrals

#: referral states (referrals.rules.RState) grouped into the outcomes a dashboard shows
REFERRAL_OUTCOMES: dict[str, tuple[str, ...]] = {
    "preparing": ("proposed", "pending_approval", "approved"),  # 准备、审批中
    "refused": ("refused",),  # 负责人决定不移送 / 撤回
    "with_police": ("sent", "received"),  # 已移送，待公安机关决定
    "police_filed": ("filed", "handed_over"),  # 公安机关立案
    "not_filed": ("not_filed", "reconsideration", "upheld", "supervision"),  # 不予立案及复议、监督
    "returned": ("returned",),  # 回到行政程序
}


def referral_outcome(state: str) -> str:
    for group, states in REFERRAL_OUTCOMES.items():
        if state in states:
            return group
    raise ValueError(f"unknown referral state {state!r}")


# ----------------------------------------------------------------------------- publication

PUBLICATION_CLASSES = ("on_time", "late", "overdue", "pending")


def timeliness(published_on: dt.date | None, deadline: dt.date, today: dt.date) -> str:
    """on_time / late (published after the deadline) / overdue (unpublished, deadline passed)
    / pending (unpublished, still within the deadline)."""
    if published_on is not None:
        return "on_time" if published_on <= deadline else "late"
    return "overdue" if today > deadline else "pending"


def on_time_share(counts: Mapping[str, int]) -> float | None:
    """Share published within the deadline, of the decisions whose deadline has passed or
    that were published; None when there is none yet."""
    due = counts.get("on_time", 0) + counts.get("late", 0) + counts.get("overdue", 0)
    return counts.get("on_time", 0) / due if due else None


# ----------------------------------------------------------------------------- plan targets

@dataclass(frozen=True)
class Target:
    """One target of the district work plans and how far the year met it."""

    key: str
    target: float
    actual: float | None
    unit: str  # "count" or "percent"

    @property
    def met(self) -> bool | None:
        if self.actual is None:
            return None
        return self.actual >= self.target

    @property
    def share(self) -> float | None:
        """How far the target was reached (1.0 = met), capped at 1."""
        if self.actual is None or self.target <= 0:
            return None
        return min(self.actual / self.target, 1.0)


def first_working_day(year: int, calendar) -> dt.date:
    return calendar.next_workday_on_or_after(dt.date(year, 1, 1))


def yearly_report_due(today: dt.date, calendar) -> int | None:
    """The year whose report the scheduler makes: the year before, from the first working day
    of the new year on; None before that day."""
    if today >= first_working_day(today.year, calendar):
        return today.year - 1
    return None
