"""Browser journey in the Chinese UI: a market-supervision case over a criminal threshold is
referred to the police (行刑衔接) — prepared with an incomplete package (refused on submission),
completed, approved, sent — and the police sign for it, decline to file, and the agency takes
the case back into its administrative procedure with the decision clock running again."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect
from caseflow.core.timeutil import today_local  # legal dates are Beijing dates

pytestmark = pytest.mark.e2e

TITLE = "松江某商贸公司涉嫌销售假冒“阿迪达斯”注册商标运动服"
REPORT = ("经查，当事人自2024年起销售假冒“阿迪达斯”注册商标的运动服，销售金额六万元，"
          "已达刑事追诉标准，涉嫌销售假冒注册商标的商品罪。")
DECLINE_REASON = "经审查，现有证据不足以证明当事人明知所售商品系假冒注册商标的商品，不予立案。"
POLICE_NAME = "上海市公安局松江分局经济犯罪侦查支队"
PROC_NAME = "上海市松江区人民检察院"
REFERRAL_URL = re.compile(r"/referrals/(\d+)$")

# package items of §6 as the Chinese UI names them
LETTER, REPORT_ITEM, ITEMS_LIST, INSPECTION = (
    "涉嫌犯罪案件移送书", "调查报告", "涉案物品清单", "检验报告或鉴定结论")


@pytest.fixture()
def case_over_threshold(live_server):
    """A trademark case, filed (with approval) and under investigation, two officers, sales
    of 60,000 yuan: over the threshold of Criminal Law art. 214."""
    from caseflow.accounts.models import User
    from caseflow.cases import operations as ops
    from caseflow.cases.schemas import ClueIn, OfficersIn, TransitionIn
    from caseflow.extensions import db
    from tests.conftest import valid_credit_code

    with live_server.app.app_context():
        officer = db.session.get(User, live_server.users["officer"].id)
        approver = db.session.get(User, live_server.users["approver"].id)
        case = ops.create_clue(officer, ClueIn.model_validate({
            "title": TITLE,
            "channel": "inspection",
            "ip_type": "trademark",
            "received_at": today_local().isoformat(),
            "parties": [{"kind": "business", "name": "上海某某商贸有限公司",
                         "credit_code": valid_credit_code(214)}],
            "amounts": {"sales_amount": "60000"},
        }))
        ops.assign_officers(officer, case, OfficersIn(
            version=case.version,
            officer_ids=[live_server.users["officer"].id, live_server.users["officer2"].id]))
        for action in ("accept", "file", "investigate"):
            ops.perform(officer, case, TransitionIn(action=action, version=case.version))
            if case.pending_action:
                ops.perform(approver, case, TransitionIn(action="approve", version=case.version))
        assert case.state == "investigating", case.state
        db.session.commit()
        case_id = case.id
        db.session.remove()
    return case_id


def _run_action(page, action: str, label: str, reason: str | None = None):
    """Open the action's <details> in 下一步操作, give the reason if any, press its button."""
    box = page.locator(f'#actions details[data-action="{action}"]')
    box.locator("summary").click()
    if reason is not None:
        box.get_by_label("理由").fill(reason)
    box.get_by_role("button", name=label, exact=True).click()


def _post_form(page, url: str, fields: dict):
    """Submit a form the page does not offer, with the page's own CSRF token, so the browser
    shows the server's answer (as a stale page or a second tab would get it)."""
    page.evaluate("""([url, fields]) => {
        const form = document.createElement("form");
        form.method = "post";
        form.action = url;
        const token = document.querySelector('input[name="csrf_token"]').value;
        for (const [name, value] of Object.entries({csrf_token: token, ...fields})) {
            const input = document.createElement("input");
            input.type = "hidden";
            input.name = name;
            input.value = value;
            form.append(input);
        }
        document.body.append(form);
        form.submit();
    }""", [url, fields])


def _referral_id(page) -> int:
    m = REFERRAL_URL.search(page.url)
    assert m, f"not on a referral page: {page.url}"
    return int(m.group(1))


def test_referral_to_police_declined_and_returned(new_context, login, live_server,
                                                   case_over_threshold):
    case_path = f"/cases/{case_over_threshold}"

    # -- the case officer sees that the case must be referred
    officer = login(new_context().new_page(), "officer")
    officer.goto(case_path)
    expect(officer.locator("#case-state")).to_have_text("调查取证")
    warning = officer.locator("#threshold-warning")
    expect(warning).to_be_visible()
    expect(warning.get_by_role("heading")).to_have_text("应移送（涉嫌犯罪）")
    expect(warning.locator('li[data-crime="214"]')).to_contain_text("《刑法》第214条")
    refer = officer.get_by_role("link", name="移送公安机关", exact=True)
    expect(refer).to_have_attribute("href", f"/referrals/new/{case_over_threshold}")
    refer.click()

    # -- the referral form, with the inspection report left unticked
    expect(officer.get_by_role("heading", name=f"移送公安机关: {TITLE}")).to_be_visible()
    for name in ("张伟", "李娜"):
        officer.get_by_label(name, exact=True).check()
    officer.get_by_label("案件事实、证据及涉嫌犯罪的理由").fill(REPORT)
    expect(officer.get_by_label("涉嫌罪名")).to_have_value("214")  # from the threshold met
    officer.get_by_label("公安机关", exact=True).select_option(label=POLICE_NAME)
    officer.get_by_label("人民检察院（抄送）").select_option(label=PROC_NAME)
    for item in (LETTER, REPORT_ITEM, ITEMS_LIST):
        officer.get_by_role("checkbox", name=item).check()
    expect(officer.get_by_role("checkbox", name=INSPECTION)).not_to_be_checked()
    officer.get_by_role("button", name="准备移送", exact=True).click()

    expect(officer).to_have_url(REFERRAL_URL)
    referral_id = _referral_id(officer)
    referral_path = f"/referrals/{referral_id}"
    expect(officer.locator(".flash.success")).to_have_text(
        "已准备移送。请补齐移送材料，然后提请审批。")
    expect(officer.locator("#referral-state")).to_have_text("准备移送中")
    expect(officer.locator("p.flash.info")).to_have_text(f"提请审批前尚缺：{INSPECTION}")

    # -- an incomplete package cannot be submitted: the page does not offer 提请审批 (only
    #    撤回移送) and names what is missing; a submission sent anyway (same session, real
    #    CSRF token) is refused with the Chinese error naming the item, and nothing changes
    expect(officer.locator('#actions details[data-action="withdraw"]')).to_have_count(1)
    expect(officer.locator('#actions details[data-action="submit"]')).to_have_count(0)
    with officer.expect_response(lambda r: r.request.method == "POST") as refused:
        _post_form(officer, f"{referral_path}/actions", {"action": "submit"})
    assert refused.value.status == 409
    expect(officer.get_by_role("alert")).to_have_text(f"移送材料不齐全：{INSPECTION}。")
    expect(officer.locator("#referral-state")).to_have_text("准备移送中")
    expect(officer.locator('ol.timeline li[data-action="submit"]')).to_have_count(0)

    # -- complete the package through the edit form on the referral page, then submit
    officer.get_by_role("checkbox", name=INSPECTION).check()
    officer.get_by_role("button", name="保存移送信息", exact=True).click()
    expect(officer).to_have_url(re.compile(rf"{referral_path}$"))
    expect(officer.locator(".flash.success")).to_have_text("移送信息已保存。")
    expect(officer.locator("p.flash.info")).to_have_count(0)
    for item in (LETTER, REPORT_ITEM, ITEMS_LIST, INSPECTION):
        expect(officer.get_by_role("checkbox", name=item)).to_be_checked()

    _run_action(officer, "submit", "提请审批")
    expect(officer.locator(".flash.success")).to_have_text("已完成：提请审批。")
    expect(officer.locator("#referral-state")).to_have_text("待负责人审批")

    # -- the approver, in a browser of their own
    approver = login(new_context().new_page(), "approver")
    approver.goto(referral_path)
    expect(approver.locator("#referral-state")).to_have_text("待负责人审批")
    _run_action(approver, "approve", "批准移送")
    expect(approver.locator(".flash.success")).to_have_text("已完成：批准移送。")
    expect(approver.locator("#referral-state")).to_have_text("已批准，待移送")
    expect(approver.locator('tr.clock[data-clock="approval"] .badge')).to_have_text("按期完成")

    # -- the officer sends it to the police
    officer.reload()
    _run_action(officer, "send", "向公安机关移送")
    expect(officer.locator(".flash.success")).to_have_text("已完成：向公安机关移送。")
    expect(officer.locator("#referral-state")).to_have_text("已移送，待签收")
    expect(officer.locator("div.bar")).to_contain_text(POLICE_NAME)
    expect(officer.locator("div.bar")).to_contain_text(PROC_NAME)
    officer.goto(case_path)
    expect(officer.locator("#case-state")).to_have_text("已移送公安")

    # -- the police: the referral arrives on their board
    cop = login(new_context().new_page(), "cop")
    cop.get_by_role("link", name="移送案件", exact=True).click()
    expect(cop).to_have_url(re.compile(r"/referrals/$"))
    row = cop.locator(f'#incoming tr[data-referral="{referral_id}"]')
    expect(row).to_contain_text(TITLE)
    expect(row).to_contain_text("已移送，待签收")
    expect(row).to_contain_text("上海市松江区市场监督管理局")
    row.get_by_role("link", name=f"#{referral_id}", exact=True).click()
    expect(cop).to_have_url(re.compile(rf"{referral_path}$"))

    _run_action(cop, "receive", "签收回执")
    expect(cop.locator(".flash.success")).to_have_text("已完成：签收回执。")
    expect(cop.locator("#referral-state")).to_have_text("公安机关已签收")
    decision_clock = cop.locator('tr.clock[data-clock="police_decision"]')
    expect(decision_clock).to_contain_text("公安机关决定是否立案")
    expect(decision_clock.locator(".badge")).to_have_text(re.compile(r"^剩余\d+小时$"))

    _run_action(cop, "police_decline", "决定不予立案", reason=DECLINE_REASON)
    expect(cop.locator(".flash.success")).to_have_text("已完成：决定不予立案。")
    expect(cop.locator("#referral-state")).to_have_text("公安机关不予立案")
    expect(decision_clock.locator(".badge")).to_have_text("按期完成")
    expect(cop.locator('ol.timeline li[data-action="police_decline"]')).to_contain_text(
        DECLINE_REASON)

    # -- the agency accepts the decision: the case returns to its administrative procedure
    officer.goto(referral_path)
    expect(officer.locator("#referral-state")).to_have_text("公安机关不予立案")
    _run_action(officer, "accept_decline", "接受不予立案决定，转回行政程序办理")
    expect(officer.locator(".flash.success")).to_have_text(
        "已完成：接受不予立案决定，转回行政程序办理。")
    expect(officer.locator("#referral-state")).to_have_text("转回行政程序办理")

    officer.goto(case_path)
    expect(officer.locator("#case-state")).to_have_text("调查取证")
    expect(officer.locator("#case-referrals")).to_contain_text("转回行政程序办理")
    case_clock = officer.locator('tr.clock[data-clock="decision"]')
    expect(case_clock).to_contain_text("作出处理决定期限")
    badge = case_clock.locator(".badge")
    expect(badge).to_have_text(re.compile(r"^剩余\d+日$"))
    expect(badge).not_to_have_class(re.compile(r"\bpaused\b"))
    days_left = int(re.search(r"\d+", badge.inner_text()).group(0))
    assert 85 <= days_left <= 101, days_left
