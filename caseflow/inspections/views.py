"""Dual-random inspection screens and the public results page."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select

from caseflow.core.errors import CaseFlowError, InvalidInput
from caseflow.core.timeutil import today_local
from caseflow.extensions import db
from caseflow.inspections import operations as ops, rules
from caseflow.inspections.models import (RESULTS, Business, Draw, ImportReport, Inspection,
                                         InspectionItem, InspectionPlan, PlanItem, RosterEntry)

bp = Blueprint("inspections", __name__)


def _overview(errors=None, values=None, form=None, status=200):
    agency = current_user.agency_id
    items = db.session.scalars(select(InspectionItem).where(InspectionItem.agency_id == agency)
                               .order_by(InspectionItem.code)).all()
    plans = db.session.scalars(select(InspectionPlan).where(InspectionPlan.agency_id == agency)
                               .order_by(InspectionPlan.period_start.desc())).all()
    roster = db.session.scalars(select(RosterEntry).where(RosterEntry.agency_id == agency)).all()
    n_business = db.session.scalar(select(func.count()).select_from(Business)
                                   .where(Business.agency_id == agency))
    reports = db.session.scalars(select(ImportReport).where(ImportReport.agency_id == agency)
                                 .order_by(ImportReport.id.desc()).limit(5)).all()
    mine = db.session.scalars(ops.my_inspections(current_user).limit(100)).all()
    joint = ops.joint_draws_to_staff(current_user) if ops.can_manage(current_user) else []
    return render_template("inspections/index.html", items=items, plans=plans, roster=roster,
                           n_business=n_business, reports=reports, mine=mine, joint=joint,
                           pace=ops.yearly_progress(agency), manager=ops.can_manage(current_user),
                           errors=errors or {}, values=values or {}, form=form,
                           publish_deadline=ops.publish_deadline), status


def _guard():
    if not (current_user.works_cases or ops.can_manage(current_user)):
        abort(403)


@bp.route("/inspections/")
@login_required
def index():
    _guard()
    return _overview()


def _post(form_name, fn, success):
    values = {k: request.form.get(k, "") for k in request.form}
    values["classes"] = request.form.getlist("classes")
    try:
        result = fn(values)
    except InvalidInput as e:
        db.session.rollback()
        return None, _overview(e.errors, values, form_name, 422)
    except CaseFlowError as e:
        db.session.rollback()
        flash(e.message, "error")
        return None, (redirect(url_for("inspections.index")), 303)
    db.session.commit()
    flash(success, "success")
    return result, None


@bp.route("/inspections/items", methods=["POST"])
@login_required
def add_item():
    _result, err = _post("item", lambda v: ops.add_item(current_user, v), _("Item added."))
    return err or redirect(url_for("inspections.index") + "#items")


@bp.route("/inspections/roster", methods=["POST"])
@login_required
def add_roster():
    _result, err = _post("roster", lambda v: ops.add_to_roster(current_user, v.get("username", ""),
                                                         v.get("qualifications", "")),
                   _("Inspector added to the roster."))
    return err or redirect(url_for("inspections.index") + "#roster")


@bp.route("/inspections/roster/<int:entry_id>/active", methods=["POST"])
@login_required
def roster_active(entry_id: int):
    ops.set_roster_active(current_user, entry_id, request.form.get("active") == "1")
    db.session.commit()
    return redirect(url_for("inspections.index") + "#roster")


@bp.route("/inspections/conflicts", methods=["POST"])
@login_required
def conflict():
    _guard()
    _result, err = _post("conflict", lambda v: ops.declare_conflict(current_user, v.get("business", ""),
                                                              v.get("reason", "")),
                   _("Conflict of interest recorded; you will not be drawn for this business."))
    return err or redirect(url_for("inspections.index") + "#conflicts")


@bp.route("/inspections/businesses/import", methods=["POST"])
@login_required
def import_businesses():
    _guard()
    f = request.files.get("file")
    if f is None or not f.filename:
        return _overview({"file": _("Choose a CSV file.")}, {}, "import", 422)
    report, err = _post("import", lambda v: ops.import_businesses(current_user, f.stream, f.filename),
                        _("Directory imported."))
    return err or redirect(url_for("inspections.index") + "#directory")


def _create_plan(values: dict):
    # the form's field is plan_name (the item form on the same page has its own "name")
    try:
        return ops.create_plan(current_user, {**values, "name": values.get("plan_name", "")})
    except InvalidInput as e:
        if "name" in e.errors:
            e.errors["plan_name"] = e.errors.pop("name")
        raise


@bp.route("/inspections/plans", methods=["POST"])
@login_required
def create_plan():
    plan, err = _post("plan", lambda v: _create_plan(v), _("Plan created."))
    return err or redirect(url_for("inspections.plan", plan_id=plan.id))


def _plan_page(plan, errors=None, values=None, status=200):
    from caseflow.accounts.models import Agency

    items = db.session.scalars(select(InspectionItem).where(
        InspectionItem.agency_id == plan.agency_id, InspectionItem.active.is_(True))).all()
    agencies = db.session.scalars(select(Agency).where(Agency.id != plan.agency_id)
                                  .order_by(Agency.name)).all()
    return render_template("inspections/plan.html", plan=plan, items=items, errors=errors or {},
                           values=values or {}, manager=ops.can_manage(current_user),
                           classes=rules.CLASSES, agencies=agencies), status


@bp.route("/inspections/plans/<int:plan_id>/participants", methods=["POST"])
@login_required
def add_participant(plan_id: int):
    p = ops.get_plan(current_user, plan_id)
    raw = request.form.get("agency_id", "")
    try:
        ops.add_participant(current_user, p, int(raw) if raw.isdigit() and len(raw) < 10 else None)
    except InvalidInput as e:
        db.session.rollback()
        return _plan_page(p, e.errors, {"agency_id": raw}, 422)
    except CaseFlowError as e:
        db.session.rollback()
        abort(e.status)
    db.session.commit()
    flash(_("Participating agency added."), "success")
    return redirect(url_for("inspections.plan", plan_id=plan_id))


@bp.route("/inspections/draws/<int:draw_id>/join", methods=["POST"])
@login_required
def join(draw_id: int):
    """A participating agency commits to drawing its own inspectors for a joint item."""
    lead = db.session.get(Draw, draw_id) if draw_id < 2**31 else None
    if lead is None:
        abort(404)
    try:
        d = ops.commit_draw(current_user, lead.plan_item, parent=lead)
    except CaseFlowError as e:
        db.session.rollback()
        if e.status == 404:
            abort(404)
        flash(e.message, "error")
        return redirect(url_for("inspections.index")), 303
    db.session.commit()
    flash(_("Commitment recorded. Publish it before drawing."), "success")
    return redirect(url_for("inspections.draw", draw_id=d.id))


@bp.route("/inspections/plans/<int:plan_id>", methods=["GET", "POST"])
@login_required
def plan(plan_id: int):
    _guard()
    p = ops.get_plan(current_user, plan_id)
    if request.method == "GET":
        return _plan_page(p)
    values = {k: request.form.get(k, "") for k in request.form}
    values["classes"] = request.form.getlist("classes")
    try:
        ops.add_plan_item(current_user, p, values)
    except InvalidInput as e:
        db.session.rollback()
        return _plan_page(ops.get_plan(current_user, plan_id), e.errors, values, 422)
    except CaseFlowError as e:
        db.session.rollback()
        abort(e.status)
    db.session.commit()
    flash(_("Item added to the plan."), "success")
    return redirect(url_for("inspections.plan", plan_id=plan_id))


@bp.route("/inspections/plan-items/<int:item_id>/commit", methods=["POST"])
@login_required
def commit(item_id: int):
    pi = db.session.get(PlanItem, item_id) if item_id < 2**31 else None
    if pi is None or pi.plan.agency_id != current_user.agency_id:
        abort(404)
    try:
        d = ops.commit_draw(current_user, pi)
    except CaseFlowError as e:
        db.session.rollback()
        flash(e.message, "error")
        return redirect(url_for("inspections.plan", plan_id=pi.plan_id)), 303
    db.session.commit()
    flash(_("Commitment recorded. Publish it before drawing."), "success")
    return redirect(url_for("inspections.draw", draw_id=d.id))


@bp.route("/inspections/draws/<int:draw_id>", methods=["GET", "POST"])
@login_required
def draw(draw_id: int):
    _guard()
    d = db.session.get(Draw, draw_id) if draw_id < 2**31 else None
    if d is None or d.agency_id != current_user.agency_id:
        abort(404)
    if request.method == "POST":
        try:
            ops.run_draw(current_user, d)
        except CaseFlowError as e:
            db.session.rollback()
            flash(e.message, "error")
            return redirect(url_for("inspections.draw", draw_id=draw_id)), 303
        db.session.commit()
        flash(_("Drawn. The seed is revealed: anyone can replay the draw."), "success")
        return redirect(url_for("inspections.draw", draw_id=draw_id))
    # a participant's draw staffs the lead agency's inspections
    inspections = db.session.scalars(select(Inspection).where(
        Inspection.draw_id == (d.parent_draw_id or d.id)).order_by(Inspection.id)).all()
    return render_template("inspections/draw.html", d=d, inspections=inspections,
                           problems=ops.verify_draw(d) if d.state == "drawn" else [],
                           manager=ops.can_manage(current_user))


@bp.route("/inspections/<int:inspection_id>", methods=["GET", "POST"])
@login_required
def inspection(inspection_id: int):
    insp = ops.get_inspection(current_user, inspection_id)
    errors, values = {}, {}
    if request.method == "POST":
        values = {k: request.form.get(k, "") for k in ("result", "note", "inspected_on", "action")}
        try:
            if values["action"] == "publish":
                ops.publish_result(current_user, insp)
            else:
                day = None
                if values["inspected_on"]:
                    try:
                        day = dt.date.fromisoformat(values["inspected_on"])
                    except ValueError:
                        raise InvalidInput({"inspected_on": ops.messages.text("date_parsing")})
                ops.enter_result(current_user, insp, values["result"], values["note"], day)
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for("inspections.inspection", inspection_id=inspection_id))
        except InvalidInput as e:
            db.session.rollback()
            errors = e.errors
        except CaseFlowError as e:
            db.session.rollback()
            flash(e.message, "error")
            return redirect(url_for("inspections.inspection", inspection_id=inspection_id)), 303
    return render_template("inspections/inspection.html", insp=insp, results=RESULTS,
                           errors=errors, values=values, mine=current_user in insp.inspectors,
                           deadline=ops.publish_deadline(insp)), (422 if errors else 200)


@bp.route("/public/inspections")
def public():
    """双随机、一公开: published results and the draws' commitments; no login."""
    q = request.args.get("q", "")
    return render_template("inspections/public.html", rows=ops.public_results(q), q=q)


@bp.route("/public/draws/<int:draw_id>")
def public_draw(draw_id: int):
    """A draw's commitment (and, once drawn, its seed and result) for anyone to replay."""
    d = db.session.get(Draw, draw_id) if draw_id < 2**31 else None
    if d is None:
        abort(404)
    return render_template("inspections/public_draw.html", d=d)
