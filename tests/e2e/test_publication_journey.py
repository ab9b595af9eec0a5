"""Browser journey in the Chinese UI: a decided market-supervision case gets its 行政处罚决定书
(refused once with a wrong credit code, then saved and downloaded as a PDF), the publisher
publishes it on 信用中国 and on the enterprise credit system within the 7-working-day deadline,
exports the 双公示 CSV (recorded as a batch), and the public page shows it without login.

Runs in the second market-supervision agency (静安, see conftest ``JINGAN``) so that the case
numbers of the Songjiang journeys are untouched."""
from __future__ import annotations

import csv
import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import JINGAN

pytestmark = pytest.mark.e2e

TITLE = "静安某服饰公司销售假冒“优衣库”注册商标的服装"
BUSINESS = "上海某某服饰有限公司"
VIOLATION = "销售侵犯注册商标专用权的商品"
FACTS = "经查，当事人销售假冒“优衣库”注册商标的T恤衫200件，货值金额8000元。"
BASIS = "《中华人民共和国商标法》第六十条第二款"
CONTENT = "没收侵权商品，罚款20000元。"
LEGAL_REP = "钱某"


def _business_code() -> str:
    from tests.conftest import valid_credit_code

    return valid_credit_code(59)


@pytest.fixture()
def decided_case(live_server):
    """A trademark case of a business in 静安, driven through the operations to 已作出处罚决定:
    accept → file (approved) → investigate → notify → statement → decide_penalty (approved),
    fine 20,000 yuan, amounts below every criminal threshold."""
    from caseflow.accounts.models import User
    from caseflow.cases import operations as ops
    from caseflow.cases.schemas import ClueIn, OfficersIn, TransitionIn
    from caseflow.core.timeutil import today_local
    from caseflow.extensions import db

    steps = {
        "accept": {}, "file": {}, "investigate": {},
        "notify": {"proposed_fine": "20000", "proposed_penalties": ["罚款"]},
        "record_statement": {"reason": "当事人放弃陈述申辩"},
        "decide_penalty": {"fine_amount": "20000", "penalty_kinds": ["罚款"],
                           "decision_summary": CONTENT},
    }
    with live_server.app.app_context():
        officer = db.session.get(User, live_server.users["ja_officer"].id)
        approver = db.session.get(User, live_server.users["ja_approver"].id)
        case = ops.create_clue(officer, ClueIn.model_validate({
            "title": TITLE,
            "channel": "inspection",
            "ip_type": "trademark",
            "received_at": today_local().isoformat(),
            "description": FACTS,
            "parties": [{"kind": "business", "name": BUSINESS, "credit_code": _business_code()}],
            "amounts": {"illegal_business_volume": "8000", "illegal_gains": "2000"},
        }))
        ops.assign_officers(officer, case, OfficersIn(
            version=case.version,
            officer_ids=[live_server.users["ja_officer"].id, live_server.users["ja_officer2"].id]))
        for action, extra in steps.items():
            ops.perform(officer, case, TransitionIn.model_validate(
                {"action": action, "version": case.version, **extra}))
            if case.pending_action:
                ops.perform(approver, case, TransitionIn(action="approve", version=case.version))
        assert case.state == "decided", case.state
        assert case.owner_agency_id == live_server.agency_ids["jingan"]
        db.session.commit()
        case_id = case.id
        db.session.remove()
    return case_id


def _decision_id(live_server, case_id: int) -> int:
    from sqlalchemy import select

    from caseflow.extensions import db
    from caseflow.penalties.models import PenaltyDecision

    with live_server.app.app_context():
        try:
            return db.session.scalar(select(PenaltyDecision.id).where(
                PenaltyDecision.case_id == case_id))
        finally:
            db.session.remove()


def test_decision_published_exported_and_public(new_context, login, live_server, decided_case,
                                                 tmp_path):
    from caseflow.core.calendar import WorkCalendar
    from caseflow.penalties.rules import CSV_HEADER

    code = _business_code()
    bad_code = code[:-1] + ("0" if code[-1] != "0" else "1")  # wrong check character
    case_path = f"/cases/{decided_case}"

    # -- the case officer records the decision document, from the case page
    officer = login(new_context().new_page(), "ja_officer")
    officer.goto(case_path)
    expect(officer.locator("#case-state")).to_have_text("已作出处罚决定")
    officer.get_by_role("link", name="行政处罚决定", exact=True).click()
    expect(officer).to_have_url(re.compile(rf"{case_path}/decision$"))
    expect(officer.get_by_role("heading", name=f"行政处罚决定: {TITLE}")).to_be_visible()
    expect(officer.get_by_role("link", name="行政处罚决定书（PDF）")).to_have_count(0)

    # pre-filled from the case and its decide_penalty step
    expect(officer.get_by_role("checkbox", name="罚款", exact=True)).to_be_checked()
    expect(officer.get_by_label("罚款（元）")).to_have_value(re.compile(r"^20000(\.00?)?$"))
    expect(officer.get_by_label("名称（姓名）")).to_have_value(BUSINESS)
    expect(officer.get_by_label("行政相对人类别")).to_have_value("法人及非法人组织")
    code_input = officer.get_by_label("统一社会信用代码")
    expect(code_input).to_have_value(code)
    decision_date = dt.date.fromisoformat(officer.get_by_label("处罚决定日期").input_value())
    number = f"{JINGAN['case_prefix']}罚〔{decision_date.year}〕7号"

    officer.get_by_label("行政处罚决定书文号").fill(number)
    officer.get_by_label("违法行为类型").fill(VIOLATION)
    officer.get_by_label("违法事实和证据").fill(FACTS)
    officer.get_by_label("处罚依据").fill(BASIS)
    officer.get_by_label("处罚内容").fill(CONTENT)
    officer.get_by_label("法定代表人").fill(LEGAL_REP)
    code_input.fill(bad_code)
    with officer.expect_response(lambda r: r.request.method == "POST") as refused:
        officer.get_by_role("button", name="保存", exact=True).click()
    assert refused.value.status == 422

    expect(officer.locator("#credit_code-error")).to_have_text(
        "校验码不符，请核对统一社会信用代码。")
    expect(code_input).to_have_attribute("aria-invalid", "true")
    expect(code_input).to_have_attribute("aria-describedby", "credit_code-error")
    # the error sits in the field's own box, and it is the only field marked
    expect(officer.locator(".field.has-error").filter(has=code_input)).to_contain_text(
        "校验码不符")
    expect(officer.locator(".field.has-error")).to_have_count(1)
    expect(officer.get_by_role("alert").filter(has_text="本次未保存任何内容")).to_be_visible()
    expect(officer.get_by_label("行政处罚决定书文号")).to_have_value(number)
    expect(officer.get_by_label("处罚依据")).to_have_value(BASIS)
    expect(code_input).to_have_value(bad_code)
    assert _decision_id(live_server, decided_case) is None

    code_input.fill(code)
    officer.get_by_role("button", name="保存", exact=True).click()
    expect(officer.locator(".flash.success")).to_have_text("处罚决定已保存。")
    expect(officer).to_have_url(re.compile(rf"{case_path}/decision$"))
    expect(officer.get_by_label("行政处罚决定书文号")).to_have_value(number)
    pdf_link = officer.get_by_role("link", name="行政处罚决定书（PDF）")
    expect(pdf_link).to_be_visible()
    with officer.expect_download() as dl:
        pdf_link.click()
    pdf_path = tmp_path / "decision.pdf"
    dl.value.save_as(pdf_path)
    assert dl.value.suggested_filename.endswith(".pdf"), dl.value.suggested_filename
    assert pdf_path.read_bytes().startswith(b"%PDF")
    decision_id = _decision_id(live_server, decided_case)
    assert decision_id is not None

    # -- the publisher: the decision waits in the queue with its credit-platform deadline
    platform_due = WorkCalendar().add_working_days(decision_date, 7)
    publisher = login(new_context().new_page(), "ja_publisher")
    publisher.get_by_role("link", name="信用公示", exact=True).click()
    expect(publisher).to_have_url(re.compile(r"/publications/$"))
    expect(publisher.get_by_role("heading", name="信用公示")).to_be_visible()
    row = publisher.locator(f'#queue tr[data-decision="{decision_id}"]')
    expect(row).to_contain_text(number)
    expect(row).to_contain_text(BUSINESS)
    platform_cell = row.locator("td").nth(2)
    expect(platform_cell).to_have_text(f"应于{platform_due.isoformat()}前")

    today = decision_date.isoformat()  # the decision is made today
    for act, cell in (("publish_platform", 2), ("publish_enterprise", 3)):
        row.locator("details.action summary").click()
        row.locator(f'button[data-act="{act}"]').click()
        expect(publisher.locator(".flash.success")).to_have_text("已保存。")
        expect(row.locator("td").nth(cell)).to_have_text(f"{today}已公示")
    expect(row.locator("button[data-act]")).to_have_count(0)

    # -- the 双公示 CSV from the export form, recorded as a batch
    export = publisher.locator("#export")
    with publisher.expect_download() as dl:
        export.get_by_role("button", name="CSV（双公示模板）").click()
    csv_path = tmp_path / "export.csv"
    dl.value.save_as(csv_path)
    m = re.fullmatch(r"shuanggongshi-(\d+)\.csv", dl.value.suggested_filename)
    assert m, dl.value.suggested_filename
    batch_id = m.group(1)
    with open(csv_path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == CSV_HEADER
    assert len(rows) == 2, rows  # only 静安's decision
    record = dict(zip(CSV_HEADER, rows[1]))
    assert record["行政处罚决定书文号"] == number
    assert record["罚款金额（万元）"] == "2"
    assert record["行政相对人名称"] == BUSINESS
    assert record["行政相对人代码_1(统一社会信用代码)"] == code
    assert record["法定代表人"] == LEGAL_REP
    assert record["处罚机关"] == JINGAN["name"]
    assert record["处罚机关统一社会信用代码"] == JINGAN["credit_code"]

    publisher.reload()
    batch = export.locator(f'tr[data-batch="{batch_id}"]')
    expect(batch).to_be_visible()
    expect(batch.locator("td").nth(2)).to_have_text(live_server.users["ja_publisher"].display_name)
    expect(batch.locator("td").nth(4)).to_have_text("1")

    # -- the public page, without login
    visitor = new_context().new_page()
    visitor.goto("/public/penalties")
    expect(visitor.get_by_role("heading", name="行政处罚信息公示")).to_be_visible()
    expect(visitor.locator("header .who")).to_have_count(0)
    public_row = visitor.locator(f'#public-penalties tr[data-number="{number}"]')
    expect(public_row).to_contain_text(BUSINESS)
    expect(public_row).to_contain_text(JINGAN["name"])
    visitor.get_by_role("searchbox", name="搜索").fill(code)
    visitor.get_by_role("button", name="搜索", exact=True).click()
    expect(visitor).to_have_url(re.compile(rf"/public/penalties\?q={code}$"))
    expect(visitor.locator("#public-penalties tr[data-number]")).to_have_count(1)
    expect(public_row).to_contain_text(code)
