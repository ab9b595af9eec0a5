"""JSON API /api/v1 for field apps and partner systems; calls the same operations as the UI."""
from __future__ import annotations

import json

from flask import Blueprint, abort, current_app, jsonify, request
from flask_login import current_user
from pydantic import BaseModel, ValidationError

from caseflow.accounts import operations as accounts
from caseflow.api.idempotency import idempotent, respond
from caseflow.cases import messages, operations as ops, queries
from caseflow.cases.models import Case
from caseflow.cases.schemas import (AmountsIn, GoodsOut, CaseListOut, CaseOut, CaseSummaryOut, CaseUpdateIn,
                                    ClockOut, ClueIn, EventOut, PartyOut, TokenIn, TokenOut,
                                    TimelineOut, TransitionIn, error_map)
from caseflow.core.errors import InvalidInput
from caseflow.core.models import load_calendar
from caseflow.core.timeutil import today_local
from caseflow.extensions import db

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _body(model: type[BaseModel]):
    raw = request.get_data(cache=False)
    try:
        parsed = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput({"__root__": messages.text("json_invalid")})
    if not isinstance(parsed, dict):
        raise InvalidInput({"__root__": messages.text("model_type")})
    try:
        return model.model_validate(parsed)
    except ValidationError as e:
        raise InvalidInput(error_map(e, messages.pydantic_text)) from None


def _require_user():
    if not current_user.is_authenticated:
        abort(401, description="Authentication required: POST /api/v1/auth/token, then "
                               "send 'Authorization: Bearer <token>'.")
    if not current_user.works_cases:
        abort(403)


@bp.route("/auth/token", methods=["POST"])
def issue_token():
    data = _body(TokenIn)
    try:
        user = accounts.authenticate(data.username, data.password, ip=request.remote_addr or "")
    except accounts.LoginRefused:
        db.session.commit()
        # the same answer for unknown names, wrong passwords and locked accounts
        return jsonify(message=messages.text("login_failed")), 401
    if accounts.needs_second_factor(user):
        if not accounts.second_factor_enrolled(user):
            db.session.commit()
            return jsonify(message=messages.text("totp_enrol_first")), 403
        if not data.otp:
            db.session.commit()
            return jsonify(message=messages.text("totp_required"),
                           errors={"otp": messages.text("totp_required")}), 401
        try:
            accounts.check_second_factor(user, data.otp, ip=request.remote_addr or "")
        except accounts.LoginRefused:
            db.session.commit()
            return jsonify(message=messages.text("login_failed")), 401
    token, row = accounts.issue_api_token(user, ip=request.remote_addr or "", label=data.label)
    db.session.commit()
    return jsonify(TokenOut(token=token, expires_at=row.expires_at).model_dump(mode="json")), 201


def summary(case: Case, today) -> CaseSummaryOut:
    return CaseSummaryOut(id=case.id, number=case.number, title=case.title, state=case.state,
                          channel=case.channel, ip_type=case.ip_type, received_at=case.received_on,
                          version=case.version,
                          overdue=bool(case.next_due_on and case.next_due_on < today))


def events_out(case: Case) -> list[EventOut]:
    return [EventOut(id=e.id, at=e.at, effective_on=e.effective_on, user=e.user.display_name,
                     action=e.action, label=messages.action_label(e.action),
                     from_state=e.from_state, to_state=e.to_state, reason=e.reason,
                     data=e.data or {}) for e in case.events]


def case_out(user, case: Case) -> CaseOut:
    """The case as the user may see it: another agency gets only the parts shared with it."""
    from caseflow.sharing.operations import visible_parts

    calendar = load_calendar()
    today = today_local()
    parts = visible_parts(user, case)
    clocks = ops.case_clocks(case, today, calendar) if "timeline" in parts else []
    out = CaseOut(
        id=case.id, number=case.number, title=case.title, state=case.state, channel=case.channel,
        ip_type=case.ip_type, infringement_kind=case.infringement_kind,
        trademark_numbers=[n for n in (case.trademark_numbers or "").split(",") if n],
        received_at=case.received_on, description=case.description, location=case.location,
        is_major=case.is_major, version=case.version,
        joint_action_id=case.joint_action_id if case.owner_agency_id == user.agency_id else None,
        parties=[PartyOut(kind=p.kind, name=p.name, credit_code=p.credit_code,
                          id_number=p.id_number, address=p.address) for p in case.parties],
        goods=[GoodsOut(name=g.name, quantity=g.quantity, unit=g.unit, value=g.value)
               for g in case.goods],
        amounts=AmountsIn(**{f: getattr(case, f) or 0 for f in ops.AMOUNT_FIELDS}),
        officers=[u.display_name for u in case.officers],
        pending_action=case.pending_action,
        allowed_actions=ops.allowed_actions(user, case, today, calendar),
        clocks=[ClockOut(name=c.name, label=str(messages.CLOCK_LABELS.get(c.name, c.name)),
                         due=c.due, paused=c.paused, overdue=c.overdue, days_left=c.days_left,
                         stopped_on=c.stopped_on, unit=c.unit.value, source=c.source,
                         party_clock=c.party_clock) for c in clocks],
        timeline=events_out(case) if "timeline" in parts else [],
        shared=case.owner_agency_id != user.agency_id,
    )
    if "details" not in parts:
        out.description = out.location = out.infringement_kind = ""
        out.trademark_numbers = []
        out.goods = []
    if "parties" not in parts:
        out.parties = []
    if "amounts" not in parts:
        out.amounts = None
    return out


def _settle() -> None:
    """Write the change and read it back as stored (e.g. 8000 → 8000.00), so the answer
    stored with an idempotency key equals what a later GET returns."""
    db.session.flush()
    db.session.expire_all()


def _record_read(case: Case) -> None:
    from caseflow.sharing.operations import record_read

    if case.owner_agency_id != current_user.agency_id:
        record_read(current_user, case, "api_read")
        db.session.commit()


@bp.route("/cases", methods=["GET"])
def list_cases():
    _require_user()
    from caseflow.cases import pages

    return pages.serve("api", _list_page)


def _list_page(_overrides: dict):
    errors = {}
    limit_raw = request.args.get("limit", "50")
    digits = limit_raw.isascii() and limit_raw.isdigit() and len(limit_raw) <= 6
    if not digits or not 1 <= int(limit_raw) <= 200:
        errors["limit"] = messages.text("less_than_equal", le=200) if digits \
            else messages.text("int_parsing")
    try:
        filters = queries.CaseFilters.from_args(request.args, messages.text)
    except InvalidInput as e:
        errors.update(e.errors)
    if errors:
        raise InvalidInput(errors)
    items, next_cursor = queries.list_cases(current_user, filters, request.args.get("cursor"),
                                            int(limit_raw), messages.text)
    today = today_local()
    out = CaseListOut(items=[summary(c, today) for c in items], next_cursor=next_cursor,
                      counts=queries.state_counts(current_user, filters))
    return jsonify(out.model_dump(mode="json"))


@bp.route("/cases", methods=["POST"])
@idempotent
def create_case():
    _require_user()
    data = _body(ClueIn)
    case = ops.create_clue(current_user, data)
    _settle()
    return respond(case_out(current_user, case).model_dump(mode="json"), 201)


@bp.route("/cases/<int:case_id>", methods=["GET"])
def get_case(case_id: int):
    _require_user()
    case = ops.get_case(current_user, case_id)
    _record_read(case)
    return jsonify(case_out(current_user, case).model_dump(mode="json"))


@bp.route("/cases/<int:case_id>/timeline", methods=["GET"])
def get_timeline(case_id: int):
    _require_user()
    case = ops.get_case(current_user, case_id)
    from caseflow.sharing.operations import visible_parts

    _record_read(case)
    items = events_out(case) if "timeline" in visible_parts(current_user, case) else []
    return jsonify(TimelineOut(items=items).model_dump(mode="json"))


@bp.route("/cases/<int:case_id>", methods=["PUT"])
def update_case(case_id: int):
    _require_user()
    case = ops.get_case(current_user, case_id)
    data = _body(CaseUpdateIn)
    from caseflow.cases.permissions import can_edit
    from caseflow.core.errors import PermissionDenied

    if not can_edit(current_user, case):
        raise PermissionDenied(messages.text("forbidden"))
    ops.update_case(current_user, case, data)
    db.session.commit()
    return jsonify(case_out(current_user, case).model_dump(mode="json"))


@bp.route("/cases/<int:case_id>/transitions", methods=["POST"])
@idempotent
def transition(case_id: int):
    _require_user()
    case = ops.get_case(current_user, case_id)
    data = _body(TransitionIn)
    ops.perform(current_user, case, data)
    _settle()
    return respond(case_out(current_user, case).model_dump(mode="json"))


def evidence_out(ev) -> dict:
    from caseflow.cases.schemas import CustodyOut, EvidenceOut
    from caseflow.core.views import _agency_name

    return EvidenceOut(
        id=ev.id, case_id=ev.case_id, kind=ev.kind, filename=ev.filename,
        content_type=ev.content_type, size=ev.size, sha256=ev.sha256, captured_at=ev.captured_at,
        latitude=ev.latitude, longitude=ev.longitude, place=ev.place, description=ev.description,
        uploaded_by=ev.uploaded_by.display_name, uploaded_at=ev.uploaded_at,
        custody=[CustodyOut(at=c.at, action=c.action, agency=_agency_name(c.agency_id),
                            user=c.user.display_name, data=c.data or {}) for c in ev.custody],
    ).model_dump(mode="json")


@bp.route("/cases/<int:case_id>/evidence", methods=["POST"])
@idempotent
def add_evidence(case_id: int):
    """Multipart upload: file, sha256 (computed on the device), captured_at, place…"""
    from caseflow.evidence import operations as evidence

    _require_user()
    case = ops.get_case(current_user, case_id)
    fields = {k: request.form.get(k) for k in
              ("sha256", "captured_at", "latitude", "longitude", "place", "description")}
    ev = evidence.add_evidence(current_user, case, request.files.get("file"), fields)
    _settle()
    try:
        return respond(evidence_out(ev), 201)
    except BaseException:
        from caseflow.core.uploads import path_of

        db.session.rollback()
        path_of(evidence.UPLOAD_KIND, ev.stored_name).unlink(missing_ok=True)
        raise


@bp.route("/cases/<int:case_id>/evidence", methods=["GET"])
def list_evidence(case_id: int):
    from caseflow.evidence import operations as evidence

    _require_user()
    case = ops.get_case(current_user, case_id)
    _record_read(case)
    return jsonify({"items": [evidence_out(e) for e in evidence.evidence_of(current_user, case)]})


@bp.route("/evidence/<int:evidence_id>/content", methods=["GET"])
def evidence_content(evidence_id: int):
    from caseflow.evidence import operations as evidence
    from caseflow.evidence.views import download_response

    _require_user()
    ev = evidence.get_evidence(current_user, evidence_id)
    if not evidence.file_exists(ev):
        abort(404)
    evidence.record_access(current_user, ev, how="api")
    db.session.commit()
    return download_response(ev)


@bp.route("/openapi.json")
def openapi():
    from caseflow.api.openapi import build_openapi

    return jsonify(build_openapi())


from caseflow.api import field  # noqa: E402,F401  (registers the field-app routes on bp)
