"""Browser journey in the Chinese UI: a G60 cross-region joint action (G60 跨区域联合执法).

Songjiang's coordinator (conftest ``USERS["coordinator"]``, 上海市松江区) creates a G60 action
with 嘉兴 (conftest ``JIAXING``, 浙江省嘉兴市) and the police as participants and assigns a task
to 嘉兴; 嘉兴's inspector finds it under 我方任务, accepts it and reports its figures (refused
once with "abc" as places inspected: the error is shown and the narrative kept), as the final
report; the coordinator verifies it from 待核实的报告, the board's total row counts the figures
and the after-action report (总结报告, PDF) shows them.

Everything goes through the browser; no case is filed, so the case numbers of the other
journeys are untouched. The translations of this feature may still be missing, so the pages
are reached by ids, names, hrefs and data- attributes, not by their words.

The board once answered 500 (board.html imported the ``cells`` macro of actions/_figures.html
without context, so ``figure_labels`` was undefined): every landing on the board checks the
status of the response, so a server error fails at once instead of after a timeout."""
from __future__ import annotations

import datetime as dt
import re
import subprocess

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

ACTION_NAME = "2026年G60科创走廊“铁拳”知识产权保护联合行动"
OBJECTIVES = "联合查处G60沿线城市重点市场销售侵犯注册商标专用权商品的行为。"
TASK_TITLE = "排查嘉兴重点市场侵权商品"
NARRATIVE = "检查嘉兴小商品市场12户次，立案2起，查扣侵权商品300件，移送公安1起。"
FIGURES = {"places_inspected": "12", "cases_filed": "2", "goods_seized": "300",
           "goods_value": "45000", "referrals": "1"}


def _submit(page, button):
    """Click ``button`` and return the response of the page it leads to (after redirects)."""
    with page.expect_navigation() as nav:
        button.click()
    return nav.value


def _ok(response):
    assert response.status == 200, f"{response.url} answered {response.status}"


def _id_from(page, pattern: str) -> int:
    m = re.search(pattern, page.url)
    assert m, f"unexpected page {page.url}"
    return int(m.group(1))


def _logout(page):
    page.locator('header form[action$="/logout"] button[type="submit"]').click()
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.locator("header .who")).to_have_count(0)


def _squeeze(text: str) -> str:
    """pdftotext drops or adds spaces between CJK characters and digits: compare without them."""
    return re.sub(r"\s+", "", text)


def test_g60_action_task_report_verify_and_pdf(new_context, login, live_server, tmp_path):
    from caseflow.core.timeutil import today_local

    today = today_local()
    period_start, period_end = today - dt.timedelta(days=1), today + dt.timedelta(days=60)
    due = today + dt.timedelta(days=30)
    jiaxing = live_server.agency_ids["jiaxing"]
    police = live_server.agency_ids["police"]

    # -- 1. the coordinator creates a G60 action with 嘉兴 and the police
    page = login(new_context().new_page(), "coordinator")
    page.locator('header nav a[href$="/actions/"]').click()
    expect(page).to_have_url(re.compile(r"/actions/$"))
    new = page.locator("#new-action")
    new.locator("summary").click()
    new.locator("#name").fill(ACTION_NAME)
    new.locator("#kind").select_option("g60")
    new.locator("#period_start").fill(period_start.isoformat())
    new.locator("#period_end").fill(period_end.isoformat())
    new.locator("#objectives").fill(OBJECTIVES)
    for agency_id in (jiaxing, police):
        new.locator(f'#participants input[name="participants"][value="{agency_id}"]').check()
    _ok(_submit(page, new.locator('button[type="submit"]')))
    expect(page).to_have_url(re.compile(r"/actions/\d+$"))
    action_id = _id_from(page, r"/actions/(\d+)$")
    expect(page.locator(".flash.success")).to_have_count(1)
    expect(page.locator("h1")).to_have_text(ACTION_NAME)
    expect(page.locator("#participant-list")).to_contain_text("嘉兴市市场监督管理局（浙江省嘉兴市）")
    expect(page.locator(f'#figures tr[data-agency="{jiaxing}"]')).to_have_count(1)
    expect(page.locator(f'#figures tr[data-agency="{police}"]')).to_have_count(1)
    expect(page.locator("#tasks tr[data-task]")).to_have_count(0)

    # -- assigns one task to 嘉兴
    assign = page.locator("#assign")
    assign.locator("summary").click()
    assign.locator("#title").fill(TASK_TITLE)
    assign.locator("#due_on").fill(due.isoformat())
    assign.locator(f'input[name="assignees"][value="agency:{jiaxing}"]').check()
    _ok(_submit(page, assign.locator('button[type="submit"]')))
    expect(page).to_have_url(re.compile(rf"/actions/{action_id}#tasks$"))
    expect(page.locator(".flash.success")).to_have_count(1)
    task_row = page.locator("#tasks tr[data-task]")
    expect(task_row).to_have_count(1)
    expect(task_row).to_contain_text(TASK_TITLE)
    expect(task_row).to_contain_text("嘉兴市市场监督管理局")
    expect(task_row.locator(".state")).to_have_class(re.compile(r"\btask-assigned\b"))
    task_id = int(task_row.get_attribute("data-task"))
    # a participant's row: name, tasks, verified, overdue, then the five report figures
    expect(page.locator(f'#figures tr[data-agency="{jiaxing}"] td').nth(1)).to_have_text("1")
    _logout(page)

    # -- 2. 嘉兴's inspector finds the task under 我方任务 and accepts it
    login(page, "jx_inspector")
    page.goto("/actions/")
    mine = page.locator(f'#my-tasks tr[data-task="{task_id}"]')
    expect(mine).to_contain_text(TASK_TITLE)
    expect(mine).to_contain_text(ACTION_NAME)
    expect(mine).to_contain_text(due.isoformat())
    expect(page.locator("#new-action")).to_have_count(0)  # only coordinators create actions
    mine.locator(f'a[href$="/actions/tasks/{task_id}"]').click()
    expect(page).to_have_url(re.compile(rf"/actions/tasks/{task_id}$"))
    expect(page.locator("h1")).to_have_text(TASK_TITLE)
    expect(page.locator("#task-state")).to_have_class(re.compile(r"\btask-assigned\b"))
    expect(page.locator("#report")).to_have_count(0)  # not before the task is accepted
    _ok(_submit(page, page.locator('form[data-step="accept"] button[type="submit"]')))
    expect(page.locator(".flash.success")).to_have_count(1)
    expect(page.locator("#task-state")).to_have_class(re.compile(r"\btask-accepted\b"))

    # -- reports: "abc" places inspected is refused, nothing saved, what was typed is kept
    report = page.locator("#report")
    for name, value in FIGURES.items():
        report.locator(f"#{name}").fill("abc" if name == "places_inspected" else value)
    report.locator("#narrative").fill(NARRATIVE)
    report.locator('input[name="final"]').check()
    refused = _submit(page, report.locator('button[type="submit"]'))
    assert refused.status == 422, f"{refused.url} answered {refused.status}"
    expect(page.locator("#places_inspected-error")).to_be_visible()
    expect(report.locator("#places_inspected")).to_have_attribute("aria-invalid", "true")
    expect(report.locator("#places_inspected")).to_have_value("abc")
    expect(report.locator("#narrative")).to_have_value(NARRATIVE)
    for name in ("cases_filed", "goods_seized", "goods_value", "referrals"):
        expect(report.locator(f"#{name}")).to_have_value(FIGURES[name])
        expect(page.locator(f"#{name}-error")).to_have_count(0)
    expect(page.locator("#narrative-error")).to_have_count(0)
    expect(report.locator('input[name="final"]')).to_be_checked()
    expect(page.locator("#task-state")).to_have_class(re.compile(r"\btask-accepted\b"))
    expect(page.locator("#reports article[data-report]")).to_have_count(0)

    report.locator("#places_inspected").fill(FIGURES["places_inspected"])
    report.locator('input[name="final"]').check()
    _ok(_submit(page, report.locator('button[type="submit"]')))
    expect(page).to_have_url(re.compile(rf"/actions/tasks/{task_id}$"))
    expect(page.locator(".flash.success")).to_have_count(1)
    expect(page.locator("#task-state")).to_have_class(re.compile(r"\btask-reported\b"))
    submitted = page.locator("#reports article[data-report]")
    expect(submitted).to_have_count(1)
    expect(submitted).to_have_attribute("data-status", "pending")
    expect(submitted.locator("p.pre")).to_have_text(NARRATIVE)
    expect(submitted.locator("dd")).to_have_text(["12", "2", "300", "45000.00", "1"])
    expect(page.locator("#report")).to_have_count(0)  # no second report while one waits
    expect(page.locator("#review")).to_have_count(0)  # the lead verifies, not the assignee
    _logout(page)

    # -- 3. the coordinator verifies the report from 待核实的报告
    login(page, "coordinator")
    page.goto("/actions/")
    pending = page.locator(f'#to-verify li[data-task="{task_id}"]')
    expect(pending).to_contain_text(TASK_TITLE)
    expect(pending).to_contain_text("嘉兴市市场监督管理局")
    pending.locator(f'a[href$="/actions/tasks/{task_id}"]').click()
    expect(page).to_have_url(re.compile(rf"/actions/tasks/{task_id}$"))
    _ok(_submit(page, page.locator('#review button[type="submit"]').first))
    expect(page.locator(".flash.success")).to_have_count(1)
    expect(page.locator("#task-state")).to_have_class(re.compile(r"\btask-verified\b"))
    expect(page.locator("#reports article[data-report]")).to_have_attribute(
        "data-status", "verified")
    expect(page.locator("#review")).to_have_count(0)

    # -- the board counts the verified figures: 嘉兴's row and the total
    _ok(_submit(page, page.locator(f'a[href$="/actions/{action_id}"]').first))
    expect(page).to_have_url(re.compile(rf"/actions/{action_id}$"))
    # the total row has a <th> first, then tasks, verified, overdue and the five figures
    total = page.locator("#figures-total td")
    expect(total.nth(0)).to_have_text("1")
    expect(total.nth(1)).to_have_text("1")
    expect(total.nth(2)).to_have_text("0")
    expect(total.nth(3)).to_have_text("12")
    expect(total.nth(4)).to_have_text("2")
    expect(total.nth(5)).to_have_text("300")
    expect(total.nth(6)).to_have_text("45000.00")
    expect(total.nth(7)).to_have_text("1")
    expect(page.locator(f'#figures tr[data-agency="{jiaxing}"] td').nth(4)).to_have_text("12")
    expect(page.locator("#figures-pending")).to_have_count(0)
    expect(page.locator(f'#tasks tr[data-task="{task_id}"] .state')).to_have_class(
        re.compile(r"\btask-verified\b"))

    # -- the after-action report (总结报告) as a PDF
    with page.expect_download() as dl:
        page.locator("#report-pdf").click()
    pdf_path = tmp_path / "action-report.pdf"
    dl.value.save_as(pdf_path)
    assert dl.value.suggested_filename.endswith(".pdf"), dl.value.suggested_filename
    assert pdf_path.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", str(pdf_path), "-"], capture_output=True, text=True,
                          check=True, timeout=60).stdout
    flat = _squeeze(text)
    assert _squeeze(ACTION_NAME) in flat, text
    assert "总结报告" in flat, text
    # the figures of 嘉兴's row and of the total, one cell after the other
    cells = text.split()
    row = ["12", "2", "300", "45000.00", "1"]
    assert any(cells[i:i + len(row)] == row for i in range(len(cells))), text
    assert TASK_TITLE in flat, text
    assert "嘉兴市市场监督管理局" in flat, text
