"""Joint actions over HTTP: the create form, the board as lead / participant / outsider, bulk
assignment and reassignment, the task page (accept, decline, report with attachments, verify,
return, stale versions), attachment downloads, the CSV and PDF exports, completing an action,
the key-trademark list and its marks on cases, linking a clue to an action, CSRF."""
from __future__ import annotations

import csv
import datetime as dt
import html
import inspect
import io
import re
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from caseflow.actions import operations as ops
from caseflow.actions.models import (ActionTask, JointAction, KeyTrademark, ReportAttachment,
                                     TaskReport)
from caseflow.cases.models import Case
from caseflow.core.audit import AuditEvent
from caseflow.core.timeutil import today_local
from caseflow.extensions import db
from tests.actions.conftest import action_data, due
from tests.conftest import csrf_token_from, valid_credit_code

#: a PNG as far as the upload check goes (magic bytes), with a body that is not text
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
ERROR_BANNER_ZH = "请更正标出的字段。本次未保存任何内容。"  # the form banner, translated


# ----------------------------------------------------------------------------- helpers


@pytest.fixture()
def browser(app, login_as):
    """browser(user) → a fresh test client logged in as that user."""
    return lambda user: login_as(app.test_client(), user.username)


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def ticked(page: str, name: str) -> set[str]:
    """Values of the ticked checkboxes called ``name``."""
    return {m.group(1) for m in re.finditer(
        rf'<input type="checkbox" name="{name}" value="([^"]+)"([^>]*)>', page)
        if re.search(r"\bchecked\b", m.group(2))}


def boxes(page: str, name: str) -> set[str]:
    return set(re.findall(rf'<input type="checkbox" name="{name}" value="([^"]+)"', page))


def field_value(page: str, name: str) -> str:
    m = re.search(rf'<input id="{name}" name="{name}" type="[^"]*" value="([^"]*)"', page)
    assert m, f"no input {name}"
    return html.unescape(m.group(1))


def textarea(page: str, id_: str) -> str:
    m = re.search(rf'<textarea id="{id_}"[^>]*>(.*?)</textarea>', page, re.S)
    assert m, f"no textarea {id_}"
    return html.unescape(m.group(1))


def message(page: str) -> str:
    m = re.search(r'id="action-message">(.*?)</div>', page, re.S)
    assert m, "no action message on the page"
    return html.unescape(m.group(1))


def version_on(page: str) -> str:
    return re.search(r'name="version" value="(\d+)"', page).group(1)


def assign(w, action, title, *tokens, days=20) -> list[ActionTask]:
    tasks = ops.assign_tasks(w.coord, action, {"title": title, "due_on": due(days),
                                               "assignees": list(tokens)})
    db.session.commit()
    return tasks


def report_and_verify(w, task, worker, *, final=True, verify=True, **figures) -> TaskReport:
    if task.state == "assigned":
        ops.task_action(worker, task, "accept", {})
    rep = ops.submit_report(worker, task, {"narrative": "检查情况见附件", "final": "1" if final else "",
                                           **{k: str(v) for k, v in figures.items()}})
    if verify:
        ops.review_report(w.coord, task, "verify", {})
    db.session.commit()
    return rep


def pdf_text(data: bytes) -> str:
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True,
                          check=True, timeout=60).stdout.decode("utf-8")


def completed_shown(page: str) -> int:
    """The number of completed actions on the actions page (the other number is the year)."""
    m = re.search(r'id="actions-count">(.*?)</p>', page, re.S)
    assert m, "no actions-count on the page"
    numbers = re.findall(r"\d+", m.group(1))
    numbers.remove(str(today_local().year))
    assert len(numbers) == 1, m.group(1)
    return int(numbers[0])


def squeeze(s: str) -> str:
    return re.sub(r"\s+", "", s)


# ----------------------------------------------------------------------------- create


def test_create_form_bad_input_kept_then_created(g60, browser):
    w = g60
    coord = browser(w.coord)
    page = coord.get("/actions/")
    assert page.status_code == 200
    assert '<html lang="zh-CN"' in page.text
    assert 'action="/actions/"' in page.text and 'id="new-action"' in page.text
    assert boxes(page.text, "participants") == {str(w.jx.id), str(w.jd.id), str(w.culture.id)}
    assert ticked(page.text, "participants") == set()

    # a one-character name, an impossible date, a G60 action with Songjiang agencies only
    bad = action_data(w, name="亮", period_start="2026-13-45",
                      participants=[str(w.culture.id)])
    r = coord.post("/actions/", data=bad)
    assert r.status_code == 422
    for f in ("name", "period_start", "participants"):
        assert f'id="{f}-error"' in r.text, f
    assert 'id="period_end-error"' not in r.text and 'id="kind-error"' not in r.text
    assert ERROR_BANNER_ZH in r.text  # the only Chinese-text assertion: the UI is Chinese
    assert field_value(r.text, "name") == "亮"
    assert field_value(r.text, "period_start") == "2026-13-45"
    assert textarea(r.text, "objectives") == "打击商标侵权和假冒专利。"
    assert ticked(r.text, "participants") == {str(w.culture.id)}
    assert re.search(r'<option value="g60"\s+selected>', r.text)
    assert "<details open>" in r.text  # the form stays open
    assert count(JointAction) == 0

    # an end before the start, named on its own field
    r = coord.post("/actions/", data=action_data(w, period_end=(today_local() - dt.timedelta(
        days=20)).isoformat()))
    assert r.status_code == 422 and 'id="period_end-error"' in r.text
    assert ticked(r.text, "participants") == {str(w.jx.id), str(w.culture.id)}
    assert count(JointAction) == 0

    r = coord.post("/actions/", data=action_data(w))
    assert r.status_code == 303
    action = db.session.scalar(select(JointAction))
    assert r.headers["Location"].endswith(f"/actions/{action.id}")
    assert action.lead_agency_id == w.amr.id and action.kind == "g60"
    assert {a.id for a in action.participants} == {w.jx.id, w.culture.id}
    board = coord.get(f"/actions/{action.id}")
    assert board.status_code == 200 and action.name in board.text


def test_only_a_coordinator_creates(g60, browser):
    officer = browser(g60.officer)
    page = officer.get("/actions/")
    assert page.status_code == 200 and 'id="new-action"' not in page.text
    r = officer.post("/actions/", data=action_data(g60))
    assert r.status_code == 403
    assert count(JointAction) == 0


# ----------------------------------------------------------------------------- board and access


def test_board_lead_participant_outsider_and_auditor(g60, action, browser):
    w = g60
    (jx_task,) = assign(w, action, "排查嘉兴小商品市场", f"agency:{w.jx.id}")
    (culture_task,) = assign(w, action, "检查松江音像制品店", f"agency:{w.culture.id}")
    report_and_verify(w, jx_task, w.jx_insp2, verify=False, places_inspected=4)
    # an attachment of the culture squad's task (the participant from Jiaxing must not reach it)
    ops.task_action(w.culture_coord, culture_task, "accept", {})
    culture_rep = ops.submit_report(w.culture_coord, culture_task, {"narrative": "检查完毕"},
                                    [FileStorage(io.BytesIO(PNG), "site.png")])
    db.session.commit()
    culture_att = culture_rep.attachments[0]

    lead = browser(w.coord).get(f"/actions/{action.id}")
    assert lead.status_code == 200
    assert "排查嘉兴小商品市场" in lead.text and "检查松江音像制品店" in lead.text
    assert 'id="assign"' in lead.text and 'id="reassign-form"' in lead.text
    assert 'id="figures-csv"' in lead.text and 'id="report-pdf"' in lead.text
    assert boxes(lead.text, "task_ids") == {str(jx_task.id), str(culture_task.id)}

    jx = browser(w.jx_insp)
    page = jx.get(f"/actions/{action.id}")
    assert page.status_code == 200 and action.name in page.text
    assert "排查嘉兴小商品市场" in page.text
    assert "检查松江音像制品店" not in page.text  # another agency's task, nor its timeline entry
    assert f'data-task="{culture_task.id}"' not in page.text
    assert 'id="assign"' not in page.text and 'id="figures-csv"' not in page.text
    assert 'id="report-pdf"' not in page.text and 'name="task_ids"' not in page.text
    rows = set(re.findall(r'<tr data-agency="(\d+)"', page.text))
    assert rows == {str(w.jx.id)}  # its own figures row only
    assert jx.get(f"/actions/{action.id}/figures.csv").status_code == 403
    assert jx.get(f"/actions/{action.id}/report.pdf").status_code == 403
    assert jx.get(f"/actions/tasks/{jx_task.id}").status_code == 200
    assert jx.get(f"/actions/tasks/{culture_task.id}").status_code == 404
    assert jx.get(f"/actions/attachments/{culture_att.id}").status_code == 404
    r = jx.post(f"/actions/{action.id}/tasks", data={"title": "越权分派", "due_on": due(),
                                                      "assignees": [f"agency:{w.jx.id}"]})
    assert r.status_code == 403
    assert count(ActionTask) == 2
    assert count(AuditEvent, AuditEvent.action.like("action.export%")) == 0

    outsider = browser(w.jd_coord)
    for url in (f"/actions/{action.id}", f"/actions/tasks/{jx_task.id}",
                f"/actions/tasks/{culture_task.id}", f"/actions/attachments/{culture_att.id}",
                f"/actions/{action.id}/figures.csv", f"/actions/{action.id}/report.pdf"):
        assert outsider.get(url).status_code == 404, url
    listing = outsider.get("/actions/")
    assert listing.status_code == 200 and f'data-action="{action.id}"' not in listing.text
    r = outsider.post(f"/actions/{action.id}/tasks", data={"title": "越权分派", "due_on": due(),
                                                           "assignees": [f"agency:{w.jd.id}"]})
    assert r.status_code == 404 and count(ActionTask) == 2

    auditor = browser(w.auditor)
    for url in ("/actions/", f"/actions/{action.id}", f"/actions/tasks/{jx_task.id}",
                "/actions/trademarks"):
        assert auditor.get(url).status_code == 403, url


# ----------------------------------------------------------------------------- bulk assign / reassign


def test_bulk_assign_one_task_each_or_nothing(g60, action, browser):
    w = g60
    coord = browser(w.coord)
    page = coord.get(f"/actions/{action.id}")
    offered = boxes(page.text, "assignees")
    tokens = [f"agency:{w.jx.id}", f"unit:{w.jx_unit.id}", f"user:{w.other.id}"]
    assert set(tokens) <= offered and f"agency:{w.jd.id}" not in offered

    bad = {"title": "清查重点商标侵权商品", "description": "重点检查批发市场", "due_on": due(),
           "assignees": [tokens[0], f"agency:{w.jd.id}"]}
    r = coord.post(f"/actions/{action.id}/tasks", data=bad)
    assert r.status_code == 422
    assert 'id="assignees-error"' in r.text
    assert field_value(r.text, "title") == "清查重点商标侵权商品"
    assert textarea(r.text, "description") == "重点检查批发市场"
    assert ticked(r.text, "assignees") == {tokens[0]}
    assert re.search(r'<details open id="assign">', r.text)
    assert count(ActionTask) == 0

    r = coord.post(f"/actions/{action.id}/tasks", data=dict(bad, due_on="2000-01-01",
                                                            assignees=tokens))
    assert r.status_code == 422 and 'id="due_on-error"' in r.text and count(ActionTask) == 0

    r = coord.post(f"/actions/{action.id}/tasks", data=dict(bad, assignees=tokens))
    assert r.status_code == 303
    assert r.headers["Location"].endswith(f"/actions/{action.id}#tasks")
    tasks = db.session.scalars(select(ActionTask).order_by(ActionTask.id)).all()
    assert len(tasks) == 3
    assert {(t.assignee_agency_id, t.assignee_unit_id, t.assignee_user_id) for t in tasks} == {
        (w.jx.id, None, None), (w.jx.id, w.jx_unit.id, None), (w.culture.id, None, w.other.id)}
    assert {t.title for t in tasks} == {"清查重点商标侵权商品"}
    assert {t.state for t in tasks} == {"assigned"}


def test_bulk_reassign_refuses_a_verified_task_naming_it(g60, action, browser):
    w = g60
    (done,) = assign(w, action, "已完成的核查任务", f"agency:{w.jx.id}")
    report_and_verify(w, done, w.jx_insp2, places_inspected=2)
    (open_,) = assign(w, action, "待办的检查任务", f"agency:{w.culture.id}")
    assert done.state == "verified"
    before = {t.id: (t.assignee_agency_id, t.state, t.due_on, t.version) for t in (done, open_)}

    coord = browser(w.coord)
    r = coord.post(f"/actions/{action.id}/tasks/reassign",
                   data={"task_ids": [str(open_.id), str(done.id)],
                         "assignee": f"agency:{w.jx.id}", "new_due_on": due(30)})
    assert r.status_code == 409
    msg = message(r.text)
    assert f"#{done.id}" in msg and "已完成的核查任务" in msg
    assert ticked(r.text, "task_ids") == {str(open_.id), str(done.id)}  # the ticks are kept
    assert re.search(rf'<option value="agency:{w.jx.id}" selected>', r.text)
    db.session.expire_all()
    after = {t.id: (t.assignee_agency_id, t.state, t.due_on, t.version)
             for t in db.session.scalars(select(ActionTask))}
    assert after == before

    r = coord.post(f"/actions/{action.id}/tasks/reassign",
                   data={"task_ids": [str(open_.id)], "assignee": f"agency:{w.jx.id}"})
    assert r.status_code == 303
    db.session.expire_all()
    assert db.session.get(ActionTask, open_.id).assignee_agency_id == w.jx.id
    assert db.session.get(ActionTask, done.id).state == "verified"


# ----------------------------------------------------------------------------- the task page


def test_task_flow_accept_decline_report_verify_return(app, g60, action, browser):
    w = g60
    (task,) = assign(w, action, "排查嘉兴小商品市场", f"agency:{w.jx.id}")
    url = f"/actions/tasks/{task.id}"
    insp = browser(w.jx_insp2)
    page = insp.get(url)
    assert page.status_code == 200
    assert 'data-step="accept"' in page.text and 'data-step="decline"' in page.text
    assert 'id="report"' not in page.text  # reporting opens once accepted
    v0 = version_on(page.text)

    r = insp.post(f"{url}/decline", data={"version": v0, "reason": ""})
    assert r.status_code == 422 and 'id="reason-error"' in r.text
    r = insp.post(f"{url}/decline", data={"version": v0, "reason": "人手"})  # too short
    assert r.status_code == 422 and 'id="reason-error"' in r.text
    assert textarea(r.text, "reason-decline") == "人手"
    db.session.expire_all()
    assert db.session.get(ActionTask, task.id).state == "assigned"

    # the agency's coordinator accepts meanwhile: the inspector's page is now stale
    jx_coord = browser(w.jx_coord)
    r = jx_coord.post(f"{url}/accept", data={"version": v0})
    assert r.status_code == 303 and r.headers["Location"].endswith(url)
    r = insp.post(f"{url}/decline", data={"version": v0, "reason": "本中队另有任务"})
    assert r.status_code == 409
    assert message(r.text)
    db.session.expire_all()
    assert db.session.get(ActionTask, task.id).state == "accepted"

    page = insp.get(url)
    assert 'id="report"' in page.text
    v1 = version_on(page.text)
    uploads = Path(app.instance_path) / "uploads" / "actions"
    files_before = set(uploads.glob("*")) if uploads.exists() else set()

    figures = {"places_inspected": "十二", "cases_filed": "2", "goods_seized": "-3",
               "goods_value": "12.345", "referrals": "1", "narrative": "检查市场12户"}
    r = insp.post(f"{url}/report", data={"version": v1, **figures})
    assert r.status_code == 422
    for f in ("places_inspected", "goods_seized", "goods_value"):
        assert f'id="{f}-error"' in r.text, f
    assert 'id="cases_filed-error"' not in r.text
    assert field_value(r.text, "places_inspected") == "十二"
    assert field_value(r.text, "goods_value") == "12.345"
    assert field_value(r.text, "cases_filed") == "2"
    assert textarea(r.text, "narrative") == "检查市场12户"
    assert count(TaskReport) == 0

    # an HTML page named .jpg is refused by its content; nothing stays behind
    good = {"places_inspected": "12", "cases_filed": "2", "goods_seized": "300",
            "goods_value": "45000.50", "referrals": "1", "narrative": "检查市场12户，立案2起"}
    r = insp.post(f"{url}/report", data={
        "version": v1, **good,
        "files": (io.BytesIO(b"<html><script>alert(1)</script></html>"), "photo.jpg")})
    assert r.status_code == 422 and 'id="files-error"' in r.text
    assert "<script>alert(1)" not in r.text
    assert field_value(r.text, "goods_value") == "45000.50"
    assert count(TaskReport) == 0 and count(ReportAttachment) == 0
    assert (set(uploads.glob("*")) if uploads.exists() else set()) == files_before

    r = insp.post(f"{url}/report", data={"version": v1, **good,
                                         "files": (io.BytesIO(PNG), "site.png")})
    assert r.status_code == 303 and r.headers["Location"].endswith(url)
    db.session.expire_all()
    task = db.session.get(ActionTask, task.id)
    assert task.state == "reported"
    (rep,) = task.reports
    assert (rep.places_inspected, rep.goods_value, rep.final) == (12, Decimal("45000.50"), False)
    (att,) = rep.attachments
    assert att.filename == "site.png" and att.size == len(PNG)

    # the reporter cannot verify; the participant sees no verify form
    page = insp.get(url)
    assert f'action="{url}/verify"' not in page.text
    assert insp.post(f"{url}/verify", data={}).status_code == 403

    coord = browser(w.coord)
    page = coord.get(url)
    assert f'action="{url}/verify"' in page.text
    r = coord.post(f"{url}/verify", data={"version": version_on(page.text)})
    assert r.status_code == 303
    db.session.expire_all()
    assert db.session.get(ActionTask, task.id).state == "in_progress"  # not a final report

    v2 = version_on(insp.get(url).text)
    r = insp.post(f"{url}/report", data={"version": v2, "places_inspected": "3",
                                         "narrative": "收尾检查3户", "final": "1"})
    assert r.status_code == 303
    page = coord.get(url)
    v3 = version_on(page.text)
    r = coord.post(f"{url}/return", data={"version": v3, "reason": ""})
    assert r.status_code == 422 and 'id="reason-error"' in r.text
    r = coord.post(f"{url}/verify", data={"version": str(int(v3) - 1)})  # a stale page
    assert r.status_code == 409 and message(r.text)
    db.session.expire_all()
    assert db.session.get(ActionTask, task.id).state == "reported"
    r = coord.post(f"{url}/verify", data={"version": v3})
    assert r.status_code == 303
    db.session.expire_all()
    task = db.session.get(ActionTask, task.id)
    assert task.state == "verified"
    assert [x.status for x in task.reports] == ["verified", "verified"]

    # the attachment: a download, the same bytes, for the lead and the assignee
    for who in (coord, insp):
        r = who.get(f"/actions/attachments/{att.id}")
        assert r.status_code == 200
        assert r.headers["Content-Disposition"].startswith("attachment")
        assert "site.png" in r.headers["Content-Disposition"]
        assert r.mimetype == "image/png" and r.data == PNG
        assert b"<html" not in r.data.lower()
        assert r.headers.get("X-Content-Type-Options") == "nosniff"
    assert count(AuditEvent, AuditEvent.action == "action.attachment_download") == 2

    # the figures the assignee reported and the lead verified add up in the export
    r = coord.get(f"/actions/{action.id}/figures.csv")
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8").removeprefix("\ufeff"))))
    total = dict(zip(rows[0], rows[-1]))
    assert total["参与单位"] == "合计"
    assert (total["检查场所（户次）"], total["涉案货值（元）"], total["立案数（上报）"]) == \
        ("15", "45000.50", "2")


def test_return_sends_the_task_back(g60, action, browser):
    w = g60
    (task,) = assign(w, action, "排查嘉兴小商品市场", f"agency:{w.jx.id}")
    report_and_verify(w, task, w.jx_insp2, verify=False, places_inspected=5)
    coord = browser(w.coord)
    url = f"/actions/tasks/{task.id}"
    v = version_on(coord.get(url).text)
    r = coord.post(f"{url}/return", data={"version": v, "reason": "数"})
    assert r.status_code == 422 and textarea(r.text, "reason") == "数"
    r = coord.post(f"{url}/return", data={"version": v, "reason": "请补充检查记录照片"})
    assert r.status_code == 303
    db.session.expire_all()
    task = db.session.get(ActionTask, task.id)
    assert task.state == "in_progress" and task.reason == "请补充检查记录照片"
    assert task.reports[0].status == "returned"
    page = browser(w.jx_insp2).get(url)
    assert 'id="task-reason"' in page.text and "请补充检查记录照片" in page.text


# ----------------------------------------------------------------------------- exports


@pytest.fixture()
def reported(g60, action):
    """Verified reports from Jiaxing (12 + 3 places) and the culture squad (5), a pending
    one from Jiaxing (7, not counted)."""
    w = g60
    a, b, c = (assign(w, action, title, token)[0] for title, token in (
        ("排查嘉兴小商品市场", f"agency:{w.jx.id}"), ("检查松江音像制品店", f"agency:{w.culture.id}"),
        ("巡查嘉兴电商仓库", f"unit:{w.jx_unit.id}")))
    report_and_verify(w, a, w.jx_insp2, final=False, places_inspected=12, cases_filed=2,
                      goods_seized=300, goods_value="45000.50", referrals=1)
    report_and_verify(w, a, w.jx_insp2, places_inspected=3, goods_value="0.50")
    report_and_verify(w, b, w.culture_coord, places_inspected=5, goods_seized=40,
                      goods_value="100")
    report_and_verify(w, c, w.jx_insp, verify=False, places_inspected=7, goods_value="999")
    return w, action, (a, b, c)


def test_figures_csv(reported, browser):
    w, action, _tasks = reported
    r = browser(w.coord).get(f"/actions/{action.id}/figures.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.headers["Content-Disposition"].startswith("attachment")
    body = r.data.decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))
    header, *agencies, total = rows
    assert header[0] == "参与单位" and "检查场所（户次）" in header
    assert agencies[0][0] == w.amr.name  # the lead first, then one row per participant
    assert sorted(x[0] for x in agencies) == sorted([w.amr.name, w.jx.name, w.culture.name])
    assert total[0] == "合计"
    col = {h: i for i, h in enumerate(header)}
    by_name = {x[0]: x for x in agencies}
    assert by_name[w.jx.name][col["检查场所（户次）"]] == "15"  # verified only, not the pending 7
    assert by_name[w.culture.name][col["检查场所（户次）"]] == "5"
    for h, expected in (("检查场所（户次）", 20), ("立案数（上报）", 2), ("查扣物品（件）", 340),
                        ("移送公安（上报）", 1), ("任务数", 3), ("已核实任务", 2)):
        assert int(total[col[h]]) == expected == sum(int(x[col[h]]) for x in agencies), h
    assert Decimal(total[col["涉案货值（元）"]]) == Decimal("45101.00") == sum(
        Decimal(x[col["涉案货值（元）"]]) for x in agencies)
    ev = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "action.export_csv"))
    assert ev is not None and ev.user_id == w.coord.id and ev.object_id == str(action.id)


def test_report_pdf(reported, browser):
    w, action, _tasks = reported
    r = browser(w.coord).get(f"/actions/{action.id}/report.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.data.startswith(b"%PDF-")
    text = pdf_text(r.data)
    flat = squeeze(text)
    assert squeeze(action.name) in flat
    assert "总结报告" in flat
    assert w.jx.name in flat and w.culture.name in flat
    m = re.search(r"合计\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", text)
    assert m, text[-2000:]
    assert m.groups() == ("3", "2", "0", "20")  # tasks, verified, overdue, places inspected
    ev = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "action.export_pdf"))
    assert ev is not None and ev.user_id == w.coord.id and ev.object_id == str(action.id)


# ----------------------------------------------------------------------------- completing


def test_complete_needs_every_task_closed(g60, action, browser):
    w = g60
    (done,) = assign(w, action, "排查嘉兴小商品市场", f"agency:{w.jx.id}")
    report_and_verify(w, done, w.jx_insp2, places_inspected=6)
    (still,) = assign(w, action, "检查松江音像制品店", f"agency:{w.culture.id}")
    coord = browser(w.coord)
    page = coord.get(f"/actions/{action.id}")
    v = version_on(page.text)
    summary = "行动圆满完成，共检查市场6户。"

    r = coord.post(f"/actions/{action.id}/complete", data={"version": v, "summary": summary})
    assert r.status_code == 409
    assert "1" in message(r.text)
    assert textarea(r.text, "summary") == summary  # kept for the next try
    r = coord.post(f"/actions/{action.id}/complete", data={"version": v, "summary": "完成"})
    assert r.status_code == 422 and 'id="summary-error"' in r.text
    db.session.expire_all()
    assert db.session.get(JointAction, action.id).state == "open"

    # participants cannot complete it
    assert browser(w.jx_coord).post(f"/actions/{action.id}/complete",
                                    data={"version": v, "summary": summary}).status_code == 403

    tv = version_on(coord.get(f"/actions/tasks/{still.id}").text)
    r = coord.post(f"/actions/tasks/{still.id}/cancel", data={"version": tv, "reason": "对象已停业"})
    assert r.status_code == 303
    r = coord.post(f"/actions/{action.id}/complete", data={"version": v, "summary": summary})
    assert r.status_code == 303
    db.session.expire_all()
    a = db.session.get(JointAction, action.id)
    assert a.state == "completed" and a.completed_on == today_local() and a.summary == summary
    assert db.session.get(ActionTask, still.id).state == "cancelled"
    page = coord.get(f"/actions/{action.id}")
    assert 'id="assign"' not in page.text and 'id="manage"' not in page.text
    r = coord.post(f"/actions/{action.id}/tasks", data={"title": "追加任务", "due_on": due(),
                                                        "assignees": [f"agency:{w.jx.id}"]})
    assert r.status_code == 409 and count(ActionTask) == 2
    # the completed action counts for the lead and for each participant on the actions page
    for user, n in ((w.coord, 1), (w.jx_insp, 1), (w.jd_coord, 0)):
        assert completed_shown(browser(user).get("/actions/").text) == n, user.username


def test_completed_action_counts_toward_the_yearly_target(g60, action, browser):
    from caseflow.inspections import operations as insp_ops

    if "completed_count" not in inspect.getsource(insp_ops.yearly_progress):
        pytest.skip("inspections.operations.yearly_progress does not count completed joint "
                    "actions yet (no call to caseflow.actions.operations.completed_count)")
    w = g60

    def done_on_pace(user) -> int:
        page = browser(user).get("/inspections/")
        assert page.status_code == 200
        m = re.search(r'<p id="pace">(.*?)</p>', page.text, re.S)
        numbers = [n for n in re.findall(r"\d+", m.group(1)) if n != str(today_local().year)]
        return int(numbers[0])  # "N of 10 this year" / "本年已完成N项（目标10项）"

    users = (w.coord, w.jx_coord, w.jd_coord)  # lead, participant, outsider
    before = [done_on_pace(u) for u in users]
    ops.complete_action(w.coord, action, {"summary": "行动圆满完成，成效明显。"})
    db.session.commit()
    assert [done_on_pace(u) for u in users] == [before[0] + 1, before[1] + 1, before[2]]


# ----------------------------------------------------------------------------- key trademarks


def test_key_trademark_list_add_export_import(g60, browser):
    w = g60
    coord = browser(w.coord)
    page = coord.get("/actions/trademarks")
    assert page.status_code == 200 and 'id="add-mark"' in page.text and "data-mark=" not in page.text

    typed = {"reg_number": "第12345678号", "mark": "亮剑", "holder": "浙江亮剑服饰有限公司",
             "classes": "25, 46"}
    r = coord.post("/actions/trademarks", data=typed)
    assert r.status_code == 422 and 'id="classes-error"' in r.text
    for k, v in typed.items():
        assert field_value(r.text, k) == v, k
    assert count(KeyTrademark) == 0

    r = coord.post("/actions/trademarks", data=dict(typed, classes="25，35"))
    assert r.status_code == 303
    tm = db.session.scalar(select(KeyTrademark))
    assert (tm.reg_number, tm.classes, tm.city, tm.active) == ("12345678", "25,35", "松江", True)
    page = coord.get("/actions/trademarks")
    assert 'data-mark="12345678"' in page.text
    r = coord.post("/actions/trademarks", data=dict(typed, classes="25"))
    assert r.status_code == 422 and 'id="reg_number-error"' in r.text  # already listed
    assert count(KeyTrademark) == 1

    # a participant's inspector sees the list but cannot keep it
    insp = browser(w.jx_insp)
    page = insp.get("/actions/trademarks")
    assert page.status_code == 200 and 'data-mark="12345678"' in page.text
    assert 'id="add-mark"' not in page.text
    assert insp.post("/actions/trademarks", data=dict(typed, reg_number="555")).status_code == 403

    r = coord.get("/actions/trademarks.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8").removeprefix("\ufeff"))))
    assert rows[0][:4] == ["注册号", "商标", "权利人", "类别"]
    assert rows[1][:4] == ["12345678", "亮剑", "浙江亮剑服饰有限公司", "25,35"]
    assert len(rows) == 2

    data = ("注册号,商标,权利人,类别,列入城市\n"
            "7654321,嘉禾,嘉兴嘉禾食品有限公司,29,嘉兴\n"
            "88888888,坏类别,某公司,99,嘉兴\n"
            "12345678,亮剑,浙江亮剑服饰有限公司,\"25,35,18\",嘉兴\n").encode("utf-8")
    r = coord.post("/actions/trademarks/import",
                   data={"file": (io.BytesIO(data), "jiaxing.csv")})
    assert r.status_code == 200
    report = re.search(r'id="import-report">(.*?)</div>', r.text, re.S)
    assert report
    refused = re.findall(r"<li>(.*?)</li>", report.group(1), re.S)
    assert len(refused) == 1 and re.search(r"(?<!\d)3(?!\d)", refused[0])  # the bad row's line
    marks = {t.reg_number: t for t in db.session.scalars(select(KeyTrademark))}
    assert set(marks) == {"12345678", "7654321"}
    assert marks["7654321"].city == "嘉兴" and marks["12345678"].classes == "18,25,35"

    r = coord.post("/actions/trademarks/import",
                   data={"file": (io.BytesIO("code,name\n1,x\n".encode()), "bad.csv")})
    assert r.status_code == 422 and 'id="file-error"' in r.text


def test_listed_trademark_is_flagged_on_cases(g60, make_case, browser):
    w = g60
    ops.add_trademark(w.coord, {"reg_number": "12345678", "mark": "亮剑",
                                "holder": "浙江亮剑服饰有限公司", "classes": "25"})
    db.session.commit()
    listed = make_case(title="销售假冒亮剑服装", trademark_numbers=["12345678"])
    other = make_case(title="销售假冒其他商标服装", trademark_numbers=["7777777"])
    officer = browser(w.officer)
    page = officer.get(f"/cases/{listed.id}")
    assert page.status_code == 200 and 'id="key-trademark-flag"' in page.text
    assert "亮剑" in page.text
    assert 'id="key-trademark-flag"' not in officer.get(f"/cases/{other.id}").text
    listing = officer.get("/cases/").text
    rows = {m.group(1): m.group(2) for m in re.finditer(
        r'<a href="/cases/(\d+)">[^<]*</a>(.*?)</td>', listing, re.S)}
    assert "key-mark" in rows[str(listed.id)]
    assert "key-mark" not in rows[str(other.id)]


# ----------------------------------------------------------------------------- cases linked to an action


def clue_form(**over) -> dict:
    data = {"title": "某商行涉嫌销售假冒注册商标的商品", "channel": "report", "ip_type": "trademark",
            "received_at": (today_local() - dt.timedelta(days=1)).isoformat(),
            "description": "举报人反映该商行销售假冒运动鞋。",
            "parties-0-kind": "business", "parties-0-name": "上海某某音像店",
            "parties-0-credit_code": valid_credit_code(3)}
    data.update(over)
    return data


def test_clue_linked_to_an_action(g60, action, browser):
    w = g60
    other = browser(w.other)  # the culture squad takes part
    page = other.get("/cases/new")
    assert page.status_code == 200
    sel = re.search(r'<select id="joint_action_id" name="joint_action_id".*?</select>', page.text,
                    re.S)
    assert sel and f'<option value="{action.id}"' in sel.group(0)
    assert 'id="joint_action_id"' not in browser(w.jd_coord).get("/cases/new").text

    r = other.post("/cases/new", data=clue_form(joint_action_id=str(action.id)))
    assert r.status_code == 302, r.text[:2000]
    case = db.session.scalar(select(Case).where(Case.owner_agency_id == w.culture.id))
    assert case.joint_action_id == action.id
    listing = other.get(f"/cases/?joint_action={action.id}")
    assert listing.status_code == 200 and f'href="/cases/{case.id}"' in listing.text
    unrelated = other.post("/cases/new", data=clue_form(title="与行动无关的线索"))
    assert unrelated.status_code == 302
    listing = other.get(f"/cases/?joint_action={action.id}").text
    assert "与行动无关的线索" not in listing
    detail = other.get(f"/cases/{case.id}").text
    assert f'href="/actions/{action.id}"' in detail

    # an agency outside the action cannot link to it (a crafted post: it is not offered)
    r = browser(w.jd_coord).post("/cases/new", data=clue_form(joint_action_id=str(action.id)))
    assert r.status_code == 422
    assert count(Case, Case.owner_agency_id == w.jd.id) == 0
    # the board counts the linked case for its agency
    board = browser(w.coord).get(f"/actions/{action.id}").text
    assert re.search(r'id="figures-total"><th>[^<]*</th><td>0</td><td>0</td><td>0</td>'
                     r'(?:\s*<td[^>]*>[^<]*</td>){5}\s*<td>1</td>', board)


def test_clue_linked_to_an_action_closed_meanwhile_names_the_field(g60, action, browser):
    w = g60
    other = browser(w.other)
    assert 'id="joint_action_id"' in other.get("/cases/new").text  # offered when opened
    ops.complete_action(w.coord, action, {"summary": "行动圆满完成，成效明显。"})
    db.session.commit()
    r = other.post("/cases/new", data=clue_form(joint_action_id=str(action.id)))
    assert r.status_code == 422 and count(Case) == 0
    assert 'id="joint_action_id-error"' in r.text  # the refused field is named


# ----------------------------------------------------------------------------- CSRF


def test_create_without_csrf_token_is_refused(app, g60, browser, monkeypatch):
    coord = browser(g60.coord)  # logged in while CSRF is off (as the suite does)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    r = coord.post("/actions/", data=action_data(g60))
    assert r.status_code == 400
    assert coord.post("/actions/", data=action_data(g60, csrf_token="forged")).status_code == 400
    assert count(JointAction) == 0
    token = csrf_token_from(coord.get("/actions/").text)
    r = coord.post("/actions/", data=action_data(g60, csrf_token=token))
    assert r.status_code == 303
    assert count(JointAction) == 1
