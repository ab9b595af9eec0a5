"""Case screens. Each view: load or 404 → permission → validate → one operation → redirect."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from pydantic import ValidationError
from sqlalchemy import select

from caseflow.accounts.models import Role, User, UserRole
from caseflow.cases import messages, operations as ops, pages, queries
from caseflow.cases.models import Case
from caseflow.cases.permissions import can_assign_officers, can_create_clue, can_edit
from caseflow.cases.rules import (PENALTY_KINDS, TRANSITIONS, Channel, IPType, PartyKind,
                                  PauseKind, State)
from caseflow.cases.schemas import (CaseUpdateIn, ClueIn, OfficersIn, TransitionIn, error_map)
from caseflow.core.errors import CaseFlowError, InvalidInput, StaleVersion
from caseflow.core.models import load_calendar
from caseflow.core.timeutil import today_local
from caseflow.extensions import db

bp = Blueprint("cases", __name__, url_prefix="/cases")

AMOUNT_FIELDS = ops.AMOUNT_FIELDS
PARTY_FIELDS = ("kind", "name", "credit_code", "id_number", "address")
GOODS_FIELDS = ("name", "quantity", "unit", "value")
CASE_TEXT_FIELDS = ("title", "channel", "ip_type", "received_at", "description", "location",
                    "infringement_kind", "trademark_numbers", "reporter_name", "reporter_contact")


def _action_options(case: Case | None = None) -> list[tuple[int, str]]:
    """Joint actions a case of the user's agency may be linked to (and its current one)."""
    from caseflow.actions.models import JointAction
    from caseflow.actions.operations import linkable_actions

    if not getattr(current_user, "is_authenticated", False) or not current_user.works_cases:
        return []
    actions = linkable_actions(current_user.agency_id)
    if case is not None and case.joint_action_id and case.joint_action_id not in {a.id for a in actions}:
        actions.insert(0, db.session.get(JointAction, case.joint_action_id))
    return [(a.id, a.name) for a in actions if a is not None]


def _choices(case: Case | None = None):
    return {
        "joint_actions": _action_options(case),
        "states": list(State),
        "channels": list(Channel),
        "ip_types": list(IPType),
        "party_kinds": list(PartyKind),
        "pause_kinds": list(PauseKind),
        "penalty_kinds": PENALTY_KINDS,
    }


# ----------------------------------------------------------------------------- form parsing


def _form_values(form) -> tuple[dict, dict, list[int]]:
    """What the user typed (to re-display) and the payload for the schema.

    Returns (values, payload, party_rows) where party_rows maps payload index → form row.
    """
    values: dict = {k: form.get(k, "") for k in CASE_TEXT_FIELDS}
    values["is_major"] = form.get("is_major") == "y"
    values["multiple_marks"] = form.get("multiple_marks") == "y"
    values["repeat_offence"] = form.get("repeat_offence") == "y"
    values["version"] = form.get("version", "")
    values["joint_action_id"] = form.get("joint_action_id", "")
    for f in AMOUNT_FIELDS:
        values[f"amounts-{f}"] = form.get(f"amounts-{f}", "")
    rows = sorted({int(k.split("-")[1]) for k in form if k.startswith("parties-")
                   and k.split("-")[1].isdigit() and int(k.split("-")[1]) < 50})
    parties_typed = []
    for i in rows:
        parties_typed.append({f: form.get(f"parties-{i}-{f}", "") for f in PARTY_FIELDS})
    values["parties"] = parties_typed or [{"kind": "business"}]
    goods_rows = sorted({int(k.split("-")[1]) for k in form if k.startswith("goods-")
                         and k.split("-")[1].isdigit() and int(k.split("-")[1]) < 100})
    goods_typed = [{f: form.get(f"goods-{i}-{f}", "") for f in GOODS_FIELDS} for i in goods_rows]
    values["goods"] = goods_typed or [{}]

    payload: dict = {k: values[k] for k in CASE_TEXT_FIELDS}
    if not payload["received_at"]:
        payload.pop("received_at")
    payload["is_major"] = values["is_major"]
    payload["joint_action_id"] = values["joint_action_id"].strip() or None
    payload["multiple_marks"] = values["multiple_marks"]
    payload["repeat_offence"] = values["repeat_offence"]
    payload["amounts"] = {f: values[f"amounts-{f}"] for f in AMOUNT_FIELDS
                          if values[f"amounts-{f}"].strip() != ""}
    payload["goods"] = []
    goods_index = []
    for i, g in enumerate(goods_typed):
        if not any((g.get(k) or "").strip() for k in GOODS_FIELDS):
            continue  # an untouched row
        payload["goods"].append({k: g[k] for k in GOODS_FIELDS if k in ("name", "unit") or g[k].strip()})
        goods_index.append(i)
    values["_goods_rows"] = goods_index
    payload["parties"] = []
    party_rows = []
    for i, p in enumerate(parties_typed):
        if not any((p.get(k) or "").strip() for k in ("name", "credit_code", "id_number")):
            continue  # an untouched row
        entry = {k: p.get(k, "") for k in PARTY_FIELDS}
        for k in ("credit_code", "id_number"):
            if not entry[k].strip():
                entry[k] = None
        payload["parties"].append(entry)
        party_rows.append(i)
    return values, payload, party_rows


def _form_errors(exc: ValidationError, party_rows: list[int],
                 goods_rows: list[int] | None = None) -> dict[str, str]:
    out = {}
    for path, msg in error_map(exc, messages.pydantic_text).items():
        parts = path.split(".")
        if parts[0] == "parties" and len(parts) > 1 and parts[1].isdigit() and party_rows:
            parts[1] = str(party_rows[int(parts[1])])
        if parts[0] == "goods" and len(parts) > 1 and parts[1].isdigit() and goods_rows:
            parts[1] = str(goods_rows[int(parts[1])])
        out["-".join(parts)] = msg
    return out


def _case_values(case: Case) -> dict:
    values = {
        "title": case.title, "channel": case.channel, "ip_type": case.ip_type,
        "received_at": case.received_on.isoformat(), "description": case.description,
        "location": case.location, "infringement_kind": case.infringement_kind,
        "trademark_numbers": case.trademark_numbers.replace(",", ", "),
        "reporter_name": case.reporter_name, "reporter_contact": case.reporter_contact,
        "is_major": case.is_major, "version": case.version,
        "joint_action_id": str(case.joint_action_id or ""),
        "multiple_marks": case.multiple_marks, "repeat_offence": case.repeat_offence,
        "parties": [{"kind": p.kind, "name": p.name, "credit_code": p.credit_code or "",
                     "id_number": p.id_number or "", "address": p.address} for p in case.parties]
        or [{"kind": "business"}],
        "goods": [{"name": g.name, "quantity": f"{g.quantity.normalize():f}", "unit": g.unit,
                   "value": f"{g.value.normalize():f}" if g.value else ""} for g in case.goods]
        or [{}],
    }
    for f in AMOUNT_FIELDS:
        v = getattr(case, f)
        values[f"amounts-{f}"] = "" if not v else str(v)
    return values


# ----------------------------------------------------------------------------- list


@bp.route("/")
@login_required
def list_cases():
    if not current_user.works_cases:
        abort(403)
    return pages.serve("html", _render_list)


def _render_list(overrides: dict):
    errors = {}
    try:
        filters = queries.CaseFilters.from_args(request.args, messages.text)
        cursor = request.args.get("cursor") or None
        items, next_cursor = queries.list_cases(current_user, filters, cursor,
                                                current_app.config["PAGE_SIZE"], messages.text)
    except InvalidInput as e:
        errors = e.errors
        filters = queries.CaseFilters()
        items, next_cursor = queries.list_cases(current_user, filters, None,
                                                current_app.config["PAGE_SIZE"], messages.text)
    counts = queries.state_counts(current_user, filters)
    officers = _officer_choices()
    from caseflow.actions.operations import listed_numbers
    from caseflow.actions.rules import trademark_numbers

    key_listed = listed_numbers({n for c in items for n in trademark_numbers(c.trademark_numbers)})
    return render_template("cases/list.html", items=items, next_cursor=next_cursor,
                           key_listed=key_listed, row_labels=_row_labels(),
                           counts=counts, all_total=sum(counts.values()), filters=filters,
                           # the h1 counts what is listed: the chosen state's cases, if one
                           total=counts.get(filters.state, 0) if filters.state else sum(counts.values()),
                           errors=errors, officers=officers, today=today_local(),
                           can_create=can_create_clue(current_user), states=list(State),
                           channels=list(Channel), ip_types=list(IPType), **overrides), \
        (422 if errors else 200)


def _memo(fn):
    cache = {}

    def get(value):
        if value not in cache:
            cache[value] = fn(value)
        return cache[value]
    return get


def _row_labels():
    """What each row of the list shows through translations and Babel, looked up once per
    distinct value and page (50 rows would otherwise repeat it hundreds of times)."""
    from types import SimpleNamespace

    from flask_babel import format_date

    return SimpleNamespace(
        state=_memo(lambda s: str(messages.STATE_LABELS.get(s, s))),
        ip_type=_memo(lambda s: str(messages.IP_TYPE_LABELS.get(s, s))),
        day=_memo(lambda d: format_date(d, "yyyy-MM-dd") if d else ""))  # as the |d filter


def _officer_choices() -> list:
    """The list's officer filter: (id, display_name) rows, all it shows."""
    return list(db.session.execute(
        select(User.id, User.display_name).where(User.agency_id == current_user.agency_id,
                                                 User.active.is_(True),
                                                 User.id.in_(select(UserRole.user_id).where(
                                                     UserRole.role.in_([Role.CASE_OFFICER,
                                                                        Role.INSPECTOR]))))
        .order_by(User.display_name)))


def _agency_officers() -> list[User]:
    return list(db.session.scalars(
        select(User).where(User.agency_id == current_user.agency_id, User.active.is_(True),
                           User.id.in_(select(UserRole.user_id).where(
                               UserRole.role.in_([Role.CASE_OFFICER, Role.INSPECTOR]))))
        .order_by(User.display_name)))


# ----------------------------------------------------------------------------- create / edit


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new_clue():
    if not can_create_clue(current_user):
        abort(403)
    if request.method == "GET":
        values = {"received_at": today_local().isoformat(), "parties": [{"kind": "business"}],
                  "channel": "", "ip_type": ""}
        return render_template("cases/form.html", values=values, errors={}, case=None,
                               **_choices())
    values, payload, party_rows = _form_values(request.form)
    try:
        data = ClueIn.model_validate(payload)
        case = ops.create_clue(current_user, data)
    except ValidationError as e:
        return render_template("cases/form.html", values=values,
                               errors=_form_errors(e, party_rows, values["_goods_rows"]),
                               case=None, **_choices()), 422
    except InvalidInput as e:
        db.session.rollback()
        return render_template("cases/form.html", values=values, errors=e.errors, case=None,
                               **_choices()), 422
    db.session.commit()
    flash(_("Clue logged."), "success")
    return redirect(url_for("cases.detail", case_id=case.id))


@bp.route("/<int:case_id>/edit", methods=["GET", "POST"])
@login_required
def edit(case_id: int):
    case = ops.get_case(current_user, case_id)
    if not can_edit(current_user, case):
        abort(403)
    if request.method == "GET":
        return render_template("cases/form.html", values=_case_values(case), errors={}, case=case,
                               **_choices(case))
    values, payload, party_rows = _form_values(request.form)
    payload["version"] = values["version"]
    try:
        data = CaseUpdateIn.model_validate(payload)
        ops.update_case(current_user, case, data)
    except ValidationError as e:
        return render_template("cases/form.html", values=values,
                               errors=_form_errors(e, party_rows, values["_goods_rows"]),
                               case=case, **_choices(case)), 422
    except StaleVersion as e:
        db.session.rollback()
        current = ops.get_case(current_user, case_id)
        saved = _case_values(current)
        values["version"] = current.version  # a deliberate second save replaces theirs
        return render_template("cases/form.html", values=values, errors={}, case=current,
                               conflict=e.message, saved=saved, **_choices(current)), 409
    except InvalidInput as e:
        db.session.rollback()
        return render_template("cases/form.html", values=values, errors=e.errors, case=case,
                               **_choices(case)), 422
    db.session.commit()
    flash(_("Changes saved."), "success")
    return redirect(url_for("cases.detail", case_id=case.id))


# ----------------------------------------------------------------------------- detail / actions


def _render_detail(case: Case, status: int = 200, action_errors=None, open_action=None,
                   action_values=None, message=None):
    from caseflow.accounts.models import Agency
    from caseflow.cases.linking import linked_cases
    from caseflow.referrals import operations as referrals
    from caseflow.referrals.models import Referral
    from caseflow.sharing import operations as sharing

    calendar = load_calendar()
    today = today_local()
    parts = sharing.visible_parts(current_user, case)
    owner = case.owner_agency_id == current_user.agency_id
    if not owner:
        sharing.record_read(current_user, case)
        db.session.commit()
    clocks = ops.case_clocks(case, today, calendar) if "timeline" in parts else []
    matches = referrals.threshold_matches(case, today) if owner or "amounts" in parts else []
    case_referrals = list(db.session.scalars(
        referrals.visible_referrals(current_user).where(Referral.case_id == case.id)
        .order_by(Referral.id.desc())))
    from caseflow.actions import access as action_access
    from caseflow.actions.models import JointAction
    from caseflow.actions.operations import listed_trademarks
    from caseflow.evidence import operations as evidence_ops

    key_marks = listed_trademarks(case.trademark_numbers)
    from_request = None  # a clue handed over from a mediation (维权援助转交)
    source = (case.events[0].data or {}).get("source", "") if case.events else ""
    if source.startswith("assistance:") and source[11:].isdigit():
        from caseflow.mediation.models import AssistanceRequest

        from_request = db.session.get(AssistanceRequest, int(source[11:]))
    joint_action = db.session.get(JointAction, case.joint_action_id) if case.joint_action_id else None
    if joint_action is not None and not action_access.sees_action(current_user, joint_action):
        joint_action = None
    return render_template(
        "cases/detail.html", case=case, clocks=clocks, today=today, parts=parts, owner=owner,
        key_marks=key_marks, joint_action=joint_action, from_request=from_request,
        evidence=evidence_ops.evidence_of(current_user, case),
        can_add_evidence=evidence_ops.can_add(current_user, case),
        matches=matches, referrals=case_referrals,
        referral_answered=referrals.referral_answered_by_police(case) if owner else False,
        can_refer=owner and current_user.has_role(Role.CASE_OFFICER)
        and State(case.state) in referrals.REFERRABLE and not case.pending_action
        and not any(r.state in [s.value for s in referrals.OPEN_REFERRAL_STATES]
                    for r in case_referrals),
        grants=sharing.grants_of(case) if owner else [],
        reads=sharing.reads_of(case) if owner else [],
        can_share=sharing.can_manage_shares(current_user, case),
        share_agencies=list(db.session.scalars(select(Agency).where(
            Agency.id != case.owner_agency_id).order_by(Agency.kind, Agency.name))) if owner else [],
        linked=linked_cases(current_user, case) if "parties" in parts
        else {"visible": [], "hidden": []},
        allowed=ops.allowed_actions(current_user, case, today, calendar),
        transitions=TRANSITIONS, events=list(reversed(case.events)),
        can_edit=can_edit(current_user, case),
        can_assign=can_assign_officers(current_user, case),
        officers=_agency_officers(), action_errors=action_errors or {},
        open_action=open_action, action_values=action_values or {}, action_message=message,
        **_choices()), status


@bp.route("/<int:case_id>")
@login_required
def detail(case_id: int):
    return _render_detail(ops.get_case(current_user, case_id))


@bp.route("/<int:case_id>/actions", methods=["POST"])
@login_required
def act(case_id: int):
    case = ops.get_case(current_user, case_id)
    form = request.form
    values = {k: form.get(k, "") for k in form if k != "csrf_token"}
    values["proposed_penalties"] = form.getlist("proposed_penalties")
    values["penalty_kinds"] = form.getlist("penalty_kinds")
    payload = {k: v for k, v in values.items() if v not in ("", [])}
    action = form.get("action", "")
    try:
        data = TransitionIn.model_validate(payload)
        ops.perform(current_user, case, data)
    except ValidationError as e:
        return _render_detail(case, 422, error_map(e, messages.pydantic_text), action, values)
    except InvalidInput as e:
        db.session.rollback()
        return _render_detail(ops.get_case(current_user, case_id), 422, e.errors, action, values)
    except StaleVersion as e:
        db.session.rollback()
        return _render_detail(ops.get_case(current_user, case_id), 409, {}, action, values, e.message)
    except CaseFlowError as e:  # InvalidTransition / PermissionDenied: shown on the page
        db.session.rollback()
        return _render_detail(ops.get_case(current_user, case_id), e.status, {}, action, values,
                              e.message)
    db.session.commit()
    if case.pending_action:
        flash(_("Sent for approval: %(action)s.", action=messages.action_label(case.pending_action)),
              "success")
    else:
        flash(_("Done: %(action)s.", action=messages.action_label(action)), "success")
    return redirect(url_for("cases.detail", case_id=case.id))


@bp.route("/<int:case_id>/officers", methods=["POST"])
@login_required
def officers(case_id: int):
    case = ops.get_case(current_user, case_id)
    if not can_assign_officers(current_user, case):
        abort(403)
    raw_ids = request.form.getlist("officer_ids")
    payload = {"version": request.form.get("version", ""), "officer_ids": raw_ids,
               "lead_officer_id": request.form.get("lead_officer_id") or None}
    try:
        ops.assign_officers(current_user, case, OfficersIn.model_validate(payload))
    except ValidationError as e:
        return _render_detail(case, 422, error_map(e, messages.pydantic_text), "officers", payload)
    except (InvalidInput, StaleVersion) as e:
        db.session.rollback()
        errs = getattr(e, "errors", {})
        return _render_detail(ops.get_case(current_user, case_id), e.status, errs, "officers",
                              payload, None if errs else e.message)
    db.session.commit()
    flash(_("Officers assigned."), "success")
    return redirect(url_for("cases.detail", case_id=case.id))
