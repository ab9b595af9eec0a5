"""The in-app inbox of reminders and the unread badge on every page."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user, login_required

from caseflow.core.urls import safe_next
from caseflow.extensions import db
from caseflow.reminders import operations as ops

bp = Blueprint("reminders", __name__)

KIND_LABELS = {"due_soon": _l("due soon"), "overdue": _l("overdue")}
KIND_BADGES = {"due_soon": "soon", "overdue": "overdue"}
INBOX_SIZE = 100


@bp.app_context_processor
def _inbox_helpers():
    return {"inbox_unread": _inbox_unread}


def _inbox_unread() -> int:
    """The badge: called by base.html only when it renders the navigation."""
    if not getattr(current_user, "is_authenticated", False):
        return 0
    return ops.unread_count(current_user)


@bp.route("/inbox")
@login_required
def inbox():
    return render_template("reminders/inbox.html", reminders=ops.inbox(current_user, INBOX_SIZE),
                           kind_labels=KIND_LABELS, kind_badges=KIND_BADGES)


@bp.route("/inbox/<int:reminder_id>/read", methods=["POST"])
@login_required
def mark_read(reminder_id: int):
    """Mark read, then back to the inbox or on to what the reminder is about (``next``)."""
    ops.mark_read(current_user, reminder_id)  # NotFound for anyone else's reminder
    db.session.commit()
    inbox_url = url_for("reminders.inbox")
    target = safe_next(request.form.get("next"), inbox_url)
    if target == inbox_url:
        flash(_("Marked as read."), "success")
    return redirect(target)
