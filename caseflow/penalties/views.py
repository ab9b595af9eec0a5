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
from caseflow.penalties.models import ExportBatch, ExportJob, PenaltyDecision

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
                status=200, export_values=None):
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
    jobs = db.session.scalars(ops.visible_jobs(current_user).order_by(ExportJob.id.desc())
                              .limit(20)).all()
    return render_template("penalties/queue.html", rows=rows, today=today, batches=batches,
                           jobs=jobs, export_values=export_values or {},
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


def _period_args(source=None):
    """The period from the query string (or a form): (from, to), InvalidInput on a bad date."""
    source = request.args if source is None else source
    errors, out = {}, {}
    for k in ("from", "to"):
        raw = (source.get(k) or "").strip()
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
    os.close(fd)
    try:
        batch = ops.export_csv(current_user, date_from, date_to, path)
        refused = batch.refused
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


@bp.route("/publications/export-jobs", methods=["POST"])
@login_required
def start_pdf_job():
    """Queue the publication list (PDF): rendered by the scheduler process, not here."""
    if not current_user.has_role(Role.PUBLISHER):
        abort(403)
    values = {k: (request.form.get(k) or "").strip()[:40] for k in ("from", "to")}
    try:
        job = ops.start_pdf_list(current_user, *_period_args(values))
    except CaseFlowError as e:
        db.session.rollback()
        errs = getattr(e, "errors", None) or {}
        return _queue_page(errors=errs, message=None if errs else e.message, status=e.status,
                           export_values=values, open_action="pdf_job")
    db.session.commit()
    flash(_("The PDF list is being made: download it from the list of exports when it is done."),
          "success")
    return redirect(url_for("penalties.queue") + f"#job-{job.id}")


@bp.route("/publications/export-jobs/<int:job_id>/download")
@login_required
def download_job(job_id: int):
    """A finished PDF list, for the publishers of the agency that made it."""
    from flask import send_file

    if not current_user.has_role(Role.PUBLISHER):
        abort(403)
    try:
        path, name = ops.job_file(current_user, job_id)
    except CaseFlowError:
        db.session.rollback()
        raise
    db.session.commit()
    from caseflow.core.pdf import pdf_response

    resp = pdf_response(b"", name)
    out = send_file(path, mimetype="application/pdf", conditional=False, etag=False)
    for h in ("Content-Disposition", "X-Content-Type-Options", "Cache-Control"):
        out.headers[h] = resp.headers[h]
    return out


# ----------------------------------------------------------------------------- public page


@bp.route("/public/penalties")
def public():
    """Published penalties, redacted, within their publicity period; no login."""
    q = request.args.get("q", "")
    rows = ops.public_decisions(q)
    return render_template("penalties/public.html", rows=rows, q=q, mask=ops.mask_name)
