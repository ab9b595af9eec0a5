"""Grant and revoke shares of a case (owning agency's case officers and approvers)."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from caseflow.cases import operations as case_ops
from caseflow.cases.views import _render_detail
from caseflow.core.errors import InvalidInput
from caseflow.extensions import db
from caseflow.sharing import operations as ops

bp = Blueprint("sharing", __name__, url_prefix="/cases")


@bp.route("/<int:case_id>/shares", methods=["POST"])
@login_required
def grant(case_id: int):
    case = case_ops.get_case(current_user, case_id)
    if not ops.can_manage_shares(current_user, case):
        abort(403)
    form = request.form
    values = {"agency_id": form.get("agency_id", ""), "purpose": form.get("purpose", ""),
              "parts": form.getlist("parts"), "expires_on": form.get("expires_on", "")}
    errors = {}
    agency_id = int(values["agency_id"]) if values["agency_id"].isascii() \
        and values["agency_id"].isdigit() and len(values["agency_id"]) < 10 else None
    expires_on = None
    if values["expires_on"]:
        try:
            expires_on = dt.date.fromisoformat(values["expires_on"])
        except ValueError:
            errors["expires_on"] = case_ops.messages.text("date_parsing")
    try:
        if errors:
            raise InvalidInput(errors)
        ops.grant_share(current_user, case, agency_id, values["purpose"], values["parts"],
                        expires_on)
    except InvalidInput as e:
        db.session.rollback()
        return _render_detail(case_ops.get_case(current_user, case_id), 422, e.errors, "share",
                              values)
    db.session.commit()
    flash(_("Shared."), "success")
    return redirect(url_for("cases.detail", case_id=case_id) + "#sharing")


@bp.route("/<int:case_id>/shares/<int:grant_id>/revoke", methods=["POST"])
@login_required
def revoke(case_id: int, grant_id: int):
    case = case_ops.get_case(current_user, case_id)
    if not ops.can_manage_shares(current_user, case):
        abort(403)
    grant = db.session.get(ops.ShareGrant, grant_id)
    if grant is None or grant.case_id != case.id:
        abort(404)
    ops.revoke_share(current_user, grant_id)
    db.session.commit()
    flash(_("Share revoked."), "success")
    return redirect(url_for("cases.detail", case_id=case_id) + "#sharing")
