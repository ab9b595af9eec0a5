"""Joint-action screens: the list, the action board, a task, the key-trademark list, and the
after-action report (PDF) and figures (CSV). Views only parse, call one operation, commit,
and re-render with what the user typed when the operation refuses."""
from __future__ import annotations

from flask import (Blueprint, Response, abort, redirect, render_template, request,
                   send_file, url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from caseflow.actions import access, labels, operations as ops, rules
from caseflow.actions.models import JointAction
from caseflow.core.errors import NotFound
from caseflow.core.forms import attempt
from caseflow.core.timeutil import today_local
from caseflow.extensions import db

bp = Blueprint("actions", __name__, url_prefix="/actions")


def _guard():
    if not current_user.works_cases:
        abort(403)


def _form_values() -> dict:
    values = {k: request.form.get(k, "") for k in request.form}
    for k in ("participants", "assignees", "task_ids"):
        values[k] = request.form.getlist(k)
    return values


def _attempt(fn, render, form_name: str, success: str):
    return attempt(fn, render, form_name, success, _form_values())


def _common():
    return dict(kind_label=lambda k: labels.ACTION_KIND_LABELS.get(k, k),
                action_state_label=lambda s: labels.ACTION_STATE_LABELS.get(s, s),
                task_state_label=lambda s: labels.TASK_STATE_LABELS.get(s, s),
                task_action_label=lambda a: labels.TASK_ACTION_LABELS.get(a, a),
                target_kind_label=lambda k: labels.TARGET_KIND_LABELS.get(k, k),
                event_label=lambda k: labels.EVENT_LABELS.get(k, k),
                figure_labels=labels.FIGURE_LABELS, today=today_local(),
                is_overdue=rules.is_overdue)


# ----------------------------------------------------------------------------- list


def _index(errors=None, values=None, form=None, message=None, status=200):
    actions = list(db.session.scalars(ops.visible_actions(current_user).limit(300)))
    year = today_local().year
    return render_template(
        "actions/index.html", actions=actions, my_tasks=ops.my_tasks(current_user),
        to_verify=ops.to_verify(current_user), can_create=access.can_create(current_user),
        agencies=ops.participant_choices(current_user) if access.can_create(current_user) else [],
        kinds=list(rules.ActionKind), completed=ops.completed_count(current_user.agency_id, year),
        year=year, errors=errors or {}, values=values or {}, form=form, message=message,
        **_common()), status


@bp.route("/")
@login_required
def index():
    _guard()
    return _index()


@bp.route("/", methods=["POST"])
@login_required
def create():
    _guard()
    action, err = _attempt(lambda v: ops.create_action(current_user, v), _index, "create",
                           _("Joint action created."))
    return err or redirect(url_for("actions.board", action_id=action.id), 303)


# ----------------------------------------------------------------------------- board


def _load(action_id: int) -> JointAction:
    _guard()
    try:
        return ops.get_action(current_user, action_id)
    except NotFound:
        abort(404)


def _board(action: JointAction, errors=None, values=None, form=None, message=None, status=200):
    action = db.session.get(JointAction, action.id)  # fresh after a rollback
    lead = access.leads(current_user, action)
    tasks = ops.tasks_for(current_user, action)
    return render_template(
        "actions/board.html", action=action, lead=lead, tasks=tasks,
        figures=ops.figures_for(current_user, action),
        own_agency=current_user.agency_id == action.lead_agency_id,
        events=ops.timeline(action) if current_user.agency_id == action.lead_agency_id else
        [e for e in ops.timeline(action) if e.agency_id == current_user.agency_id
         or e.task_id is None],
        assignees=ops.assignee_choices(current_user, action) if lead else [],
        agencies=ops.participant_choices(current_user) if lead else [],
        target_kinds=list(rules.TargetKind), errors=errors or {}, values=values or {},
        form=form, message=message, **_common()), status


@bp.route("/<int:action_id>")
@login_required
def board(action_id: int):
    return _board(_load(action_id))


def _board_post(action_id: int, fn, form_name: str, success: str, anchor: str = ""):
    action = _load(action_id)
    _result, err = _attempt(lambda v: fn(action, v),
                            lambda **kw: _board(action, **kw), form_name, success)
    return err or redirect(url_for("actions.board", action_id=action_id) + anchor, 303)


@bp.route("/<int:action_id>/edit", methods=["POST"])
@login_required
def edit(action_id: int):
    return _board_post(action_id, lambda a, v: ops.edit_action(current_user, a, v), "edit",
                       _("Changes saved."))


@bp.route("/<int:action_id>/targets", methods=["POST"])
@login_required
def add_target(action_id: int):
    return _board_post(action_id, lambda a, v: ops.add_target(current_user, a, v), "target",
                       _("Target added."), "#targets")


@bp.route("/<int:action_id>/targets/<int:target_id>/remove", methods=["POST"])
@login_required
def remove_target(action_id: int, target_id: int):
    return _board_post(action_id, lambda a, v: ops.remove_target(current_user, a, target_id),
                       "target", _("Target removed."), "#targets")


@bp.route("/<int:action_id>/tasks", methods=["POST"])
@login_required
def assign(action_id: int):
    def run(a, v):
        tasks = ops.assign_tasks(current_user, a, v)
        return tasks

    return _board_post(action_id, run, "assign", _("Tasks assigned."), "#tasks")


@bp.route("/<int:action_id>/tasks/reassign", methods=["POST"])
@login_required
def reassign(action_id: int):
    return _board_post(action_id, lambda a, v: ops.reassign_tasks(current_user, a, v),
                       "reassign", _("Tasks reassigned."), "#tasks")


@bp.route("/<int:action_id>/complete", methods=["POST"])
@login_required
def complete(action_id: int):
    return _board_post(action_id, lambda a, v: ops.complete_action(current_user, a, v),
                       "complete", _("The action is completed."))


@bp.route("/<int:action_id>/cancel", methods=["POST"])
@login_required
def cancel(action_id: int):
    return _board_post(action_id, lambda a, v: ops.cancel_action(current_user, a, v),
                       "cancel", _("The action is cancelled."))


@bp.route("/<int:action_id>/report.pdf")
@login_required
def report_pdf(action_id: int):
    from caseflow.core.pdf import pdf_response, render_pdf
    from flask_babel import force_locale

    action = _load(action_id)
    if current_user.agency_id != action.lead_agency_id:
        abort(403)  # the after-action report shows every participant's figures
    ops.record_export(current_user, action, "pdf")
    with force_locale("zh_Hans_CN"):
        pdf = render_pdf("pdf/action_report.html", action=action,
                         figures=ops.action_figures(action), events=ops.timeline(action, 2000),
                         tasks=list(action.tasks), **_common())
    db.session.commit()
    return pdf_response(pdf, f"{action.name}-总结报告.pdf")


@bp.route("/<int:action_id>/figures.csv")
@login_required
def figures_csv(action_id: int):
    action = _load(action_id)
    if current_user.agency_id != action.lead_agency_id:
        abort(403)
    body = ops.figures_csv(action)
    ops.record_export(current_user, action, "csv")
    db.session.commit()
    resp = Response(body.encode("utf-8"), mimetype="text/csv")
    resp.headers["Content-Disposition"] = f"attachment; filename=action-{action.id}-figures.csv"
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


# ----------------------------------------------------------------------------- task


def _load_task(task_id: int):
    _guard()
    try:
        return ops.get_task(current_user, task_id)
    except NotFound:
        abort(404)


def _task(task, errors=None, values=None, form=None, message=None, status=200):
    from caseflow.actions.models import ActionTask

    task = db.session.get(ActionTask, task.id)
    open_actions = [a for a in rules.task_actions(task.state)
                    if access.may_perform(current_user, task, a)] \
        if task.action.state == "open" else []
    delegate = access.may_delegate(current_user, task) and not access.leads(current_user, task.action)
    return render_template(
        "actions/task.html", task=task, action=task.action, open_actions=open_actions,
        lead=access.leads(current_user, task.action),
        assignees=ops.assignee_choices(current_user, task.action,
                                       within=None if access.leads(current_user, task.action)
                                       else task.assignee_agency_id)
        if "reassign" in open_actions else [], delegate=delegate,
        errors=errors or {}, values=values or {}, form=form, message=message,
        **_common()), status


@bp.route("/tasks/<int:task_id>")
@login_required
def task(task_id: int):
    return _task(_load_task(task_id))


def _task_post(task_id: int, fn, form_name: str, success: str):
    t = _load_task(task_id)
    _result, err = _attempt(lambda v: fn(t, v), lambda **kw: _task(t, **kw), form_name, success)
    return err or redirect(url_for("actions.task", task_id=task_id), 303)


@bp.route("/tasks/<int:task_id>/<any(accept, decline, start, cancel):verb>", methods=["POST"])
@login_required
def task_step(task_id: int, verb: str):
    return _task_post(task_id, lambda t, v: ops.task_action(current_user, t, verb, v), verb,
                      _("Task updated."))


@bp.route("/tasks/<int:task_id>/report", methods=["POST"])
@login_required
def report(task_id: int):
    files = request.files.getlist("files")
    return _task_post(task_id, lambda t, v: ops.submit_report(current_user, t, v, files),
                      "report", _("Report submitted."))


@bp.route("/tasks/<int:task_id>/<any(verify, return):verdict>", methods=["POST"])
@login_required
def review(task_id: int, verdict: str):
    return _task_post(task_id, lambda t, v: ops.review_report(current_user, t, verdict, v),
                      "review", _("Report verified.") if verdict == "verify" else
                      _("Report returned."))


@bp.route("/tasks/<int:task_id>/reassign", methods=["POST"])
@login_required
def reassign_one(task_id: int):
    def run(t, v):
        v = dict(v, task_ids=[str(t.id)])
        return ops.reassign_tasks(current_user, t.action, v)

    return _task_post(task_id, run, "reassign", _("Task reassigned."))


@bp.route("/attachments/<int:attachment_id>")
@login_required
def attachment(attachment_id: int):
    from caseflow.core.uploads import path_of

    _guard()
    try:
        att = ops.get_attachment(current_user, attachment_id)
    except NotFound:
        abort(404)
    db.session.commit()
    try:
        path = path_of("actions", att.stored_name)
        resp = send_file(path, mimetype=att.content_type, as_attachment=True,
                         download_name=att.filename)
    except FileNotFoundError:
        abort(404)
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


# ----------------------------------------------------------------------------- key trademarks


def _trademarks(errors=None, values=None, form=None, message=None, status=200, imported=None):
    q = request.args.get("q", "")
    return render_template(
        "actions/trademarks.html", marks=ops.search_trademarks(q), q=q,
        can_keep=ops.can_keep_trademarks(current_user), imported=imported,
        errors=errors or {}, values=values or {}, form=form, message=message), status


@bp.route("/trademarks")
@login_required
def trademarks():
    _guard()
    return _trademarks()


@bp.route("/trademarks", methods=["POST"])
@login_required
def add_trademark():
    _guard()
    _r, err = _attempt(lambda v: ops.add_trademark(current_user, v), _trademarks, "add",
                       _("Trademark added to the list."))
    return err or redirect(url_for("actions.trademarks"), 303)


@bp.route("/trademarks/<int:tm_id>/remove", methods=["POST"])
@login_required
def remove_trademark(tm_id: int):
    _guard()
    _r, err = _attempt(lambda v: ops.remove_trademark(current_user, tm_id, v.get("reason", "")),
                       _trademarks, f"remove-{tm_id}", _("Trademark removed from the list."))
    return err or redirect(url_for("actions.trademarks"), 303)


@bp.route("/trademarks/import", methods=["POST"])
@login_required
def import_trademarks():
    _guard()
    f = request.files.get("file")
    if f is None or not f.filename:
        return _trademarks(errors={"file": _("Choose a CSV file.")}, form="import", status=422)
    raw = f.stream.read(20 * 1024 * 1024 + 1)
    if len(raw) > 20 * 1024 * 1024:
        return _trademarks(errors={"file": _("The file is larger than %(mb)s MB.", mb=20)},
                           form="import", status=422)
    result, err = _attempt(lambda v: ops.import_trademarks(current_user, raw), _trademarks,
                           "import", _("List imported."))
    if err:
        return err
    return _trademarks(imported=result, form="import")


@bp.route("/trademarks.csv")
@login_required
def trademarks_csv():
    _guard()
    body = ops.trademarks_csv(current_user)
    db.session.commit()
    resp = Response(body.encode("utf-8"), mimetype="text/csv")
    resp.headers["Content-Disposition"] = "attachment; filename=key-trademarks.csv"
    resp.headers["Cache-Control"] = "private, no-store"
    return resp
