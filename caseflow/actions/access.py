"""Who sees and does what in a joint action. Plain Python over the model objects, no Flask.

- The action (name, period, objectives, participants, targets, overall figures) is seen by
  case-working users of the lead agency and of every participating agency.
- Tasks: the lead agency sees all of them; a participant sees only tasks assigned to itself.
  A task shares only itself and its target — never the cases of another agency.
- The lead agency's coordinator runs the action: participants, targets, tasks, verification,
  completion. The assignee acts on its task (accept, decline, report); a task assigned to a
  unit or a person is theirs, and the assignee agency's coordinator or approver may act for
  them and hand the task on inside the agency.
"""
from __future__ import annotations

from caseflow.accounts.models import Role

TASK_WORKERS = (Role.INSPECTOR, Role.CASE_OFFICER, Role.APPROVER, Role.COORDINATOR)
AGENCY_LEADS = (Role.COORDINATOR, Role.APPROVER)


def can_create(user) -> bool:
    return user.has_role(Role.COORDINATOR)


def sees_action(user, action) -> bool:
    return bool(user.works_cases) and user.agency_id in action.agency_ids()


def leads(user, action) -> bool:
    return user.agency_id == action.lead_agency_id and user.has_role(Role.COORDINATOR)


def sees_task(user, task) -> bool:
    return sees_action(user, task.action) and (user.agency_id == task.action.lead_agency_id
                                               or user.agency_id == task.assignee_agency_id)


def acts_for(user, task) -> bool:
    """The assignee (or its agency's coordinator/approver) may accept, decline, report."""
    if user.agency_id != task.assignee_agency_id:
        return False
    if user.has_role(*AGENCY_LEADS):
        return True
    if task.assignee_user_id is not None:
        return user.id == task.assignee_user_id
    if task.assignee_unit_id is not None:
        return user.unit_id == task.assignee_unit_id and user.has_role(*TASK_WORKERS)
    return user.has_role(*TASK_WORKERS)


def may_delegate(user, task) -> bool:
    """Hand a task on inside the assignee agency (to one of its units or people)."""
    return user.agency_id == task.assignee_agency_id and user.has_role(*AGENCY_LEADS)


def may_perform(user, task, action: str) -> bool:
    from caseflow.actions.rules import performer

    if action == "reassign":
        return leads(user, task.action) or may_delegate(user, task)
    if performer(action) == "lead":
        return leads(user, task.action)
    return acts_for(user, task)
