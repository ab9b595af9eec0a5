"""System administration screens (系统管理员 only; no case data here)."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from caseflow.admin import operations as ops
from caseflow.cases import messages
from caseflow.core.calendar import WorkCalendar
from caseflow.core.errors import InvalidInput
from caseflow.core.models import CalendarDay
from caseflow.core.timeutil import today_local
from caseflow.extensions import db

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _page(values=None, errors=None, status=200):
    rows = db.session.scalars(select(CalendarDay).order_by(CalendarDay.day.desc())).all()
    cal = WorkCalendar()
    this_year = today_local().year
    coverage = [(y, cal.is_covered(dt.date(y, 6, 30))) for y in range(this_year - 1, this_year + 3)]
    return render_template("admin/calendar.html", rows=rows, coverage=coverage,
                           values=values or {}, errors=errors or {}), status


@bp.route("/calendar", methods=["GET", "POST"])
@login_required
def calendar():
    if not ops.can_manage_calendar(current_user):
        abort(403)
    if request.method == "GET":
        return _page()
    values = {k: request.form.get(k, "") for k in ("day", "kind", "note")}
    errors = {}
    try:
        day = dt.date.fromisoformat(values["day"])
    except ValueError:
        errors["day"] = messages.text("date_parsing")
    if values["kind"] not in ("workday", "holiday"):
        errors["kind"] = messages.text("enum")
    if errors:
        return _page(values, errors, 422)
    try:
        ops.set_calendar_day(current_user, day, values["kind"] == "workday", values["note"])
    except InvalidInput as e:
        db.session.rollback()
        return _page(values, e.errors, 422)
    db.session.commit()
    flash(_("Calendar day saved; due dates recomputed."), "success")
    return redirect(url_for("admin.calendar"))


@bp.route("/calendar/<day>/delete", methods=["POST"])
@login_required
def delete_day(day: str):
    if not ops.can_manage_calendar(current_user):
        abort(403)
    try:
        d = dt.date.fromisoformat(day)
    except ValueError:
        abort(404)
    ops.delete_calendar_day(current_user, d)
    db.session.commit()
    flash(_("Calendar day removed; due dates recomputed."), "success")
    return redirect(url_for("admin.calendar"))


@bp.route("/thresholds", methods=["GET", "POST"])
@login_required
def thresholds():
    """Criminal thresholds: every version, the ones in force marked; a change is a new row."""
    from decimal import Decimal, InvalidOperation

    from caseflow.referrals import operations as rops, thresholds as th
    from caseflow.referrals.models import CriminalThreshold

    if not current_user.has_role("sys_admin"):
        abort(403)
    values, errors, status = {}, {}, 200
    if request.method == "POST":
        f = request.form
        values = {k: f.get(k, "") for k in ("crime", "metric", "level", "condition", "amount",
                                            "effective_from", "source", "note")}
        values["verified"] = f.get("verified") == "y"
        amount = effective = None
        try:
            amount = Decimal(values["amount"].strip())
            if not amount.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            errors["amount"] = messages.text("decimal_parsing")
        try:
            effective = dt.date.fromisoformat(values["effective_from"])
        except ValueError:
            errors["effective_from"] = messages.text("date_parsing")
        if not errors:
            try:
                rops.add_threshold_version(
                    current_user, crime=values["crime"], metric=values["metric"],
                    level=values["level"], amount=amount, condition=values["condition"],
                    effective_from=effective, source=values["source"],
                    verified=values["verified"], note=values["note"])
                db.session.commit()
                flash(_("Threshold version added."), "success")
                return redirect(url_for("admin.thresholds"))
            except InvalidInput as e:
                db.session.rollback()
                errors = e.errors
        status = 422
    rows = db.session.scalars(select(CriminalThreshold).order_by(
        CriminalThreshold.crime, CriminalThreshold.level, CriminalThreshold.metric,
        CriminalThreshold.condition, CriminalThreshold.effective_from)).all()
    in_force = {r.id for r in th.rules_in_force(rops.load_rules(), today_local())}
    return render_template("admin/thresholds.html", rows=rows, in_force=in_force, crimes=th.CRIMES,
                           metrics=th.METRICS, levels=th.LEVELS, conditions=th.CONDITIONS,
                           values=values, errors=errors), status
