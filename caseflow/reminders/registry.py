"""Reminder sources: functions that say which reminders are due, registered with a decorator.

A source is ``fn(now) -> Iterable[ReminderSpec]``: given the current UTC moment it yields a
spec for every reminder that should exist by then. Sources only describe; the scheduler
stores the specs (once per key and user) and delivers them. Each domain registers its own
sources, e.g. ``caseflow/inspections/reminders.py``::

    from caseflow.reminders.registry import ReminderSpec, reminder_source

    @reminder_source
    def inspections_due(now):
        yield ReminderSpec(user_id=..., key="inspection:7:due_soon:2026-12-01", ...)
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class ReminderSpec:
    """One reminder for one user.

    ``key`` names what the reminder is about and must be stable across runs — the object,
    the clock, the kind and the due date, e.g. ``case:12:decision:overdue:2026-12-01`` — so
    generating it again (next minute, a second scheduler, a catch-up) never duplicates it;
    a new due date (an extension) gives a new key and a new reminder. ``due_at`` (UTC) is
    when it should go out; ``link`` a path inside the application. The scheduler runs the
    sources under the default locale (Chinese), so ``gettext`` gives Chinese subjects.
    """

    user_id: int
    key: str
    kind: str  # e.g. "due_soon", "overdue"
    subject: str
    body: str
    link: str
    due_at: dt.datetime


ReminderSource = Callable[[dt.datetime], Iterable[ReminderSpec]]

#: every registered source, in registration order
SOURCES: list[ReminderSource] = []


def reminder_source(fn: ReminderSource) -> ReminderSource:
    """Register ``fn`` as a reminder source. Registering a function of the same module and
    name again (a reloaded module) replaces it, so no source ever runs twice."""
    name = (fn.__module__, fn.__qualname__)
    SOURCES[:] = [s for s in SOURCES if (s.__module__, s.__qualname__) != name]
    SOURCES.append(fn)
    return fn
