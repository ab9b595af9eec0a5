"""Evidence screens: the upload form on the case page, downloads (never inline)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, send_file, url_for
from flask import request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from caseflow.core.errors import CaseFlowError, InvalidInput, NotFound
from caseflow.evidence import operations as ops
from caseflow.extensions import db

bp = Blueprint("evidence", __name__)


def download_response(ev):
    from caseflow.core.uploads import path_of

    try:
        resp = send_file(path_of(ops.UPLOAD_KIND, ev.stored_name), mimetype=ev.content_type,
                         as_attachment=True, download_name=ev.filename)
    except FileNotFoundError:
        abort(404)
    resp.headers["Cache-Control"] = "private, no-store"
    resp.headers["X-Content-SHA256"] = ev.sha256
    return resp


@bp.route("/cases/<int:case_id>/evidence", methods=["POST"])
@login_required
def upload(case_id: int):
    from caseflow.cases import operations as case_ops
    from caseflow.cases.views import _render_detail

    if not current_user.works_cases:
        abort(403)
    try:
        case = case_ops.get_case(current_user, case_id)
    except NotFound:
        abort(404)
    values = {k: request.form.get(k, "") for k in
              ("sha256", "captured_at", "latitude", "longitude", "place", "description")}
    try:
        ev = ops.add_evidence(current_user, case, request.files.get("file"), values)
        ops.commit_or_discard(ev)
    except InvalidInput as e:
        db.session.rollback()
        return _render_detail(case_ops.get_case(current_user, case_id), 422,
                              action_errors=e.errors, open_action="evidence",
                              action_values=values)
    except CaseFlowError as e:
        db.session.rollback()
        return _render_detail(case_ops.get_case(current_user, case_id), e.status,
                              open_action="evidence", action_values=values, message=e.message)
    flash(_("Evidence stored; its SHA-256 matches the one computed on the device."), "success")
    return redirect(url_for("cases.detail", case_id=case_id) + "#evidence", 303)


@bp.route("/evidence/<int:evidence_id>/download")
@login_required
def download(evidence_id: int):
    if not current_user.works_cases:
        abort(403)
    try:
        ev = ops.get_evidence(current_user, evidence_id)
    except NotFound:
        abort(404)
    if not ops.file_exists(ev):
        abort(404)  # nothing was handed out: no access in the chain of custody
    ops.record_access(current_user, ev)
    db.session.commit()
    return download_response(ev)
