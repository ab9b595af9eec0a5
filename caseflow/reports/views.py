"""Dashboard, district view, ledgers and yearly reports (``/reports/``)."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from caseflow.core import audit
from caseflow.core.errors import InvalidInput
from caseflow.core.timeutil import today_local
from caseflow.extensions import db
from caseflow.reports import labels, ledgers, present
from caseflow.reports import operations as ops
from caseflow.reports import rules as r
from caseflow.reports.models import YearlyReport

bp = Blueprint("reports", __name__, url_prefix="/reports")


def _period():
    """The period asked for, or this year with the errors to show (422)."""
    try:
        return ops.parse_period(request.args), {}
    except InvalidInput as e:
        return ops.parse_period({}), e.errors


@bp.route("/")
@login_required
def dashboard():
    if not ops.can_view_dashboard(current_user):
        abort(403)
    period, errors = _period()
    d = ops.dashboard(current_user, period)
    return render_template("reports/dashboard.html", d=d, charts=present.dashboard_charts(d),
                           period=period, errors=errors, values=request.args,
                           labels=labels, can_district=ops.can_view_district(current_user),
                           can_generate=ops.can_generate_report(current_user),
                           days=present._days), 422 if errors else 200


@bp.route("/district")
@login_required
def district():
    if not ops.can_view_district(current_user):
        abort(403)
    period, errors = _period()
    rows = ops.district(current_user, period)
    by_ip = ops.district_ip_types(current_user, period)
    from caseflow.reports import charts
    from caseflow.cases import messages as m

    chart = charts.bar_chart(_("Cases received per agency"), [
        charts.Bar(row.agency.name, row.received,
                   url_for("cases.list_cases", own="1", received_from=period.start.isoformat(),
                           received_to=period.end.isoformat()) if row.own else None)
        for row in rows], label_width=230)
    ip_chart = charts.bar_chart(_("Cases received in the district by IP type"), [
        charts.Bar(str(m.IP_TYPE_LABELS.get(k, k)), n) for k, n in sorted(by_ip.items())])
    ops.record_view(current_user, "district", period)
    db.session.commit()
    return render_template("reports/district.html", rows=rows, period=period, errors=errors,
                           values=request.args, chart=chart, ip_chart=ip_chart), \
        422 if errors else 200


# ----------------------------------------------------------------------------- ledgers

@bp.route("/ledgers")
@login_required
def ledgers_page():
    if not ops.can_view_dashboard(current_user):
        abort(403)
    return render_template("reports/ledgers.html", kinds=ledgers.KINDS, errors={},
                           values=request.args, labels=labels.LEDGER_LABELS,
                           period=ops.parse_period({}))


@bp.route("/ledgers/export")
@login_required
def ledger_export():
    if not ops.can_view_dashboard(current_user):
        abort(403)
    kind, fmt = request.args.get("kind", ""), request.args.get("format", "csv")
    errors = ledgers.choice_errors(kind, fmt)  # every refusal at once, what was chosen kept
    try:
        period = ops.parse_period(request.args)
    except InvalidInput as e:
        errors.update(e.errors)
    if errors:
        return render_template("reports/ledgers.html", kinds=ledgers.KINDS, errors=errors,
                               values=request.args, labels=labels.LEDGER_LABELS,
                               period=ops.parse_period({})), 422
    export = ledgers.export_ledger(current_user, kind, fmt, period)
    db.session.commit()
    from urllib.parse import quote

    resp = Response(export.body, mimetype=export.mimetype)
    resp.headers["Content-Disposition"] = (
        f"attachment; filename=\"ledger-{kind}.{fmt}\"; filename*=UTF-8''{quote(export.title)}.{fmt}")
    resp.headers["Cache-Control"] = "private, no-store"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


def _msg(code: str) -> str:
    from caseflow.cases import messages

    return messages.text(code)


# ----------------------------------------------------------------------------- yearly reports

def _reports():
    return list(db.session.scalars(select(YearlyReport).where(
        YearlyReport.agency_id == current_user.agency_id)
        .order_by(YearlyReport.year.desc(), YearlyReport.id.desc())))


@bp.route("/yearly", methods=["GET", "POST"])
@login_required
def yearly():
    if not ops.can_view_dashboard(current_user):
        abort(403)
    today = today_local()
    errors, status = {}, 200
    if request.method == "POST":
        if not ops.can_generate_report(current_user):
            abort(403)
        raw = (request.form.get("year") or "").strip()
        if not (raw.isascii() and raw.isdigit() and 2000 <= int(raw) <= today.year):
            errors["year"] = _msg("report_year")
            status = 422
        else:
            rep = present.store_yearly_report(current_user, current_user.agency_id, int(raw))
            db.session.commit()
            flash(_("The yearly report for %(year)s was generated.", year=raw), "success")
            return redirect(url_for("reports.yearly_download", report_id=rep.id))
    return render_template("reports/yearly.html", reports=_reports(), errors=errors,
                           values=request.form, today=today,
                           can_generate=ops.can_generate_report(current_user),
                           first_day=r.first_working_day(today.year + 1, _calendar())), status


def _calendar():
    from caseflow.core.models import load_calendar

    return load_calendar()


@bp.route("/yearly/<int:report_id>.pdf")
@login_required
def yearly_download(report_id: int):
    if not ops.can_view_dashboard(current_user):
        abort(403)
    rep = db.session.get(YearlyReport, report_id) if report_id < 2**31 else None
    if rep is None or rep.agency_id != current_user.agency_id:
        abort(404)
    path = present.report_path(rep)
    if not path.is_file():
        abort(404)
    audit.record("report.yearly_download", user=current_user, obj_type="yearly_report",
                 obj_id=rep.id, year=rep.year)
    db.session.commit()
    resp = send_file(path, mimetype="application/pdf", as_attachment=True,
                     download_name=f"{rep.agency.name}-{rep.year}年度报告.pdf")
    resp.headers["Cache-Control"] = "private, no-store"
    resp.headers["X-Content-Sha256"] = rep.sha256
    return resp

