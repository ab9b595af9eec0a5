"""Reminders of joint actions: tasks due within 3 days or overdue (to the assignee), overdue
tasks (also to the lead agency's coordinators), and reports waiting for verification."""
from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from sqlalchemy import select

from caseflow.accounts.models import Role, User, UserRole
from caseflow.actions import access
from caseflow.actions.models import ActionTask, JointAction
from caseflow.core.timeutil import LOCAL_TZ, local_date
from caseflow.extensions import db
from caseflow.reminders.registry import ReminderSpec, reminder_source

DUE_SOON_DAYS = 3
RUNNING = ("assigned", "accepted", "in_progress")


def _at(day: dt.date) -> dt.datetime:
    """08:30 Beijing time: reminders arrive at the start of the working day."""
    return dt.datetime.combine(day, dt.time(8, 30), LOCAL_TZ).astimezone(dt.timezone.utc)


def _users(agency_id: int, roles) -> list[User]:
    return list(db.session.scalars(select(User).join(UserRole).where(
        User.agency_id == agency_id, User.active.is_(True), UserRole.role.in_(list(roles)))
        .distinct()))


def assignees(task: ActionTask) -> list[User]:
    """The people who act on the task: the person, the unit's staff, or the agency's
    coordinators and approvers (who also act for a unit or a person)."""
    if task.assignee_user_id and task.assignee_user and task.assignee_user.active:
        people = [task.assignee_user]
    elif task.assignee_unit_id:
        people = [u for u in _users(task.assignee_agency_id, access.TASK_WORKERS)
                  if u.unit_id == task.assignee_unit_id]
    else:
        people = []
    people += _users(task.assignee_agency_id, access.AGENCY_LEADS)
    return list({u.id: u for u in people}.values())


@reminder_source
def tasks_due(now: dt.datetime):
    today = local_date(now)
    soon = today + dt.timedelta(days=DUE_SOON_DAYS)
    tasks = db.session.scalars(select(ActionTask).join(JointAction).where(
        JointAction.state == "open", ActionTask.state.in_(RUNNING), ActionTask.due_on <= soon))
    for t in tasks:
        overdue = t.due_on < today
        kind = "overdue" if overdue else "due_soon"
        subject = (_("Joint-action task “%(title)s” overdue since %(due)s", title=t.title,
                     due=t.due_on.isoformat()) if overdue else
                   _("Joint-action task “%(title)s” due on %(due)s", title=t.title,
                     due=t.due_on.isoformat()))
        when = _at(t.due_on + dt.timedelta(days=1)) if overdue else \
            _at(t.due_on - dt.timedelta(days=DUE_SOON_DAYS))
        link = f"/actions/tasks/{t.id}"
        people = assignees(t)
        if overdue:  # the coordinator of the lead agency follows overdue tasks up
            people += _users(t.action.lead_agency_id, (Role.COORDINATOR,))
        for u in {u.id: u for u in people}.values():
            yield ReminderSpec(u.id, f"task:{t.id}:{kind}:{t.due_on}", kind, subject,
                               t.action.name, link, min(when, now))


@reminder_source
def reports_to_verify(now: dt.datetime):
    tasks = db.session.scalars(select(ActionTask).join(JointAction).where(
        JointAction.state == "open", ActionTask.state == "reported"))
    for t in tasks:
        report = next((r for r in reversed(t.reports) if r.status == "pending"), None)
        if report is None:
            continue
        subject = _("Report on “%(title)s” from %(agency)s waits for verification",
                    title=t.title, agency=t.assignee_agency.name)
        for u in _users(t.action.lead_agency_id, (Role.COORDINATOR,)):
            if u.id != report.submitted_by_id:
                yield ReminderSpec(u.id, f"task:{t.id}:verify:{report.id}", "due_soon", subject,
                                   t.action.name, f"/actions/tasks/{t.id}",
                                   min(report.submitted_at, now))
