"""Referral operations (行刑衔接) and the criminal-threshold guard.

Each function checks who may act (the referring agency, the police agency the referral is
addressed to, or the procuratorate), the state and its deadlines, then changes the referral,
the case it concerns, the share grants the law implies, and writes events and audit rows in
the caller's transaction.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm.exc import StaleDataError

from caseflow.accounts.models import Agency, AgencyKind, Role, User
from caseflow.cases import messages
from caseflow.cases.models import Case, CaseEvent
from caseflow.cases.rules import State
from caseflow.core import audit
from caseflow.core.errors import (InvalidInput, InvalidTransition, NotFound, PermissionDenied,
                                  StaleVersion)
from caseflow.core.timeutil import today_local, utcnow
from caseflow.extensions import db
from caseflow.referrals import thresholds as th
from caseflow.referrals.models import CriminalThreshold, Referral, ReferralEvent
from caseflow.referrals.rules import (AGENCY, PACKAGE_ITEMS, POLICE, PROCURATORATE, TRANSITIONS,
                                      REvent, ReferralFacts, ReferralViolation, RState,
                                      check_guards, referral_clocks)

#: administrative case states from which a case may be referred
REFERRABLE = frozenset({State.VERIFYING, State.FILED, State.INVESTIGATING, State.LEGAL_REVIEW,
                        State.NOTIFIED, State.HEARING, State.SUSPENDED})
OPEN_REFERRAL_STATES = frozenset(RState) - {RState.REFUSED, RState.RETURNED}


# ----------------------------------------------------------------------------- thresholds


def load_rules() -> list[th.Rule]:
    return [th.Rule(r.id, r.crime, r.metric, r.level, Decimal(r.amount), r.condition or "",
                    r.effective_from, r.source, r.verified, r.note or "")
            for r in db.session.scalars(select(CriminalThreshold))]


def case_amounts(case: Case) -> dict[str, Decimal]:
    return {m: Decimal(getattr(case, m) or 0) for m in th.METRICS}


def case_conditions(case: Case) -> set[str]:
    return {c for c in ("multiple_marks", "repeat_offence") if getattr(case, c)}


def threshold_matches(case: Case, on: dt.date | None = None, rules=None) -> list[th.Match]:
    """The criminal thresholds this case's amounts meet (应移送 warning)."""
    return th.matching_rules(case.ip_type, case_amounts(case), case_conditions(case),
                             rules if rules is not None else load_rules(), on or today_local())


def referral_answered_by_police(case: Case) -> bool:
    """A referral of the case came back not filed: deciding administratively is then lawful."""
    return db.session.scalar(select(Referral.id).where(
        Referral.case_id == case.id, Referral.state == RState.RETURNED.value).limit(1)) is not None


def add_threshold_version(user, *, crime, metric, level, amount, condition, effective_from,
                          source, verified, note="") -> CriminalThreshold:
    """A new version of a threshold row (the old one stays for cases decided under it)."""
    if not user.has_role(Role.SYS_ADMIN):
        raise PermissionDenied(messages.text("forbidden"))
    errors = {}
    if crime not in th.CRIMES:
        errors["crime"] = messages.text("enum")
    if metric not in th.METRICS:
        errors["metric"] = messages.text("enum")
    if level not in th.LEVELS:
        errors["level"] = messages.text("enum")
    if condition not in th.CONDITIONS:
        errors["condition"] = messages.text("enum")
    if amount is None or amount < 0 or amount > Decimal("1e12"):
        errors["amount"] = messages.text("greater_than_equal", ge=0)
    if effective_from is None:
        errors["effective_from"] = messages.text("date_parsing")
    if not (source or "").strip():
        errors["source"] = messages.text("field_required")
    if errors:
        raise InvalidInput(errors)
    row = CriminalThreshold(crime=crime, metric=metric, level=level, amount=amount,
                            condition=condition, effective_from=effective_from,
                            source=source.strip()[:200], verified=bool(verified),
                            note=(note or "").strip()[:300], created_by_id=user.id)
    db.session.add(row)
    db.session.flush()
    audit.record("threshold.add", user=user, obj_type="criminal_threshold", obj_id=row.id,
                 crime=crime, metric=metric, level=level, amount=str(amount),
                 effective_from=effective_from.isoformat())
    return row


# ----------------------------------------------------------------------------- referrals


def _party_of(user, referral: Referral) -> set[str]:
    parties = set()
    if user.agency_id == referral.agency_id:
        parties.add(AGENCY)
    if referral.police_agency_id and user.agency_id == referral.police_agency_id \
            and referral.state not in (RState.PROPOSED, RState.PENDING_APPROVAL, RState.APPROVED):
        parties.add(POLICE)
    if referral.procuratorate_id and user.agency_id == referral.procuratorate_id \
            and referral.state not in (RState.PROPOSED, RState.PENDING_APPROVAL, RState.APPROVED):
        parties.add(PROCURATORATE)
    return parties


def visible_referrals(user):
    """Referrals the user's agency made, received (once sent) or oversees."""
    sent_states = [s.value for s in RState
                   if s not in (RState.PROPOSED, RState.PENDING_APPROVAL, RState.APPROVED)]
    if not user.works_cases:
        return select(Referral).where(Referral.id < 0)
    return select(Referral).where(or_(
        Referral.agency_id == user.agency_id,
        (Referral.police_agency_id == user.agency_id) & Referral.state.in_(sent_states),
        (Referral.procuratorate_id == user.agency_id) & Referral.state.in_(sent_states),
    ))


def get_referral(user, referral_id: int) -> Referral:
    if not 0 < referral_id < 2**31:
        raise NotFound(messages.text("referral_not_found"))
    r = db.session.scalar(visible_referrals(user).where(Referral.id == referral_id))
    if r is None:
        raise NotFound(messages.text("referral_not_found"))
    return r


def facts_of(referral: Referral) -> ReferralFacts:
    return ReferralFacts(
        state=RState(referral.state), team_size=len(referral.team), report=referral.report,
        package=referral.package or {},
        events=[REvent(e.action, e.at, e.data or {}) for e in referral.events])


def clocks_of(referral: Referral):
    return referral_clocks(facts_of(referral))


def allowed(user, referral: Referral, now: dt.datetime | None = None) -> list[str]:
    now = now or utcnow()
    parties = _party_of(user, referral)
    facts = facts_of(referral)
    out = []
    for action, t in TRANSITIONS.items():
        if t.party not in parties or not (user.roles & t.roles):
            continue
        try:
            check_guards(action, facts, now)
        except ReferralViolation:
            continue
        out.append(action)
    return out


def _event(referral, user, action, *, from_state=None, to_state=None, reason=None, data=None):
    ev = ReferralEvent(referral=referral, user_id=user.id, agency_id=user.agency_id,
                       action=action, from_state=from_state, to_state=to_state,
                       reason=reason or None, data=data or {})
    db.session.add(ev)
    audit.record(f"referral.{action}", user=user, obj_type="referral", obj_id=referral.id,
                 case_id=referral.case_id, from_state=from_state, to_state=to_state)
    return ev


def _case_event(case: Case, user, action, from_state, to_state, reason=None, data=None,
                now: dt.datetime | None = None):
    from caseflow.core.timeutil import local_date

    from caseflow.cases.operations import record_stage_exit

    on = local_date(now) if now else today_local()
    record_stage_exit(case, from_state, to_state, on)
    db.session.add(CaseEvent(case=case, user_id=user.id, action=action, from_state=from_state,
                             to_state=to_state, reason=reason, effective_on=on,
                             data=data or {}))
    audit.record(f"case.{action}", user=user, obj_type="case", obj_id=case.id,
                 from_state=from_state, to_state=to_state)


def _validate_team(case: Case, team_ids: list[int]) -> list[User]:
    users = list(db.session.scalars(select(User).where(User.id.in_(team_ids or [-1]))))
    by_id = {u.id: u for u in users}
    for i, uid in enumerate(team_ids):
        u = by_id.get(uid)
        if u is None or u.agency_id != case.owner_agency_id or not u.active \
                or not u.has_role(Role.CASE_OFFICER, Role.INSPECTOR):
            raise InvalidInput({f"team.{i}": messages.text("officer_invalid")})
    return [by_id[i] for i in dict.fromkeys(team_ids)]


def _agency_of_kind(agency_id, kind: AgencyKind, field: str) -> Agency:
    agency = db.session.get(Agency, agency_id) if agency_id else None
    if agency is None or agency.kind != kind:
        raise InvalidInput({field: messages.text("referral_agency_kind")})
    return agency


def propose_referral(user, case: Case, *, team_ids: list[int], report: str,
                     suspected_crime: str = "", police_agency_id: int | None = None,
                     procuratorate_id: int | None = None, package: dict | None = None) -> Referral:
    """拟移送: a case officer forms the referral (team, report, package checklist)."""
    if case.owner_agency_id != user.agency_id or not user.has_role(Role.CASE_OFFICER):
        raise PermissionDenied(messages.text("forbidden"))
    if State(case.state) not in REFERRABLE:
        raise InvalidTransition(messages.text("referral_case_state"))
    if case.pending_action:
        raise InvalidTransition(messages.text("pending_approval",
                                              action=messages.action_label(case.pending_action)))
    if db.session.scalar(select(Referral.id).where(
            Referral.case_id == case.id,
            Referral.state.in_([s.value for s in OPEN_REFERRAL_STATES]))) is not None:
        raise InvalidTransition(messages.text("referral_already_open"))
    referral = Referral(case=case, agency_id=case.owner_agency_id, created_by_id=user.id,
                        state=RState.PROPOSED.value, package={})
    db.session.add(referral)
    _apply_draft(referral, case, team_ids, report, suspected_crime, police_agency_id,
                 procuratorate_id, package)
    db.session.flush()
    _event(referral, user, "propose", to_state=RState.PROPOSED.value)
    db.session.flush()
    return referral


def _apply_draft(referral, case, team_ids, report, suspected_crime, police_agency_id,
                 procuratorate_id, package):
    errors = {}
    if suspected_crime and suspected_crime not in th.CRIMES:
        errors["suspected_crime"] = messages.text("enum")
    if len(report or "") > 20000:
        errors["report"] = messages.text("string_too_long", max_length=20000)
    if errors:
        raise InvalidInput(errors)
    referral.team = _validate_team(case, team_ids or [])
    referral.report = (report or "").strip()
    referral.suspected_crime = suspected_crime or ""
    if police_agency_id:
        referral.police_agency_id = _agency_of_kind(police_agency_id, AgencyKind.POLICE_ECON,
                                                    "police_agency_id").id
    if procuratorate_id:
        referral.procuratorate_id = _agency_of_kind(procuratorate_id, AgencyKind.PROCURATORATE,
                                                    "procuratorate_id").id
    clean = {}
    for item in PACKAGE_ITEMS:
        entry = (package or {}).get(item) or {}
        clean[item] = {"done": bool(entry.get("done")),
                       "na_reason": (entry.get("na_reason") or "").strip()[:500],
                       "note": (entry.get("note") or "").strip()[:500]}
    referral.package = clean


def update_referral(user, referral: Referral, *, version: int | None, **draft) -> Referral:
    if AGENCY not in _party_of(user, referral) or not user.has_role(Role.CASE_OFFICER):
        raise PermissionDenied(messages.text("forbidden"))
    if referral.state != RState.PROPOSED:
        raise InvalidTransition(messages.text("referral_not_editable"))
    if version is not None and version != referral.version:
        raise StaleVersion(messages.text("stale_version"))
    _apply_draft(referral, referral.case, **draft)
    referral.updated_at = utcnow()
    _event(referral, user, "edit")
    _flush()
    return referral


def _flush():
    try:
        db.session.flush()
    except StaleDataError as exc:
        # the failed flush leaves the session unusable until rolled back, and the message
        # (the user's language) may need it
        db.session.rollback()
        raise StaleVersion(messages.text("stale_version")) from exc


def act(user, referral: Referral, action: str, *, reason: str = "", version: int | None = None,
        police_agency_id: int | None = None, police_case_number: str = "",
        now: dt.datetime | None = None) -> Referral:
    """Run one step of the referral."""
    from caseflow.cases.operations import refresh_due
    from caseflow.sharing.operations import DEFAULT_REFERRAL_PARTS, grant_share

    now = now or utcnow()
    t = TRANSITIONS.get(action)
    if t is None:
        raise InvalidInput({"action": messages.text("enum")})
    parties = _party_of(user, referral)
    if t.party not in parties or not (user.roles & t.roles):
        raise PermissionDenied(messages.text("referral_not_yours"))
    if version is not None and version != referral.version:
        raise StaleVersion(messages.text("stale_version"))
    try:
        check_guards(action, facts_of(referral), now)
    except ReferralViolation as v:
        params = dict(v.params)
        if "items" in params:
            params["items"] = "、".join(str(messages.PACKAGE_LABELS[i]) for i in params["items"])
        if "due" in params:
            from caseflow.core.timeutil import to_local

            params["due"] = to_local(params["due"]).strftime("%Y-%m-%d %H:%M")
        if "action" in params:
            params["action"] = str(messages.REFERRAL_ACTION_LABELS.get(params["action"]))
        if "state" in params:
            params["state"] = str(messages.REFERRAL_STATE_LABELS.get(params["state"]))
        raise InvalidTransition(messages.text(v.code, **params)) from v
    reason = (reason or "").strip()
    if t.reason_required and len(reason) < 2:
        raise InvalidInput({"reason": messages.text("reason_required")})

    case = referral.case
    from_state = referral.state
    data: dict = {}
    if action == "send":
        errors = {}
        if not referral.police_agency_id:
            errors["police_agency_id"] = messages.text("referral_agency_kind")
        if not referral.procuratorate_id:
            errors["procuratorate_id"] = messages.text("referral_agency_kind")
        if errors:
            raise InvalidInput(errors)
        if State(case.state) not in REFERRABLE:
            raise InvalidTransition(messages.text("referral_case_state"))
        # the case waits for the police: its administrative clock pauses
        referral.case_state_before = case.state
        _case_event(case, user, "refer", case.state, State.REFERRED.value,
                    data={"referral_id": referral.id}, now=now)
        case.state = State.REFERRED.value
        case.updated_at = now
        for agency_id, purpose in ((referral.police_agency_id, "移送涉嫌犯罪案件"),
                                   (referral.procuratorate_id, "移送抄送（检察监督）")):
            grant_share(user, case, agency_id, purpose, DEFAULT_REFERRAL_PARTS, None,
                        referral_id=referral.id, system=True)
        from caseflow.evidence.operations import hand_over

        hand_over(user, case, referral.police_agency_id, referral_id=referral.id)
        hand_over(user, case, referral.procuratorate_id, referral_id=referral.id, copy=True)
        data = {"police_agency_id": referral.police_agency_id,
                "procuratorate_id": referral.procuratorate_id}
    elif action == "forward":
        new = _agency_of_kind(police_agency_id, AgencyKind.POLICE_ECON, "police_agency_id")
        if new.id == referral.police_agency_id:
            raise InvalidInput({"police_agency_id": messages.text("referral_forward_same")})
        from caseflow.sharing.models import ShareGrant
        from caseflow.sharing.operations import revoke_share

        for g in db.session.scalars(select(ShareGrant).where(
                ShareGrant.referral_id == referral.id,
                ShareGrant.agency_id == referral.police_agency_id)):
            revoke_share(user, g.id, system=True)
        data = {"from_agency_id": referral.police_agency_id, "to_agency_id": new.id}
        referral.police_agency_id = new.id
        grant_share(user, case, new.id, "移送涉嫌犯罪案件（指定管辖转送）", DEFAULT_REFERRAL_PARTS,
                    None, referral_id=referral.id, system=True)
        from caseflow.evidence.operations import hand_over

        hand_over(user, case, new.id, referral_id=referral.id, forwarded=True)
    elif action == "police_file":
        referral.police_case_number = (police_case_number or "").strip()[:64]
        data = {"police_case_number": referral.police_case_number}
    elif t.target == RState.RETURNED:
        # not filed: the administrative case continues and its clock resumes (§10)
        back = referral.case_state_before or State.INVESTIGATING.value
        _case_event(case, user, "referral_returned", case.state, back, reason=reason,
                    data={"referral_id": referral.id}, now=now)
        case.state = back
        case.updated_at = now

    if t.target is not None:
        referral.state = t.target.value
    referral.updated_at = now
    _event(referral, user, action, from_state=from_state,
           to_state=referral.state if referral.state != from_state else None, reason=reason,
           data=data)
    _flush()
    if action in ("send",) or t.target == RState.RETURNED:
        db.session.refresh(case)
        refresh_due(case)
        _flush()
    return referral


def reverse_transfer(user, target_agency_id: int, data) -> Case:
    """反向移送 (§13): the police pass a case with no crime but an administrative violation to
    an administrative agency, which receives it as a clue; the police keep read access."""
    from caseflow.cases.models import Party
    from caseflow.cases.operations import _apply_fields, _event as case_event, refresh_due
    from caseflow.sharing.operations import DEFAULT_REFERRAL_PARTS, grant_share

    if user.agency.kind != AgencyKind.POLICE_ECON or not user.has_role(Role.CASE_OFFICER,
                                                                        Role.APPROVER):
        raise PermissionDenied(messages.text("forbidden"))
    target = db.session.get(Agency, target_agency_id) if target_agency_id else None
    if target is None or target.kind in (AgencyKind.POLICE_ECON, AgencyKind.PROCURATORATE):
        raise InvalidInput({"agency_id": messages.text("referral_agency_kind")})
    case = Case(owner_agency_id=target.id, created_by_id=user.id, state=State.CLUE.value)
    case.parties = []
    case.goods = []
    _apply_fields(case, data)
    case.channel = "police_reverse"
    db.session.add(case)
    db.session.flush()
    case_event(case, user, "create", to_state=State.CLUE.value, effective_on=data.received_at,
               data={"channel": case.channel, "from_agency_id": user.agency_id})
    grant_share(user, case, user.agency_id, "反向移送：公安机关跟踪行政处理结果",
                DEFAULT_REFERRAL_PARTS, None, system=True)
    refresh_due(case)
    db.session.flush()
    return case


# ----------------------------------------------------------------------------- documents


def add_document(user, referral: Referral, item: str, file_storage) -> "ReferralDocument":
    """Attach a file to a package item while the referral is being prepared; its SHA-256
    goes into the dossier and the manifest."""
    from caseflow.core.uploads import UploadError, display_name, store
    from caseflow.referrals.models import ReferralDocument

    if AGENCY not in _party_of(user, referral) or not user.has_role(Role.CASE_OFFICER):
        raise PermissionDenied(messages.text("forbidden"))
    if referral.state != RState.PROPOSED:
        raise InvalidTransition(messages.text("referral_not_editable"))
    if item not in PACKAGE_ITEMS:
        raise InvalidInput({"item": messages.text("enum")})
    if file_storage is None or not file_storage.filename:
        raise InvalidInput({"file": messages.text("field_required")})
    try:
        stored = store(file_storage.stream, "referrals")
    except UploadError as e:
        raise InvalidInput({"file": messages.text(e.code, **e.params)}) from e
    doc = ReferralDocument(referral=referral, item=item, filename=display_name(file_storage.filename),
                           stored_name=stored.stored_name, content_type=stored.content_type,
                           size=stored.size, sha256=stored.sha256, uploaded_by_id=user.id)
    db.session.add(doc)
    package = dict(referral.package or {})
    entry = dict(package.get(item) or {})
    entry["done"] = True
    package[item] = entry
    referral.package = package
    referral.updated_at = utcnow()
    _event(referral, user, "attach", data={"item": item, "filename": doc.filename,
                                           "sha256": stored.sha256, "size": stored.size})
    _flush()
    return doc


def record_export(user, referral: Referral, what: str, document_id: int | None = None) -> None:
    """Every download or export is audited; by another agency it counts as a shared read."""
    audit.record(f"referral.{what}", user=user, obj_type="referral", obj_id=referral.id,
                 case_id=referral.case_id, document_id=document_id)
    if user.agency_id != referral.case.owner_agency_id:
        from caseflow.sharing.operations import record_read

        record_read(user, referral.case, "export")
