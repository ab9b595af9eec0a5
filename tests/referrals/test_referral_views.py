"""Referral, sharing and oversight screens."""
import datetime as dt

from sqlalchemy import func, select

from caseflow.core.audit import AuditEvent
from caseflow.extensions import db
from caseflow.referrals.models import Referral
from caseflow.sharing.models import ShareGrant
from caseflow.core.timeutil import today_local  # legal dates are Beijing dates

OVER = {"amounts": {"sales_amount": "60000"}}


def form_for_referral(agencies, **over):
    data = {"team": [str(agencies.officer.id), str(agencies.officer2.id)],
            "report": "当事人销售假冒注册商标的商品，销售金额六万元，涉嫌销售假冒注册商标的商品罪。",
            "suspected_crime": "214", "police_agency_id": str(agencies.police.id),
            "procuratorate_id": str(agencies.proc.id)}
    for item in ("transfer_letter", "investigation_report", "items_list", "inspection_report"):
        data[f"package-{item}-done"] = "y"
    data.update(over)
    return data


def test_case_page_warns_and_referral_flow_through_screens(app, agencies, make_case, drive,
                                                           login_as):
    case = make_case(**OVER)
    drive(case, "accept", "file", "investigate")
    officer = login_as(app.test_client(), "officer")
    page = officer.get(f"/cases/{case.id}")
    assert 'id="threshold-warning"' in page.text and 'data-crime="214"' in page.text
    assert f"/referrals/new/{case.id}" in page.text

    # an incomplete package is kept and explained
    bad = form_for_referral(agencies, report="太短")
    r = officer.post(f"/referrals/new/{case.id}", data=bad)
    assert r.status_code == 302  # a draft may be incomplete; submitting checks it
    referral = db.session.scalar(select(Referral))
    r = officer.post(f"/referrals/{referral.id}/actions", data={"action": "submit"})
    assert r.status_code == 409 and "role=\"alert\"" in r.text
    r = officer.post(f"/referrals/{referral.id}/edit", data=form_for_referral(
        agencies, version=str(referral.version)))
    assert r.status_code == 302
    assert officer.post(f"/referrals/{referral.id}/actions",
                        data={"action": "submit"}).status_code == 302
    approver = login_as(app.test_client(), "approver")
    assert approver.post(f"/referrals/{referral.id}/actions",
                         data={"action": "approve"}).status_code == 302
    assert officer.post(f"/referrals/{referral.id}/actions",
                        data={"action": "send"}).status_code == 302

    cop = login_as(app.test_client(), "cop")
    board = cop.get("/referrals/")
    assert f'data-referral="{referral.id}"' in board.text and 'id="incoming"' in board.text
    assert cop.post(f"/referrals/{referral.id}/actions", data={"action": "receive"}).status_code == 302
    r = cop.post(f"/referrals/{referral.id}/actions", data={"action": "police_decline", "reason": ""})
    assert r.status_code == 422 and 'id="reason-error"' in r.text
    assert cop.post(f"/referrals/{referral.id}/actions",
                    data={"action": "police_decline", "reason": "证据不足"}).status_code == 302
    # the police read the shared case; the owner sees that read
    shared = cop.get(f"/cases/{case.id}")
    assert shared.status_code == 200 and "shared-banner" in shared.text
    assert "id=\"actions\"" not in shared.text  # no workflow actions for a reader
    page = officer.get(f"/cases/{case.id}")
    assert "上海市公安局松江分局经济犯罪侦查支队" in page.text and 'class="reads"' in page.text

    # other police agency: neither the referral nor the case
    cop2 = login_as(app.test_client(), "cop2")
    assert cop2.get(f"/referrals/{referral.id}").status_code == 404
    assert cop2.get(f"/cases/{case.id}").status_code == 404
    assert f'data-referral="{referral.id}"' not in cop2.get("/referrals/").text

    assert officer.post(f"/referrals/{referral.id}/actions",
                        data={"action": "accept_decline"}).status_code == 302
    page = officer.get(f"/cases/{case.id}")
    assert 'id="case-state"' in page.text
    db.session.expire_all()
    assert db.session.get(type(case), case.id).state == "investigating"

    proc = login_as(app.test_client(), "prosecutor")
    oversight = proc.get("/referrals/")
    assert 'id="oversight"' in oversight.text and 'id="fig-total">1<' in oversight.text


def test_share_grant_parts_expiry_and_revocation(app, agencies, make_case, login_as):
    case = make_case(reporter_name="举报人王某某", description="机密描述：仓库位于某处")
    officer = login_as(app.test_client(), "officer")
    other = login_as(app.test_client(), "other")
    assert other.get(f"/cases/{case.id}").status_code == 404
    r = officer.post(f"/cases/{case.id}/shares", data={
        "agency_id": str(agencies.culture.id), "purpose": "联合查处", "parts": ["parties"],
        "expires_on": (today_local() + dt.timedelta(days=30)).isoformat()})
    assert r.status_code == 302
    page = other.get(f"/cases/{case.id}")
    assert page.status_code == 200
    assert case.parties[0].name in page.text
    assert "机密描述" not in page.text and "举报人王某某" not in page.text  # not granted
    assert case.title in other.get("/cases/").text
    reads = db.session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "case.shared_view"))
    assert reads == 1
    # bad input is refused and kept
    r = officer.post(f"/cases/{case.id}/shares", data={
        "agency_id": str(agencies.culture.id), "purpose": "再次共享", "parts": ["secrets"],
        "expires_on": "2001-01-01"})
    assert r.status_code == 422 and 'id="parts-error"' in r.text and "再次共享" in r.text
    # never to the case's own agency (the list's shared counts rely on it): refused, kept
    r = officer.post(f"/cases/{case.id}/shares", data={
        "agency_id": str(case.owner_agency_id), "purpose": "本局自查", "parts": ["details"]})
    assert r.status_code == 422 and "本局自查" in r.text
    assert "该案件本就由该单位办理。" in r.text
    assert db.session.scalar(select(func.count()).select_from(ShareGrant)) == 1
    # revoke: gone at once
    grant = db.session.scalar(select(ShareGrant))
    assert officer.post(f"/cases/{case.id}/shares/{grant.id}/revoke").status_code == 302
    assert other.get(f"/cases/{case.id}").status_code == 404
    assert case.title not in other.get("/cases/").text


def test_expired_grant_hides_the_case(app, agencies, make_case, login_as):
    import time_machine

    case = make_case()
    from caseflow.sharing.operations import grant_share

    grant_share(agencies.officer, case, agencies.culture.id, "协查", ["details"],
                today_local() + dt.timedelta(days=2))
    db.session.commit()
    other = login_as(app.test_client(), "other")
    assert other.get(f"/cases/{case.id}").status_code == 200
    with time_machine.travel(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=4)):
        assert other.get(f"/cases/{case.id}").status_code in (404, 302)


def test_linked_cases_across_agencies(app, agencies, make_case, login_as):
    from tests.conftest import clue_payload

    a = make_case()
    b = make_case(user=agencies.other, officers=False, title="文化执法：同一当事人的盗版案")
    officer = login_as(app.test_client(), "officer")
    page = officer.get(f"/cases/{a.id}")
    assert 'class="hidden-related"' in page.text and "文化市场行政执法大队" in page.text
    assert b.title not in page.text  # never the other agency's case itself


def test_each_agency_kind_sees_its_board(app, agencies, make_case, login_as):
    make_case()
    officer = login_as(app.test_client(), "officer")
    page = officer.get("/referrals/")
    assert 'id="outgoing"' in page.text and 'data-focus="open"' in page.text
    assert 'id="incoming"' not in page.text and 'id="oversight"' not in page.text
    culture = login_as(app.test_client(), "other")
    page = culture.get("/referrals/")
    assert 'data-focus="copyright"' in page.text and 'data-focus="online"' in page.text
    cop = login_as(app.test_client(), "cop")
    page = cop.get("/referrals/")
    assert 'id="incoming"' in page.text and 'id="focus"' not in page.text
    proc = login_as(app.test_client(), "prosecutor")
    assert 'id="oversight"' in proc.get("/referrals/").text
    auditor = login_as(app.test_client(), "auditor")
    assert auditor.get("/referrals/").status_code == 403


def test_related_by_trademark_number_and_bad_numbers(app, agencies, make_case, login_as):
    from sqlalchemy import func, select

    from caseflow.cases.models import Case

    a = make_case(trademark_numbers=["1234567", "第7654321号"])
    assert a.trademark_numbers == "1234567,7654321"
    b = make_case(title="另一商行销售同一商标的假冒商品", trademark_numbers=["7654321"],
                  parties=[{"kind": "person", "name": "张三", "id_number": "11010519491231002X"}],
                  location="")
    near = make_case(title="商标号相近但不同的案件", trademark_numbers=["765432"], location="",
                     parties=[])
    officer = login_as(app.test_client(), "officer")
    page = officer.get(f"/cases/{a.id}")
    assert 'id="linked"' in page.text and b.title in page.text
    assert near.title not in page.text  # 765432 is not 7654321
    n = db.session.scalar(select(func.count()).select_from(Case))
    form = {"title": "商标号格式错误的线索", "channel": "report", "ip_type": "trademark",
            "received_at": "2026-01-05", "trademark_numbers": "12AB567, 1234567",
            "parties-0-kind": "business", "parties-0-name": ""}
    r = officer.post("/cases/new", data=form)
    assert r.status_code == 422 and 'id="trademark_numbers-error"' in r.text and "12AB567" in r.text
    assert db.session.scalar(select(func.count()).select_from(Case)) == n
