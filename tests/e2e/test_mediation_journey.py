"""Browser journey in the Chinese UI: rights-protection assistance and mediation (维权援助、
知识产权纠纷调解), from the public form to the agreement.

An anonymous visitor opens the public request form, sends it once with an empty summary (refused:
the error is shown and what was typed is kept), then correctly: a mediation asked by a rights
holder against another party about a trademark. The receipt page gives the receipt code; with it
the public status page shows the stage (registered, awaiting acceptance) and the acceptance
deadline, and a wrong code shows "not found" and no stage. The IP office's clerk (conftest
``IPO_USERS``) adds a mediator to the roster, finds the request by its receipt code, accepts it
(refused once without the jurisdiction tick), assigns the mediator, records a session and closes
with an agreement; the agreement (调解协议书, PDF) carries the terms, and the visitor's status
page now shows the stage "closed with agreement" without a deadline.

Everything goes through the browser; no case is filed. The pages are reached by ids, names,
hrefs and data- attributes; the two stage labels the visitor reads are taken from the Chinese
catalogue (messages.po), not written here."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

CATALOGUE = (Path(__file__).resolve().parents[2] / "caseflow" / "translations" / "zh_Hans_CN"
             / "LC_MESSAGES" / "messages.po")

REQUEST = {"requester_name": "上海星辰服饰有限公司", "requester_contact": "021-57001234",
           "respondent_name": "松江区泗泾镇某服装商行"}
SUMMARY = "被申请人在其门店销售标有申请人“星辰”注册商标的服装，请求调解：停止销售并赔偿损失。"
MEDIATOR = "钱明远"
EXPERTISE = "商标、服装"
PRESENT = "双方"
PLACE = "松江区知识产权局调解室"
TERMS = "被申请人立即停止销售涉案服装，并于十五日内向申请人支付赔偿金人民币八千元。"
WRONG_CODE = "2345-6789-ABCD"


def _zh(msgid: str) -> str:
    """The Chinese translation of ``msgid`` in the catalogue (fails if it is missing)."""
    from babel.messages.pofile import read_po

    with CATALOGUE.open("rb") as f:
        message = read_po(f).get(msgid)
    assert message is not None and message.string, f"no Chinese translation for {msgid!r}"
    return message.string


def _submit(page, button):
    """Click ``button`` and return the response of the page it leads to (after redirects)."""
    with page.expect_navigation() as nav:
        button.click()
    return nav.value


def _status(response, expected=200):
    assert response.status == expected, f"{response.url} answered {response.status}"


def _squeeze(text: str) -> str:
    """pdftotext drops or adds spaces between CJK characters and digits: compare without them."""
    return re.sub(r"\s+", "", text)


def _look_up(page, code: str, expected: int):
    page.goto("/public/assistance/status")
    page.locator("#code").fill(code)
    _status(_submit(page, page.locator('form button[type="submit"].primary')), expected)


def _step(page, verb: str):
    """Open the ``<details data-step=verb>`` block and return it (its form is inside)."""
    block = page.locator(f'details[data-step="{verb}"]')
    if block.get_attribute("open") is None:
        block.locator("summary").click()
    return block


def test_public_request_mediation_agreement_and_status(new_context, login, live_server,
                                                       tmp_path):
    from caseflow.core.models import load_calendar
    from caseflow.core.timeutil import today_local
    from caseflow.mediation.rules import ACCEPT_WD

    today = today_local()
    with live_server.app.app_context():
        accept_due = load_calendar().add_working_days(today, ACCEPT_WD)
    received_label = _zh("Registered, awaiting acceptance")
    agreement_label = _zh("Closed with agreement")

    # -- 1. the visitor sends the form with an empty summary: refused, what was typed is kept
    visitor = new_context().new_page()
    visitor.goto("/public/assistance")
    form = visitor.locator("#assistance-form")
    expect(form.locator("#agency_id")).to_have_count(0)  # one IP office: none to choose
    form.locator("#kind").select_option("mediation")
    form.locator("#requester_kind").select_option("rights_holder")
    for name, value in REQUEST.items():
        form.locator(f"#{name}").fill(value)
    form.locator("#ip_type").select_option("trademark")
    refused = _submit(visitor, form.locator('button[type="submit"]'))
    _status(refused, 422)
    expect(visitor.locator("#summary-error")).to_be_visible()
    expect(visitor.locator("#summary-error")).to_have_attribute("role", "alert")
    form = visitor.locator("#assistance-form")
    for name, value in REQUEST.items():
        expect(form.locator(f"#{name}")).to_have_value(value)
        expect(visitor.locator(f"#{name}-error")).to_have_count(0)
    expect(form.locator("#kind")).to_have_value("mediation")
    expect(form.locator("#requester_kind")).to_have_value("rights_holder")
    expect(form.locator("#ip_type")).to_have_value("trademark")
    expect(visitor.locator("#receipt-code")).to_have_count(0)

    # -- sends it correctly: the receipt page gives the code and the acceptance deadline
    form.locator("#summary").fill(SUMMARY)
    _status(_submit(visitor, form.locator('button[type="submit"]')), 201)
    receipt = visitor.locator("#receipt-code")
    expect(receipt).to_have_text(re.compile(r"^\s*[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}\s*$"))
    code = receipt.inner_text().strip()
    assert code != WRONG_CODE
    expect(visitor.locator("#receipt-due")).to_contain_text(accept_due.isoformat())

    # -- follows it with the code: registered, awaiting acceptance, and the deadline
    _look_up(visitor, code, 200)
    stage = visitor.locator("#stage")
    expect(stage).to_have_attribute("data-state", "received")
    expect(stage).to_have_text(received_label)
    expect(visitor.locator("#deadline")).to_have_text(accept_due.isoformat())
    expect(visitor.locator("#not-found")).to_have_count(0)
    # only the stage and its deadline: nothing about the parties or the content
    status_text = visitor.locator("body").inner_text()
    for secret in (REQUEST["requester_name"], REQUEST["respondent_name"], SUMMARY):
        assert secret not in status_text

    # -- a wrong code: not found, no stage
    _look_up(visitor, WRONG_CODE, 404)
    expect(visitor.locator("#not-found")).to_be_visible()
    expect(visitor.locator("#stage")).to_have_count(0)
    expect(visitor.locator("#deadline")).to_have_count(0)

    # -- 2. the IP office's clerk adds a mediator to the roster
    page = login(new_context().new_page(), "ipo_clerk")
    page.locator('header nav a[href$="/mediation/"]').click()
    expect(page).to_have_url(re.compile(r"/mediation/$"))
    roster = page.locator("#roster")
    expect(roster.locator("li[data-mediator]")).to_have_count(0)
    add = roster.locator("details").last
    add.locator("summary").click()
    add.locator("#name").fill(MEDIATOR)
    add.locator("#mediator_kind").select_option("professional")
    add.locator("#expertise").fill(EXPERTISE)
    _status(_submit(page, add.locator('button[type="submit"]')))
    expect(page).to_have_url(re.compile(r"/mediation/#roster$"))
    expect(page.locator(".flash.success")).to_have_count(1)
    entry = page.locator("#roster li[data-mediator]")
    expect(entry).to_have_count(1)
    expect(entry.locator("b")).to_have_text(MEDIATOR)
    expect(entry).to_contain_text(EXPERTISE)
    mediator_id = entry.get_attribute("data-mediator")

    # -- finds the request by its receipt code and opens it
    row = page.locator("#requests tr[data-request]").filter(has_text=code)
    expect(row).to_have_count(1)
    expect(row).to_contain_text(REQUEST["requester_name"])
    request_id = row.get_attribute("data-request")
    _status(_submit(page, row.locator("a", has_text=code)))
    expect(page).to_have_url(re.compile(rf"/mediation/{request_id}$"))
    state = page.locator("#request-state")
    expect(state).to_have_attribute("data-state", "received")
    expect(page.locator("#facts")).to_contain_text(REQUEST["requester_contact"])
    expect(page.locator("#facts")).to_contain_text(SUMMARY)
    expect(page.locator('#clocks li[data-clock="accept"]')).to_contain_text(accept_due.isoformat())
    expect(page.locator("#agreement-pdf")).to_have_count(0)

    # -- accepts it: refused without the jurisdiction tick, then ticked
    accept = _step(page, "accept")
    _status(_submit(page, accept.locator('button[type="submit"]')), 422)
    expect(page.locator("#jurisdiction-error")).to_be_visible()
    expect(state).to_have_attribute("data-state", "received")
    accept = _step(page, "accept")
    accept.locator('input[name="jurisdiction"]').check()
    _status(_submit(page, accept.locator('button[type="submit"]')))
    expect(page.locator(".flash.success")).to_have_count(1)
    expect(state).to_have_attribute("data-state", "accepted")
    expect(page.locator('details[data-step="accept"]')).to_have_count(0)

    # -- assigns the mediator
    assign = _step(page, "assign")
    assign.locator("#mediator_id").select_option(mediator_id)
    _status(_submit(page, assign.locator('button[type="submit"]')))
    expect(page.locator(".flash.success")).to_have_count(1)
    expect(state).to_have_attribute("data-state", "mediating")
    expect(page.locator("#mediator")).to_contain_text(MEDIATOR)

    # -- records a session with both parties present
    session = _step(page, "session")
    expect(session.locator("#held_on")).to_have_value(today.isoformat())
    session.locator("#place").fill(PLACE)
    session.locator("#present").fill(PRESENT)
    _status(_submit(page, session.locator('button[type="submit"]')))
    expect(page.locator(".flash.success")).to_have_count(1)
    expect(state).to_have_attribute("data-state", "mediating")
    held = page.locator("#sessions li:not(.empty)")
    expect(held).to_have_count(1)
    expect(held).to_contain_text(PRESENT)
    expect(held).to_contain_text(PLACE)

    # -- closes with an agreement
    agreement = _step(page, "agreement")
    agreement.locator("#terms").fill(TERMS)
    _status(_submit(page, agreement.locator('button[type="submit"]')))
    expect(page.locator(".flash.success")).to_have_count(1)
    expect(state).to_have_attribute("data-state", "agreement")
    expect(state).to_have_text(agreement_label)
    expect(page.locator("#terms")).to_have_text(TERMS)
    expect(page.locator('details[data-step="agreement"]')).to_have_count(0)

    # -- the agreement (调解协议书) as a PDF
    with page.expect_download() as dl:
        page.locator("a#agreement-pdf").click()
    pdf_path = tmp_path / "agreement.pdf"
    dl.value.save_as(pdf_path)
    assert dl.value.suggested_filename.endswith(".pdf"), dl.value.suggested_filename
    assert code in dl.value.suggested_filename, dl.value.suggested_filename
    assert pdf_path.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", str(pdf_path), "-"], capture_output=True, text=True,
                          check=True, timeout=60).stdout
    flat = _squeeze(text)
    assert "调解协议书" in flat, text
    assert _squeeze(TERMS) in flat, text
    assert code in flat, text
    for name in (REQUEST["requester_name"], REQUEST["respondent_name"], MEDIATOR, PRESENT):
        assert _squeeze(name) in flat, text

    # -- 3. the visitor's status page: closed with agreement, no deadline left
    _look_up(visitor, code, 200)
    stage = visitor.locator("#stage")
    expect(stage).to_have_attribute("data-state", "agreement")
    expect(stage).to_have_text(agreement_label)
    expect(visitor.locator("#deadline")).to_have_count(0)
    expect(visitor.locator("#not-found")).to_have_count(0)
