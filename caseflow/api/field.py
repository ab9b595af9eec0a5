"""What field apps need beyond cases and evidence: my work (joint-action tasks, dual-random
inspections, inbox), entering an inspection result, and the caller's API tokens."""
from __future__ import annotations

from flask import jsonify, request
from flask_login import current_user

from caseflow.accounts import operations as accounts
from caseflow.api.idempotency import idempotent, respond
from caseflow.api.views import _body, _require_user, _settle, bp
from caseflow.cases.schemas import (InspectionOut, InspectionResultIn, MyWorkOut, ReminderOut,
                                    TaskOut, TokenInfoOut, TokenListOut)
from caseflow.core.errors import PermissionDenied
from caseflow.core.timeutil import today_local
from caseflow.extensions import db


def _require_login():
    if not current_user.is_authenticated:
        from flask import abort

        abort(401, description="Authentication required.")


def task_out(t, today) -> TaskOut:
    from caseflow.actions.rules import is_overdue

    return TaskOut(id=t.id, action_id=t.action_id, action=t.action.name, title=t.title,
                   description=t.description, state=t.state, due_on=t.due_on,
                   overdue=is_overdue(t.state, t.due_on, today),
                   target=t.target.name if t.target else None, version=t.version)


def inspection_out(i) -> InspectionOut:
    return InspectionOut(id=i.id, business=i.business.name, credit_code=i.business.credit_code,
                         address=i.business.address, item=i.plan_item.item.name,
                         due_date=i.due_date, state=i.state, result=i.result,
                         inspected_on=i.inspected_on)


@bp.route("/me/work", methods=["GET"])
def my_work():
    """Open joint-action tasks for me, my dual-random inspections still to do or publish,
    and my inbox (newest 50 reminders)."""
    from caseflow.actions.operations import my_tasks
    from caseflow.inspections import operations as inspections
    from caseflow.inspections.models import Inspection
    from caseflow.reminders import operations as reminders

    _require_user()
    today = today_local()
    tasks = [task_out(t, today) for t in my_tasks(current_user)]
    todo = db.session.scalars(inspections.my_inspections(current_user)
                              .where(Inspection.state != "published").limit(200))
    inbox = [ReminderOut(id=r.id, kind=r.kind, subject=r.subject, body=r.body, link=r.link,
                         due_at=r.due_at, read=r.read_at is not None)
             for r in reminders.inbox(current_user, 50)]
    return jsonify(MyWorkOut(tasks=tasks, inspections=[inspection_out(i) for i in todo],
                             inbox=inbox).model_dump(mode="json"))


@bp.route("/inspections/<int:inspection_id>/result", methods=["POST"])
@idempotent
def inspection_result(inspection_id: int):
    """谁检查、谁录入: an inspector drawn for the inspection enters its result."""
    from caseflow.inspections import operations as inspections

    _require_user()
    insp = inspections.get_inspection(current_user, inspection_id)
    data = _body(InspectionResultIn)
    inspections.enter_result(current_user, insp, data.result, data.note, data.inspected_on)
    _settle()
    return respond(inspection_out(insp).model_dump(mode="json"))


@bp.route("/me/inbox/<int:reminder_id>/read", methods=["POST"])
def inbox_read(reminder_id: int):
    from caseflow.reminders import operations as reminders

    _require_login()
    r = reminders.mark_read(current_user, reminder_id)
    db.session.commit()
    return jsonify(ReminderOut(id=r.id, kind=r.kind, subject=r.subject, body=r.body, link=r.link,
                               due_at=r.due_at, read=True).model_dump(mode="json"))


def token_info(t) -> TokenInfoOut:
    return TokenInfoOut(id=t.id, user=t.user.display_name, label=t.label or "",
                        created_at=t.created_at, expires_at=t.expires_at,
                        last_used_at=t.last_used_at, revoked_at=t.revoked_at)


@bp.route("/tokens", methods=["GET"])
def list_tokens():
    """The caller's tokens; ``?scope=agency`` (agency admins): every token of the agency."""
    _require_login()
    agency_wide = request.args.get("scope") == "agency"
    try:
        rows = accounts.tokens_visible_to(current_user, agency_wide)
    except PermissionDenied:
        from flask import abort

        abort(403)
    return jsonify(TokenListOut(items=[token_info(t) for t in rows]).model_dump(mode="json"))


@bp.route("/tokens/<int:token_id>", methods=["DELETE"])
def revoke_token(token_id: int):
    """Revoke one of the caller's tokens (or, agency admins, one of the agency's)."""
    from caseflow.core.errors import NotFound

    _require_login()
    try:
        row = accounts.revoke_api_token(current_user, token_id, ip=request.remote_addr or "")
    except NotFound:
        from flask import abort

        abort(404)
    db.session.commit()
    return jsonify(token_info(row).model_dump(mode="json"))
