"""Home, language switch, help, error pages and template helpers."""
from __future__ import annotations

from flask import (Blueprint, current_app, flash, jsonify, redirect, render_template, request,
                   session, url_for)
from flask_babel import format_date, format_datetime, get_locale, gettext as _
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from caseflow.core.errors import CaseFlowError
from caseflow.core.urls import safe_next
from caseflow.core.timeutil import to_local
from caseflow.extensions import db

bp = Blueprint("core", __name__)


@bp.route("/")
def index():
    if current_user.is_authenticated:
        # the three administrators have no case pages (三员分立): each lands on their own
        if current_user.has_role("sec_admin"):
            return redirect(url_for("security.users"))
        if current_user.has_role("auditor"):
            return redirect(url_for("security.audit_log"))
        if current_user.has_role("sys_admin"):
            return redirect(url_for("admin.calendar"))
        return redirect(url_for("cases.list_cases"))
    return redirect(url_for("accounts.login"))


@bp.route("/lang/<code>", methods=["POST"])
def set_language(code: str):
    if code not in current_app.config["LANGUAGES"]:
        flash(_("Unknown language."), "error")
    else:
        session["lang"] = code
        if current_user.is_authenticated:
            from caseflow.accounts.operations import set_locale

            set_locale(current_user, code)
            db.session.commit()
    return redirect(safe_next(request.form.get("next"), url_for("core.index")))


@bp.route("/help")
@login_required
def help_page():
    return render_template("help.html")


def _wants_json() -> bool:
    """The API and the mobile pages' JSON endpoints answer errors in JSON."""
    return request.path.startswith("/api/") or (
        request.path.startswith("/m/") and request.method != "GET")


def register_errors(app):
    @app.errorhandler(CSRFError)
    def csrf_error(e):
        if _wants_json():
            return jsonify(message=e.description), 400
        flash(_("Your form expired or was sent from elsewhere. Please submit it again."), "error")
        return render_template("errors/error.html", code=400, message=e.description), 400

    def record_denied(status: int) -> None:
        """Every refused request leaves one audit record (等保 安全审计): who, what, where from."""
        if status not in (401, 403):
            return
        from flask_login import current_user

        from caseflow.cases.pages import end_reading
        from caseflow.core import audit

        end_reading()  # a list request read without a transaction: this record is written
        db.session.rollback()
        user = current_user if getattr(current_user, "is_authenticated", False) else None
        audit.record("request.denied", user=user, ip=request.remote_addr or "",
                     method=request.method, path=request.path[:300], status=status)
        db.session.commit()

    from sqlalchemy.orm.exc import StaleDataError

    @app.errorhandler(StaleDataError)
    def stale_data(e):
        """Someone saved the same object between our read and our write (a version column):
        409 with the "changed meanwhile" message, wherever the write happened (commit
        included), never a 500."""
        from caseflow.cases import messages as m
        from caseflow.core.errors import StaleVersion

        db.session.rollback()
        return domain_error(StaleVersion(m.text("stale_version")))

    @app.errorhandler(CaseFlowError)
    def domain_error(e: CaseFlowError):
        db.session.rollback()
        record_denied(e.status)
        if _wants_json():
            body = {"message": e.message}
            if hasattr(e, "errors"):
                body["errors"] = e.errors
            return jsonify(body), e.status
        return render_template("errors/error.html", code=e.status, message=e.message), e.status

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        record_denied(e.code or 0)
        if _wants_json():
            return jsonify(message=e.description), e.code
        messages = {403: _("You are not allowed to see this page."),
                    404: _("Page not found."),
                    405: _("Method not allowed.")}
        return render_template("errors/error.html", code=e.code,
                               message=messages.get(e.code, e.description)), e.code


def _agency_name(agency_id):
    from caseflow.accounts.models import Agency

    a = db.session.get(Agency, agency_id) if agency_id else None
    return a.name if a else ""


def _user_name(user_id):
    from caseflow.accounts.models import User

    u = db.session.get(User, user_id) if user_id else None
    return u.display_name if u else ""


def register_template_helpers(app):
    from caseflow.cases import messages as m
    from caseflow.reports import labels as report_labels

    @app.context_processor
    def helpers():
        return {
            "referral_outcome_label": report_labels.referral_outcome_label,
            "publication_label": report_labels.publication_label,
            "state_label": lambda s: m.STATE_LABELS.get(s, s),
            "action_label": m.action_label,
            "channel_label": lambda s: m.CHANNEL_LABELS.get(s, s),
            "ip_type_label": lambda s: m.IP_TYPE_LABELS.get(s, s),
            "clock_label": lambda s: m.CLOCK_LABELS.get(s, s),
            "role_label": lambda s: m.ROLE_LABELS.get(s, s),
            "party_kind_label": lambda s: m.PARTY_KIND_LABELS.get(s, s),
            "pause_kind_label": lambda s: m.PAUSE_KIND_LABELS.get(s, s),
            "field_label": lambda s: m.FIELD_LABELS.get(s, s),
            "languages": app.config["LANGUAGES"],
            "get_locale": get_locale,
            "ident": lambda x: x,
            "import_reason": lambda s: m.IMPORT_REASONS.get(s, s),
            "verify_problem": lambda s: m.VERIFY_PROBLEMS.get(s, s),
            "referral_state_label": lambda s: m.REFERRAL_STATE_LABELS.get(s, s),
            "referral_action_label": lambda s: m.REFERRAL_ACTION_LABELS.get(s, s),
            "referral_clock_label": lambda s: m.REFERRAL_CLOCK_LABELS.get(s, s),
            "package_label": lambda s: m.PACKAGE_LABELS.get(s, s),
            "metric_label": lambda s: m.METRIC_LABELS.get(s, s),
            "level_label": lambda s: m.LEVEL_LABELS.get(s, s),
            "condition_label": lambda s: m.CONDITION_LABELS.get(s, s),
            "share_part_label": lambda s: m.SHARE_PART_LABELS.get(s, s),
            "share_parts": ("details", "parties", "amounts", "timeline", "complainant"),
            "agency_name": _agency_name,
            "user_name": _user_name,
        }

    @app.template_filter("zip_labels")
    def _zip_labels(values, labeler):
        return [(v, labeler(v)) for v in values]

    @app.template_filter("package_label_str")
    def _package_label_str(item):
        return str(m.PACKAGE_LABELS.get(item, item))

    @app.template_filter("change")
    def _change(value):
        if isinstance(value, list):
            return "、".join(str(v) for v in value) or "—"
        return "—" if value in (None, "") else value

    @app.template_filter("dt")
    def _dt(value):
        return format_datetime(to_local(value), "yyyy-MM-dd HH:mm") if value else ""

    @app.template_filter("d")
    def _d(value):
        return format_date(value, "yyyy-MM-dd") if value else ""
