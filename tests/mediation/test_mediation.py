"""Assistance and mediation: deadlines, the receipt lookup, mediator conflicts, the agreement,
the clue hand-over; bad input gets clear errors and writes nothing."""
import datetime as dt
import subprocess

import pytest
from sqlalchemy import func, select

from caseflow.cases.models import Case
from caseflow.core.errors import InvalidInput, InvalidTransition, PermissionDenied
from caseflow.core.models import load_calendar
from caseflow.core.timeutil import today_local
from caseflow.extensions import db as _db
db = _db
from caseflow.mediation import operations as ops, rules
from caseflow.mediation.models import AssistanceRequest
from tests.mediation.conftest import request_data


def count(model):
    db.session.commit()
    return db.session.scalar(select(func.count()).select_from(model))


def test_deadlines_are_working_day_clocks(db):
    cal = load_calendar()
    received = dt.date(2025, 9, 26)  # a Friday before the National Day holidays
    [accept] = rules.clocks(cal, received, None, None, None, None)
    # 9/28 (Sun) and 10/11 (Sat) are make-up working days; Oct 1–8 are holidays:
    # 9/28, 9/29, 9/30, 10/9, 10/10, 10/11, 10/13
    assert accept.due == cal.add_working_days(received, 7) == dt.date(2025, 10, 13)
    accepted = dt.date(2025, 10, 13)
    clocks = rules.clocks(cal, received, accepted, accepted, dt.date(2025, 11, 20), None)
    assert [c.name for c in clocks] == ["accept", "mediation", "notify"]
    assert clocks[1].due == cal.add_working_days(accepted, 45)
    assert clocks[2].due == cal.add_working_days(dt.date(2025, 11, 20), 7)
    assert clocks[0].met() is True and clocks[1].met() is True and clocks[2].stopped_on is None
    assert rules.current_deadline(clocks).name == "notify"
    late = rules.clocks(cal, received, None, None, None, None)[0]
    assert late.overdue(dt.date(2025, 10, 14)) and not late.overdue(dt.date(2025, 10, 13))


def test_receipt_codes_are_normalised_and_unguessable():
    code = rules.new_receipt_code()
    assert len(code) == 14 and code.count("-") == 2
    assert rules.normalize_receipt_code(code.lower().replace("-", " ")) == code
    assert rules.normalize_receipt_code("0000-0000-0000") is None  # 0 is not in the alphabet
    assert rules.normalize_receipt_code("ABC") is None
    assert len({rules.new_receipt_code() for _ in range(2000)}) == 2000


def test_public_request_receipt_and_full_mediation(app, ipo, login_as):
    public = app.test_client()
    r = public.post("/public/assistance", data=request_data())
    assert r.status_code == 201, r.text[:500]
    req = db.session.scalar(select(AssistanceRequest))
    assert req.receipt_code in r.text and req.channel == "online" and req.created_by_id is None
    due = load_calendar().add_working_days(today_local(), 7)
    # the receipt shows the stage and its deadline, nothing else
    s = public.post("/public/assistance/status", data={"code": req.receipt_code.lower()})
    assert s.status_code == 200 and 'data-state="received"' in s.text and due.isoformat() in s.text
    assert req.requester_name not in s.text and req.summary not in s.text and "021-57001234" not in s.text

    clerk = login_as(app.test_client(), "clerk")
    r = clerk.post(f"/mediation/{req.id}/accept", data={"version": req.version})
    assert r.status_code == 422 and 'id="jurisdiction-error"' in r.text  # jurisdiction confirmed?
    assert clerk.post(f"/mediation/{req.id}/accept", data={"jurisdiction": "1"}).status_code == 303
    # a mediator with a declared conflict with the respondent cannot be assigned
    ops.declare_conflict(ipo.clerk, ipo.mediator_a.id, {"party": req.respondent_code,
                                                        "conflict_reason": "曾任其法律顾问"})
    db.session.commit()
    page = clerk.get(f"/mediation/{req.id}").text
    assert f'value="{ipo.mediator_a.id}" disabled' in page
    r = clerk.post(f"/mediation/{req.id}/assign", data={"mediator_id": ipo.mediator_a.id})
    assert r.status_code == 422 and "mediator_id-error" in r.text
    assert clerk.post(f"/mediation/{req.id}/assign", data={"mediator_id": ipo.mediator_b.id}).status_code == 303
    # an agreement needs a session first; the typed terms are kept
    r = clerk.post(f"/mediation/{req.id}/agreement", data={"terms": "被申请人停止销售并赔偿五千元。"})
    assert r.status_code == 422 and "被申请人停止销售并赔偿五千元。" in r.text
    r = clerk.post(f"/mediation/{req.id}/session", data={"held_on": today_local().isoformat(),
                                                         "place": "松江科技城工作站", "present": "申请人代理人、被申请人"})
    assert r.status_code == 303
    r = clerk.post(f"/mediation/{req.id}/agreement", data={"terms": "被申请人停止销售并赔偿五千元。"})
    assert r.status_code == 303
    pdf = clerk.get(f"/mediation/{req.id}/agreement.pdf")
    assert pdf.mimetype == "application/pdf"
    text = "".join(subprocess.run(["pdftotext", "-", "-"], input=pdf.data, capture_output=True,
                                  check=True).stdout.decode().split())
    assert "调解协议书" in text and "被申请人停止销售并赔偿五千元。" in text and req.receipt_code in text
    s = public.post("/public/assistance/status", data={"code": req.receipt_code})
    assert 'data-state="agreement"' in s.text


def test_wrong_codes_show_nothing_and_are_throttled(app, ipo):
    ops.submit_public(request_data())
    db.session.commit()
    c = app.test_client()
    for _ in range(ops.LOOKUP_LIMIT):
        r = c.post("/public/assistance/status", data={"code": rules.new_receipt_code()})
        assert r.status_code == 404 and 'id="stage"' not in r.text
    req = db.session.scalar(select(AssistanceRequest))
    r = c.post("/public/assistance/status", data={"code": req.receipt_code})
    assert r.status_code == 429 and 'id="stage"' not in r.text  # even the right code, for an hour


def test_bad_public_input_is_named_and_kept(app, ipo):
    r = app.test_client().post("/public/assistance", data=request_data(
        requester_contact="nope", respondent_code="123", summary="太短", kind="x"))
    assert r.status_code == 422
    for f in ("requester_contact", "respondent_code", "summary", "kind"):
        assert f'id="{f}-error"' in r.text
    assert "上海某品牌有限公司" in r.text
    assert count(AssistanceRequest) == 0


def test_rejection_needs_reasons_and_closes(app, ipo):
    req = ops.register(ipo.clerk, {**request_data(), "channel": "phone",
                                   "received_on": today_local().isoformat()})
    db.session.commit()
    with pytest.raises(InvalidInput):
        ops.decide(ipo.clerk, req, "reject", {"reason": ""})
    db.session.rollback()
    ops.decide(ipo.clerk, req, "reject", {"reason": "不属于知识产权纠纷"})
    db.session.commit()
    assert req.state == "rejected" and req.decided_on == today_local()
    with pytest.raises(InvalidTransition):
        ops.decide(ipo.clerk, req, "accept", {"jurisdiction": "1"})


def test_other_agencies_see_nothing(app, ipo, login_as):
    req = ops.submit_public(request_data())
    db.session.commit()
    for user in ("officer", "other"):  # market supervision and culture staff
        c = login_as(app.test_client(), user)
        assert c.get(f"/mediation/{req.id}").status_code == 403
        assert c.get("/mediation/").status_code == 403
    with pytest.raises(PermissionDenied):
        ops.register(ipo.officer, {**request_data(), "channel": "phone",
                                   "received_on": today_local().isoformat()})


def test_clue_hand_over_carries_the_parties_and_links_both(app, ipo):
    req = ops.submit_public(request_data())
    ops.decide(ipo.clerk, req, "accept", {"jurisdiction": "1"})
    db.session.commit()
    case = ops.to_clue(ipo.clerk, req, {"target_agency_id": str(ipo.amr.id)})
    db.session.commit()
    assert case.owner_agency_id == ipo.amr.id and case.state == "clue"
    assert case.channel == "agency_transfer" and req.receipt_code in case.description
    assert [(p.name, p.credit_code) for p in case.parties] == [(req.respondent_name, req.respondent_code)]
    assert case.reporter_name == req.requester_name and req.clue_case_id == case.id
    assert case.events[0].data["source"] == f"assistance:{req.id}"
    with pytest.raises(InvalidTransition):  # only once
        ops.to_clue(ipo.clerk, req, {"target_agency_id": str(ipo.amr.id)})
    assert count(Case) == 1


def test_services_and_figures(app, ipo):
    a = ops.submit_public(request_data())
    b = ops.submit_public(request_data(kind="assistance", respondent_name=""))
    c = ops.submit_public(request_data())
    ops.decide(ipo.clerk, a, "accept", {"jurisdiction": "1"})
    ops.decide(ipo.clerk, b, "accept", {"jurisdiction": "1"})
    ops.decide(ipo.clerk, c, "reject", {"reason": "不属本局管辖"})
    ops.assign_mediator(ipo.clerk, a, {"mediator_id": str(ipo.mediator_a.id)})
    ops.record_session(ipo.clerk, a, {"held_on": today_local().isoformat(), "present": "双方"})
    ops.close(ipo.clerk, a, "agreement", {"terms": "双方达成和解，停止侵权。"})
    with pytest.raises(InvalidInput):
        ops.log_service(ipo.clerk, b, {"service_kind": "legal_consultation", "expert": "张律师",
                                       "minutes": "0", "given_on": today_local().isoformat()})
    ops.log_service(ipo.clerk, b, {"service_kind": "legal_consultation", "expert": "张律师",
                                   "minutes": "45", "given_on": today_local().isoformat()})
    ops.close(ipo.clerk, b, "serve", {})
    db.session.commit()
    f = ops.figures(ipo.ipo.id, today_local().year)
    assert (f.requests, f.decided, f.accepted, f.agreements, f.closed) == (3, 3, 2, 1, 3)
    assert f.acceptance_rate == round(2 / 3, 3) and f.service_minutes == 45
    assert f.median_days_to_close == 0 and f.per_mediator == {"王调解": (1, 1)}


def test_deadline_reminders_reach_the_office_staff(app, ipo):
    from caseflow.reminders import operations as rops
    from caseflow.reminders.models import Reminder
    from tests.reminders.test_reminders import at_local

    req = ops.submit_public(request_data())
    db.session.commit()
    due = load_calendar().add_working_days(req.received_on, 7)
    rops.generate_all(at_local(due))  # due today: within the 2-working-day window
    rows = db.session.scalars(select(Reminder).where(Reminder.key.like(f"assistance:{req.id}:%"))).all()
    assert sorted(r.user_id for r in rows) == sorted([ipo.clerk.id, ipo.clerk2.id])
    assert {r.kind for r in rows} == {"due_soon"} and req.receipt_code in rows[0].subject
    rops.generate_all(at_local(due + dt.timedelta(days=1)))
    kinds = {r.kind for r in db.session.scalars(select(Reminder).where(
        Reminder.key.like(f"assistance:{req.id}:%")))}
    assert kinds == {"due_soon", "overdue"}
    ops.decide(ipo.clerk, req, "reject", {"reason": "不属于知识产权纠纷"})
    db.session.commit()
    before = count(Reminder)
    rops.generate_all(at_local(due + dt.timedelta(days=30)))
    assert count(Reminder) == before  # decided, and the requester is told with the decision


def test_documents_are_checked_and_carried_into_the_clue(app, ipo, login_as):
    import hashlib
    import io
    from pathlib import Path

    from caseflow.evidence.models import Evidence

    req = ops.submit_public(request_data())
    ops.decide(ipo.clerk, req, "accept", {"jurisdiction": "1"})
    db.session.commit()
    clerk = login_as(app.test_client(), "clerk")
    bad = clerk.post(f"/mediation/{req.id}/documents", data={"file": (io.BytesIO(b"<html>x</html>"), "a.pdf")},
                     content_type="multipart/form-data")
    assert bad.status_code == 422 and 'id="file-error"' in bad.text
    pdf = b"%PDF-1.4\n% mediation\n%%EOF\n"
    ok = clerk.post(f"/mediation/{req.id}/documents", data={"file": (io.BytesIO(pdf), "申请书.pdf")},
                    content_type="multipart/form-data")
    assert ok.status_code == 303
    doc = db.session.get(AssistanceRequest, req.id).documents[0]
    assert doc.sha256 == hashlib.sha256(pdf).hexdigest() and doc.filename == "申请书.pdf"
    dl = clerk.get(f"/mediation/documents/{doc.id}")
    assert dl.status_code == 200 and dl.data == pdf and "attachment" in dl.headers["Content-Disposition"]
    assert login_as(app.test_client(), "officer").get(f"/mediation/documents/{doc.id}").status_code == 403
    r = clerk.post(f"/mediation/{req.id}/clue", data={"target_agency_id": str(ipo.amr.id)})
    assert r.status_code == 303
    req = db.session.get(AssistanceRequest, req.id)
    [ev] = db.session.scalars(select(Evidence).where(Evidence.case_id == req.clue_case_id)).all()
    assert ev.sha256 == doc.sha256 and ev.filename == "申请书.pdf"
    assert (Path(app.instance_path) / "uploads" / "evidence" / ev.stored_name).read_bytes() == pdf
    assert [c.action for c in ev.custody] == ["handed_over"]
    assert ev.custody[0].data["to_agency_id"] == ipo.amr.id
    # the market-supervision officer now sees the clue with the document as evidence
    officer = login_as(app.test_client(), "officer")
    assert officer.get(f"/evidence/{ev.id}/download").data == pdf


def test_detail_page_ids_are_unique_and_reject_errors_are_named(app, ipo, login_as):
    import re

    req = ops.submit_public(request_data())
    db.session.commit()
    clerk = login_as(app.test_client(), "clerk")
    page = clerk.get(f"/mediation/{req.id}").text
    found = re.findall(r'\bid="([^"]+)"', page)
    assert len(found) == len(set(found)), sorted({i for i in found if found.count(i) > 1})
    r = clerk.post(f"/mediation/{req.id}/reject", data={"reason": "短"})
    assert r.status_code == 422 and 'id="reason-reject-error"' in r.text and ">短</textarea>" in r.text


def test_case_page_names_the_request_and_other_outcomes(app, ipo, login_as):
    req = ops.submit_public(request_data())
    ops.decide(ipo.clerk, req, "accept", {"jurisdiction": "1"})
    case = ops.to_clue(ipo.clerk, req, {"target_agency_id": str(ipo.amr.id)})
    db.session.commit()
    page = login_as(app.test_client(), "officer").get(f"/cases/{case.id}").text
    assert 'id="from-request"' in page and req.receipt_code in page
    assert f'/mediation/{req.id}"' not in page  # the request itself stays with the IP office
    # no agreement needs reasons; then the parties are told once
    ops.assign_mediator(ipo.clerk, req, {"mediator_id": str(ipo.mediator_b.id)})
    db.session.commit()
    with pytest.raises(InvalidInput) as e:
        ops.close(ipo.clerk, req, "no_agreement", {"reason": ""})
    assert "reason" in e.value.errors
    db.session.rollback()
    ops.close(ipo.clerk, req, "no_agreement", {"reason": "双方分歧较大"})
    db.session.commit()
    assert req.state == "no_agreement" and req.closed_on == today_local()
    ops.notify_parties(ipo.clerk, req, {"notified_on": today_local().isoformat()})
    db.session.commit()
    with pytest.raises(InvalidTransition):
        ops.notify_parties(ipo.clerk, req, {"notified_on": today_local().isoformat()})
    db.session.rollback()
    assert [c.met() for c in ops.request_clocks(req)] == [True, True, True]
    # a request can be withdrawn before acceptance
    other = ops.submit_public(request_data())
    ops.close(ipo.clerk, other, "withdraw", {"reason": "申请人撤回申请"})
    db.session.commit()
    assert other.state == "withdrawn"


def test_throttle_counts_the_client_behind_a_proxy(tmp_path, ipo):
    from caseflow import create_app

    proxied = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "PROXY_FIX_HOPS": 1,
                          "SQLALCHEMY_DATABASE_URI": db.engine.url.render_as_string(hide_password=False),
                          "INSTANCE_PATH": str(tmp_path)})
    c = proxied.test_client()
    for _ in range(ops.LOOKUP_LIMIT):
        c.post("/public/assistance/status", data={"code": rules.new_receipt_code()},
               headers={"X-Forwarded-For": "203.0.113.7"})
    blocked = c.post("/public/assistance/status", data={"code": rules.new_receipt_code()},
                     headers={"X-Forwarded-For": "203.0.113.7"})
    other = c.post("/public/assistance/status", data={"code": rules.new_receipt_code()},
                   headers={"X-Forwarded-For": "198.51.100.9"})
    assert (blocked.status_code, other.status_code) == (429, 404)
