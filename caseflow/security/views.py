"""Screens of the security administrator (/security: accounts and roles) and of the audit
administrator (/audit: the log). Thin: parse, call security.operations / security.auditlog,
render; refused input comes back with what was typed."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from caseflow.accounts.models import SEPARATED_ADMIN_ROLES, Role
from caseflow.cases import messages
from caseflow.core.errors import InvalidInput, NotFound, PermissionDenied
from caseflow.extensions import db
from caseflow.security import auditlog, operations as ops

bp = Blueprint("security", __name__)

ROLE_CHOICES = [r.value for r in Role]


def _require_sec_admin():
    if not ops.can_manage(current_user):
        abort(403)


def _user_or_404(user_id: int):
    try:
        return ops.get_user(current_user, user_id)
    except NotFound:
        abort(404)


def _users_page(values=None, errors=None, status=200, created=None):
    q = (request.args.get("q") or "").strip()[:64]
    return render_template("security/users.html", users=ops.users(current_user, q), q=q,
                           agencies=ops.agencies(), roles=ROLE_CHOICES,
                           separated=sorted(SEPARATED_ADMIN_ROLES), values=values or {},
                           errors=errors or {}, created=created), status


@bp.route("/security/users", methods=["GET", "POST"])
@login_required
def users():
    _require_sec_admin()
    if request.method == "GET":
        return _users_page()
    f = request.form
    values = {"agency_id": f.get("agency_id", ""), "username": f.get("username", "")[:64],
              "display_name": f.get("display_name", "")[:100], "roles": f.getlist("roles")}
    try:
        user, password = ops.create_account(current_user, values["agency_id"], values["username"],
                                            values["display_name"], values["roles"])
    except InvalidInput as e:
        db.session.rollback()
        return _users_page(values, e.errors, 422)
    db.session.commit()
    # the one-time password is shown once, on this answer only (never stored in clear)
    return _users_page(created={"username": user.username, "password": password})


@bp.route("/security/users/<int:user_id>", methods=["GET", "POST"])
@login_required
def user(user_id: int):
    _require_sec_admin()
    target = _user_or_404(user_id)
    errors, status, shown_password = {}, 200, None
    values = {"roles": sorted(target.roles)}
    if request.method == "POST":
        action = request.form.get("action", "")
        try:
            if action == "roles":
                values = {"roles": request.form.getlist("roles")}
                ops.set_roles(current_user, target, values["roles"])
                message = _("Roles saved; the person logs in again.")
            elif action in ("disable", "enable"):
                ops.set_active(current_user, target, action == "enable")
                message = _("Account enabled.") if action == "enable" else \
                    _("Account disabled; its sessions and tokens have ended.")
            elif action == "unlock":
                ops.unlock(current_user, target)
                message = _("Account unlocked.")
            elif action == "reset_password":
                shown_password = ops.reset_password(current_user, target)
                message = _("A one-time password was set; the person must change it at the next login.")
            elif action == "reset_second_factor":
                ops.reset_second_factor(current_user, target)
                message = _("Second factor reset; the person sets up the app again at the next login.")
            else:
                raise InvalidInput({"action": messages.text("enum")})
        except InvalidInput as e:
            db.session.rollback()
            errors, status = e.errors, 422
        except PermissionDenied as e:
            db.session.rollback()
            errors, status = {"action": messages.text(str(e)) if str(e) == "own_account"
                              else messages.text("forbidden")}, 403
        else:
            db.session.commit()
            if shown_password is None:
                flash(message, "success")
                return redirect(url_for("security.user", user_id=target.id), 303)
            flash(message, "success")
    return render_template("security/user.html", target=target, roles=ROLE_CHOICES,
                           separated=sorted(SEPARATED_ADMIN_ROLES), values=values, errors=errors,
                           password=shown_password, own=target.id == current_user.id), status


# ----------------------------------------------------------------------------- audit log


def _require_auditor():
    if not auditlog.can_read(current_user):
        abort(403)


@bp.route("/audit/")
@login_required
def audit_log():
    _require_auditor()
    values = {k: (request.args.get(k) or "")[:64] for k in ("from", "to", "username", "action",
                                                            "result", "ip")}
    try:
        f = auditlog.parse_filters(request.args)
    except InvalidInput as e:
        return render_template("security/audit.html", rows=[], next_seq=None, values=values,
                               errors=e.errors, results=auditlog.RESULTS), 422
    rows, next_seq = auditlog.search(current_user, f)
    db.session.commit()  # the search is recorded
    return render_template("security/audit.html", rows=rows, next_seq=next_seq, values=values,
                           errors={}, results=auditlog.RESULTS)


@bp.route("/audit/export.csv")
@login_required
def audit_export():
    _require_auditor()
    try:
        f = auditlog.parse_filters(request.args)
    except InvalidInput as e:
        values = {k: (request.args.get(k) or "")[:64] for k in ("from", "to", "username",
                                                                "action", "result", "ip")}
        return render_template("security/audit.html", rows=[], next_seq=None, values=values,
                               errors=e.errors, results=auditlog.RESULTS), 422
    body, n = auditlog.export_csv(current_user, f)
    db.session.commit()
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": "attachment; filename=audit-log.csv",
        "X-Rows": str(n), "Cache-Control": "private, no-store"})


@bp.route("/audit/verify", methods=["POST"])
@login_required
def audit_verify():
    _require_auditor()
    report = auditlog.verify(current_user)
    db.session.commit()
    if report.ok:
        flash(_("The audit chain verifies: %(n)s records, none edited, missing, inserted or "
                "reordered.", n=report.checked), "success")
    else:
        flash(_("The audit chain does NOT verify: %(n)s problems, the first at record %(seq)s "
                "(%(kind)s).", n=len(report.problems), seq=report.problems[0].seq,
                kind=report.problems[0].kind), "error")
    return redirect(url_for("security.audit_log"), 303)
