"""Mobile pages for inspectors in the field (/m/): log a clue with photos from a phone, also
without network. The page keeps unsent submissions on the device (IndexedDB) and sends them
when the network returns, each with the Idempotency-Key made when it was submitted, so a
submission is created once however often it is retried. A service worker keeps the page
itself available offline."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, jsonify, render_template, request
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf

from caseflow.api.idempotency import idempotent, respond
from caseflow.cases.permissions import can_create_clue
from caseflow.core.errors import InvalidInput
from caseflow.core.timeutil import today_local
from caseflow.extensions import db

bp = Blueprint("mobile", __name__, url_prefix="/m")
STATIC = Path(__file__).resolve().parent.parent / "static"


def _guard():
    if not current_user.works_cases:
        abort(403)


@bp.route("/")
@login_required
def index():
    from caseflow.cases.rules import Channel, IPType

    from caseflow.inspections import operations as inspections
    from caseflow.inspections.models import RESULTS, Inspection

    _guard()
    todo = list(db.session.scalars(inspections.my_inspections(current_user)
                                   .where(Inspection.state == "scheduled").limit(50)))
    return render_template("mobile/index.html", today=today_local().isoformat(),
                           channels=list(Channel), ip_types=list(IPType),
                           can_create=can_create_clue(current_user), inspections=todo,
                           results=RESULTS)


@bp.route("/sw.js")
def service_worker():
    resp = Response((STATIC / "sw.js").read_bytes(), mimetype="text/javascript")
    resp.headers["Service-Worker-Allowed"] = "/m/"
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.route("/csrf")
@login_required
def csrf():
    """A fresh CSRF token for sending queued submissions (the page may be hours old)."""
    resp = jsonify(token=generate_csrf())
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _json_body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        from caseflow.cases import messages

        raise InvalidInput({"__root__": messages.text("json_invalid")})
    return data


@bp.route("/clues", methods=["POST"])
@login_required
@idempotent
def clue():
    from pydantic import ValidationError

    from caseflow.cases import messages, operations as ops
    from caseflow.cases.schemas import ClueIn, error_map
    from caseflow.core.errors import PermissionDenied

    _guard()
    if not can_create_clue(current_user):
        raise PermissionDenied(messages.text("forbidden"))
    try:
        data = ClueIn.model_validate(_json_body())
    except ValidationError as e:
        raise InvalidInput(error_map(e, messages.pydantic_text)) from None
    case = ops.create_clue(current_user, data)
    db.session.flush()
    return respond({"id": case.id, "title": case.title, "url": f"/cases/{case.id}"}, 201)


@bp.route("/cases/<int:case_id>/evidence", methods=["POST"])
@login_required
@idempotent
def evidence(case_id: int):
    from caseflow.cases import operations as case_ops
    from caseflow.evidence import operations as evidence_ops

    _guard()
    case = case_ops.get_case(current_user, case_id)
    fields = {k: request.form.get(k) for k in
              ("sha256", "captured_at", "latitude", "longitude", "place", "description")}
    ev = evidence_ops.add_evidence(current_user, case, request.files.get("file"), fields)
    db.session.flush()
    try:
        return respond({"id": ev.id, "sha256": ev.sha256, "case_id": case.id}, 201)
    except BaseException:
        from caseflow.core.uploads import path_of

        db.session.rollback()
        path_of(evidence_ops.UPLOAD_KIND, ev.stored_name).unlink(missing_ok=True)
        raise


@bp.route("/inspections/<int:inspection_id>/result", methods=["POST"])
@login_required
@idempotent
def inspection_result(inspection_id: int):
    """谁检查、谁录入: the result of an inspection the user was drawn for, from the field."""
    from pydantic import ValidationError

    from caseflow.cases import messages
    from caseflow.cases.schemas import InspectionResultIn, error_map
    from caseflow.inspections import operations as inspections

    _guard()
    insp = inspections.get_inspection(current_user, inspection_id)
    try:
        data = InspectionResultIn.model_validate(_json_body())
    except ValidationError as e:
        raise InvalidInput(error_map(e, messages.pydantic_text)) from None
    inspections.enter_result(current_user, insp, data.result, data.note, data.inspected_on)
    db.session.flush()
    return respond({"id": insp.id, "state": insp.state, "url": f"/inspections/{insp.id}"})
