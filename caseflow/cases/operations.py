"""Case operations: the only code that changes cases.

Each public function checks permission, validates, changes the case and writes its timeline
event and audit record in the caller's transaction; the request (or CLI command) commits
once. Nothing here reads Flask's request or renders HTML.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from caseflow.accounts.models import Agency, Role, User
from caseflow.cases import messages
from caseflow.cases.models import Case, CaseEvent, Party, StageExit
from caseflow.cases.permissions import (can_assign_officers, can_create_clue, can_edit,
                                        may_perform, visible_cases)
from caseflow.cases.rules import (TRANSITIONS, CaseFacts, Channel, EventFact, Params, PartyKind,
                                  RuleViolation, State, check_state_guards, compute_clocks,
                                  decision_extension_days, late_surcharge, resume_target)
from caseflow.cases.schemas import CaseFieldsIn, ClueIn, OfficersIn, TransitionIn, CaseUpdateIn
from caseflow.core import audit
from caseflow.core.errors import InvalidInput, InvalidTransition, NotFound, PermissionDenied, StaleVersion
from caseflow.core.models import CaseNumberCounter, load_calendar
from caseflow.core.timeutil import today_local, utcnow
from caseflow.extensions import db

AMOUNT_FIELDS = ("illegal_business_volume", "illegal_gains", "sales_amount", "unsold_goods_value",
                 "copies", "rights_holder_loss")


def legal_params() -> Params:
    cfg = current_app.config
    return Params(
        hearing_fine_person=Decimal(str(cfg["HEARING_FINE_PERSON"])),
        hearing_fine_organisation=Decimal(str(cfg["HEARING_FINE_ORGANISATION"])),
    )


# ----------------------------------------------------------------------------- reading


def get_case(user, case_id: int) -> Case:
    """The case if the user may see it; NotFound otherwise (never reveal that it exists)."""
    if not 0 < case_id < 2**31:  # larger than any id the database can hold
        raise NotFound(messages.text("case_not_found"))
    case = db.session.scalar(visible_cases(user).where(Case.id == case_id))
    if case is None:
        raise NotFound(messages.text("case_not_found"))
    return case


def case_facts(case: Case) -> CaseFacts:
    return CaseFacts(
        state=State(case.state),
        channel=Channel(case.channel),
        received_on=case.received_on,
        officer_count=len(case.officers),
        is_major=case.is_major,
        has_named_reporter=bool(case.reporter_name)
        and case.channel in (Channel.COMPLAINT, Channel.REPORT),
        party_kinds=tuple(PartyKind(p.kind) for p in case.parties),
        events=[EventFact(e.action, e.effective_on, e.data or {}) for e in case.events
                if e.action in TRANSITIONS or e.action in ("refer", "referral_returned")],
    )


def case_clocks(case: Case, today: dt.date | None = None, calendar=None):
    return compute_clocks(case_facts(case), today or today_local(), calendar or load_calendar(),
                          legal_params())


def allowed_actions(user, case: Case, today: dt.date | None = None, calendar=None) -> list[str]:
    """Actions the user can take now: role, state, no pending approval, and state guards."""
    if case.pending_action:
        return [a for a in ("approve", "deny") if may_perform(user, case, a)]
    today = today or today_local()
    calendar = calendar or load_calendar()
    facts = case_facts(case)
    params = legal_params()
    out = []
    for action, t in TRANSITIONS.items():
        if State(case.state) not in t.sources or not may_perform(user, case, action):
            continue
        try:
            check_state_guards(action, facts, today, calendar, params)
        except RuleViolation:
            continue
        out.append(action)
    return out


# ----------------------------------------------------------------------------- writing


def stage_entered_on(case: Case, from_state: str | None, to_state: str | None) -> dt.date | None:
    """For an event about to change the case's state: the day the state it leaves began (the
    effective day of the latest event that changed the state), else None."""
    if not from_state or not to_state or from_state == to_state:
        return None
    last = next((e for e in reversed(case.events) if e.to_state), None)
    return last.effective_on if last is not None else case.received_on


def record_stage_exit(case: Case, from_state: str | None, to_state: str | None,
                      on: dt.date) -> None:
    """Before an event that changes the case's state is added: note the stage it leaves and
    the days spent in it (dashboards)."""
    entered = stage_entered_on(case, from_state, to_state)
    if entered is not None:
        # the day the case last left this stage, if it did (the events' days never decrease)
        prev = next((e.effective_on for e in reversed(case.events)
                     if e.from_state == from_state and e.to_state and e.to_state != e.from_state),
                    None)
        db.session.add(StageExit(case=case, agency_id=case.owner_agency_id, stage=from_state,
                                 entered_on=entered, left_on=on, days=max((on - entered).days, 0),
                                 prev_left_on=prev))


def _event(case: Case, user, action: str, *, from_state=None, to_state=None, reason=None,
           effective_on: dt.date | None = None, data: dict | None = None) -> CaseEvent:
    on = effective_on or today_local()
    record_stage_exit(case, from_state, to_state, on)
    ev = CaseEvent(case=case, user_id=user.id, action=action, from_state=from_state,
                   to_state=to_state, reason=reason or None, effective_on=on, data=data or {})
    db.session.add(ev)
    audit.record(f"case.{action}", user=user, obj_type="case", obj_id=case.id,
                 from_state=from_state, to_state=to_state)
    return ev


def _check_version(case: Case, expected: int | None) -> None:
    if expected is not None and expected != case.version:
        raise StaleVersion(messages.text("stale_version"))


def refresh_due(case: Case, calendar=None) -> None:
    """Store the earliest running due date so lists can filter overdue cases in SQL."""
    clocks = case_clocks(case, calendar=calendar)
    running = [c.due for c in clocks if c.stopped_on is None and not c.paused and not c.party_clock
               and c.days_left is not None]
    case.next_due_on = min(running) if running else None


def _flush(case: Case | None = None) -> None:
    try:
        if case is not None:
            refresh_due(case)
        db.session.flush()
    except StaleDataError as exc:  # someone committed in between (version_id_col)
        # the failed flush leaves the session unusable until rolled back, and the message
        # (the user's language) may need it
        db.session.rollback()
        raise StaleVersion(messages.text("stale_version")) from exc


def _jsonable(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _apply_fields(case: Case, data: CaseFieldsIn) -> dict:
    """Copy validated fields onto the case; return {field: [old, new]} of what changed."""
    changes: dict = {}

    def put(attr, value):
        old = getattr(case, attr)
        if old != value:
            changes[attr] = [_jsonable(old), _jsonable(value)]
            setattr(case, attr, value)

    put("title", data.title)
    put("channel", data.channel.value)
    put("ip_type", data.ip_type.value)
    put("received_on", data.received_at)
    put("description", data.description)
    put("location", data.location)
    put("infringement_kind", data.infringement_kind)
    put("trademark_numbers", ",".join(data.trademark_numbers))
    put("reporter_name", data.reporter_name)
    put("reporter_contact", data.reporter_contact)
    put("is_major", data.is_major)
    from caseflow.actions.operations import check_case_link

    code = check_case_link(case.owner_agency_id, data.joint_action_id, case.joint_action_id)
    if code:
        raise InvalidInput({"joint_action_id": messages.text(code)})
    put("joint_action_id", data.joint_action_id)
    put("multiple_marks", data.multiple_marks)
    put("repeat_offence", data.repeat_offence)
    for f in AMOUNT_FIELDS:
        put(f, getattr(data.amounts, f))

    from caseflow.cases.models import Goods

    old_goods = [(g.name, Decimal(g.quantity), g.unit, Decimal(g.value)) for g in case.goods]
    new_goods = [(g.name, g.quantity, g.unit, g.value) for g in data.goods]
    if old_goods != new_goods:
        fmt = lambda rows: [f"{n} {q.normalize():f}{u}" for n, q, u, _v in rows]  # noqa: E731
        changes["goods"] = [fmt(old_goods), fmt(new_goods)]
        case.goods = [Goods(name=n, quantity=q, unit=u, value=v) for n, q, u, v in new_goods]

    old_parties = [(p.kind, p.name, p.credit_code, p.id_number, p.address) for p in case.parties]
    new_parties = [(p.kind.value, p.name, p.credit_code, p.id_number, p.address) for p in data.parties]
    if old_parties != new_parties:
        changes["parties"] = [[p[1] for p in old_parties], [p[1] for p in new_parties]]
        case.parties = [Party(kind=k, name=n, credit_code=c, id_number=i, address=a)
                        for k, n, c, i, a in new_parties]
    return changes


def create_clue(user: User, data: ClueIn) -> Case:
    """线索登记: log a clue from any intake channel."""
    if not can_create_clue(user):
        raise PermissionDenied(messages.text("forbidden"))
    case = Case(owner_agency_id=user.agency_id, created_by_id=user.id, state=State.CLUE.value)
    case.parties = []
    case.goods = []
    for f in AMOUNT_FIELDS:
        setattr(case, f, 0)
    _apply_fields(case, data)
    if user.has_role(Role.CASE_OFFICER, Role.INSPECTOR):
        case.officers = [user]
        case.lead_officer_id = user.id if user.has_role(Role.CASE_OFFICER) else None
    db.session.add(case)
    db.session.flush()
    _event(case, user, "create", to_state=State.CLUE.value, effective_on=data.received_at,
           data={"channel": case.channel})
    _flush(case)
    return case


def create_transferred_clue(user: User, agency_id: int, data: ClueIn, source: str) -> Case:
    """A clue handed to another agency (e.g. by the IP office from a mediation): owned by
    that agency from the start, with no officers until it assigns its own."""
    case = Case(owner_agency_id=agency_id, created_by_id=user.id, state=State.CLUE.value)
    case.parties = []
    case.goods = []
    for f in AMOUNT_FIELDS:
        setattr(case, f, 0)
    _apply_fields(case, data)
    db.session.add(case)
    db.session.flush()
    _event(case, user, "create", to_state=State.CLUE.value, effective_on=data.received_at,
           data={"channel": case.channel, "source": source, "from_agency_id": user.agency_id})
    _flush(case)
    return case


def update_case(user: User, case: Case, data: CaseUpdateIn) -> Case:
    """Edit a case's details; refused with StaleVersion if someone saved it meanwhile."""
    if not can_edit(user, case):
        raise PermissionDenied(messages.text("forbidden"))
    _check_version(case, data.version)
    later = [e.effective_on for e in case.events
             if e.action not in ("create", "edit", "assign_officers")]
    if later and data.received_at > min(later):
        raise InvalidInput({"received_at": messages.text("received_after_events")})
    changes = _apply_fields(case, data)
    if changes:
        _event(case, user, "edit", data={"changes": changes})
        case.updated_at = utcnow()  # touch the row so its version moves
    _flush(case)
    return case


def assign_officers(user: User, case: Case, data: OfficersIn) -> Case:
    """指定办案人员: at least two officers for an investigation (行政处罚法 §42)."""
    if not can_assign_officers(user, case):
        raise PermissionDenied(messages.text("forbidden"))
    _check_version(case, data.version)
    ids_ = list(dict.fromkeys(data.officer_ids))
    officers = db.session.scalars(select(User).where(User.id.in_(ids_))).all()
    by_id = {u.id: u for u in officers}
    for i, uid in enumerate(ids_):
        u = by_id.get(uid)
        if u is None or u.agency_id != case.owner_agency_id or not u.active \
                or not u.has_role(Role.CASE_OFFICER, Role.INSPECTOR):
            raise InvalidInput({f"officer_ids.{i}": messages.text("officer_invalid")})
    lead = data.lead_officer_id if data.lead_officer_id is not None else ids_[0]
    if lead not in ids_:
        raise InvalidInput({"lead_officer_id": messages.text("lead_not_officer")})
    old = [u.display_name for u in case.officers]
    case.officers = [by_id[i] for i in ids_]
    case.lead_officer_id = lead
    _event(case, user, "assign_officers",
           data={"changes": {"officers": [old, [by_id[i].display_name for i in ids_]]}})
    case.updated_at = utcnow()
    _flush(case)
    return case


def perform(user: User, case: Case, data: TransitionIn, today: dt.date | None = None) -> Case:
    """Run one workflow action (or approve / deny a pending one) on a case."""
    today = today or today_local()
    action = data.action
    if not may_perform(user, case, action):
        if action in ("approve", "deny") and case.pending_action is None:
            raise InvalidTransition(messages.text("nothing_pending"))
        raise PermissionDenied(messages.text("forbidden_action", action=messages.action_label(action)))
    _check_version(case, data.version)
    calendar = load_calendar()
    params = legal_params()

    if action in ("approve", "deny"):
        pending = case.pending_action
        payload = TransitionIn.model_validate(case.pending_payload or {"action": pending})
        requested_by = case.pending_by_id
        if action == "deny":
            if not data.reason:
                raise InvalidInput({"reason": messages.text("reason_required")})
            _event(case, user, "deny", reason=data.reason, effective_on=today,
                   data={"requested_action": pending})
        else:
            facts = case_facts(case)
            _guard(pending, facts, today, calendar, params)
            _apply(user, case, pending, payload, facts, today, calendar, params,
                   approval={"requested_by": requested_by, "approved_by": user.id,
                             "approval_note": data.reason})
        case.pending_action = None
        case.pending_payload = None
        case.pending_by_id = None
        case.updated_at = utcnow()
        _flush(case)
        return case

    if case.pending_action:
        raise InvalidTransition(messages.text("pending_approval",
                                              action=messages.action_label(case.pending_action)))
    t = TRANSITIONS[action]
    facts = case_facts(case)
    _guard(action, facts, today, calendar, params)
    _validate_input(action, data, case, facts, today, calendar, params)
    if t.needs_approval:
        case.pending_action = action
        case.pending_payload = data.model_dump(mode="json", exclude={"version"})
        case.pending_by_id = user.id
        _event(case, user, "request_approval", reason=data.reason,
               effective_on=data.effective_on or today,
               data={"requested_action": action, **_input_summary(data)})
    else:
        _apply(user, case, action, data, facts, today, calendar, params)
    case.updated_at = utcnow()
    _flush(case)
    return case


def _guard(action, facts, today, calendar, params) -> None:
    try:
        check_state_guards(action, facts, today, calendar, params)
    except RuleViolation as v:
        raise InvalidTransition(messages.rule_text(v)) from v


def _input_summary(data: TransitionIn) -> dict:
    return {k: v for k, v in data.model_dump(mode="json", exclude={"action", "version", "reason"}).items()
            if v not in (None, "", [])}


def _validate_input(action: str, data: TransitionIn, case: Case, facts: CaseFacts,
                    today: dt.date, calendar, params: Params) -> None:
    errors: dict[str, str] = {}
    t = TRANSITIONS[action]
    if t.reason_required and len(data.reason.strip()) < 2:
        errors["reason"] = messages.text("reason_required")
    if data.effective_on is not None:
        last = max((e.on for e in facts.events), default=case.received_on)
        if data.effective_on > today:
            errors["effective_on"] = messages.text("date_in_future")
        elif data.effective_on < last:
            errors["effective_on"] = messages.text("date_before_last_step", date=last.isoformat())
    if action == "pause_clock" and data.pause_kind is None:
        errors["pause_kind"] = messages.text("field_required")
    if action == "request_hearing":
        asked = data.effective_on or today
        earliest = calendar.add_working_days(asked, 7)
        if data.hearing_date is None:
            errors["hearing_date"] = messages.text("field_required")
        elif data.hearing_date < earliest:
            # 行政处罚法 §64: parties are notified at least 7 days before the hearing
            errors["hearing_date"] = messages.text("hearing_too_soon", date=earliest.isoformat())
    if action == "decide_penalty":
        kinds = set(data.penalty_kinds)
        if not kinds:
            errors["penalty_kinds"] = messages.text("penalty_kinds_required")
        fine = data.fine_amount or Decimal(0)
        if "罚款" in kinds and fine <= 0:
            errors["fine_amount"] = messages.text("fine_required")
        if fine > 0 and "罚款" not in kinds:
            errors["penalty_kinds"] = messages.text("fine_kind_missing")
        if len(data.decision_summary) < 2:
            errors["decision_summary"] = messages.text("field_required")
    if action in ("decide_penalty", "decide_no_penalty"):
        # 不得以行政处罚代替移送: a case over a criminal threshold needs a written reason
        from caseflow.referrals.operations import referral_answered_by_police, threshold_matches

        matches = threshold_matches(case, today)
        if matches and not referral_answered_by_police(case) \
                and len((data.no_referral_reason or "").strip()) < 10:
            rules = "、".join(f"{m.rule.crime} {m.crime_name}" for m in matches[:3])
            errors["no_referral_reason"] = messages.text("no_referral_reason_required",
                                                         rules=rules)
    if action == "extend_decision":
        try:
            decision_extension_days(facts, data.days, params)
        except RuleViolation as v:
            errors[v.field or "days"] = messages.rule_text(v)
    if action == "record_payment":
        if data.paid_amount is None or data.paid_amount <= 0:
            errors["paid_amount"] = messages.text("field_required")
        elif data.paid_amount < facts.fine_amount:
            errors["paid_amount"] = messages.text("paid_less_than_fine",
                                                  fine=str(facts.fine_amount))
    if errors:
        raise InvalidInput(errors)


def _apply(user, case: Case, action: str, data: TransitionIn, facts: CaseFacts, today: dt.date,
           calendar, params: Params, approval: dict | None = None) -> None:
    t = TRANSITIONS[action]
    on = data.effective_on or today
    from_state = case.state
    target = t.target
    extra: dict = dict(approval or {})
    extra.update(_input_summary(data))
    extra.pop("effective_on", None)

    if action == "reject":
        case.state_reason = data.reason
    elif action == "file":
        case.number = next_case_number(case.owner_agency, on.year)
        case.filed_on = on
        extra["number"] = case.number
    elif action == "suspend":
        case.suspended_from = case.state
        extra["from_state"] = case.state
    elif action == "resume":
        target = resume_target(facts)
        case.suspended_from = None
    elif action == "extend_decision":
        extra["days"] = decision_extension_days(facts, data.days, params)
    elif action == "decide_penalty":
        case.fine_amount = data.fine_amount or Decimal(0)
        extra["fine_amount"] = str(case.fine_amount)
        case.no_referral_reason = data.no_referral_reason or None
    elif action == "decide_no_penalty":
        case.state_reason = data.reason
        case.no_referral_reason = data.no_referral_reason or None
    elif action == "record_payment":
        served = facts.last("serve")
        due = calendar.add_calendar_days(served.on, 15) if served else on
        extra["surcharge"] = str(late_surcharge(facts.fine_amount, due, on, params))
    elif action == "terminate":
        case.state_reason = data.reason
        case.suspended_from = None

    if target is not None:
        case.state = target.value
    _event(case, user, action, from_state=from_state,
           to_state=case.state if case.state != from_state else None,
           reason=data.reason, effective_on=on, data=extra)


def next_case_number(agency: Agency, year: int) -> str:
    """The agency's next case number for the year, e.g. 沪市监松处〔2026〕0001号.

    An atomic upsert on the counter row: on PostgreSQL a second transaction filing at the
    same moment waits for the first's row lock and gets the next value, never the same one.
    """
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(CaseNumberCounter).values(agency_id=agency.id, year=year, last_value=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=["agency_id", "year"],
        set_={"last_value": CaseNumberCounter.last_value + 1},
    ).returning(CaseNumberCounter.last_value)
    seq = db.session.execute(stmt).scalar_one()
    return f"{agency.case_prefix}〔{year}〕{seq:04d}号"
