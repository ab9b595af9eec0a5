"""Who sees and changes which case. One rule serves lists and single objects.

``visible_cases(user)`` is the only definition of visibility: the list query filters with it
and the single-case lookup runs the same query with the id added, so a list can never show
what the detail page refuses.
"""
from __future__ import annotations

from sqlalchemy import Select, false, or_, select

from caseflow.accounts.models import Role
from caseflow.cases.models import Case
from caseflow.cases.rules import OPEN_STATES, TRANSITIONS, State


def visibility_clause(user):
    """The agency's own cases, plus those another agency shares with it (active grants)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.works_cases:
        return false()
    from caseflow.sharing.operations import active_grant_exists

    return or_(Case.owner_agency_id == user.agency_id,
               active_grant_exists(user.agency_id, Case.id))


def visible_cases(user) -> Select:
    return select(Case).where(visibility_clause(user))


def can_create_clue(user) -> bool:
    return user.has_role(Role.INSPECTOR, Role.CASE_OFFICER)


def can_edit(user, case: Case) -> bool:
    if case.owner_agency_id != user.agency_id or State(case.state) not in OPEN_STATES:
        return False
    if user.has_role(Role.CASE_OFFICER):
        return True
    # An inspector may correct the clue they logged until a case officer takes it up.
    return (user.has_role(Role.INSPECTOR) and case.state == State.CLUE
            and case.created_by_id == user.id)


def can_assign_officers(user, case: Case) -> bool:
    return (case.owner_agency_id == user.agency_id and State(case.state) in OPEN_STATES
            and user.has_role(Role.CASE_OFFICER, Role.APPROVER))


def may_perform(user, case: Case, action: str) -> bool:
    """Role and agency check for an action (state guards are checked separately)."""
    if case.owner_agency_id != user.agency_id:
        return False
    if action in ("approve", "deny"):
        return (user.has_role(Role.APPROVER) and case.pending_action is not None
                and case.pending_by_id != user.id)
    t = TRANSITIONS.get(action)
    return t is not None and bool(user.roles & t.roles)
