"""Referral screens: propose, the referral page with its clocks, the boards."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from caseflow.accounts.models import Agency, AgencyKind, Role, User, UserRole
from caseflow.cases import messages, operations as case_ops
from caseflow.cases.models import Case
from caseflow.core.errors import CaseFlowError, InvalidInput
from caseflow.core.timeutil import utcnow
from caseflow.extensions import db
from caseflow.referrals import operations as ops
from caseflow.referrals.models import Referral
from caseflow.referrals.rules import PACKAGE_ITEMS, TRANSITIONS, RState, package_missing
from caseflow.referrals.thresholds import CRIMES

bp = Blueprint("referrals", __name__, url_prefix="/referrals")


def _int(value):
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else None


def _draft_from_form(form) -> tuple[dict, dict]:
    values = {
        "team": [v for v in form.getlist("team")],
        "report": form.get("report", ""),
        "suspected_crime": form.get("suspected_crime", ""),
        "police_agency_id": form.get("police_agency_id", ""),
        "procuratorate_id": form.get("procuratorate_id", ""),
        "package": {item: {"done": form.get(f"package-{item}-done") == "y",
                           "na_reason": form.get(f"package-{item}-na_reason", ""),
                           "note": form.get(f"package-{item}-note", "")}
                    for item in PACKAGE_ITEMS},
    }
    draft = {
        "team_ids": [i for i in (_int(v) for v in values["team"]) if i is not None],
        "report": values["report"],
        "suspected_crime": values["suspected_crime"],
        "police_agency_id": _int(values["police_agency_id"]),
        "procuratorate_id": _int(values["procuratorate_id"]),
        "package": values["package"],
    }
    return values, draft


def _form_context(case: Case):
    officers = list(db.session.scalars(
        select(User).where(User.agency_id == case.owner_agency_id, User.active.is_(True),
                           User.id.in_(select(UserRole.user_id).where(
                               UserRole.role.in_([Role.CASE_OFFICER, Role.INSPECTOR]))))
        .order_by(User.display_name)))
    police = list(db.session.scalars(select(Agency).where(Agency.kind == AgencyKind.POLICE_ECON)))
    procs = list(db.session.scalars(select(Agency).where(Agency.kind == AgencyKind.PROCURATORATE)))
    return {"officers": officers, "police_agencies": police, "procuratorates": procs,
            "crimes": CRIMES, "package_items": PACKAGE_ITEMS,
            "matches": ops.threshold_matches(case)}


@bp.route("/new/<int:case_id>", methods=["GET", "POST"])
@login_required
def propose(case_id: int):
    case = case_ops.get_case(current_user, case_id)
    if case.owner_agency_id != current_user.agency_id or not current_user.has_role(Role.CASE_OFFICER):
        abort(403)
    ctx = _form_context(case)
    if request.method == "GET":
        matches = ctx["matches"]
        values = {"team": [str(u.id) for u in case.officers],
                  "suspected_crime": matches[0].rule.crime if matches else "",
                  "police_agency_id": str(ctx["police_agencies"][0].id) if len(ctx["police_agencies"]) == 1 else "",
                  "procuratorate_id": str(ctx["procuratorates"][0].id) if len(ctx["procuratorates"]) == 1 else "",
                  "package": {}}
        return render_template("referrals/form.html", case=case, referral=None, values=values,
                               errors={}, **ctx)
    values, draft = _draft_from_form(request.form)
    try:
        referral = ops.propose_referral(current_user, case, **draft)
    except InvalidInput as e:
        db.session.rollback()
        return render_template("referrals/form.html", case=case, referral=None, values=values,
                               errors=e.errors, **ctx), 422
    except CaseFlowError as e:
        db.session.rollback()
        return render_template("referrals/form.html", case=case, referral=None, values=values,
                               errors={}, message=e.message, **ctx), e.status
    db.session.commit()
    flash(_("Referral prepared. Complete the package, then submit it for approval."), "success")
    return redirect(url_for("referrals.detail", referral_id=referral.id))


def _render(referral: Referral, status=200, errors=None, open_action=None, values=None,
            message=None):
    from caseflow.sharing.operations import record_read

    # the page shows the case (title, report, package): a read by another agency is audited
    # (every caller has rolled back its refused change before rendering)
    if referral.case.owner_agency_id != current_user.agency_id:
        record_read(current_user, referral.case, "referral")
        db.session.commit()
    now = utcnow()
    ctx = _form_context(referral.case) if referral.state == RState.PROPOSED \
        and referral.agency_id == current_user.agency_id else {}
    draft_values = {
        "team": [str(u.id) for u in referral.team], "report": referral.report,
        "suspected_crime": referral.suspected_crime,
        "police_agency_id": str(referral.police_agency_id or ""),
        "procuratorate_id": str(referral.procuratorate_id or ""),
        "package": referral.package or {},
    }
    if open_action == "edit" and values:
        draft_values = values
    return render_template(
        "referrals/detail.html", referral=referral, case=referral.case,
        clocks=ops.clocks_of(referral), now=now, allowed=ops.allowed(current_user, referral, now),
        transitions=TRANSITIONS, errors=errors or {}, open_action=open_action,
        values=values or {}, draft_values=draft_values, message=message,
        missing=package_missing(referral.package or {}),
        forward_agencies=list(db.session.scalars(select(Agency).where(
            Agency.kind == AgencyKind.POLICE_ECON, Agency.id != (referral.police_agency_id or 0)))),
        **ctx), status


@bp.route("/<int:referral_id>")
@login_required
def detail(referral_id: int):
    return _render(ops.get_referral(current_user, referral_id))


@bp.route("/<int:referral_id>/edit", methods=["POST"])
@login_required
def edit(referral_id: int):
    referral = ops.get_referral(current_user, referral_id)
    values, draft = _draft_from_form(request.form)
    try:
        ops.update_referral(current_user, referral, version=_int(request.form.get("version")),
                            **draft)
    except InvalidInput as e:
        db.session.rollback()
        return _render(ops.get_referral(current_user, referral_id), 422, e.errors, "edit", values)
    except CaseFlowError as e:
        db.session.rollback()
        return _render(ops.get_referral(current_user, referral_id), e.status, {}, "edit", values,
                       e.message)
    db.session.commit()
    flash(_("Referral saved."), "success")
    return redirect(url_for("referrals.detail", referral_id=referral_id))


@bp.route("/<int:referral_id>/actions", methods=["POST"])
@login_required
def act(referral_id: int):
    referral = ops.get_referral(current_user, referral_id)
    form = request.form
    action = form.get("action", "")
    values = {k: form.get(k, "") for k in ("action", "reason", "police_agency_id",
                                            "police_case_number")}
    try:
        ops.act(current_user, referral, action, reason=form.get("reason", ""),
                version=_int(form.get("version")),
                police_agency_id=_int(form.get("police_agency_id")),
                police_case_number=form.get("police_case_number", ""))
    except InvalidInput as e:
        db.session.rollback()
        return _render(ops.get_referral(current_user, referral_id), 422, e.errors, action, values)
    except CaseFlowError as e:
        db.session.rollback()
        return _render(ops.get_referral(current_user, referral_id), e.status, {}, action, values,
                       e.message)
    db.session.commit()
    flash(_("Done: %(action)s.", action=messages.REFERRAL_ACTION_LABELS.get(action, action)),
          "success")
    if action == "forward" or not _still_visible(referral_id):
        return redirect(url_for("referrals.board"))
    return redirect(url_for("referrals.detail", referral_id=referral_id))


def _still_visible(referral_id: int) -> bool:
    return db.session.scalar(ops.visible_referrals(current_user)
                             .where(Referral.id == referral_id)) is not None


@bp.route("/")
@login_required
def board():
    """Each agency's board: police see incoming referrals, the procuratorate oversees,
    administrative agencies follow their referrals out."""
    if not current_user.works_cases:
        abort(403)
    now = utcnow()
    kind = current_user.agency.kind
    referrals = list(db.session.scalars(ops.visible_referrals(current_user)
                                        .order_by(Referral.updated_at.desc()).limit(500)))
    rows = []
    for r in referrals:
        clocks = ops.clocks_of(r)
        running = [c for c in clocks if c.done_at is None]
        nxt = min(running, key=lambda c: c.due) if running else None
        rows.append({"r": r, "next": nxt, "overdue": bool(nxt and nxt.overdue(now))})
    rows.sort(key=lambda x: (not x["overdue"], x["next"].due if x["next"] else now.replace(year=9999)))
    incoming = [x for x in rows if x["r"].police_agency_id == current_user.agency_id]
    outgoing = [x for x in rows if x["r"].agency_id == current_user.agency_id]
    overseen = [x for x in rows if x["r"].procuratorate_id == current_user.agency_id]
    oversight = ops_oversight() if kind == AgencyKind.PROCURATORATE else None
    focus = _focus_counts(kind)
    return render_template("referrals/board.html", incoming=incoming, outgoing=outgoing,
                           overseen=overseen, oversight=oversight, kind=kind, now=now,
                           focus=focus)


def _focus_counts(kind):
    """What each administrative agency watches first (links to the matching case lists)."""
    from caseflow.cases.queries import CaseFilters, state_counts
    from caseflow.cases.rules import OPEN_STATES

    def open_count(**filters):
        counts = state_counts(current_user, CaseFilters(**filters))
        return sum(n for s, n in counts.items() if s in {x.value for x in OPEN_STATES})

    if kind == AgencyKind.CULTURAL_ENFORCEMENT:
        return [("copyright", {"ip_type": "copyright"}, open_count(ip_type="copyright")),
                ("online", {"channel": "online_monitoring"}, open_count(channel="online_monitoring")),
                ("overdue", {"overdue": "1"}, open_count(overdue=True))]
    if kind in (AgencyKind.MARKET_SUPERVISION, AgencyKind.IP_OFFICE, AgencyKind.OTHER):
        return [("open", {}, open_count()),
                ("overdue", {"overdue": "1"}, open_count(overdue=True)),
                ("trademark", {"ip_type": "trademark"}, open_count(ip_type="trademark"))]
    return []


def ops_oversight():
    from caseflow.referrals.oversight import oversight_figures

    return oversight_figures(current_user)


@bp.route("/<int:referral_id>/documents", methods=["POST"])
@login_required
def upload(referral_id: int):
    referral = ops.get_referral(current_user, referral_id)
    try:
        ops.add_document(current_user, referral, request.form.get("item", ""),
                         request.files.get("file"))
    except InvalidInput as e:
        db.session.rollback()
        return _render(ops.get_referral(current_user, referral_id), 422, e.errors, "upload",
                       {"item": request.form.get("item", "")})
    except CaseFlowError as e:
        db.session.rollback()
        return _render(ops.get_referral(current_user, referral_id), e.status, {}, "upload", {},
                       e.message)
    db.session.commit()
    flash(_("File attached."), "success")
    return redirect(url_for("referrals.detail", referral_id=referral_id))


@bp.route("/<int:referral_id>/documents/<int:doc_id>")
@login_required
def download(referral_id: int, doc_id: int):
    from flask import send_file

    from caseflow.core.uploads import path_of
    from caseflow.referrals.models import ReferralDocument

    referral = ops.get_referral(current_user, referral_id)
    doc = db.session.get(ReferralDocument, doc_id) if doc_id < 2**31 else None
    if doc is None or doc.referral_id != referral.id:
        abort(404)
    ops.record_export(current_user, referral, "document_download", doc.id)
    db.session.commit()
    resp = send_file(path_of("referrals", doc.stored_name), mimetype=doc.content_type,
                     as_attachment=True, download_name=doc.filename)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


def _dossier_context(referral: Referral) -> dict:
    from sqlalchemy import select as _select

    from caseflow.evidence.models import Evidence

    evidence = list(db.session.scalars(_select(Evidence).where(Evidence.case_id == referral.case_id)
                                       .order_by(Evidence.id)))
    return {"referral": referral, "case": referral.case, "documents": referral.documents,
            "evidence": evidence,
            "clocks": ops.clocks_of(referral), "now": utcnow(), "crimes": CRIMES,
            "matches": ops.threshold_matches(referral.case)}


@bp.route("/<int:referral_id>/dossier.pdf")
@login_required
def dossier(referral_id: int):
    """移送案卷 PDF: the referral, its package and every file's SHA-256."""
    from caseflow.core.pdf import pdf_response, render_pdf

    from flask_babel import force_locale

    referral = ops.get_referral(current_user, referral_id)
    with force_locale("zh_Hans_CN"):  # an official document: Chinese whatever the UI language
        pdf = render_pdf("pdf/referral_dossier.html", **_dossier_context(referral))
    ops.record_export(current_user, referral, "dossier_pdf")
    db.session.commit()
    return pdf_response(pdf, f"移送案卷-{referral.case.display_number}.pdf")


MANIFEST_HEADER = ["序号", "材料类别", "文件名", "大小（字节）", "SHA-256", "上传时间", "上传人"]


@bp.route("/<int:referral_id>/manifest.csv")
@login_required
def manifest(referral_id: int):
    """The dossier's file manifest as CSV (UTF-8 with BOM so spreadsheet programs read it)."""
    import csv
    import io

    from flask import Response

    from caseflow.core.timeutil import to_local

    referral = ops.get_referral(current_user, referral_id)
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf)
    w.writerow(MANIFEST_HEADER)
    from flask_babel import force_locale

    for i, d in enumerate(referral.documents, 1):
        with force_locale("zh_Hans_CN"):
            label = str(messages.PACKAGE_LABELS.get(d.item, d.item))
        w.writerow([i, label, _csv_safe(d.filename),
                    d.size, d.sha256, to_local(d.uploaded_at).strftime("%Y-%m-%d %H:%M:%S"),
                    d.uploaded_by.display_name])
    ops.record_export(current_user, referral, "manifest_csv")
    db.session.commit()
    from urllib.parse import quote

    return Response(buf.getvalue().encode("utf-8"), mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=manifest-{referral.id}.csv; "
                               f"filename*=UTF-8''{quote(f'移送材料清单-{referral.id}.csv')}",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})


def _csv_safe(value: str) -> str:
    """Keep spreadsheet programs from running a cell as a formula (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
