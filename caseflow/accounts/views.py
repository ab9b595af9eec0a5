"""Login and logout."""
from __future__ import annotations

import time

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from caseflow.accounts import operations as ops
from caseflow.accounts.forms import LoginForm
from caseflow.core.urls import safe_next
from caseflow.extensions import db

bp = Blueprint("accounts", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("core.index"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = ops.authenticate(form.username.data, form.password.data, ip=request.remote_addr or "")
        except ops.LoginRefused as refused:
            db.session.commit()  # keep the failure counter and audit row
            # One message whether the name is unknown, the password wrong or the account
            # locked, so a failed login never tells whether an account exists.
            form.password.errors.append(_("Wrong username or password. After %(n)s failed attempts "
                                          "the account is locked for %(m)s minutes.",
                                          n=current_app.config["LOGIN_MAX_FAILURES"],
                                          m=current_app.config["LOGIN_LOCKOUT_MINUTES"]))
            return render_template("accounts/login.html", form=form), 401
        lang = session.get("lang")
        session.clear()  # a fresh session at login
        sess = ops.start_session(user, request.user_agent.string or "", request.remote_addr or "")
        if lang and not user.locale:
            user.locale = lang
        db.session.commit()
        user._session_id = sess.id
        login_user(user)
        session["seen"] = int(time.time())  # the idle timeout counts from here
        return redirect(safe_next(request.args.get("next"), url_for("core.index")))
    return render_template("accounts/login.html", form=form), (422 if form.errors else 200)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    ops.end_session(current_user.get_id(), current_user)
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You have logged out."), "info")
    return redirect(url_for("accounts.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change the own password; afterwards every session (this one too) and API token ends."""
    from caseflow.core.errors import InvalidInput

    errors, status = {}, 200
    if request.method == "POST":
        form = request.form
        try:
            ops.change_password(current_user, form.get("current", ""), form.get("new", ""),
                                form.get("repeat", ""), request.remote_addr or "")
        except InvalidInput as e:
            db.session.commit()  # the refused attempt's audit record stays
            errors, status = e.errors, 422
        else:
            db.session.commit()
            logout_user()
            session.clear()
            flash(_("Your password was changed. Log in with the new one."), "success")
            return redirect(url_for("accounts.login"))
    expired = ops.password_expired(current_user)
    return render_template("accounts/password.html", errors=errors, expired=expired,
                           min_length=current_app.config["PASSWORD_MIN_LENGTH"],
                           days=current_app.config["PASSWORD_EXPIRY_DAYS"]), status


@bp.route("/account/tokens")
@login_required
def tokens():
    """The user's API tokens (field apps) and, for an agency admin, the agency's."""
    from caseflow.accounts.models import Role

    admin = current_user.has_role(Role.AGENCY_ADMIN)
    return render_template("accounts/tokens.html", mine=ops.tokens_visible_to(current_user),
                           agency=ops.tokens_visible_to(current_user, True) if admin else [],
                           admin=admin)


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id: int):
    from flask import abort

    from caseflow.core.errors import NotFound

    try:
        ops.revoke_api_token(current_user, token_id, ip=request.remote_addr or "")
    except NotFound:
        abort(404)
    db.session.commit()
    flash(_("The token is revoked; apps using it must log in again."), "success")
    return redirect(url_for("accounts.tokens"), 303)
