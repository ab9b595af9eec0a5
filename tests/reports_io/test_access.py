"""Who reaches the report pages: every /reports/ route needs a login and a case role; an agency
never sees another's yearly reports or ledger rows; the district view is for IP offices and
the joint office only, shows the agencies of their region, and no case details."""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re

import pytest
from flask import url_for
from sqlalchemy import func, select

from caseflow.accounts.operations import create_agency
from caseflow.cases.models import Case
from caseflow.core.audit import AuditEvent
from caseflow.core.timeutil import today_local
from caseflow.core.uploads import upload_dir
from caseflow.extensions import db
from caseflow.reports.models import YearlyReport
from tests.conftest import valid_credit_code

REGION = "上海市松江区"
KINDS = ("cases", "referrals", "penalties", "inspections", "actions")


@pytest.fixture()
def browser(app, login_as):
    return lambda user: login_as(app.test_client(), user.username)


def fake_report(agency, year: int, name: str) -> YearlyReport:
    """A stored yearly report without rendering a PDF."""
    data = f"%PDF-1.7 {agency.code} {year}".encode()
    (upload_dir("reports") / name).write_bytes(data)
    rep = YearlyReport(agency_id=agency.id, year=year, scheduled=True, stored_name=name,
                       size=len(data), sha256=hashlib.sha256(data).hexdigest())
    db.session.add(rep)
    db.session.commit()
    return rep


def report_routes(app) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) of every route of the reports blueprint."""
    out = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if not rule.endpoint.startswith("reports."):
                continue
            args = {a: 1 for a in rule.arguments}
            url = url_for(rule.endpoint, **args)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                out.append((rule.endpoint, method, url))
    return out


def call(client, method: str, url: str):
    if method == "POST":
        return client.post(url, data={"year": str(today_local().year - 1)})
    return client.open(url, method=method)


# ----------------------------------------------------------------------------- every route

def test_every_report_route_needs_login_and_a_case_role(app, world, make_user, browser):
    rep = fake_report(world.amr, today_local().year - 1, "b" * 32)
    routes = report_routes(app)
    endpoints = {e for e, _m, _u in routes}
    assert {"reports.dashboard", "reports.district", "reports.ledgers_page",
            "reports.ledger_export", "reports.yearly", "reports.yearly_download"} <= endpoints
    assert all(u.startswith("/reports/") for _e, _m, u in routes)
    assert ("reports.yearly", "POST", "/reports/yearly") in routes
    # the download route with a report that exists, so a refusal is not a mere 404
    routes = [(e, m, u.replace("/1.pdf", f"/{rep.id}.pdf")) for e, m, u in routes]

    anonymous = app.test_client()
    for endpoint, method, url in routes:
        r = call(anonymous, method, url)
        assert r.status_code == 302, (endpoint, method, r.status_code)
        assert "/login" in r.headers["Location"], (endpoint, method)

    admins = [world.auditor, make_user(world.amr, "sysadm", ["sys_admin"]),
              make_user(world.amr, "secadm", ["sec_admin"])]
    for user in admins:
        client = browser(user)
        for endpoint, method, url in routes:
            r = call(client, method, url)
            assert r.status_code == 403, (user.username, endpoint, method, r.status_code)
    assert db.session.scalar(select(func.count()).select_from(YearlyReport)) == 1
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action.like("report.%"))) == 0

    # every case role reaches the GET pages of its own agency (the district view aside)
    for user in (world.inspector, world.officer, world.reviewer, world.approver):
        client = browser(user)
        for endpoint, method, url in routes:
            if method != "GET" or endpoint == "reports.district":
                continue
            if endpoint == "reports.ledger_export":
                url += "?kind=cases&format=csv"
            r = call(client, method, url)
            assert r.status_code == 200, (user.username, endpoint, r.status_code)


# ----------------------------------------------------------------------------- agency isolation

def test_agency_never_sees_another_agencys_yearly_reports(app, world, make_user, browser):
    y = today_local().year - 1
    mine = fake_report(world.amr, y, "c" * 32)
    theirs = fake_report(world.culture, y, "d" * 32)
    ipo = create_agency("sj-ipo", "ip_office", "上海市松江区知识产权局", "沪松知", region=REGION)
    db.session.commit()
    ipo_user = make_user(ipo, "ipo_user", ["case_officer", "approver"])
    culture_boss = make_user(world.culture, "culture_boss", ["approver"])

    amr = browser(world.approver)
    page = amr.get("/reports/yearly").text
    assert f"/reports/yearly/{mine.id}.pdf" in page
    assert f"/reports/yearly/{theirs.id}.pdf" not in page
    assert amr.get(f"/reports/yearly/{theirs.id}.pdf").status_code == 404
    assert amr.get(f"/reports/yearly/{mine.id}.pdf").status_code == 200

    culture = browser(culture_boss)
    page = culture.get("/reports/yearly").text
    assert f"/reports/yearly/{theirs.id}.pdf" in page
    assert f"/reports/yearly/{mine.id}.pdf" not in page
    assert culture.get(f"/reports/yearly/{mine.id}.pdf").status_code == 404
    r = culture.get(f"/reports/yearly/{theirs.id}.pdf")
    assert r.status_code == 200 and r.headers["X-Content-Sha256"] == theirs.sha256

    # a district office sees the district's numbers, never another agency's reports
    office = browser(ipo_user)
    page = office.get("/reports/yearly").text
    assert f"/reports/yearly/{mine.id}.pdf" not in page
    assert f"/reports/yearly/{theirs.id}.pdf" not in page
    for rep in (mine, theirs):
        assert office.get(f"/reports/yearly/{rep.id}.pdf").status_code == 404
    # the refused downloads left no trace of a download
    downloads = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "report.yearly_download")).all()
    assert sorted((e.user_id, e.object_id) for e in downloads) == sorted(
        [(world.approver.id, str(mine.id)), (culture_boss.id, str(theirs.id))])


def _ledger_text(client, kind: str, start: dt.date, end: dt.date) -> tuple[str, list[list[str]]]:
    r = client.get("/reports/ledgers/export", query_string={
        "kind": kind, "format": "csv", "from": start.isoformat(), "to": end.isoformat()})
    assert r.status_code == 200, (kind, r.status_code)
    text = r.get_data().decode("utf-8-sig")
    return text, list(csv.reader(io.StringIO(text, newline="")))[1:]


def test_agency_never_sees_another_agencys_ledger_rows(app, world, make_case, drive, browser):
    today = today_local()
    start = today - dt.timedelta(days=30)
    mine = make_case(title="松江市监独有案件标记AMRX", received_at=today.isoformat(),
                     parties=[{"kind": "business", "name": "市监当事人AMRX",
                               "credit_code": valid_credit_code(31)}])
    drive(mine, "accept", "file")
    theirs = make_case(user=world.other, officers=False, title="文化执法独有案件标记CULX",
                       received_at=today.isoformat(),
                       parties=[{"kind": "business", "name": "文化当事人CULX",
                                 "credit_code": valid_credit_code(32)}])
    amr, culture = browser(world.officer), browser(world.other)
    for kind in KINDS:
        text, _rows = _ledger_text(amr, kind, start, today)
        assert "CULX" not in text and valid_credit_code(32) not in text, kind
        text, _rows = _ledger_text(culture, kind, start, today)
        assert "AMRX" not in text and valid_credit_code(31) not in text, kind
        assert mine.number not in text, kind
    _t, rows = _ledger_text(amr, "cases", start, today)
    assert [row[1] for row in rows] == ["松江市监独有案件标记AMRX"]
    _t, rows = _ledger_text(culture, "cases", start, today)
    assert [row[1] for row in rows] == ["文化执法独有案件标记CULX"] and rows[0][0] == f"#{theirs.id}"


# ----------------------------------------------------------------------------- district view

@pytest.fixture()
def district(world, make_user, make_case, drive):
    """Songjiang: AMR and the culture squad (with cases), an IP office and the joint office;
    Jiading: an AMR (with a case) and an IP office."""
    world.amr.region = REGION
    world.culture.region = REGION
    ipo = create_agency("sj-ipo", "ip_office", "上海市松江区知识产权局", "沪松知", region=REGION)
    joint = create_agency("sj-joint", "joint_office", "上海市松江区知识产权联席会议办公室", "松知联",
                          region=REGION)
    police = create_agency("sj-police", "police_econ", "上海市公安局松江分局经济犯罪侦查支队", "沪公松经",
                           region=REGION)
    jd = create_agency("jd-amr", "market_supervision", "上海市嘉定区市场监督管理局", "沪市监嘉处",
                       region="上海市嘉定区")
    jd_ipo = create_agency("jd-ipo", "ip_office", "上海市嘉定区知识产权局", "沪嘉知", region="上海市嘉定区")
    db.session.commit()
    users = {
        "ipo_user": make_user(ipo, "ipo_user", ["case_officer"]),
        "joint_user": make_user(joint, "joint_user", ["coordinator"]),
        "police_user": make_user(police, "police_user", ["case_officer"]),
        "jd_user": make_user(jd, "jd_user", ["case_officer", "inspector"]),
        "jd_ipo_user": make_user(jd_ipo, "jd_ipo_user", ["approver"]),
    }
    today = today_local()
    secrets = []
    for i, (title, party) in enumerate([("松江市监案件机密标题QQA", "松江当事人机密QQB"),
                                        ("松江市监另一机密案件QQC", "松江另一当事人QQD")]):
        c = make_case(title=title, received_at=today.isoformat(), ip_type="trademark",
                      parties=[{"kind": "business", "name": party,
                                "credit_code": valid_credit_code(40 + i)}])
        drive(c, "accept", "file")
        secrets += [title, party, c.number, valid_credit_code(40 + i)]
    c = make_case(user=world.other, officers=False, title="文化大队机密案件QQE",
                  received_at=today.isoformat(), ip_type="copyright",
                  parties=[{"kind": "person", "name": "文化当事人QQF",
                            "id_number": "11010519491231002X"}])
    secrets += ["文化大队机密案件QQE", "文化当事人QQF", "11010519491231002X"]
    c = make_case(user=users["ipo_user"], officers=False, title="知识产权局机密案件QQG",
                  received_at=today.isoformat(), ip_type="patent",
                  parties=[{"kind": "business", "name": "知识产权局当事人QQH",
                            "credit_code": valid_credit_code(45)}])
    secrets += ["知识产权局机密案件QQG", "知识产权局当事人QQH", valid_credit_code(45)]
    c = make_case(user=users["jd_user"], officers=False, title="嘉定机密案件QQI",
                  received_at=today.isoformat(),
                  parties=[{"kind": "business", "name": "嘉定当事人QQJ",
                            "credit_code": valid_credit_code(46)}])
    secrets += ["嘉定机密案件QQI", "嘉定当事人QQJ", valid_credit_code(46)]
    for k, v in users.items():
        setattr(world, k, v)
    world.ipo, world.joint, world.police, world.jd, world.jd_ipo = ipo, joint, police, jd, jd_ipo
    world.secrets = secrets
    return world


def agencies_shown(page: str) -> set[str]:
    return set(re.findall(r'<tr data-agency="([^"]+)"', page))


def row_of(page: str, code: str) -> str:
    m = re.search(rf'<tr data-agency="{re.escape(code)}">(.*?)</tr>', page, re.S)
    assert m, f"no row for {code}"
    return m.group(1)


def received_in(row: str) -> int:
    cells = re.findall(r"<td>(.*?)</td>", row, re.S)
    return int(re.sub(r"<[^>]+>", "", cells[1]).strip())


def test_district_view_for_ip_office_and_joint_office_only(app, district, browser):
    w = district
    today = today_local()
    songjiang = {"sj-amr", "sj-culture", "sj-ipo", "sj-police"}
    for user in (w.ipo_user, w.joint_user):
        r = browser(user).get("/reports/district")
        assert r.status_code == 200, user.username
        page = r.text
        assert agencies_shown(page) == songjiang, user.username  # the joint office has no row
        for name in ("上海市嘉定区市场监督管理局", "上海市嘉定区知识产权局", "jd-amr", "jd-ipo"):
            assert name not in page, (user.username, name)
        for secret in w.secrets:
            assert secret not in page, (user.username, secret)
        # the counts are there (this year's cases), with no link into another agency's cases
        expected = dict(db.session.execute(select(Case.owner_agency_id, func.count()).where(
            Case.received_on >= dt.date(today.year, 1, 1), Case.received_on <= today)
            .group_by(Case.owner_agency_id)).all())
        for code, agency in (("sj-amr", w.amr), ("sj-culture", w.culture), ("sj-ipo", w.ipo),
                             ("sj-police", w.police)):
            row = row_of(page, code)
            assert received_in(row) == expected.get(agency.id, 0), (user.username, code)
            if agency.id != user.agency_id:
                assert "<a " not in row, (user.username, code)
    assert received_in(row_of(browser(w.ipo_user).get("/reports/district").text, "sj-amr")) == 2

    # Jiading's IP office sees Jiading only
    page = browser(w.jd_ipo_user).get("/reports/district").text
    assert agencies_shown(page) == {"jd-amr", "jd-ipo"}
    assert "上海市松江区市场监督管理局" not in page
    for secret in w.secrets:
        assert secret not in page, secret

    # every other kind of agency: refused, and no link to it on the dashboard
    for user in (w.officer, w.approver, w.other, w.police_user, w.jd_user):
        client = browser(user)
        assert client.get("/reports/district").status_code == 403, user.username
        assert "/reports/district" not in client.get("/reports/").text, user.username
    assert "/reports/district" in browser(w.ipo_user).get("/reports/").text

    # a bad period still shows numbers only
    r = browser(w.joint_user).get("/reports/district", query_string={"from": "2026-13-01"})
    assert r.status_code == 422 and 'id="from-error"' in r.text
    for secret in w.secrets:
        assert secret not in r.text
    views = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "report.district")).all()
    assert {e.user_id for e in views} >= {w.ipo_user.id, w.joint_user.id, w.jd_ipo_user.id}


def test_district_view_without_region_shows_own_agency_only(app, world, make_user, browser):
    lone = create_agency("x-ipo", "ip_office", "某区知识产权局", "某知")  # no region
    db.session.commit()
    user = make_user(lone, "lone_ipo", ["case_officer"])
    page = browser(user).get("/reports/district").text
    assert agencies_shown(page) == {"x-ipo"}
    assert "上海市松江区市场监督管理局" not in page and "上海市松江区文化市场行政执法大队" not in page


def test_the_ledger_operation_checks_permission_and_choice_itself(world):
    """export_ledger refuses on its own, whoever calls it (not only the view)."""
    import datetime as _dt

    import pytest as _pytest

    from caseflow.core.errors import InvalidInput, PermissionDenied
    from caseflow.reports.ledgers import export_ledger
    from caseflow.reports.rules import Period

    period = Period(_dt.date(2026, 1, 1), _dt.date(2026, 1, 31))
    with _pytest.raises(PermissionDenied):
        export_ledger(world.auditor, "cases", "csv", period)
    with _pytest.raises(InvalidInput) as e:
        export_ledger(world.officer, "bogus", "pdf", period)
    assert set(e.value.errors) == {"kind", "format"}
    out = export_ledger(world.officer, "cases", "xlsx", period)
    assert out.body[:2] == b"PK" and out.rows == 0 and "案件台账" in out.title
