"""Assistance and mediation screens (IP office staff) and the public request form and receipt
lookup (no login)."""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from caseflow.core.errors import CaseFlowError, InvalidInput, NotFound
from caseflow.core.forms import attempt
from caseflow.core.timeutil import today_local
from caseflow.extensions import db
from caseflow.mediation import labels, operations as ops, rules

bp = Blueprint("mediation", __name__)


def _common():
    return dict(state_label=lambda s: labels.STATE_LABELS.get(s, s),
                action_label=lambda a: labels.ACTION_LABELS.get(a, a),
                clock_label=lambda c: labels.CLOCK_LABELS.get(c, c),
                kind_label=lambda k: labels.KIND_LABELS.get(k, k),
                channel_label_m=lambda c: labels.CHANNEL_LABELS.get(c, c),
                requester_label=lambda k: labels.REQUESTER_LABELS.get(k, k),
                service_label=lambda k: labels.SERVICE_LABELS.get(k, k),
                mediator_kind_label=lambda k: labels.MEDIATOR_KIND_LABELS.get(k, k),
                today=today_local(), service_kinds=ops.SERVICE_KINDS,
                requester_kinds=ops.REQUESTER_KINDS)


def _guard():
    if not current_user.is_authenticated or not ops.is_staff(current_user):
        abort(403)


def _form() -> dict:
    return {k: request.form.get(k, "") for k in request.form}


# ----------------------------------------------------------------------------- staff


def _index(errors=None, values=None, form=None, message=None, status=200):
    from caseflow.cases.rules import IPType
    from caseflow.mediation.models import Mediator
    from sqlalchemy import select

    state = request.args.get("state") or None
    if state and state not in {s.value for s in rules.RState}:
        state = None
    mediators = list(db.session.scalars(select(Mediator).where(
        Mediator.agency_id == current_user.agency_id).order_by(Mediator.name)))
    return render_template(
        "mediation/index.html", requests=ops.list_requests(current_user, state), state=state,
        states=list(rules.RState), mediators=mediators, ip_types=list(IPType),
        figures=ops.figures(current_user.agency_id, today_local().year),
        errors=errors or {}, values=values or {}, form=form, message=message, **_common()), status


@bp.route("/mediation/")
@login_required
def index():
    _guard()
    return _index()


def _attempt(fn, render, form_name, success):
    return attempt(fn, render, form_name, success, _form())


@bp.route("/mediation/", methods=["POST"])
@login_required
def register():
    _guard()
    req, err = _attempt(lambda v: ops.register(current_user, v), _index, "register",
                        _("Request registered."))
    return err or redirect(url_for("mediation.detail", request_id=req.id), 303)


@bp.route("/mediation/mediators", methods=["POST"])
@login_required
def add_mediator():
    _guard()
    _r, err = _attempt(lambda v: ops.add_mediator(current_user, v), _index, "mediator",
                       _("Mediator added to the roster."))
    return err or redirect(url_for("mediation.index") + "#roster", 303)


@bp.route("/mediation/mediators/<int:mediator_id>/conflicts", methods=["POST"])
@login_required
def declare_conflict(mediator_id: int):
    _guard()
    _r, err = _attempt(lambda v: ops.declare_conflict(current_user, mediator_id, v), _index,
                       f"conflict-{mediator_id}", _("Conflict of interest recorded."))
    return err or redirect(url_for("mediation.index") + "#roster", 303)


def _detail(req, errors=None, values=None, form=None, message=None, status=200):
    from caseflow.mediation.models import AssistanceRequest

    req = db.session.get(AssistanceRequest, req.id)
    return render_template(
        "mediation/detail.html", req=req, clocks=ops.request_clocks(req),
        actions=rules.allowed_actions(req.state), choices=ops.mediator_choices(req),
        agencies=ops.competent_agencies(), errors=errors or {}, values=values or {}, form=form,
        message=message, **_common()), status


def _load(request_id: int):
    _guard()
    try:
        return ops.get_request(current_user, request_id)
    except NotFound:
        abort(404)


@bp.route("/mediation/<int:request_id>")
@login_required
def detail(request_id: int):
    return _detail(_load(request_id))


STEPS = {
    "accept": lambda u, r, v: ops.decide(u, r, "accept", v),
    "reject": lambda u, r, v: ops.decide(u, r, "reject", v),
    "assign": ops.assign_mediator,
    "session": ops.record_session,
    "agreement": lambda u, r, v: ops.close(u, r, "agreement", v),
    "no_agreement": lambda u, r, v: ops.close(u, r, "no_agreement", v),
    "withdraw": lambda u, r, v: ops.close(u, r, "withdraw", v),
    "serve": lambda u, r, v: ops.close(u, r, "serve", v),
    "notify": ops.notify_parties,
    "service": ops.log_service,
    "clue": ops.to_clue,
}


@bp.route("/mediation/<int:request_id>/<verb>", methods=["POST"])
@login_required
def step(request_id: int, verb: str):
    fn = STEPS.get(verb)
    if fn is None:
        abort(404)
    req = _load(request_id)
    _r, err = _attempt(lambda v: fn(current_user, req, v), lambda **kw: _detail(req, **kw), verb,
                       _("Saved."))
    return err or redirect(url_for("mediation.detail", request_id=request_id), 303)


@bp.route("/mediation/<int:request_id>/documents", methods=["POST"])
@login_required
def add_document(request_id: int):
    req = _load(request_id)
    _r, err = _attempt(lambda v: ops.add_document(current_user, req, request.files.get("file")),
                       lambda **kw: _detail(req, **kw), "document", _("Document stored."))
    return err or redirect(url_for("mediation.detail", request_id=request_id) + "#documents", 303)


@bp.route("/mediation/documents/<int:document_id>")
@login_required
def document(document_id: int):
    from flask import send_file

    from caseflow.core.uploads import path_of

    _guard()
    try:
        doc = ops.get_document(current_user, document_id)
    except NotFound:
        abort(404)
    db.session.commit()
    try:
        resp = send_file(path_of("mediation", doc.stored_name), mimetype=doc.content_type,
                         as_attachment=True, download_name=doc.filename)
    except FileNotFoundError:
        abort(404)
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


@bp.route("/mediation/<int:request_id>/agreement.pdf")
@login_required
def agreement_pdf(request_id: int):
    from flask_babel import force_locale

    from caseflow.core import audit
    from caseflow.core.pdf import pdf_response, render_pdf

    req = _load(request_id)
    if req.state != "agreement":
        abort(404)
    with force_locale("zh_Hans_CN"):
        pdf = render_pdf("pdf/mediation_agreement.html", req=req, **_common())
    audit.record("assistance.agreement_pdf", user=current_user, obj_type="assistance_request",
                 obj_id=req.id)
    db.session.commit()
    return pdf_response(pdf, f"调解协议书-{req.receipt_code}.pdf")


# ----------------------------------------------------------------------------- public


def _public_form(errors=None, values=None, status=200):
    from caseflow.cases.rules import IPType

    return render_template("mediation/public_form.html", offices=ops.ip_offices(),
                           ip_types=list(IPType), errors=errors or {}, values=values or {},
                           **_common()), status


@bp.route("/public/assistance", methods=["GET", "POST"])
def public_request():
    if request.method == "GET":
        return _public_form()
    values = _form()
    try:
        req = ops.submit_public(values)
    except InvalidInput as e:
        db.session.rollback()
        return _public_form(e.errors, values, 422)
    db.session.commit()
    resp = render_template("mediation/public_done.html", code=req.receipt_code,
                           due=ops.public_status(req).deadline, **_common())
    return resp, 201, {"Cache-Control": "no-store"}


@bp.route("/public/assistance/status", methods=["GET", "POST"])
def public_status():
    if request.method == "GET":
        return render_template("mediation/public_status.html", status=None, code="",
                               **_common())
    code = (request.form.get("code") or "")[:40]
    try:
        req = ops.lookup_receipt(code, request.remote_addr or "")
    except CaseFlowError as e:
        db.session.commit()
        return render_template("mediation/public_status.html", status=None, code=code,
                               message=e.message, **_common()), 429
    db.session.commit()
    status = ops.public_status(req) if req is not None else None
    return render_template("mediation/public_status.html", status=status, code=code,
                           not_found=req is None, **_common()), (200 if req else 404), \
        {"Cache-Control": "no-store"}
