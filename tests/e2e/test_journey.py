"""Browser journeys in the Chinese UI: clue → accept → file (with approval), an edit conflict
between two officers, and the case list on a phone-sized screen."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect
from caseflow.core.timeutil import today_local  # legal dates are Beijing dates

pytestmark = pytest.mark.e2e

GOOD_CODE = "11230500001755309F"
BAD_CODE = "11230500001755309E"  # same code, wrong check character
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
CASE_URL = re.compile(r"/cases/(\d+)$")


def _date(text: str) -> dt.date:
    m = DATE_RE.search(text)
    assert m, f"no date in {text!r}"
    return dt.date.fromisoformat(m.group(0))


def _case_id(page) -> int:
    m = CASE_URL.search(page.url)
    assert m, f"not on a case page: {page.url}"
    return int(m.group(1))


def _run_action(page, action: str, label: str):
    """Open the action's <details> in 下一步操作 and press its button."""
    box = page.locator(f'#actions details[data-action="{action}"]')
    box.locator("summary").click()
    box.get_by_role("button", name=label, exact=True).click()


def test_clue_to_filed_case_with_approval(new_context, login, live_server):
    officer = new_context().new_page()
    login(officer, "officer")

    # -- log the clue; a wrong credit code first
    officer.get_by_role("link", name="新建线索").click()
    expect(officer.get_by_role("heading", name="新建线索")).to_be_visible()
    title = "松江某商行涉嫌销售假冒“耐克”注册商标运动鞋"
    officer.get_by_label("案件名称").fill(title)
    officer.get_by_label("线索来源").select_option(label="举报")
    officer.get_by_label("知识产权类型").select_option(label="商标")
    officer.get_by_label("名称（姓名）").fill("上海某某商行")
    officer.get_by_label("统一社会信用代码").fill(BAD_CODE)
    officer.get_by_label("非法经营数额").fill("60000")
    with officer.expect_response(lambda r: r.request.method == "POST") as refused:
        officer.get_by_role("button", name="登记线索").click()
    assert refused.value.status == 422

    code_input = officer.get_by_label("统一社会信用代码")
    expect(officer.locator("#parties-0-credit_code-error")).to_have_text(
        "校验码不符，请核对统一社会信用代码。")
    expect(code_input).to_have_attribute("aria-invalid", "true")
    expect(officer.get_by_role("alert").filter(has_text="本次未保存任何内容")).to_be_visible()
    expect(officer.get_by_label("案件名称")).to_have_value(title)
    expect(code_input).to_have_value(BAD_CODE)
    expect(officer.get_by_label("非法经营数额")).to_have_value("60000")
    expect(officer.get_by_label("线索来源")).to_have_value("report")

    code_input.fill(GOOD_CODE)
    officer.get_by_role("button", name="登记线索").click()
    expect(officer).to_have_url(CASE_URL)
    expect(officer.locator(".flash.success")).to_have_text("线索已登记。")
    expect(officer.locator("#case-state")).to_have_text("线索登记")
    expect(officer.get_by_role("heading", name=title)).to_be_visible()
    expect(officer.locator("ul.parties")).to_contain_text(GOOD_CODE)
    case_path = f"/cases/{_case_id(officer)}"

    # -- a second officer (the creator is assigned automatically)
    officer.locator("summary", has_text="指派执法人员").click()
    officer.get_by_label("李娜").check()
    expect(officer.get_by_label("张伟")).to_be_checked()
    officer.get_by_role("button", name="保存执法人员").click()
    expect(officer.locator(".flash.success")).to_have_text("已指派执法人员。")
    expect(officer.locator("section.card", has_text="案件详情")).to_contain_text("李娜")

    # -- accept, then ask to file (needs approval)
    _run_action(officer, "accept", "受理并核查")
    expect(officer.locator(".flash.success")).to_have_text("已完成：受理并核查。")
    expect(officer.locator("#case-state")).to_have_text("核查中")

    _run_action(officer, "file", "立案")
    expect(officer.locator(".flash.success")).to_have_text("已提请审批：立案。")
    expect(officer.get_by_role("status").filter(has_text="待审批：立案")).to_contain_text("张伟")
    expect(officer.locator("#case-state")).to_have_text("核查中")

    # -- the approver, in a browser of their own
    approver = new_context().new_page()
    login(approver, "approver")
    approver.goto(case_path)
    expect(approver.get_by_role("status").filter(has_text="待审批：立案")).to_be_visible()
    _run_action(approver, "approve", "批准")
    expect(approver.locator(".flash.success")).to_have_text("已完成：批准。")
    expect(approver.locator("#case-state")).to_have_text("已立案")

    # -- back with the officer: case number and the 90-day decision clock
    officer.reload()
    expect(officer.locator("#case-state")).to_have_text("已立案")
    decision = officer.locator('tr.clock[data-clock="decision"]')
    expect(decision).to_contain_text("作出处理决定期限")
    filed_on = _date(decision.locator("td").nth(1).inner_text())
    assert abs((filed_on - today_local()).days) <= 1, filed_on  # Beijing vs. local date
    # the agency's next number of the year (0001 when this journey runs first; other journeys
    # may file cases in the same agency, so only the form is fixed here)
    expect(officer.locator("p.number")).to_have_text(
        re.compile(rf"^沪市监松处〔{filed_on.year}〕\d{{4}}号$"))
    number = officer.locator("p.number").inner_text()
    expect(officer.locator("ol.timeline")).to_contain_text(number)

    due = _date(decision.locator("td.due").inner_text())
    assert filed_on + dt.timedelta(days=90) <= due <= filed_on + dt.timedelta(days=100), \
        (filed_on, due)
    expect(decision.locator("td.due")).to_contain_text("90日")
    badge = decision.locator(".badge")
    expect(badge).to_have_text(re.compile(r"^剩余\d+日$"))
    days_left = int(re.search(r"\d+", badge.inner_text()).group(0))
    assert 85 <= days_left <= 101, days_left


@pytest.fixture()
def open_case(live_server):
    """A clue being verified, with both officers, logged straight through the operations."""
    from caseflow.accounts.models import User
    from caseflow.cases import operations as ops
    from caseflow.cases.schemas import ClueIn, OfficersIn, TransitionIn
    from caseflow.extensions import db

    with live_server.app.app_context():
        officer = db.session.get(User, live_server.users["officer"].id)
        case = ops.create_clue(officer, ClueIn.model_validate({
            "title": "某网店涉嫌销售侵犯著作权的图书",
            "channel": "report",
            "ip_type": "copyright",
            "received_at": today_local().isoformat(),
            "parties": [{"kind": "business", "name": "上海某某网络科技有限公司",
                         "credit_code": GOOD_CODE}],
        }))
        ops.assign_officers(officer, case, OfficersIn(
            version=case.version,
            officer_ids=[live_server.users["officer"].id, live_server.users["officer2"].id]))
        ops.perform(officer, case, TransitionIn(action="accept", version=case.version))
        db.session.commit()
        case_id = case.id
        db.session.remove()
    return case_id


def _case_title(live_server, case_id: int) -> str:
    from caseflow.cases.models import Case
    from caseflow.extensions import db

    with live_server.app.app_context():
        try:
            return db.session.get(Case, case_id).title
        finally:
            db.session.remove()


def test_two_officers_edit_at_once(new_context, login, live_server, open_case):
    first = login(new_context().new_page(), "officer")
    second = login(new_context().new_page(), "officer2")
    for page in (first, second):
        page.goto(f"/cases/{open_case}")
        page.get_by_role("link", name="编辑", exact=True).click()
        expect(page.get_by_role("heading", name=re.compile("^编辑案件"))).to_be_visible()

    first_title = "某网店涉嫌销售盗版图书（张伟修改）"
    first.get_by_label("案件名称").fill(first_title)
    first.get_by_role("button", name="保存", exact=True).click()
    expect(first).to_have_url(re.compile(rf"/cases/{open_case}$"))
    expect(first.locator(".flash.success")).to_have_text("修改已保存。")
    expect(first.get_by_role("heading", name=first_title)).to_be_visible()

    second_title = "某网店涉嫌销售侵权图书（李娜修改）"
    second.get_by_label("案件名称").fill(second_title)
    with second.expect_response(lambda r: r.request.method == "POST") as refused:
        second.get_by_role("button", name="保存", exact=True).click()
    assert refused.value.status == 409
    conflict = second.locator(".conflict")
    expect(conflict).to_be_visible()
    expect(conflict).to_contain_text("在您打开本案后，其他人已保存了该案件")
    expect(conflict).to_contain_text(first_title)  # what is saved now
    expect(second).to_have_url(re.compile(rf"/cases/{open_case}/edit$"))
    expect(second.get_by_label("案件名称")).to_have_value(second_title)

    assert _case_title(live_server, open_case) == first_title


def test_case_list_on_a_phone(new_context, login, open_case):
    page = new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                       has_touch=True, device_scale_factor=3).new_page()
    login(page, "officer")
    expect(page.get_by_role("heading", name=re.compile("^案件"))).to_be_visible()
    new_clue = page.get_by_role("link", name="新建线索")
    expect(new_clue).to_be_visible()
    expect(new_clue).to_be_in_viewport()
    expect(page.locator("table.cases tbody tr").first).to_be_visible()
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 390 + 1, f"horizontal scroll on a phone: scrollWidth={scroll_width}"
