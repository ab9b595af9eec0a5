"""Browser journey in the Chinese UI: the dashboard (统计/工作台, ``/reports/``) and the case
lists behind its figures.

Five cases of Songjiang (conftest ``AGENCY``) are seeded through the operations, all received
on one day twenty days ago, with different IP types and states (线索 1, 核查 1, 立案 2 — one
approved by the approver —, 不予立案 1). The case officer opens the dashboard from the header
(the link is found by its href, not its words), narrows the period to that one day so no other
journey's case counts, and checks:

* the charts are drawn (``svg.chart``);
* the KPI 受理案件 (``#kpi-received b``) is 5, and clicking it lands on ``/cases/`` with the
  dashboard filter (``own``, ``received_from``/``received_to``), the h1 total "(5)" and the five
  seeded titles;
* one bar of the state chart (``#chart-state a.figure-link[href*="state=filed"]``, whose
  ``<title>`` reads "label: N") is 2; clicking its bar lands on ``/cases/?state=filed…`` listing
  exactly those two cases; the h1 total and the state chip of the list say 2, the "All" chip
  the period's 5.
"""
from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

TAG = "看板核对"
SEEDED = {  # title → (ip_type, channel, actions to perform)
    f"{TAG}：松江某商场销售假冒注册商标的运动鞋": ("trademark", "inspection", ()),
    f"{TAG}：某厂涉嫌假冒他人专利的电动工具": ("patent", "complaint", ("accept",)),
    f"{TAG}：某网店销售盗版教辅图书": ("copyright", "online_monitoring", ("accept", "file")),
    f"{TAG}：九亭某仓库存放侵权箱包": ("trademark", "report", ("accept", "file")),
    f"{TAG}：某店冒用地理标志销售大米": ("geographical_indication", "hotline_12315",
                                        ("accept", "reject")),
}
EXPECTED_STATES = {"clue": 1, "verifying": 1, "filed": 2, "rejected": 1}
TOTAL = re.compile(r"\((\d+)\)")
BAR_TITLE = re.compile(r":\s*(\d+)\s*$")


@pytest.fixture()
def seeded_day(live_server):
    """The five cases, logged and moved through the operations; returns their received day."""
    from caseflow.accounts.models import User
    from caseflow.cases import operations as ops
    from caseflow.cases.schemas import ClueIn, OfficersIn, TransitionIn
    from caseflow.core.timeutil import today_local
    from caseflow.extensions import db
    from tests.conftest import valid_credit_code

    day = today_local() - dt.timedelta(days=20)
    with live_server.app.app_context():
        officer = db.session.get(User, live_server.users["officer"].id)
        approver = db.session.get(User, live_server.users["approver"].id)
        for i, (title, (ip_type, channel, actions)) in enumerate(SEEDED.items()):
            case = ops.create_clue(officer, ClueIn.model_validate({
                "title": title, "channel": channel, "ip_type": ip_type,
                "received_at": day.isoformat(),
                "parties": [{"kind": "business", "name": f"上海看板核对商贸有限公司{i}",
                             "credit_code": valid_credit_code(700 + i)}],
            }))
            ops.assign_officers(officer, case, OfficersIn(
                version=case.version,
                officer_ids=[live_server.users["officer"].id, live_server.users["officer2"].id]))
            for action in actions:
                extra = {"reason": "经核查不构成侵权"} if action == "reject" else {}
                ops.perform(officer, case, TransitionIn.model_validate(
                    {"action": action, "version": case.version, **extra}))
                if case.pending_action:
                    ops.perform(approver, case,
                                TransitionIn(action="approve", version=case.version))
            assert case.owner_agency_id == live_server.agency_id
        db.session.commit()
        db.session.remove()
    return day


def _ok(response):
    assert response.status == 200, f"{response.url} answered {response.status}"


def _go(page, locator):
    with page.expect_navigation() as nav:
        locator.click()
    _ok(nav.value)


def _total(page) -> int:
    m = TOTAL.search(page.locator("h1 small").inner_text())
    assert m, page.locator("h1").inner_text()
    return int(m.group(1))


def _query(page) -> dict:
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def test_dashboard_figures_open_their_case_lists(new_context, login, live_server, seeded_day):
    day = seeded_day.isoformat()
    page = login(new_context().new_page(), "officer")

    # -- the header link (统计/工作台, found by its href) opens the dashboard with its charts
    _go(page, page.locator('header nav a[href$="/reports/"]'))
    expect(page).to_have_url(re.compile(r"/reports/$"))
    expect(page.locator("svg.chart").first).to_be_visible()
    assert page.locator("svg.chart").count() >= 5

    # -- narrow the period to the seeded day: only the five seeded cases count
    page.locator("form.period #from").fill(day)
    page.locator("form.period #to").fill(day)
    _go(page, page.locator('form.period button[type="submit"]'))
    assert _query(page) == {"from": day, "to": day}
    expect(page.locator("svg.chart").first).to_be_visible()
    received = page.locator("#kpi-received b")
    expect(received).to_have_text(str(len(SEEDED)))

    # the state chart: one linked bar per seeded state, its <title> reading "label: N"
    state_links = page.locator("#chart-state svg.chart a.figure-link")
    expect(state_links).to_have_count(len(EXPECTED_STATES))
    for state, n in EXPECTED_STATES.items():
        title = page.locator(f'#chart-state a.figure-link[href*="state={state}"] > title')
        m = BAR_TITLE.search(title.text_content())
        assert m and int(m.group(1)) == n, (state, title.text_content())

    # -- the KPI opens the list of exactly those cases
    n_received = int(received.inner_text())
    _go(page, page.locator("#kpi-received"))
    expect(page).to_have_url(re.compile(r"/cases/\?"))
    assert _query(page) == {"own": "1", "received_from": day, "received_to": day}
    expect(page.locator("p.figure-filter")).to_be_visible()
    assert _total(page) == n_received
    rows = page.locator("table.cases tbody tr")
    expect(rows).to_have_count(n_received)
    for title in SEEDED:
        expect(page.locator("table.cases tbody")).to_contain_text(title)

    # -- back on the dashboard, the 已立案 bar of the state chart opens its own list
    page.go_back()
    expect(page).to_have_url(re.compile(r"/reports/\?"))
    bar = page.locator('#chart-state svg.chart a.figure-link[href*="state=filed"]')
    expect(bar).to_have_count(1)
    n_filed = int(BAR_TITLE.search(bar.locator("title").text_content()).group(1))
    assert n_filed == EXPECTED_STATES["filed"]
    assert bar.locator("text.value").text_content() == str(n_filed)  # the number beside the bar
    _go(page, bar.locator("rect"))  # the painted bar itself, as a user clicks it
    expect(page).to_have_url(re.compile(r"/cases/\?"))
    assert _query(page) == {"own": "1", "received_from": day, "received_to": day, "state": "filed"}
    rows = page.locator("table.cases tbody tr")
    expect(rows).to_have_count(n_filed)
    expect(rows.locator(".state.s-filed")).to_have_count(n_filed)
    filed_titles = [t for t, (_, _, acts) in SEEDED.items() if acts and acts[-1] == "file"]
    for title in filed_titles:
        expect(page.locator("table.cases tbody")).to_contain_text(title)
    chip = page.locator('nav.counts a.chip.active[data-state="filed"] b')
    expect(chip).to_have_text(str(n_filed))
    # the h1 counts what is listed; the "All" chip keeps the period's total
    assert _total(page) == n_filed
    expect(page.locator("nav.counts a.chip").first.locator("b")).to_have_text(str(n_received))
