"""Reminders of the dual-random inspections: inspections due soon or overdue, results not
published as the 20-working-day limit nears, and the yearly target falling behind."""
from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from sqlalchemy import select

from caseflow.accounts.models import Agency, Role, User, UserRole
from caseflow.core.models import load_calendar
from caseflow.core.timeutil import LOCAL_TZ, local_date
from caseflow.extensions import db
from caseflow.inspections.models import Inspection
from caseflow.reminders.registry import ReminderSpec, reminder_source


def _at(day: dt.date) -> dt.datetime:
    """08:30 Beijing time on that day: reminders arrive at the start of the working day."""
    return dt.datetime.combine(day, dt.time(8, 30), LOCAL_TZ).astimezone(dt.timezone.utc)


@reminder_source
def inspections_due(now: dt.datetime):
    today = local_date(now)
    soon = today + dt.timedelta(days=7)
    for insp in db.session.scalars(select(Inspection).where(
            Inspection.state == "scheduled", Inspection.due_date <= soon)):
        overdue = insp.due_date < today
        kind = "overdue" if overdue else "due_soon"
        subject = (_("Inspection of %(name)s overdue since %(due)s", name=insp.business.name,
                     due=insp.due_date.isoformat()) if overdue else
                   _("Inspection of %(name)s due on %(due)s", name=insp.business.name,
                     due=insp.due_date.isoformat()))
        when = _at(insp.due_date + dt.timedelta(days=1)) if overdue else \
            _at(insp.due_date - dt.timedelta(days=7))
        for u in insp.inspectors:
            yield ReminderSpec(u.id, f"inspection:{insp.id}:{kind}:{insp.due_date}", kind,
                               subject, insp.plan_item.item.name, f"/inspections/{insp.id}",
                               min(when, now))


@reminder_source
def results_unpublished(now: dt.datetime):
    """谁检查、谁公开: within 20 working days; remind 5 working days before the limit."""
    cal = load_calendar()
    today = local_date(now)
    for insp in db.session.scalars(select(Inspection).where(Inspection.state == "done",
                                                            Inspection.inspected_on.is_not(None))):
        limit = cal.add_working_days(insp.inspected_on, 20)
        warn = cal.add_working_days(insp.inspected_on, 15)
        if today < warn:
            continue
        kind = "overdue" if today > limit else "due_soon"
        subject = _("Publish the inspection result of %(name)s by %(due)s",
                    name=insp.business.name, due=limit.isoformat())
        for u in insp.inspectors:
            yield ReminderSpec(u.id, f"inspection:{insp.id}:publish:{kind}:{limit}", kind,
                               subject, "", f"/inspections/{insp.id}", min(_at(warn), now))


@reminder_source
def yearly_target_behind(now: dt.datetime):
    """The yearly target behind its pace: the agency's approvers and coordinators, monthly."""
    from caseflow.inspections.models import InspectionPlan
    from caseflow.inspections.operations import yearly_progress

    today = local_date(now)
    agency_ids = set(db.session.scalars(select(InspectionPlan.agency_id).where(
        InspectionPlan.year == today.year)))
    for agency_id in agency_ids:
        pace = yearly_progress(agency_id, today)
        if not pace.behind:
            continue
        subject = _("Yearly target behind: %(done)s of %(target)s done, %(expected)s expected by now",
                    done=pace.done, target=pace.target, expected=pace.expected_by_today)
        users = db.session.scalars(select(User).join(UserRole).where(
            User.agency_id == agency_id, User.active.is_(True),
            UserRole.role.in_([Role.APPROVER, Role.COORDINATOR])))
        for u in users:
            yield ReminderSpec(u.id, f"target:{agency_id}:{today.year}-{today.month:02d}", "behind",
                               subject, "", "/inspections/", now)
