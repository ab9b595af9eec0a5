"""Decision documents, the publication queue, the 双公示 CSV, the PDF list, the public page."""
import csv
import datetime as dt
import hashlib
import io
import subprocess

import pytest
from sqlalchemy import func, select

from caseflow.extensions import db
from caseflow.penalties.models import ExportBatch, PenaltyDecision
from caseflow.penalties.rules import CSV_HEADER
from tests.conftest import valid_credit_code
from caseflow.core.timeutil import today_local  # legal dates are Beijing dates


@pytest.fixture()
def decided(make_case, drive, world, make_user):
    make_user(world.amr, "publisher", ["publisher"])
    world.amr.credit_code = "11310117MB2C12345X"[:0] or valid_credit_code(77).replace("91", "11", 1)
    db.session.commit()
    case = make_case()
    drive(case, "accept", "file", "investigate", "notify", "record_statement", "decide_penalty")
    return case


def decision_form(case, **over):
    data = {"number": "沪市监松处罚〔2026〕12号", "decision_date": today_local().isoformat(),
            "categories": ["罚款", "没收违法所得"], "fine_amount": "20000",
            "confiscated_amount": "3500", "severity": "general", "violation_type": "销售侵犯注册商标专用权的商品",
            "facts": "经查，当事人销售假冒“耐克”运动鞋120双，违法所得3500元。",
            "basis": "《中华人民共和国商标法》第六十条第二款", "content": "没收侵权商品，罚款20000元。",
            "subject_name": "上海某某商行", "subject_kind": "法人及非法人组织",
            "credit_code": case.parties[0].credit_code, "legal_rep": "王某"}
    data.update(over)
    return data


def test_record_decision_with_bad_input_then_pdf(app, decided, login_as, tmp_path):
    officer = login_as(app.test_client(), "officer")
    page = officer.get(f"/cases/{decided.id}/decision")
    assert page.status_code == 200 and "罚款" in page.text
    for field, bad in (("number", ""), ("decision_date", "2099-01-01"), ("categories", []),
                       ("credit_code", "11230500001755309E"), ("fine_amount", "abc"),
                       ("subject_kind", "外星人"), ("legal_rep", "")):
        r = officer.post(f"/cases/{decided.id}/decision", data=decision_form(decided, **{field: bad}))
        assert r.status_code == 422, field
        assert f'id="{field}-error"' in r.text or field == "categories", field
        assert "上海某某商行" in r.text  # what was typed is kept
    r = officer.post(f"/cases/{decided.id}/decision",
                     data=decision_form(decided, subject_kind="自然人", id_type="身份证",
                                        id_number="110105194912310021"))
    assert r.status_code == 422 and 'id="id_number-error"' in r.text
    assert db.session.scalar(select(func.count()).select_from(PenaltyDecision)) == 0
    # user text with URLs: printed as text, never fetched
    facts = '经查<img src="file:///etc/passwd"> <link href="http://example.com/x.css"> 当事人销售假冒商品。'
    r = officer.post(f"/cases/{decided.id}/decision", data=decision_form(decided, facts=facts))
    assert r.status_code == 302
    r = officer.get(f"/cases/{decided.id}/decision.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    path = tmp_path / "d.pdf"
    path.write_bytes(r.data)
    text = "".join(subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                                  check=True).stdout.split())
    assert "行政处罚决定书" in text and "沪市监松处罚〔2026〕12号" in text and "上海某某商行" in text
    assert "file:///etc/passwd" in text  # shown as text
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    assert "CJK" in fonts and "yes" in fonts


def publish_all(app, login_as, decided):
    officer = login_as(app.test_client(), "officer")
    assert officer.post(f"/cases/{decided.id}/decision", data=decision_form(decided)).status_code == 302
    pub = login_as(app.test_client(), "publisher")
    return officer, pub, db.session.scalar(select(PenaltyDecision))


def test_queue_publish_export_and_public_page(app, decided, login_as, client):
    officer, pub, d = publish_all(app, login_as, decided)
    q = pub.get("/publications/")
    assert f'data-decision="{d.id}"' in q.text
    assert client.get("/public/penalties").text.count("data-number=") == 0
    assert pub.post(f"/publications/{d.id}/actions", data={"action": "publish_platform"}).status_code == 302
    assert pub.post(f"/publications/{d.id}/actions", data={"action": "publish_enterprise"}).status_code == 302
    # the public page, without login, finds it by name and by credit code
    r = app.test_client().get("/public/penalties?q=某某商行")
    assert 'data-number="沪市监松处罚〔2026〕12号"' in r.text
    r = app.test_client().get(f"/public/penalties?q={d.credit_code}")
    assert 'data-number="沪市监松处罚〔2026〕12号"' in r.text
    # the CSV
    r = pub.get("/publications/export.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    raw = r.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == CSV_HEADER and len(rows) == 2
    row = dict(zip(rows[0], rows[1]))
    assert row["罚款金额（万元）"] == "2" and row["没收违法所得、没收非法财物的金额（万元）"] == "0.35"
    assert row["处罚决定日期"] == today_local().strftime("%Y/%m/%d")
    assert row["处罚有效期"] == "2099/12/31" and row["法定代表人"] == "王某"
    from caseflow.penalties.rules import add_months

    # 一般 severity decided after 2026-04-01: on the credit platform for up to one year
    assert row["公示截止期"] == add_months(today_local(), 12).strftime("%Y/%m/%d")
    assert row["行政相对人代码_1(统一社会信用代码)"] == d.credit_code
    batch = db.session.scalar(select(ExportBatch))
    assert batch.row_count == 1 and batch.sha256 == hashlib.sha256(raw).hexdigest()
    # the PDF list: the same selection, in Chinese
    from caseflow.penalties.models import ExportJob
    from caseflow.penalties.operations import run_export_jobs
    assert pub.post("/publications/export-jobs", data={}).status_code == 302
    assert run_export_jobs("test") == 1
    job = db.session.scalar(select(ExportJob))
    r = pub.get(f"/publications/export-jobs/{job.id}/download")
    assert r.status_code == 200 and r.data.startswith(b"%PDF")
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(r.data)
        f.flush()
        # -raw: content-stream order, so a number wrapped inside its table cell stays whole
        text = "".join(subprocess.run(["pdftotext", "-raw", f.name, "-"], capture_output=True,
                                      text=True, check=True).stdout.split())
        fonts = subprocess.run(["pdffonts", f.name], capture_output=True, text=True).stdout
    assert "上海某某商行" in text and "沪市监松处罚〔2026〕12号" in text and "CJK" in fonts
    # withdraw: off the public page at once
    r = pub.post(f"/publications/{d.id}/actions", data={"action": "withdraw", "reason": "",
                                                         "changed_on": today_local().isoformat()})
    assert r.status_code == 422
    # the refused form stays open with the error and the date the publisher typed
    assert 'id="withdraw-reason-error"' in r.text
    assert f'name="changed_on" value="{today_local().isoformat()}"' in r.text
    assert pub.post(f"/publications/{d.id}/actions", data={
        "action": "withdraw", "reason": "复议决定撤销原处罚决定",
        "changed_on": today_local().isoformat()}).status_code == 302
    assert "data-number=" not in app.test_client().get("/public/penalties").text


def test_refused_rows_are_listed_not_exported(app, decided, login_as):
    officer, pub, d = publish_all(app, login_as, decided)
    d.basis = ""  # imported or corrupted data missing a required field
    db.session.commit()
    r = pub.get("/publications/export.csv")
    rows = list(csv.reader(io.StringIO(r.get_data().decode("utf-8-sig"))))
    assert len(rows) == 1 and r.headers["X-Export-Refused"] == "1"
    batch = db.session.scalar(select(ExportBatch))
    assert batch.refused == [{"id": d.id, "number": d.number, "missing": ["处罚依据"]}]


def test_warning_only_never_published(app, make_case, drive, world, make_user, login_as):
    make_user(world.amr, "publisher", ["publisher"])
    case = make_case()
    drive(case, "accept", "file", "investigate", "notify", "record_statement")
    drive(case, "decide_penalty", fine_amount="0", penalty_kinds=["警告"], decision_summary="警告")
    officer = login_as(app.test_client(), "officer")
    r = officer.post(f"/cases/{case.id}/decision", data=decision_form(
        case, categories=["警告"], fine_amount="0", confiscated_amount="0", content="警告"))
    assert r.status_code == 302
    d = db.session.scalar(select(PenaltyDecision))
    pub = login_as(app.test_client(), "publisher")
    assert pub.post(f"/publications/{d.id}/actions", data={"action": "publish_platform"}).status_code == 409
    db.session.refresh(d)
    assert d.platform_published_on is None
    rows = list(csv.reader(io.StringIO(pub.get("/publications/export.csv").get_data().decode("utf-8-sig"))))
    assert len(rows) == 1


def test_only_publishers_publish_and_other_agencies_see_nothing(app, decided, login_as, world):
    officer, pub, d = publish_all(app, login_as, decided)
    assert officer.post(f"/publications/{d.id}/actions", data={"action": "publish_platform"}).status_code == 403
    assert officer.get("/publications/export.csv").status_code == 403
    other = login_as(app.test_client(), "other")
    assert other.get(f"/cases/{decided.id}/decision").status_code == 404
    assert other.get(f"/cases/{decided.id}/decision.pdf").status_code == 404
    assert f'data-decision="{d.id}"' not in other.get("/publications/").text
    assert other.post(f"/publications/{d.id}/actions", data={"action": "publish_platform"}).status_code == 404


def test_person_is_masked_on_the_public_page(app, make_case, drive, world, make_user, login_as):
    make_user(world.amr, "publisher", ["publisher"])
    case = make_case(parties=[{"kind": "person", "name": "张三丰", "id_number": "11010519491231002X"}])
    drive(case, "accept", "file", "investigate", "notify", "record_statement", "decide_penalty")
    officer = login_as(app.test_client(), "officer")
    r = officer.post(f"/cases/{case.id}/decision", data=decision_form(
        case, subject_name="张三丰", subject_kind="自然人", id_type="身份证",
        id_number="11010519491231002X", credit_code="", legal_rep=""))
    assert r.status_code == 302
    d = db.session.scalar(select(PenaltyDecision))
    pub = login_as(app.test_client(), "publisher")
    pub.post(f"/publications/{d.id}/actions", data={"action": "publish_enterprise"})
    page = app.test_client().get("/public/penalties").text
    assert "张**" in page and "张三丰" not in page and "11010519491231002X" not in page
    # a natural person cannot be looked up by name
    assert "data-number=" not in app.test_client().get("/public/penalties?q=张三丰").text


def test_end_early_needs_every_condition(app, decided, login_as, drive):
    officer, pub, d = publish_all(app, login_as, decided)
    pub.post(f"/publications/{d.id}/actions", data={"action": "publish_enterprise"})
    db.session.refresh(d)
    d.enterprise_published_on = today_local() - dt.timedelta(days=200)
    db.session.commit()
    ok = {"action": "end_early", "corrected": "y", "committed": "y", "no_repeat": "y",
          "not_listed": "y", "reason": "当事人已履行义务并改正"}
    for missing in ("corrected", "committed", "no_repeat", "not_listed"):
        form = {k: v for k, v in ok.items() if k != missing}
        assert pub.post(f"/publications/{d.id}/actions", data=form).status_code == 409
    db.session.refresh(d)
    assert d.ended_on is None
    assert pub.post(f"/publications/{d.id}/actions", data=ok).status_code == 409  # fine unpaid
    drive(decided, "serve", "record_payment")
    assert pub.post(f"/publications/{d.id}/actions", data=ok).status_code == 302
    db.session.refresh(d)
    assert d.ended_on == today_local() and d.end_reason


def test_credit_repair_waits_six_months(app, decided, login_as):
    officer, pub, d = publish_all(app, login_as, decided)
    pub.post(f"/publications/{d.id}/actions", data={"action": "publish_enterprise"})
    form = {"action": "repair", "reason": "信用修复决定书〔2026〕1号"}
    assert pub.post(f"/publications/{d.id}/actions", data=form).status_code == 409
    db.session.refresh(d)
    assert d.repaired_on is None
    d.enterprise_published_on = today_local() - dt.timedelta(days=190)
    db.session.commit()
    assert pub.post(f"/publications/{d.id}/actions", data=form).status_code == 302
    db.session.refresh(d)
    assert d.repaired_on == today_local()
    assert "data-number=" not in app.test_client().get("/public/penalties").text


def test_change_starts_the_withdrawal_clock(app, decided, login_as):
    from caseflow.penalties import operations as pops

    officer, pub, d = publish_all(app, login_as, decided)
    pub.post(f"/publications/{d.id}/actions", data={"action": "publish_platform"})
    changed = today_local() - dt.timedelta(days=10)
    r = pub.post(f"/publications/{d.id}/actions", data={"action": "record_change", "reason": "",
                                                         "changed_on": changed.isoformat()})
    assert r.status_code == 422
    assert pub.post(f"/publications/{d.id}/actions", data={
        "action": "record_change", "reason": "行政复议决定撤销",
        "changed_on": changed.isoformat()}).status_code == 302
    db.session.refresh(d)
    st = pops.status(d)
    assert st["withdraw_due"] and "withdraw" in st["overdue"]  # 10 days > 3 working days
    assert pub.post(f"/publications/{d.id}/actions", data={
        "action": "withdraw", "reason": "撤销后撤下公示"}).status_code == 302
    db.session.refresh(d)
    assert d.withdrawn_on and "withdraw" not in pops.status(d)["overdue"]


def test_shared_case_does_not_open_its_decision(app, decided, login_as, world):
    """A share of the case is not a share of its decision (ID numbers, facts): the decision
    page follows the queue's rule, owning agency only."""
    from caseflow.sharing.operations import grant_share

    officer, pub, d = publish_all(app, login_as, decided)
    grant_share(world.officer, decided, world.culture.id, "联合执法", ["details"], None)
    db.session.commit()
    other = login_as(app.test_client(), "other")
    assert other.get(f"/cases/{decided.id}").status_code == 200  # the shared case itself
    r = other.get(f"/cases/{decided.id}/decision")
    assert r.status_code == 404 and "王某" not in r.text
    assert other.get(f"/cases/{decided.id}/decision.pdf").status_code == 404
    assert other.post(f"/cases/{decided.id}/decision",
                      data=decision_form(decided, number="改")).status_code == 404
    assert officer.get(f"/cases/{decided.id}/decision").status_code == 200
