"""Joint actions: create and run an action, assign and work its tasks, report figures, verify,
complete; link cases; the key-trademark protection list. Each function checks who may act,
validates, and writes the change, the action's timeline event and an audit row in the
caller's transaction (the view or the CLI commits once).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from caseflow.accounts.models import Agency, Role, Unit, User
from caseflow.actions import access, rules as r
from caseflow.actions.models import (ActionEvent, ActionTarget, ActionTask, JointAction,
                                     KeyTrademark, ReportAttachment, TaskReport,
                                     action_participant)
from caseflow.cases import messages
from caseflow.core import audit, fields
from caseflow.core.errors import (InvalidInput, InvalidTransition, NotFound, PermissionDenied,
                                  StaleVersion)
from caseflow.core.timeutil import today_local, utcnow
from caseflow.extensions import db

MAX_BULK = 200  # tasks assigned or reassigned in one go
REFERRALS_MADE = ("sent", "received", "filed", "handed_over", "not_filed", "reconsideration",
                  "upheld", "supervision", "returned")


def _forbidden():
    return PermissionDenied(messages.text("forbidden"))


def _flush():
    try:
        db.session.flush()
    except StaleDataError as exc:
        # the failed flush leaves the session unusable until rolled back, and the message
        # (the user's language) may need it
        db.session.rollback()
        raise StaleVersion(messages.text("action_stale")) from exc


def _check_version(obj, expected) -> None:
    if expected in (None, ""):
        return
    try:
        expected = int(expected)
    except (TypeError, ValueError):
        raise StaleVersion(messages.text("action_stale")) from None
    if expected != obj.version:
        raise StaleVersion(messages.text("action_stale"))


def _lead_open(user, action: JointAction, version=None) -> None:
    """Only the lead agency's coordinator changes the action, and only while it runs."""
    if not access.leads(user, action):
        raise _forbidden()
    if action.state != "open":
        raise InvalidTransition(messages.text("action_not_open"))
    _check_version(action, version)


def _event(action: JointAction, user, kind: str, task: ActionTask | None = None, **data):
    db.session.add(ActionEvent(action_id=action.id, task_id=task.id if task else None,
                               user_id=user.id, agency_id=user.agency_id, kind=kind, data=data))
    audit.record(f"action.{kind}", user=user, obj_type="joint_action", obj_id=action.id,
                 task_id=task.id if task else None, **data)


_text = fields.text


def _date(data: dict, name: str, errors: dict) -> dt.date | None:
    return fields.date(data, name, errors)


def _int_id(raw) -> int | None:
    raw = str(raw or "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < len(raw) < 10 else None


def _id_list(raw) -> list[int]:
    if isinstance(raw, str):
        raw = [x for x in raw.replace("，", ",").split(",") if x.strip()]
    out = []
    for x in raw or []:
        i = _int_id(x)
        if i is None:
            raise InvalidInput({"participants": messages.text("enum")})
        out.append(i)
    return list(dict.fromkeys(out))


# ----------------------------------------------------------------------------- lookups


def visible_actions(user):
    """Actions the user's agency leads or takes part in (newest first)."""
    if not user.works_cases:
        return select(JointAction).where(False)
    part = select(action_participant.c.action_id).where(
        action_participant.c.agency_id == user.agency_id)
    return (select(JointAction).where(or_(JointAction.lead_agency_id == user.agency_id,
                                          JointAction.id.in_(part)))
            .order_by(JointAction.period_start.desc(), JointAction.id.desc()))


def get_action(user, action_id: int) -> JointAction:
    action = db.session.get(JointAction, action_id) if 0 < action_id < 2**31 else None
    if action is None or not access.sees_action(user, action):
        raise NotFound(messages.text("action_not_found"))
    return action


def get_task(user, task_id: int) -> ActionTask:
    task = db.session.get(ActionTask, task_id) if 0 < task_id < 2**31 else None
    if task is None or not access.sees_task(user, task):
        raise NotFound(messages.text("action_not_found"))
    return task


def tasks_for(user, action: JointAction) -> list[ActionTask]:
    """The tasks the user may see: all of them for the lead agency, its own for a participant."""
    stmt = (select(ActionTask).where(ActionTask.action_id == action.id)
            .options(selectinload(ActionTask.reports)))
    if user.agency_id != action.lead_agency_id:
        stmt = stmt.where(ActionTask.assignee_agency_id == user.agency_id)
    today = today_local()
    tasks = list(db.session.scalars(stmt))
    tasks.sort(key=lambda t: (not r.is_overdue(t.state, t.due_on, today),
                              r.TaskState(t.state) in r.TASK_FINAL, t.due_on, t.id))
    return tasks


def my_tasks(user, limit: int = 200) -> list[ActionTask]:
    """Open tasks the user may act on, overdue first."""
    if not user.works_cases:
        return []
    stmt = (select(ActionTask).join(JointAction)
            .where(ActionTask.assignee_agency_id == user.agency_id,
                   ActionTask.state.in_(["assigned", "accepted", "in_progress"]),
                   JointAction.state == "open")
            .order_by(ActionTask.due_on, ActionTask.id).limit(limit))
    return [t for t in db.session.scalars(stmt) if access.acts_for(user, t)]


def to_verify(user, limit: int = 200) -> list[ActionTask]:
    if not user.has_role(Role.COORDINATOR):
        return []
    return list(db.session.scalars(
        select(ActionTask).join(JointAction)
        .where(JointAction.lead_agency_id == user.agency_id, ActionTask.state == "reported")
        .order_by(ActionTask.due_on, ActionTask.id).limit(limit)))


def linkable_actions(agency_id: int, on: dt.date | None = None) -> list[JointAction]:
    """Open actions the agency leads or takes part in, running on ``on`` (cases link to them)."""
    on = on or today_local()
    part = select(action_participant.c.action_id).where(action_participant.c.agency_id == agency_id)
    return list(db.session.scalars(
        select(JointAction).where(or_(JointAction.lead_agency_id == agency_id,
                                      JointAction.id.in_(part)),
                                  JointAction.state == "open",
                                  JointAction.period_start <= on, JointAction.period_end >= on)
        .order_by(JointAction.period_start.desc())))


def check_case_link(agency_id: int, action_id: int | None, current: int | None) -> str | None:
    """None when a case of ``agency_id`` may be linked to ``action_id`` (an action it takes
    part in, running today — the same choice the form offers), else a message code."""
    if action_id is None or action_id == current:
        return None
    action = db.session.get(JointAction, action_id) if 0 < action_id < 2**31 else None
    if action is None or agency_id not in action.agency_ids():
        return "action_not_participant"
    today = today_local()
    if action.state != "open" or not action.period_start <= today <= action.period_end:
        return "action_not_open"
    return None


def participant_choices(user) -> list[Agency]:
    """Agencies that may take part in an action (enforcement agencies, any G60 city)."""
    return list(db.session.scalars(select(Agency).where(
        Agency.id != user.agency_id, Agency.kind != "procuratorate").order_by(Agency.region,
                                                                             Agency.name)))


# ----------------------------------------------------------------------------- the action


def _action_fields(data: dict, errors: dict) -> dict:
    out = {"name": _text(data, "name", errors, required=True, min_len=2)}
    kind = str(data.get("kind") or "")
    if kind not in r.ActionKind.__members__.values():
        errors["kind"] = messages.text("enum")
    out["kind"] = kind
    out["period_start"] = _date(data, "period_start", errors)
    out["period_end"] = _date(data, "period_end", errors)
    if out["period_start"] and out["period_end"] and out["period_end"] < out["period_start"]:
        errors["period_end"] = messages.text("period_reversed")
    if out["period_end"] and out["period_end"] < today_local() - dt.timedelta(days=366):
        errors["period_end"] = messages.text("period_too_old")
    out["objectives"] = _text(data, "objectives", errors, max_len=5000)
    return out


def _check_participants(user, kind: str, agency_ids: list[int], errors: dict) -> list[Agency]:
    agencies = list(db.session.scalars(select(Agency).where(Agency.id.in_(agency_ids))))
    if len(agencies) != len(agency_ids) or any(a.id == user.agency_id for a in agencies) or \
            any(a.kind == "procuratorate" for a in agencies):
        errors["participants"] = messages.text("participants_invalid")
        return []
    if kind in (r.ActionKind.JOINT, r.ActionKind.G60) and not agencies:
        errors["participants"] = messages.text("participants_required")
    if kind == r.ActionKind.G60:
        cities = r.g60_cities_of([user.agency.region] + [a.region for a in agencies])
        if len(cities) < 2:
            errors["participants"] = messages.text("g60_two_cities")
    return sorted(agencies, key=lambda a: a.id)


def create_action(user, data: dict) -> JointAction:
    if not access.can_create(user):
        raise _forbidden()
    errors: dict = {}
    fields = _action_fields(data, errors)
    try:
        ids_ = _id_list(data.get("participants"))
    except InvalidInput as e:
        errors.update(e.errors)
        ids_ = []
    agencies = [] if {"kind", "participants"} & set(errors) else \
        _check_participants(user, fields["kind"], ids_, errors)
    if errors:
        raise InvalidInput(errors)
    action = JointAction(lead_agency_id=user.agency_id, created_by_id=user.id, state="open",
                         **fields)
    action.participants = agencies
    db.session.add(action)
    db.session.flush()
    _event(action, user, "create", name=action.name, action_kind=action.kind,
           participants=[a.id for a in agencies])
    return action


def edit_action(user, action: JointAction, data: dict) -> JointAction:
    """Edit the name, period, objectives and participants of an open action."""
    _lead_open(user, action, data.get("version"))
    errors: dict = {}
    data = dict(data, kind=action.kind)
    fields = _action_fields(data, errors)
    try:
        ids_ = _id_list(data.get("participants"))
    except InvalidInput as e:
        errors.update(e.errors)
        ids_ = []
    agencies = _check_participants(user, action.kind, ids_, errors) if "participants" not in errors else []
    if not errors:
        removed = {a.id for a in action.participants} - set(ids_)
        from caseflow.cases.models import Case

        busy = removed & (set(db.session.scalars(select(ActionTask.assignee_agency_id).where(
            ActionTask.action_id == action.id))) | set(db.session.scalars(
                select(Case.owner_agency_id).where(Case.joint_action_id == action.id))))
        if busy:
            errors["participants"] = messages.text("participant_has_tasks")
        late = [t for t in action.tasks if r.TaskState(t.state) not in r.TASK_FINAL
                and fields["period_end"] and t.due_on > fields["period_end"]]
        if late:
            errors["period_end"] = messages.text("tasks_after_period")
    if errors:
        raise InvalidInput(errors)
    changes = {}
    for k, v in fields.items():
        if k != "kind" and getattr(action, k) != v:
            changes[k] = [str(getattr(action, k)), str(v)]
            setattr(action, k, v)
    if {a.id for a in action.participants} != set(ids_):
        changes["participants"] = [[a.id for a in action.participants], sorted(ids_)]
        action.participants = agencies
    if changes:
        _event(action, user, "edit", changes=changes)
        flag_modified(action, "objectives")  # the version moves even for participants only
    _flush()
    return action


def add_target(user, action: JointAction, data: dict) -> ActionTarget:
    _lead_open(user, action)
    errors: dict = {}
    kind = str(data.get("kind") or "")
    if kind not in r.TargetKind.__members__.values():
        errors["kind"] = messages.text("enum")
    name = _text(data, "target_name", errors, required=kind != r.TargetKind.TRADEMARK)
    detail = _text(data, "target_detail", errors, max_len=300)
    tm = None
    if kind == r.TargetKind.TRADEMARK:
        number = str(data.get("reg_number") or "").strip().removeprefix("第").removesuffix("号")
        tm = db.session.scalar(select(KeyTrademark).where(KeyTrademark.reg_number == number,
                                                          KeyTrademark.active.is_(True)))
        if tm is None:
            errors["reg_number"] = messages.text("trademark_not_listed")
        else:
            name = name or f"{tm.mark}（第{tm.reg_number}号）"
    if errors:
        raise InvalidInput(errors)
    target = ActionTarget(action=action, kind=kind, name=name, detail=detail,
                          trademark_id=tm.id if tm else None)
    db.session.add(target)
    db.session.flush()
    _event(action, user, "target_add", target_id=target.id, name=name, target_kind=kind)
    return target


def remove_target(user, action: JointAction, target_id: int) -> None:
    if not access.leads(user, action):
        raise _forbidden()
    target = next((t for t in action.targets if t.id == target_id), None)
    if target is None:
        raise NotFound(messages.text("action_not_found"))
    if action.state != "open":
        raise InvalidTransition(messages.text("action_not_open"))
    _event(action, user, "target_remove", target_id=target.id, name=target.name)
    action.targets.remove(target)
    _flush()


def complete_action(user, action: JointAction, data: dict) -> JointAction:
    """Close the action: every task verified, declined or cancelled; a written summary."""
    _lead_open(user, action, data.get("version"))
    errors: dict = {}
    summary = _text(data, "summary", errors, required=True, max_len=5000, min_len=10)
    open_tasks = [t for t in action.tasks if r.TaskState(t.state) not in r.TASK_FINAL]
    if open_tasks and not errors:
        raise InvalidTransition(messages.text("action_open_tasks", n=len(open_tasks)))
    if errors:
        raise InvalidInput(errors)
    action.state = "completed"
    action.summary = summary
    action.completed_on = today_local()
    _event(action, user, "complete")
    _flush()
    return action


def cancel_action(user, action: JointAction, data: dict) -> JointAction:
    _lead_open(user, action, data.get("version"))
    errors: dict = {}
    reason = _text(data, "summary", errors, required=True, max_len=5000, min_len=10)
    if errors:
        raise InvalidInput(errors)
    action.state = "cancelled"
    action.summary = reason
    for t in action.tasks:
        if r.TaskState(t.state) not in r.TASK_FINAL:
            t.state, t.reason = "cancelled", reason
            _void_pending(t, user, reason)
    _event(action, user, "cancel", reason=reason)
    _flush()
    return action


# ----------------------------------------------------------------------------- assignment


@dataclass(frozen=True)
class Assignee:
    agency: Agency
    unit: Unit | None = None
    user: User | None = None

    @property
    def token(self) -> str:
        if self.user:
            return f"user:{self.user.id}"
        if self.unit:
            return f"unit:{self.unit.id}"
        return f"agency:{self.agency.id}"


def assignee_choices(user, action: JointAction, within: int | None = None) -> list[Assignee]:
    """Agencies, their units and case-working people a task can go to. The lead chooses
    among every agency of the action; an assignee agency (``within``) only among its own."""
    ids_ = [within] if within else sorted(action.agency_ids())
    out = []
    for agency in db.session.scalars(select(Agency).where(Agency.id.in_(ids_)).order_by(Agency.id)):
        out.append(Assignee(agency))
        out += [Assignee(agency, unit=u) for u in agency.units]
        people = db.session.scalars(select(User).where(User.agency_id == agency.id,
                                                       User.active.is_(True)).order_by(User.id))
        out += [Assignee(agency, user=u) for u in people if u.has_role(*access.TASK_WORKERS)]
    return out


def parse_assignee(token: str, allowed_agencies: set[int]) -> Assignee | None:
    kind, _, raw = str(token or "").partition(":")
    oid = _int_id(raw)
    if oid is None:
        return None
    if kind == "agency":
        agency = db.session.get(Agency, oid)
        return Assignee(agency) if agency and agency.id in allowed_agencies else None
    if kind == "unit":
        unit = db.session.get(Unit, oid)
        return Assignee(unit.agency, unit=unit) if unit and unit.agency_id in allowed_agencies else None
    if kind == "user":
        u = db.session.get(User, oid)
        if u and u.active and u.agency_id in allowed_agencies and u.has_role(*access.TASK_WORKERS):
            return Assignee(u.agency, user=u)
    return None


def _due(data: dict, action: JointAction, errors: dict, name: str = "due_on") -> dt.date | None:
    due = _date(data, name, errors)
    if due is not None:
        if due < today_local():
            errors[name] = messages.text("task_due_in_past")
        elif not action.period_start <= due <= action.period_end:
            errors[name] = messages.text("task_due_outside_period")
    return due


def assign_tasks(user, action: JointAction, data: dict) -> list[ActionTask]:
    """Assign one task to each chosen assignee (bulk assignment): all or nothing."""
    _lead_open(user, action)
    errors: dict = {}
    title = _text(data, "title", errors, required=True, min_len=2)
    description = _text(data, "description", errors, max_len=5000)
    due = _due(data, action, errors)
    target_id = None
    if str(data.get("target_id") or "").strip():
        target_id = _int_id(data.get("target_id"))
        if target_id not in {t.id for t in action.targets}:
            errors["target_id"] = messages.text("enum")
    tokens = data.get("assignees") or []
    if isinstance(tokens, str):
        tokens = [tokens]
    tokens = list(dict.fromkeys(t for t in tokens if t))
    assignees = []
    if not tokens:
        errors["assignees"] = messages.text("assignee_required")
    elif len(tokens) > MAX_BULK:
        errors["assignees"] = messages.text("too_many", n=MAX_BULK)
    else:
        allowed = action.agency_ids()
        for t in tokens:
            a = parse_assignee(t, allowed)
            if a is None:
                errors["assignees"] = messages.text("assignee_invalid")
                break
            assignees.append(a)
    if errors:
        raise InvalidInput(errors)
    tasks = []
    for a in assignees:
        task = ActionTask(action=action, title=title, description=description, due_on=due,
                          target_id=target_id, assignee_agency_id=a.agency.id,
                          assignee_unit_id=a.unit.id if a.unit else None,
                          assignee_user_id=a.user.id if a.user else None,
                          created_by_id=user.id, state="assigned")
        db.session.add(task)
        tasks.append(task)
    db.session.flush()
    for task, a in zip(tasks, assignees):
        _event(action, user, "task_assign", task, title=title, to=a.token,
               due_on=due.isoformat())
    return tasks


def reassign_tasks(user, action: JointAction, data: dict) -> list[ActionTask]:
    """Bulk reassignment: move the chosen tasks to a new assignee and/or a new due date.
    All or nothing: one task that may not move refuses the whole request, naming it."""
    errors: dict = {}
    ids_ = []
    raw = data.get("task_ids") or []
    if isinstance(raw, str):
        raw = [raw]
    for x in raw:
        i = _int_id(x)
        if i is None:
            errors["task_ids"] = messages.text("enum")
            break
        ids_.append(i)
    ids_ = list(dict.fromkeys(ids_))
    if not ids_ and "task_ids" not in errors:
        errors["task_ids"] = messages.text("tasks_required")
    if len(ids_) > MAX_BULK:
        errors["task_ids"] = messages.text("too_many", n=MAX_BULK)
    token = str(data.get("assignee") or "").strip()
    due_raw = str(data.get("new_due_on") or "").strip()
    due = _due(data, action, errors, "new_due_on") if due_raw else None
    if not token and not due_raw:
        errors["assignee"] = messages.text("reassign_nothing")
    if errors:
        raise InvalidInput(errors)
    tasks = list(db.session.scalars(select(ActionTask).where(ActionTask.id.in_(ids_),
                                                             ActionTask.action_id == action.id)))
    if len(tasks) != len(ids_) or any(not access.sees_task(user, t) for t in tasks):
        raise NotFound(messages.text("action_not_found"))
    if action.state != "open":
        raise InvalidTransition(messages.text("action_not_open"))
    lead = access.leads(user, action)
    for t in sorted(tasks, key=lambda t: t.id):
        if not (lead or access.may_delegate(user, t)):
            raise _forbidden()
        if r.TaskState(t.state) not in r.TASK_TRANSITIONS["reassign"][0]:
            raise InvalidTransition(messages.text("task_cannot_move", title=t.title, id=t.id,
                                                  state=str(TASK_STATE_LABELS[t.state])))
    new = None
    if token:
        allowed = action.agency_ids() if lead else {user.agency_id}
        new = parse_assignee(token, allowed)
        if new is None:
            raise InvalidInput({"assignee": messages.text("assignee_invalid")})
    if due and not lead:
        raise _forbidden()  # only the coordinator moves due dates
    for t in tasks:
        before = {"agency": t.assignee_agency_id, "unit": t.assignee_unit_id,
                  "user": t.assignee_user_id, "due_on": t.due_on.isoformat(), "state": t.state}
        if new is not None:
            changes_agency = new.agency.id != t.assignee_agency_id
            t.assignee_agency_id = new.agency.id
            t.assignee_unit_id = new.unit.id if new.unit else None
            t.assignee_user_id = new.user.id if new.user else None
            if changes_agency or t.state == "declined":
                t.state, t.reason = "assigned", None  # the new assignee accepts afresh
        if due is not None:
            t.due_on = due
        t.updated_at = utcnow()
        _event(action, user, "task_reassign", t, before=before,
               to=new.token if new else None, due_on=t.due_on.isoformat())
    _flush()
    return tasks


# ----------------------------------------------------------------------------- task work


def _task_guard(user, task: ActionTask, action_name: str, data: dict) -> None:
    if not access.may_perform(user, task, action_name):
        raise _forbidden()
    if task.action.state != "open":
        raise InvalidTransition(messages.text("action_not_open"))
    _check_version(task, data.get("version"))


def _next_state(task: ActionTask, action_name: str, final: bool = False) -> r.TaskState:
    try:
        return r.task_target_state(task.state, action_name, final_report=final)
    except r.RuleViolation:
        raise InvalidTransition(messages.text(
            "task_action_not_allowed", action=str(TASK_ACTION_LABELS[action_name]),
            state=str(TASK_STATE_LABELS[task.state]))) from None


def task_action(user, task: ActionTask, action_name: str, data: dict) -> ActionTask:
    """accept / decline / start / cancel one task."""
    if action_name not in ("accept", "decline", "start", "cancel"):
        raise InvalidInput({"action": messages.text("enum")})
    _task_guard(user, task, action_name, data)
    errors: dict = {}
    reason = _text(data, "reason", errors, required=action_name in r.NEEDS_REASON,
                   max_len=2000, min_len=4 if action_name in r.NEEDS_REASON else 0)
    if errors:
        raise InvalidInput(errors)
    new = _next_state(task, action_name)
    old = task.state
    task.state = new.value
    if action_name in r.NEEDS_REASON:
        task.reason = reason
    if action_name == "cancel":
        _void_pending(task, user, reason)
    task.updated_at = utcnow()
    _event(task.action, user, f"task_{action_name}", task, from_state=old, to_state=new.value,
           reason=reason or None)
    _flush()
    return task


def submit_report(user, task: ActionTask, data: dict, files=()) -> TaskReport:
    """A progress (or final) report with figures and attachments. Files are stored first and
    removed again if anything later fails, so no file is left without its record."""
    from caseflow.core.uploads import UploadError, display_name, path_of, store

    _task_guard(user, task, "report", data)
    _next_state(task, "report")
    errors: dict = {}
    codes: dict = {}
    figures = r.parse_figures(data, codes)
    for k, code in codes.items():
        errors[k] = messages.text(code)
    narrative = _text(data, "narrative", errors, required=True, max_len=5000, min_len=4)
    final = str(data.get("final") or "").lower() in ("1", "true", "on", "yes")
    files = [f for f in files if f is not None and f.filename]
    if len(files) > 10:
        errors["files"] = messages.text("too_many", n=10)
    if errors:
        raise InvalidInput(errors)
    stored = []
    try:
        for f in files:
            try:
                stored.append((display_name(f.filename), store(f.stream, "actions")))
            except UploadError as e:
                raise InvalidInput({"files": f"{display_name(f.filename)}: "
                                             f"{messages.text(e.code, **e.params)}"}) from e
        report = TaskReport(task=task, agency_id=task.assignee_agency_id,
                            submitted_by_id=user.id, narrative=narrative, final=final,
                            status="pending", **figures.as_dict())
        for name, s in stored:
            report.attachments.append(ReportAttachment(
                filename=name, stored_name=s.stored_name, content_type=s.content_type,
                size=s.size, sha256=s.sha256, uploaded_by_id=user.id))
        db.session.add(report)
        old = task.state
        task.state = "reported"
        task.updated_at = utcnow()
        db.session.flush()
        _event(task.action, user, "task_report", task, report_id=report.id, final=final,
               from_state=old, figures={k: str(v) for k, v in figures.as_dict().items()},
               files=[{"name": n, "sha256": s.sha256} for n, s in stored])
        _flush()
    except BaseException:
        for _n, s in stored:
            path_of("actions", s.stored_name).unlink(missing_ok=True)
        raise
    return report


def _void_pending(task: ActionTask, user, reason: str) -> None:
    """A cancelled task's unverified report no longer waits (nor counts as pending)."""
    for rep in task.reports:
        if rep.status == "pending":
            rep.status, rep.review_note = "cancelled", reason
            rep.reviewed_by_id, rep.reviewed_at = user.id, utcnow()


def _pending_report(task: ActionTask) -> TaskReport:
    report = next((x for x in reversed(task.reports) if x.status == "pending"), None)
    if report is None:
        raise InvalidTransition(messages.text("no_pending_report"))
    return report


def review_report(user, task: ActionTask, verdict: str, data: dict) -> TaskReport:
    """The coordinator verifies the pending report (a final one closes the task) or returns
    it with a reason (the task goes back to in progress). Never one's own report."""
    if verdict not in ("verify", "return"):
        raise InvalidInput({"action": messages.text("enum")})
    _task_guard(user, task, verdict, data)
    report = _pending_report(task) if task.state == "reported" else None
    new = _next_state(task, verdict, final=bool(report and report.final))
    if report.submitted_by_id == user.id:
        raise PermissionDenied(messages.text("own_report"))
    errors: dict = {}
    note = _text(data, "reason", errors, required=verdict == "return", max_len=2000,
                 min_len=4 if verdict == "return" else 0)
    if errors:
        raise InvalidInput(errors)
    report.status = "verified" if verdict == "verify" else "returned"
    report.reviewed_by_id, report.reviewed_at, report.review_note = user.id, utcnow(), note
    old = task.state
    task.state = new.value
    if verdict == "return":
        task.reason = note
    task.updated_at = utcnow()
    _event(task.action, user, f"task_{verdict}", task, report_id=report.id, from_state=old,
           to_state=new.value, reason=note or None)
    _flush()
    return report


def get_attachment(user, attachment_id: int) -> ReportAttachment:
    att = db.session.get(ReportAttachment, attachment_id) if 0 < attachment_id < 2**31 else None
    if att is None or not access.sees_task(user, att.report.task):
        raise NotFound(messages.text("action_not_found"))
    audit.record("action.attachment_download", user=user, obj_type="joint_task_attachment",
                 obj_id=att.id, task_id=att.report.task_id, sha256=att.sha256)
    return att


# ----------------------------------------------------------------------------- figures


@dataclass
class CaseFigures:
    linked: int = 0  # cases opened during the action and linked to it
    filed: int = 0  # of which filed (立案)
    goods_value: Decimal = field(default_factory=lambda: Decimal("0"))  # 涉案物品货值
    referrals: int = 0  # referred to the police


@dataclass
class ParticipantRow:
    agency: Agency
    lead: bool
    tasks: int = 0
    states: Counter = field(default_factory=Counter)
    overdue: int = 0
    verified: r.Figures = field(default_factory=r.Figures)  # from verified reports
    pending: r.Figures = field(default_factory=r.Figures)  # reported, not yet verified
    cases: CaseFigures = field(default_factory=CaseFigures)


@dataclass
class ActionFigures:
    rows: list[ParticipantRow]
    verified: r.Figures
    pending: r.Figures
    cases: CaseFigures
    tasks: int
    overdue: int
    states: Counter


def case_figures(action_id: int) -> dict[int, CaseFigures]:
    """Linked-case figures per owning agency, as aggregate counts only (no case details)."""
    from caseflow.cases.models import Case, Goods
    from caseflow.referrals.models import Referral

    out: dict[int, CaseFigures] = {}
    for agency_id, n, filed in db.session.execute(
            select(Case.owner_agency_id, func.count(Case.id),
                   func.count(Case.filed_on))
            .where(Case.joint_action_id == action_id).group_by(Case.owner_agency_id)):
        out[agency_id] = CaseFigures(linked=n, filed=filed)
    for agency_id, value in db.session.execute(
            select(Case.owner_agency_id, func.coalesce(func.sum(Goods.value), 0))
            .join(Goods, Goods.case_id == Case.id)
            .where(Case.joint_action_id == action_id).group_by(Case.owner_agency_id)):
        out.setdefault(agency_id, CaseFigures()).goods_value = Decimal(value)
    for agency_id, n in db.session.execute(
            select(Case.owner_agency_id, func.count(func.distinct(Referral.case_id)))
            .join(Referral, Referral.case_id == Case.id)
            .where(Case.joint_action_id == action_id, Referral.state.in_(REFERRALS_MADE))
            .group_by(Case.owner_agency_id)):
        out.setdefault(agency_id, CaseFigures()).referrals = n
    return out


def _report_figures(rep: TaskReport) -> r.Figures:
    return r.Figures(rep.places_inspected, rep.cases_filed, rep.goods_seized,
                     Decimal(rep.goods_value), rep.referrals)


def action_figures(action: JointAction, today: dt.date | None = None) -> ActionFigures:
    """Figures per participant and in total: verified report figures add up; pending ones
    are shown apart; linked cases are counted from the cases themselves."""
    today = today or today_local()
    agencies = [action.lead_agency] + [a for a in action.participants if a.id != action.lead_agency_id]
    rows = {a.id: ParticipantRow(a, a.id == action.lead_agency_id) for a in agencies}
    def row_of(agency_id: int) -> ParticipantRow:
        if agency_id not in rows:  # an agency no longer taking part keeps its row
            rows[agency_id] = ParticipantRow(db.session.get(Agency, agency_id), False)
        return rows[agency_id]

    tasks = list(db.session.scalars(select(ActionTask).where(ActionTask.action_id == action.id)
                                    .options(selectinload(ActionTask.reports))))
    for t in tasks:
        row = row_of(t.assignee_agency_id)
        row.tasks += 1
        row.states[t.state] += 1
        if r.is_overdue(t.state, t.due_on, today) and action.state == "open":
            row.overdue += 1
        for rep in t.reports:  # figures stay with the agency that reported them
            if rep.status == "verified":
                rrow = row_of(rep.agency_id)
                rrow.verified = rrow.verified + _report_figures(rep)
            elif rep.status == "pending":
                rrow = row_of(rep.agency_id)
                rrow.pending = rrow.pending + _report_figures(rep)
    for agency_id, cf in case_figures(action.id).items():
        row_of(agency_id).cases = cf
    out = sorted(rows.values(), key=lambda x: -x.overdue)  # overdue first, else lead first
    cases = CaseFigures(sum(x.cases.linked for x in out), sum(x.cases.filed for x in out),
                        sum((x.cases.goods_value for x in out), Decimal("0")),
                        sum(x.cases.referrals for x in out))
    states = Counter()
    for x in out:
        states.update(x.states)
    return ActionFigures(out, r.total(x.verified for x in out), r.total(x.pending for x in out),
                         cases, sum(x.tasks for x in out), sum(x.overdue for x in out), states)


def figures_for(user, action: JointAction) -> ActionFigures:
    """What the user may see of the figures: everything for the lead agency; for a
    participant its own row and the action's totals (aggregates, no other agency's rows)."""
    figs = action_figures(action)
    if user.agency_id != action.lead_agency_id:
        figs.rows = [x for x in figs.rows if x.agency.id == user.agency_id]
    return figs


FIGURE_HEADERS = ("参与单位", "所在地区", "任务数", "已核实任务", "逾期任务", "检查场所（户次）", "立案数（上报）",
                  "查扣物品（件）", "涉案货值（元）", "移送公安（上报）", "关联案件数", "关联案件已立案",
                  "关联案件物品货值（元）", "关联案件已移送")


def figures_csv(action: JointAction) -> str:
    """The action's figures per participant and in total, Chinese headers, UTF-8 with BOM."""
    from caseflow.penalties.rules import cell

    figs = action_figures(action)
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(FIGURE_HEADERS)

    def line(name, region, tasks, verified_n, overdue, f: r.Figures, c: CaseFigures):
        w.writerow([cell(x) for x in (name, region, tasks, verified_n, overdue, f.places_inspected,
                                      f.cases_filed, f.goods_seized, f"{f.goods_value:.2f}",
                                      f.referrals, c.linked, c.filed, f"{c.goods_value:.2f}",
                                      c.referrals)])

    for x in figs.rows:
        line(x.agency.name, x.agency.region, x.tasks, x.states.get("verified", 0), x.overdue,
             x.verified, x.cases)
    line("合计", "", figs.tasks, figs.states.get("verified", 0), figs.overdue, figs.verified,
         figs.cases)
    return buf.getvalue()


def timeline(action: JointAction, limit: int = 500) -> list[ActionEvent]:
    return list(db.session.scalars(select(ActionEvent).where(ActionEvent.action_id == action.id)
                                   .order_by(ActionEvent.id).limit(limit)))


def record_export(user, action: JointAction, what: str) -> None:
    audit.record(f"action.export_{what}", user=user, obj_type="joint_action", obj_id=action.id)


def completed_count(agency_id: int, year: int) -> int:
    """Completed actions the agency led or took part in, completed in ``year`` (SPEC §5)."""
    part = select(action_participant.c.action_id).where(action_participant.c.agency_id == agency_id)
    return db.session.scalar(select(func.count(JointAction.id)).where(
        JointAction.state == "completed",
        or_(JointAction.lead_agency_id == agency_id, JointAction.id.in_(part)),
        JointAction.completed_on >= dt.date(year, 1, 1),
        JointAction.completed_on <= dt.date(year, 12, 31))) or 0


# ----------------------------------------------------------------------------- key trademarks


def can_keep_trademarks(user) -> bool:
    return user.has_role(Role.COORDINATOR) or (user.agency.kind == "ip_office"
                                               and user.has_role(Role.APPROVER, Role.CASE_OFFICER))


def _city_of(user) -> str:
    cities = r.g60_cities_of([user.agency.region])
    return next(iter(cities)) if cities else (user.agency.region or "")[:20]


def _trademark_fields(data: dict, errors: dict, prefix: str = "") -> dict:
    number = str(data.get("reg_number") or "").strip().removeprefix("第").removesuffix("号")
    if not number:
        errors[prefix + "reg_number"] = messages.text("field_required")
    elif not r.REG_NUMBER.fullmatch(number):
        errors[prefix + "reg_number"] = messages.text("trademark_number")
    mark = _text(data, "mark", errors, required=True, max_len=100)
    holder = _text(data, "holder", errors, required=True, max_len=200)
    classes = r.parse_classes(str(data.get("classes") or ""))
    if classes is None:
        errors[prefix + "classes"] = messages.text("classes_invalid")
    elif not classes:
        errors[prefix + "classes"] = messages.text("field_required")
    return {"reg_number": number, "mark": mark, "holder": holder,
            "classes": ",".join(map(str, classes or []))}


def add_trademark(user, data: dict) -> KeyTrademark:
    if not can_keep_trademarks(user):
        raise _forbidden()
    errors: dict = {}
    fields = _trademark_fields(data, errors)
    if errors:
        raise InvalidInput(errors)
    tm = db.session.scalar(select(KeyTrademark).where(KeyTrademark.reg_number == fields["reg_number"]))
    if tm is not None and tm.active:
        raise InvalidInput({"reg_number": messages.text("trademark_listed")})
    if tm is None:
        tm = KeyTrademark(listed_on=today_local(), **fields)
        db.session.add(tm)
    else:  # listed again after removal
        for k, v in fields.items():
            setattr(tm, k, v)
        tm.active, tm.removed_reason, tm.listed_on = True, "", today_local()
    tm.city, tm.listed_by_agency_id = _city_of(user), user.agency_id
    db.session.flush()
    audit.record("trademark.list", user=user, obj_type="key_trademark", obj_id=tm.id,
                 reg_number=tm.reg_number)
    return tm


def remove_trademark(user, tm_id: int, reason: str) -> KeyTrademark:
    if not can_keep_trademarks(user):
        raise _forbidden()
    tm = db.session.get(KeyTrademark, tm_id) if 0 < tm_id < 2**31 else None
    if tm is None or not tm.active:
        raise NotFound(messages.text("action_not_found"))
    errors: dict = {}
    reason = _text({"reason": reason}, "reason", errors, required=True, max_len=300, min_len=4)
    if errors:
        raise InvalidInput(errors)
    tm.active, tm.removed_reason = False, reason
    audit.record("trademark.remove", user=user, obj_type="key_trademark", obj_id=tm.id,
                 reason=reason)
    return tm


TRADEMARK_HEADERS = ("注册号", "商标", "权利人", "类别", "列入城市", "列入日期")
_HEADER_KEYS = {"注册号": "reg_number", "商标": "mark", "权利人": "holder", "类别": "classes",
                "列入城市": "city", "列入日期": "listed_on"}


@dataclass
class TrademarkImport:
    total: int = 0
    added: int = 0
    updated: int = 0
    rejected: list = field(default_factory=list)  # (line, reason)


def _uncell(value: str) -> str:
    """Undo the export's formula guard: "'=x" was exported for "=x"."""
    from caseflow.penalties.rules import cell

    if value.startswith("'") and cell(value[1:]) == value:
        return value[1:]
    return value


def import_trademarks(user, raw: bytes) -> TrademarkImport:
    """Take in another G60 city's list (the CSV this system exports). Valid rows are added or
    updated (by registration number); each refused row is reported with its line and
    reason. Nothing is written when the file itself is unreadable."""
    if not can_keep_trademarks(user):
        raise _forbidden()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("gb18030")
        except UnicodeDecodeError:
            raise InvalidInput({"file": messages.text("csv_encoding")}) from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    keys = [_HEADER_KEYS.get((h or "").strip()) for h in header or []]
    if not header or not {"reg_number", "mark", "holder", "classes"} <= set(keys):
        raise InvalidInput({"file": messages.text("csv_headers", headers="注册号, 商标, 权利人, 类别")})
    report = TrademarkImport()
    seen = set()
    for line, row in enumerate(reader, start=2):
        if not any((c or "").strip() for c in row):
            continue
        report.total += 1
        if report.total > 20000:
            raise InvalidInput({"file": messages.text("too_many", n=20000)})
        data = {k: _uncell(row[i] if i < len(row) else "") for i, k in enumerate(keys) if k}
        errors: dict = {}
        fields = _trademark_fields(data, errors)
        if not errors and fields["reg_number"] in seen:
            errors["reg_number"] = messages.text("duplicate_in_file")
        if errors:
            report.rejected.append((line, "; ".join(errors.values())))
            continue
        seen.add(fields["reg_number"])
        city = str(data.get("city") or "").strip()[:20] or _city_of(user)
        try:
            listed_on = dt.date.fromisoformat(str(data.get("listed_on") or "").strip())
        except ValueError:
            listed_on = today_local()
        tm = db.session.scalar(select(KeyTrademark).where(
            KeyTrademark.reg_number == fields["reg_number"]))
        if tm is None:
            db.session.add(KeyTrademark(listed_on=listed_on, city=city,
                                        listed_by_agency_id=user.agency_id, **fields))
            report.added += 1
        else:
            for k, v in fields.items():
                setattr(tm, k, v)
            tm.active, tm.removed_reason, tm.city, tm.listed_on = True, "", city, listed_on
            report.updated += 1
    db.session.flush()
    audit.record("trademark.import", user=user, obj_type="key_trademark", total=report.total,
                 added=report.added, updated=report.updated, rejected=len(report.rejected))
    return report


def trademarks_csv(user) -> str:
    from caseflow.penalties.rules import cell

    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(TRADEMARK_HEADERS)
    for tm in db.session.scalars(select(KeyTrademark).where(KeyTrademark.active.is_(True))
                                 .order_by(KeyTrademark.reg_number)):
        w.writerow([cell(x) for x in (tm.reg_number, tm.mark, tm.holder, tm.classes, tm.city,
                                      tm.listed_on.isoformat())])
    audit.record("trademark.export", user=user, obj_type="key_trademark")
    return buf.getvalue()


def search_trademarks(q: str = "", include_removed: bool = False, limit: int = 500):
    stmt = select(KeyTrademark)
    if not include_removed:
        stmt = stmt.where(KeyTrademark.active.is_(True))
    q = (q or "").strip()[:100]
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(KeyTrademark.reg_number == q.removeprefix("第").removesuffix("号"),
                              KeyTrademark.mark.ilike(like, escape="\\"),
                              KeyTrademark.holder.ilike(like, escape="\\")))
    return list(db.session.scalars(stmt.order_by(KeyTrademark.reg_number).limit(limit)))


def listed_trademarks(numbers_field: str) -> list[KeyTrademark]:
    """The listed trademarks a case concerns (its registration numbers on the list)."""
    numbers = r.trademark_numbers(numbers_field)
    if not numbers:
        return []
    return list(db.session.scalars(select(KeyTrademark).where(
        KeyTrademark.reg_number.in_(numbers), KeyTrademark.active.is_(True))
        .order_by(KeyTrademark.reg_number)))


def listed_numbers(numbers: set[str]) -> set[str]:
    """Which of these registration numbers are on the list (one query for a page of cases)."""
    if not numbers:
        return set()
    return set(db.session.scalars(select(KeyTrademark.reg_number).where(
        KeyTrademark.reg_number.in_(sorted(numbers)), KeyTrademark.active.is_(True))))


from caseflow.actions.labels import TASK_ACTION_LABELS, TASK_STATE_LABELS  # noqa: E402
