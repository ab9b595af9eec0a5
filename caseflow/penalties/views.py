"""Decision documents, the publication queue, exports to the credit platform, the public page."""
from __future__ import annotations

import datetime as dt
import os
import tempfile

from flask import (Blueprint, Response, abort, flash, redirect, render_template, request,
                   url_for)
from flask_babel import force_locale, gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from caseflow.accounts.models import Role
from caseflow.cases import messages, operations as case_ops
from caseflow.core.errors import CaseFlowError, InvalidInput
from caseflow.core.timeutil import today_local
from caseflow.extensions import db
from caseflow.penalties import operations as ops, rules
from caseflow.penalties.models import ExportBatch, PenaltyDecision

bp = Blueprint("penalties", __name__)

FIELDS = ("number", "categories", "violation_type", "facts", "published_facts", "basis", "content",
          "fine_amount", "confiscated_amount", "licence", "decision_date", "valid_until",
          "severity", "subject_name", "subject_kind", "credit_code", "legal_rep", "id_type",
          "id_number", "simple_procedure", "special_sector", "other_province")


def _choices():
    return {"categories": rules.CATEGORIES, "severities": rules.SEVERITIES,
            "subject_kinds": rules.SUBJECT_KINDS, "id_types": rules.ID_TYPES}


def _values_of(d: PenaltyDecision) -> dict:
    v = {k: getattr(d, k) for k in FIELDS}
    for k in ("decision_date", "valid_until"):
        v[k] = v[k].isoformat() if v[k] else ""
    v["version"] = d.version
    return v


@bp.route("/cases/<int:case_id>/decision", methods=["GET", "POST"])
@login_required
def decision(case_id: int):
    case = case_ops.get_case(current_user, case_id)
    if not ops.can_view_decision(current_user, case):
        abort(404)
    existing = ops.decision_of(case)
    if request.method == "GET":
        if existing is None and not ops.can_record(current_user, case):
            abort(403)
        values = _values_of(existing) if existing else ops.defaults_for(case)
        return render_template("penalties/decision_form.html", case=case, decision=existing,
                               values=values, errors={}, can_edit=ops.can_record(current_user, case),
                               **_choices())
    if not ops.can_record(current_user, case):
        abort(403)
    form = request.form
    values = {k: form.get(k, "") for k in FIELDS}
    values["categories"] = form.getlist("categories")
    for flag in ("simple_procedure", "special_sector", "other_province"):
        values[flag] = form.get(flag) == "y"
    version = form.get("version")
    try:
        ops.record_decision(current_user, case, values,
                            int(version) if version and version.isdigit() else None)
    except InvalidInput as e:
        db.session.rollback()
        return render_template("penalties/decision_form.html", case=case, decision=existing,
                               values=values, errors=e.errors, can_edit=True, **_choices()), 422
    except CaseFlowError as e:
        db.session.rollback()
        return render_template("penalties/decision_form.html", case=case, decision=existing,
                               values=values, errors={}, message=e.message, can_edit=True,
                               **_choices()), e.status
    db.session.commit()
    flash(_("Decision recorded."), "success")
    return redirect(url_for("penalties.decision", case_id=case_id))


@bp.route("/cases/<int:case_id>/decision.pdf")
@login_required
def decision_pdf(case_id: int):
    """行政处罚决定书 (contents of 行政处罚法 §59) as a Chinese PDF."""
    from caseflow.core.pdf import pdf_response, render_pdf

    case = case_ops.get_case(current_user, case_id)
    d = ops.decision_of(case)
    if d is None or not ops.can_view_decision(current_user, case):
        abort(404)
    with force_locale("zh_Hans_CN"):
        pdf = render_pdf("pdf/penalty_decision.html", d=d, case=case)
    from caseflow.core import audit

    audit.record("case.decision_pdf", user=current_user, obj_type="case", obj_id=case.id)
    db.session.commit()
    return pdf_response(pdf, f"行政处罚决定书-{d.number}.pdf")


# ----------------------------------------------------------------------------- publication queue


def _require_queue_reader():
    if not current_user.has_role(Role.PUBLISHER, Role.APPROVER, Role.CASE_OFFICER):
        abort(403)


@bp.route("/publications/")
@login_required
def queue():
    _require_queue_reader()
    return _queue_page()


def _queue_page(open_id=None, open_action=None, errors=None, values=None, message=None,
                status=200):
    """The queue; after a refused action, that decision's form is open with the error and
    what the publisher typed."""
    today = today_local()
    rows = []
    for d in db.session.scalars(ops.visible_decisions(current_user)
                                .order_by(PenaltyDecision.decision_date.desc()).limit(1000)):
        st = ops.status(d, today)
        rows.append({"d": d, "st": st})
    # overdue first, then the nearest deadline
    def key(x):
        dl = x["st"]["deadlines"]
        return (not x["st"]["overdue"], dl.platform if dl else dt.date.max)
    rows.sort(key=key)
    batches = db.session.scalars(select(ExportBatch).where(
        ExportBatch.agency_id == current_user.agency_id).order_by(ExportBatch.id.desc()).limit(20)).all()
    return render_template("penalties/queue.html", rows=rows, today=today, batches=batches,
                           is_publisher=current_user.has_role(Role.PUBLISHER), open_id=open_id,
                           open_action=open_action, errors=errors or {}, values=values or {},
                           message=message), status


@bp.route("/publications/<int:decision_id>/actions", methods=["POST"])
@login_required
def act(decision_id: int):
    d = ops.get_decision(current_user, decision_id)
    f = request.form
    action = f.get("action", "")
    try:
        if action in ("publish_platform", "publish_enterprise"):
            ops.publish(current_user, d, action.removeprefix("publish_"))
        elif action in ("withdraw", "record_change"):
            changed = None
            if f.get("changed_on"):
                try:
                    changed = dt.date.fromisoformat(f["changed_on"])
                except ValueError:
                    raise InvalidInput({"changed_on": messages.text("date_parsing")})
            (ops.withdraw if action == "withdraw" else ops.record_change)(
                current_user, d, changed, f.get("reason", ""))
        elif action == "end_early":
            ops.end_early(current_user, d, corrected=f.get("corrected") == "y",
                          committed=f.get("committed") == "y", no_repeat=f.get("no_repeat") == "y",
                          not_listed=f.get("not_listed") == "y", reason=f.get("reason", ""))
        elif action == "repair":
            ops.record_repair(current_user, d, f.get("reason", ""))
        else:
            raise InvalidInput({"action": messages.text("enum")})
    except CaseFlowError as e:
        db.session.rollback()
        values = {k: f.get(k, "") for k in ("changed_on", "reason", "corrected", "committed",
                                            "no_repeat", "not_listed")}
        errs = getattr(e, "errors", None) or {}
        return _queue_page(decision_id, action, errs, values, None if errs else e.message,
                           e.status)
    db.session.commit()
    flash(_("Saved."), "success")
    return redirect(url_for("penalties.queue") + f"#decision-{decision_id}")


def _period_args():
    errors, out = {}, {}
    for k in ("from", "to"):
        raw = (request.args.get(k) or "").strip()
        out[k] = None
        if raw:
            try:
                out[k] = dt.date.fromisoformat(raw)
            except ValueError:
                errors[k] = messages.text("date_parsing")
    if errors:
        raise InvalidInput(errors)
    return out["from"], out["to"]


@bp.route("/publications/export.csv")
@login_required
def export_csv():
    """双公示 CSV: streamed to a temporary file (constant memory), recorded as a batch."""
    if not current_user.has_role(Role.PUBLISHER):
        abort(403)
    date_from, date_to = _period_args()
    fd, path = tempfile.mkstemp(prefix="caseflow-export-", suffix=".csv")
    try:
        with os.fdopen(fd, "wb") as out:
            count, refused = ops.write_csv(current_user, ops.export_selection(
                current_user, date_from, date_to), out)
        batch = ops.record_batch(current_user, "csv", {"from": str(date_from or ""),
                                                       "to": str(date_to or "")},
                                 path, count, refused)
        db.session.commit()
    except BaseException:
        os.unlink(path)
        raise

    def stream():
        try:
            with open(path, "rb") as f:
                while chunk := f.read(1 << 16):
                    yield chunk
        finally:
            os.unlink(path)

    headers = {"Content-Disposition": f"attachment; filename=shuanggongshi-{batch.id}.csv",
               "X-Export-Batch": str(batch.id), "X-Export-Refused": str(len(refused)),
               "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"}
    return Response(stream(), mimetype="text/csv", headers=headers)


@bp.route("/publications/export.pdf")
@login_required
def export_pdf():
    """The same selection as a Chinese PDF list (redacted like the public page)."""
    from caseflow.core.pdf import pdf_response, render_pdf

    if not current_user.has_role(Role.PUBLISHER):
        abort(403)
    date_from, date_to = _period_args()
    rows = [d for d in db.session.scalars(ops.export_selection(current_user, date_from, date_to))
            if rules.is_published(ops.facts_of(d))]
    with force_locale("zh_Hans_CN"):
        pdf = render_pdf("pdf/publication_list.html", rows=rows, agency=current_user.agency,
                         date_from=date_from, date_to=date_to, mask=ops.mask_name,
                         generated=today_local(), wan=rules.wan)
    fd, path = tempfile.mkstemp(suffix=".pdf")
    with os.fdopen(fd, "wb") as f:
        f.write(pdf)
    try:
        batch = ops.record_batch(current_user, "pdf", {"from": str(date_from or ""),
                                                       "to": str(date_to or "")},
                                 path, len(rows), [])
    finally:
        os.unlink(path)
    db.session.commit()
    return pdf_response(pdf, f"行政处罚信息公示-{batch.id}.pdf")


# ----------------------------------------------------------------------------- public page


@bp.route("/public/penalties")
def public():
    """Published penalties, redacted, within their publicity period; no login."""
    q = request.args.get("q", "")
    rows = ops.public_decisions(q)
    return render_template("penalties/public.html", rows=rows, q=q, mask=ops.mask_name)
