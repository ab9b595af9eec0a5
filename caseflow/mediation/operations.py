"""Rights-protection assistance and mediation: public requests with a receipt code, staff
registration, acceptance within the deadline, mediators without conflicts, sessions, outcomes,
the agreement, assistance services, and the hand-over of an infringement to the competent
agency as a clue. Each change writes its audit row in the caller's transaction."""
from __future__ import annotations

import datetime as dt
import re
import statistics
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from caseflow.accounts.models import Agency, Role
from caseflow.cases import messages
from caseflow.cases.rules import IPType
from caseflow.core import audit, fields, ids
from caseflow.core.errors import (Conflict, InvalidInput, InvalidTransition, NotFound,
                                  PermissionDenied, StaleVersion)
from caseflow.core.models import load_calendar
from caseflow.core.timeutil import today_local, utcnow
from caseflow.extensions import db
from caseflow.mediation import rules as r
from caseflow.mediation.models import (AssistanceRequest, AssistanceService, MediationDocument,
                                       MediationSession, Mediator, MediatorConflict,
                                       ReceiptLookup)

STAFF_ROLES = (Role.INSPECTOR, Role.CASE_OFFICER, Role.APPROVER, Role.COORDINATOR)
REQUESTER_KINDS = ("rights_holder", "business", "citizen")
SERVICE_KINDS = ("legal_consultation", "expert_opinion", "evidence_help")
LOOKUP_LIMIT = 20  # wrong receipt codes per address and hour


def is_staff(user) -> bool:
    return user.agency.kind == "ip_office" and user.has_role(*STAFF_ROLES)


def _staff(user):
    if not is_staff(user):
        raise PermissionDenied(messages.text("forbidden"))


_text = fields.text


def _date(data, name, errors, *, not_before: dt.date | None = None) -> dt.date | None:
    """A past (or today's) date, not before ``not_before`` (e.g. the acceptance)."""
    day = fields.date(data, name, errors, latest=today_local())
    if day is not None and name not in errors and not_before and day < not_before:
        errors[name] = messages.text("date_before_acceptance", day=not_before.isoformat())
    return day


def _code(data, name, errors) -> str:
    """A unified social credit code or a resident ID number, check digits verified."""
    raw = str(data.get(name) or "").strip().upper()
    if not raw:
        return ""
    code = ids.normalize_code(raw)
    if ids.is_valid_credit_code(code) or ids.is_valid_id_number(code):
        return code
    errors[name] = messages.text("party_code_invalid")
    return raw[:18]


def ip_offices() -> list[Agency]:
    return list(db.session.scalars(select(Agency).where(Agency.kind == "ip_office")
                                   .order_by(Agency.id)))


def _request_fields(data: dict, errors: dict) -> dict:
    out = {}
    kind = str(data.get("kind") or "")
    if kind not in ("assistance", "mediation"):
        errors["kind"] = messages.text("enum")
    out["kind"] = kind
    rk = str(data.get("requester_kind") or "")
    if rk not in REQUESTER_KINDS:
        errors["requester_kind"] = messages.text("enum")
    out["requester_kind"] = rk
    out["requester_name"] = _text(data, "requester_name", errors, required=True, min_len=2)
    contact = _text(data, "requester_contact", errors, required=True, max_len=100)
    if contact and not re.fullmatch(r"[0-9+\-() ]{7,20}|[^@\s]+@[^@\s]+\.[^@\s]+", contact):
        errors["requester_contact"] = messages.text("contact_invalid")
    out["requester_contact"] = contact
    out["requester_code"] = _code(data, "requester_code", errors)
    out["respondent_name"] = _text(data, "respondent_name", errors,
                                   required=kind == "mediation", max_len=200)
    out["respondent_code"] = _code(data, "respondent_code", errors)
    ip_type = str(data.get("ip_type") or "")
    if ip_type not in {t.value for t in IPType}:
        errors["ip_type"] = messages.text("enum")
    out["ip_type"] = ip_type
    out["summary"] = _text(data, "summary", errors, required=True, max_len=5000, min_len=10)
    return out


def _new(agency_id: int, channel: str, received_on: dt.date, created_by_id, fields) -> AssistanceRequest:
    for _ in range(5):  # a receipt-code collision is astronomically rare; retry anyway
        req = AssistanceRequest(receipt_code=r.new_receipt_code(), agency_id=agency_id,
                                channel=channel, received_on=received_on,
                                created_by_id=created_by_id, state=r.RState.RECEIVED.value,
                                **fields)
        try:
            with db.session.begin_nested():
                db.session.add(req)
                db.session.flush()
            return req
        except IntegrityError:
            continue
    raise Conflict(messages.text("try_again"))


def submit_public(data: dict) -> AssistanceRequest:
    """维权援助/调解申请 through the public form (no login): returns the request with its code."""
    errors: dict = {}
    fields = _request_fields(data, errors)
    offices = ip_offices()
    agency = None
    raw = str(data.get("agency_id") or "").strip()
    if len(offices) == 1 and not raw:
        agency = offices[0]
    else:
        agency = next((a for a in offices if str(a.id) == raw), None)
        if agency is None:
            errors["agency_id"] = messages.text("enum")
    if errors:
        raise InvalidInput(errors)
    req = _new(agency.id, "online", today_local(), None, fields)
    audit.record("assistance.submit", obj_type="assistance_request", obj_id=req.id,
                 channel="online", agency_id_to=agency.id)
    return req


def register(user, data: dict) -> AssistanceRequest:
    """Staff register a request received at the counter or by phone."""
    _staff(user)
    errors: dict = {}
    fields = _request_fields(data, errors)
    channel = str(data.get("channel") or "")
    if channel not in ("counter", "phone"):
        errors["channel"] = messages.text("enum")
    received = _date(data, "received_on", errors)
    if errors:
        raise InvalidInput(errors)
    req = _new(user.agency_id, channel, received, user.id, fields)
    audit.record("assistance.register", user=user, obj_type="assistance_request", obj_id=req.id)
    return req


def get_request(user, request_id: int) -> AssistanceRequest:
    req = db.session.get(AssistanceRequest, request_id) if 0 < request_id < 2**31 else None
    if req is None or req.agency_id != user.agency_id or not is_staff(user):
        raise NotFound(messages.text("request_not_found"))
    return req


def list_requests(user, state: str | None = None, limit: int = 300) -> list[AssistanceRequest]:
    _staff(user)
    stmt = select(AssistanceRequest).where(AssistanceRequest.agency_id == user.agency_id)
    if state:
        stmt = stmt.where(AssistanceRequest.state == state)
    return list(db.session.scalars(stmt.order_by(AssistanceRequest.received_on.desc(),
                                                 AssistanceRequest.id.desc()).limit(limit)))


def request_clocks(req: AssistanceRequest, cal=None) -> list[r.Clock]:
    cal = cal or load_calendar()
    return r.clocks(cal, req.received_on, req.accepted_on, req.decided_on, req.closed_on,
                    req.notified_on)


def _check_version(req, data):
    v = str(data.get("version") or "").strip()
    if v and v != str(req.version):
        raise StaleVersion(messages.text("action_stale"))


def _step(user, req, action: str, data: dict) -> r.RState:
    _staff(user)
    if req.agency_id != user.agency_id:
        raise NotFound(messages.text("request_not_found"))
    _check_version(req, data)
    try:
        return r.next_state(req.state, action)
    except r.RuleViolation:
        from caseflow.mediation.labels import ACTION_LABELS, STATE_LABELS

        raise InvalidTransition(messages.text(
            "mediation_action_not_allowed", action=str(ACTION_LABELS.get(action, action)),
            state=str(STATE_LABELS.get(req.state, req.state)))) from None


def decide(user, req: AssistanceRequest, action: str, data: dict) -> AssistanceRequest:
    """Accept (jurisdiction checked) or reject with reasons, within 7 working days."""
    if action not in ("accept", "reject"):
        raise InvalidInput({"action": messages.text("enum")})
    new = _step(user, req, action, data)
    errors: dict = {}
    reason = _text(data, "reason", errors, required=action == "reject", max_len=2000,
                   min_len=4 if action == "reject" else 0)
    if action == "accept" and str(data.get("jurisdiction") or "") not in ("1", "on", "true", "y"):
        errors["jurisdiction"] = messages.text("jurisdiction_required")
    if errors:
        raise InvalidInput(errors)
    today = today_local()
    req.state, req.decided_on = new.value, today
    if action == "accept":
        req.accepted_on = today
    else:
        req.state_reason, req.closed_on = reason, today  # ended: not accepted
    audit.record(f"assistance.{action}", user=user, obj_type="assistance_request", obj_id=req.id,
                 reason=reason or None)
    db.session.flush()
    return req


# ----------------------------------------------------------------------------- mediators


def add_mediator(user, data: dict) -> Mediator:
    _staff(user)
    errors: dict = {}
    name = _text(data, "name", errors, required=True, max_len=100, min_len=2)
    kind = str(data.get("mediator_kind") or "")
    if kind not in ("professional", "volunteer"):
        errors["mediator_kind"] = messages.text("enum")
    expertise = _text(data, "expertise", errors, max_len=300)
    contact = _text(data, "contact", errors, max_len=100)
    if errors:
        raise InvalidInput(errors)
    m = Mediator(agency_id=user.agency_id, name=name, kind=kind, expertise=expertise,
                 contact=contact, active=True)
    db.session.add(m)
    db.session.flush()
    audit.record("mediator.add", user=user, obj_type="mediator", obj_id=m.id)
    return m


def declare_conflict(user, mediator_id: int, data: dict) -> MediatorConflict:
    _staff(user)
    m = db.session.get(Mediator, mediator_id) if 0 < mediator_id < 2**31 else None
    if m is None or m.agency_id != user.agency_id:
        raise NotFound(messages.text("request_not_found"))
    errors: dict = {}
    party = _text(data, "party", errors, required=True, max_len=200, min_len=2)
    reason = _text(data, "conflict_reason", errors, required=True, max_len=300, min_len=2)
    if errors:
        raise InvalidInput(errors)
    c = MediatorConflict(mediator=m, party=ids.normalize_code(party) if party.isalnum() else party,
                         reason=reason)
    db.session.add(c)
    db.session.flush()
    audit.record("mediator.conflict", user=user, obj_type="mediator", obj_id=m.id, party=party)
    return c


def _conflicts_with(m: Mediator, req: AssistanceRequest) -> bool:
    parties = {x.strip().upper() for x in (req.requester_name, req.requester_code,
                                           req.respondent_name, req.respondent_code) if x}
    return any(c.party.strip().upper() in parties for c in m.conflicts)


@dataclass
class MediatorChoice:
    mediator: Mediator
    workload: int  # requests in mediation now
    conflict: bool


def mediator_choices(req: AssistanceRequest) -> list[MediatorChoice]:
    """Active mediators of the agency, least busy first; those with a declared conflict
    with a party of the request are marked (and cannot be assigned)."""
    loads = dict(db.session.execute(
        select(AssistanceRequest.mediator_id, func.count()).where(
            AssistanceRequest.state == "mediating").group_by(AssistanceRequest.mediator_id)).all())
    out = [MediatorChoice(m, loads.get(m.id, 0), _conflicts_with(m, req))
           for m in db.session.scalars(select(Mediator).where(
               Mediator.agency_id == req.agency_id, Mediator.active.is_(True)))]
    return sorted(out, key=lambda c: (c.conflict, c.workload, c.mediator.name))


def assign_mediator(user, req: AssistanceRequest, data: dict) -> AssistanceRequest:
    new = _step(user, req, "assign", data)
    raw = str(data.get("mediator_id") or "").strip()
    m = db.session.get(Mediator, int(raw)) if raw.isdigit() and len(raw) < 10 else None
    if m is None or m.agency_id != req.agency_id or not m.active:
        raise InvalidInput({"mediator_id": messages.text("enum")})
    if _conflicts_with(m, req):
        raise InvalidInput({"mediator_id": messages.text("mediator_conflict", name=m.name)})
    req.mediator_id, req.state = m.id, new.value
    audit.record("assistance.assign", user=user, obj_type="assistance_request", obj_id=req.id,
                 mediator_id=m.id)
    db.session.flush()
    return req


def record_session(user, req: AssistanceRequest, data: dict) -> MediationSession:
    _staff(user)
    if req.agency_id != user.agency_id:
        raise NotFound(messages.text("request_not_found"))
    if req.state != "mediating":
        raise InvalidTransition(messages.text("not_mediating"))
    errors: dict = {}
    held = _date(data, "held_on", errors, not_before=req.accepted_on)
    place = _text(data, "place", errors, max_len=200)
    present = _text(data, "present", errors, required=True, max_len=500, min_len=2)
    notes = _text(data, "notes", errors, max_len=5000)
    if errors:
        raise InvalidInput(errors)
    s = MediationSession(request=req, held_on=held, place=place, present=present, notes=notes,
                         recorded_by_id=user.id)
    db.session.add(s)
    db.session.flush()
    audit.record("assistance.session", user=user, obj_type="assistance_request", obj_id=req.id)
    return s


def close(user, req: AssistanceRequest, outcome: str, data: dict) -> AssistanceRequest:
    """End the mediation: an agreement (with its terms), no agreement, withdrawn; or an
    assistance request served."""
    if outcome not in ("agreement", "no_agreement", "withdraw", "serve"):
        raise InvalidInput({"outcome": messages.text("enum")})
    new = _step(user, req, outcome, data)
    errors: dict = {}
    if outcome == "agreement":
        terms = _text(data, "terms", errors, required=True, max_len=10000, min_len=10)
        if not req.sessions:
            errors["terms"] = messages.text("session_required")
    else:
        terms = ""
    reason = _text(data, "reason", errors, required=outcome in r.NEEDS_REASON, max_len=2000,
                   min_len=4 if outcome in r.NEEDS_REASON else 0)
    if errors:
        raise InvalidInput(errors)
    req.state, req.closed_on = new.value, today_local()
    if outcome == "agreement":
        req.agreement_terms = terms
    if reason:
        req.state_reason = reason
    if outcome == "withdraw" and req.accepted_on is None:
        req.decided_on = req.decided_on or today_local()
    audit.record(f"assistance.{outcome}", user=user, obj_type="assistance_request", obj_id=req.id)
    db.session.flush()
    return req


def notify_parties(user, req: AssistanceRequest, data: dict) -> AssistanceRequest:
    """The parties are told the outcome (within 7 working days after the end)."""
    _staff(user)
    if req.agency_id != user.agency_id:
        raise NotFound(messages.text("request_not_found"))
    if req.closed_on is None or req.notified_on is not None:
        raise InvalidTransition(messages.text("notify_not_open"))
    errors: dict = {}
    day = _date(data, "notified_on", errors, not_before=req.closed_on)
    if errors:
        raise InvalidInput(errors)
    req.notified_on = day
    audit.record("assistance.notify", user=user, obj_type="assistance_request", obj_id=req.id)
    db.session.flush()
    return req


def log_service(user, req: AssistanceRequest, data: dict) -> AssistanceService:
    _staff(user)
    if req.agency_id != user.agency_id:
        raise NotFound(messages.text("request_not_found"))
    if req.state in ("received", "rejected"):
        raise InvalidTransition(messages.text("service_not_open"))
    errors: dict = {}
    kind = str(data.get("service_kind") or "")
    if kind not in SERVICE_KINDS:
        errors["service_kind"] = messages.text("enum")
    expert = _text(data, "expert", errors, required=True, max_len=100, min_len=2)
    raw = str(data.get("minutes") or "").strip()
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 10000:
        errors["minutes"] = messages.text("minutes_invalid")
    given = _date(data, "given_on", errors)
    note = _text(data, "note", errors, max_len=5000)
    if errors:
        raise InvalidInput(errors)
    s = AssistanceService(request=req, kind=kind, expert=expert, minutes=int(raw), given_on=given,
                          note=note, recorded_by_id=user.id)
    db.session.add(s)
    db.session.flush()
    audit.record("assistance.service", user=user, obj_type="assistance_request", obj_id=req.id,
                 kind=kind, minutes=int(raw))
    return s


def add_document(user, req: AssistanceRequest, file_storage) -> MediationDocument:
    """A document of the request; checked by content, hashed, stored outside the web root.
    The file is removed again if the record cannot be written."""
    from caseflow.core.uploads import UploadError, display_name, path_of, store

    _staff(user)
    if req.agency_id != user.agency_id:
        raise NotFound(messages.text("request_not_found"))
    if file_storage is None or not getattr(file_storage, "filename", ""):
        raise InvalidInput({"file": messages.text("field_required")})
    try:
        stored = store(file_storage.stream, "mediation")
    except UploadError as e:
        raise InvalidInput({"file": messages.text(e.code, **e.params)}) from e
    try:
        doc = MediationDocument(request_id=req.id, filename=display_name(file_storage.filename),
                                stored_name=stored.stored_name, content_type=stored.content_type,
                                size=stored.size, sha256=stored.sha256, uploaded_by_id=user.id)
        db.session.add(doc)
        db.session.flush()
        audit.record("assistance.document", user=user, obj_type="assistance_request",
                     obj_id=req.id, document_id=doc.id, sha256=stored.sha256)
    except BaseException:
        path_of("mediation", stored.stored_name).unlink(missing_ok=True)
        raise
    return doc


def get_document(user, document_id: int) -> MediationDocument:
    doc = db.session.get(MediationDocument, document_id) if 0 < document_id < 2**31 else None
    if doc is None:
        raise NotFound(messages.text("request_not_found"))
    get_request(user, doc.request_id)  # NotFound outside the office
    audit.record("assistance.document_download", user=user, obj_type="assistance_request",
                 obj_id=doc.request_id, document_id=doc.id)
    return doc


def _carry_documents(user, req: AssistanceRequest, case) -> list[str]:
    """Copy the request's documents into the new case as evidence (hash kept, custody from
    the IP office). Returns the copied files' paths, to remove if the transaction fails."""
    import shutil
    import secrets

    from caseflow.core.uploads import path_of, upload_dir
    from caseflow.evidence.models import CustodyEntry, Evidence
    from caseflow.evidence.rules import kind_of

    copied = []
    for doc in req.documents:
        name = secrets.token_hex(16)
        target = upload_dir("evidence") / name
        shutil.copyfile(path_of("mediation", doc.stored_name), target)
        copied.append(str(target))
        ev = Evidence(case_id=case.id, kind=kind_of(doc.content_type), filename=doc.filename,
                      stored_name=name, content_type=doc.content_type, size=doc.size,
                      sha256=doc.sha256, captured_at=doc.uploaded_at, place="",
                      description=f"维权援助材料（回执号 {req.receipt_code}）",
                      uploaded_by_id=user.id, uploaded_at=utcnow())
        ev.custody = [CustodyEntry(user_id=user.id, agency_id=user.agency_id, action="handed_over",
                                   data={"to_agency_id": case.owner_agency_id, "sha256": doc.sha256,
                                         "from_request": req.id})]
        db.session.add(ev)
    return copied


def competent_agencies() -> list[Agency]:
    return list(db.session.scalars(select(Agency).where(Agency.kind.in_(
        ["market_supervision", "cultural_enforcement"])).order_by(Agency.id)))


def to_clue(user, req: AssistanceRequest, data: dict):
    """An infringement found in mediation becomes a clue of the competent agency in one step,
    with the parties; the request and the case point to each other."""
    from caseflow.cases.operations import create_transferred_clue
    from caseflow.cases.schemas import ClueIn

    _staff(user)
    if req.agency_id != user.agency_id:
        raise NotFound(messages.text("request_not_found"))
    if req.clue_case_id is not None:
        raise InvalidTransition(messages.text("clue_already_made"))
    if req.state in ("received", "rejected"):
        raise InvalidTransition(messages.text("service_not_open"))
    raw = str(data.get("target_agency_id") or "").strip()
    target = next((a for a in competent_agencies() if str(a.id) == raw), None)
    if target is None:
        raise InvalidInput({"target_agency_id": messages.text("enum")})
    parties = []
    code = req.respondent_code
    if req.respondent_name and code and ids.is_valid_credit_code(code):
        parties.append({"kind": "business", "name": req.respondent_name, "credit_code": code})
    elif req.respondent_name and code and ids.is_valid_id_number(code):
        parties.append({"kind": "person", "name": req.respondent_name, "id_number": code})
    description = (f"知识产权维权援助/调解中发现涉嫌侵权（回执号 {req.receipt_code}）。"
                   f"被申请人：{req.respondent_name or '未提供'}。\n{req.summary}")
    clue = ClueIn.model_validate({
        "title": f"{req.respondent_name or req.requester_name}涉嫌知识产权侵权（维权援助转交）"[:200],
        "channel": "agency_transfer", "ip_type": req.ip_type, "received_at": today_local(),
        "description": description[:5000], "reporter_name": req.requester_name[:100],
        "reporter_contact": req.requester_contact[:100], "parties": parties})
    case = create_transferred_clue(user, target.id, clue, source=f"assistance:{req.id}")
    req.clue_case_id = case.id
    copied = _carry_documents(user, req, case)
    try:
        audit.record("assistance.to_clue", user=user, obj_type="assistance_request",
                     obj_id=req.id, case_id=case.id, agency_id_to=target.id,
                     documents=len(copied))
        db.session.flush()
    except BaseException:
        import os

        for path in copied:
            os.unlink(path)
        raise
    return case


# ----------------------------------------------------------------------------- public lookup


def lookup_receipt(code: str, ip: str, now: dt.datetime | None = None) -> AssistanceRequest | None:
    """The request with this receipt code, or None. Wrong codes are counted per address; after
    LOOKUP_LIMIT in an hour every lookup from there is refused (Conflict) for the hour."""
    now = now or utcnow()
    recent = db.session.scalar(select(func.count()).select_from(ReceiptLookup).where(
        ReceiptLookup.ip == ip, ReceiptLookup.found.is_(False),
        ReceiptLookup.at > now - dt.timedelta(hours=1))) or 0
    if recent >= LOOKUP_LIMIT:
        raise Conflict(messages.text("lookup_throttled"))
    normalized = r.normalize_receipt_code(code)
    req = db.session.scalar(select(AssistanceRequest).where(
        AssistanceRequest.receipt_code == normalized)) if normalized else None
    db.session.add(ReceiptLookup(ip=ip[:64], at=now, found=req is not None))
    return req


@dataclass
class PublicStatus:
    stage: str
    deadline: dt.date | None
    deadline_name: str | None


def public_status(req: AssistanceRequest) -> PublicStatus:
    """Only the stage and its deadline: nothing about the parties or the content."""
    running = r.current_deadline(request_clocks(req))
    if req.state in r.CLOSED:
        return PublicStatus(req.state, None, None)
    return PublicStatus(req.state, running.due if running else None,
                        running.name if running else None)


# ----------------------------------------------------------------------------- figures


@dataclass
class Figures:
    year: int
    requests: int = 0
    decided: int = 0
    accepted: int = 0
    agreements: int = 0
    closed: int = 0
    median_days_to_close: float | None = None
    per_mediator: dict = field(default_factory=dict)  # name -> (assigned, agreements)
    service_minutes: int = 0

    @property
    def acceptance_rate(self) -> float | None:
        return round(self.accepted / self.decided, 3) if self.decided else None


def figures(agency_id: int, year: int) -> Figures:
    f = Figures(year)
    rows = list(db.session.scalars(select(AssistanceRequest).where(
        AssistanceRequest.agency_id == agency_id,
        AssistanceRequest.received_on >= dt.date(year, 1, 1),
        AssistanceRequest.received_on <= dt.date(year, 12, 31))))
    f.requests = len(rows)
    f.decided = sum(1 for x in rows if x.accepted_on is not None or x.state == "rejected")
    f.accepted = sum(1 for x in rows if x.accepted_on is not None)
    f.agreements = sum(1 for x in rows if x.state == "agreement")
    closed = [x for x in rows if x.closed_on is not None]
    f.closed = len(closed)
    if closed:
        f.median_days_to_close = statistics.median((x.closed_on - x.received_on).days for x in closed)
    for x in rows:
        if x.mediator is not None:
            a, g = f.per_mediator.get(x.mediator.name, (0, 0))
            f.per_mediator[x.mediator.name] = (a + 1, g + (x.state == "agreement"))
    f.service_minutes = db.session.scalar(select(func.coalesce(func.sum(AssistanceService.minutes), 0))
                                          .join(AssistanceRequest).where(
        AssistanceRequest.agency_id == agency_id,
        AssistanceRequest.received_on >= dt.date(year, 1, 1),
        AssistanceRequest.received_on <= dt.date(year, 12, 31))) or 0
    return f
