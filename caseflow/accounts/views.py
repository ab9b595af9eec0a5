"""Login and logout."""
from __future__ import annotations

import time

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from caseflow.accounts import operations as ops
from caseflow.accounts.forms import LoginForm
from caseflow.cases import messages
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
        except ops.LoginRefused:
            db.session.commit()  # keep the failure counter and audit row
            # One message whether the name is unknown, the password wrong or the account
            # locked, so a failed login never tells whether an account exists.
            form.password.errors.append(_login_failed_text())
            return render_template("accounts/login.html", form=form), 401
        nxt = safe_next(request.args.get("next"), url_for("core.index"))
        if ops.needs_second_factor(user):
            # The password alone does not log in: a one-time code (or first the set-up of the
            # authenticator app) follows within TOTP_PENDING_SECONDS.
            db.session.commit()
            lang = session.get("lang")
            session.clear()
            if lang:
                session["lang"] = lang
            session["mfa"] = {"uid": user.id, "at": int(time.time()), "next": nxt}
            target = "accounts.second_factor" if ops.second_factor_enrolled(user) \
                else "accounts.enrol_second_factor"
            return redirect(url_for(target))
        return _finish_login(user, nxt)
    return render_template("accounts/login.html", form=form), (422 if form.errors else 200)


def _login_failed_text() -> str:
    return _("Wrong username or password. After %(n)s failed attempts "
             "the account is locked for %(m)s minutes.",
             n=current_app.config["LOGIN_MAX_FAILURES"],
             m=current_app.config["LOGIN_LOCKOUT_MINUTES"])


def _finish_login(user, nxt: str):
    """Both factors are proven: a new server-side session and a fresh cookie."""
    lang = session.get("lang")
    session.clear()  # a fresh session at login
    sess = ops.start_session(user, request.user_agent.string or "", request.remote_addr or "")
    if lang and not user.locale:
        user.locale = lang
    db.session.commit()
    user._session_id = sess.id
    login_user(user)
    session["seen"] = int(time.time())  # the idle timeout counts from here
    return redirect(nxt)


def _pending_user():
    """The user who gave the right password and still owes the one-time code, or None."""
    from caseflow.accounts.models import User

    pending = session.get("mfa")
    if not isinstance(pending, dict) or not isinstance(pending.get("uid"), int):
        return None
    age = time.time() - int(pending.get("at") or 0)
    if not 0 <= age <= current_app.config["TOTP_PENDING_SECONDS"]:
        session.pop("mfa", None)
        return None
    user = db.session.get(User, pending["uid"])
    if user is None or not user.active:
        session.pop("mfa", None)
        return None
    return user


def _pending_expired():
    flash(_("Log in again: the time to enter the one-time code has run out."), "warning")
    return redirect(url_for("accounts.login"))


@bp.route("/login/code", methods=["GET", "POST"])
def second_factor():
    """Second step of the login: the 6-digit code of the user's authenticator app."""
    if current_user.is_authenticated:
        return redirect(url_for("core.index"))
    user = _pending_user()
    if user is None:
        return _pending_expired()
    if not ops.second_factor_enrolled(user):
        return redirect(url_for("accounts.enrol_second_factor"))
    errors, code = {}, ""
    if request.method == "POST":
        code = (request.form.get("code") or "")[:32]
        try:
            ops.check_second_factor(user, code, ip=request.remote_addr or "")
        except ops.LoginRefused as refused:
            db.session.commit()  # the failure counts toward the lockout; its audit row stays
            if refused.code == "locked":
                session.pop("mfa", None)
                flash(_login_failed_text(), "error")
                return redirect(url_for("accounts.login"))
            errors["code"] = messages.text("totp_wrong")
            return render_template("accounts/second_factor.html", errors=errors, code=code), 401
        return _finish_login(user, session["mfa"].get("next") or url_for("core.index"))
    return render_template("accounts/second_factor.html", errors=errors, code=code)


@bp.route("/login/enrol", methods=["GET", "POST"])
def enrol_second_factor():
    """First login of an account that must use a second factor: set up the authenticator app
    (scan the QR code or type the key), then prove it with a code."""
    from caseflow.core.errors import InvalidInput

    if current_user.is_authenticated:
        return redirect(url_for("core.index"))
    user = _pending_user()
    if user is None:
        return _pending_expired()
    if ops.second_factor_enrolled(user):
        return redirect(url_for("accounts.second_factor"))
    pending = dict(session["mfa"])
    secret, pending["secret"] = ops.enrolment_secret(pending.get("secret"))
    session["mfa"] = pending
    errors, status, code = {}, 200, ""
    if request.method == "POST":
        code = (request.form.get("code") or "")[:32]
        try:
            ops.enrol_second_factor(user, secret, code, ip=request.remote_addr or "")
        except ops.LoginRefused:
            db.session.commit()
            session.pop("mfa", None)
            flash(_login_failed_text(), "error")
            return redirect(url_for("accounts.login"))
        except InvalidInput as e:
            db.session.commit()  # the failure counts toward the lockout
            errors, status = e.errors, 422
        else:
            return _finish_login(user, pending.get("next") or url_for("core.index"))
    return render_template("accounts/enrol.html", errors=errors, code=code,
                           **ops.enrolment_offer(user, secret)), status


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
