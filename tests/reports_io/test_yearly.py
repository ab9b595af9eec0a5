"""Yearly reports (年度报告): POST /reports/yearly makes the PDF, /reports/yearly/<id>.pdf serves
it; the scheduler makes every agency's report for the year before on the first working day.

The figures in the PDF are checked against numbers computed here from the seeded cases. PDF
rendering takes about a second: this file renders four.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import html
import re
import subprocess
from collections import Counter

import pytest
from sqlalchemy import func, select

from caseflow.cases.models import Case
from caseflow.core.audit import AuditEvent
from caseflow.core.models import CalendarDay, load_calendar
from caseflow.core.timeutil import today_local
from caseflow.extensions import db
from caseflow.reports.models import YearlyReport

AMR_NAME = "上海市松江区市场监督管理局"
CULTURE_NAME = "上海市松江区文化市场行政执法大队"
STATE_ZH = {"clue": "线索登记", "verifying": "核查中", "rejected": "不予立案", "filed": "已立案"}
IP_ZH = {"trademark": "商标", "patent": "专利", "copyright": "著作权"}


def squeeze(text: str) -> str:
    """pdftotext drops or adds spaces between CJK characters and digits: compare without."""
    return re.sub(r"\s+", "", text)


def pdf_text(data: bytes) -> str:
    # -raw: content-stream order, so a table row's label and number stay together
    return subprocess.run(["pdftotext", "-raw", "-", "-"], input=data, capture_output=True,
                          check=True, timeout=60).stdout.decode("utf-8")


def stored_files(app) -> set[str]:
    from pathlib import Path

    d = Path(app.instance_path) / "uploads" / "reports"
    return {p.name for p in d.iterdir()} if d.is_dir() else set()


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture()
def browser(app, login_as):
    return lambda user: login_as(app.test_client(), user.username)


@pytest.fixture()
def last_year_cases(world, make_case, drive):
    """Songjiang AMR's cases received last year (7, in four states and three IP types), one of
    this year, and two of the culture squad last year."""
    y = today_local().year - 1
    plan = [  # (received, ip type, channel, actions)
        (dt.date(y, 1, 1), "trademark", "report", ()),
        (dt.date(y, 3, 15), "trademark", "complaint", ("accept",)),
        (dt.date(y, 3, 20), "trademark", "report", ("accept",)),
        (dt.date(y, 7, 8), "trademark", "report", ("accept", "reject")),
        (dt.date(y, 5, 10), "patent", "complaint", ("accept", "file")),
        (dt.date(y, 11, 30), "patent", "report", ()),
        (dt.date(y, 12, 31), "copyright", "report", ("accept",)),
    ]
    for i, (day, ip, channel, actions) in enumerate(plan):
        case = make_case(title=f"年度报告测试案件{i}", received_at=day.isoformat(), ip_type=ip,
                         channel=channel)
        if actions:
            drive(case, *actions)
    make_case(title="今年受理的案件", received_at=today_local().isoformat(), ip_type="patent")
    for i in range(2):
        make_case(user=world.other, officers=False, title=f"文化执法大队去年的案件{i}",
                  received_at=dt.date(y, 6, 1 + i).isoformat(), ip_type="trademark")
    return y


def test_generate_and_download_yearly_report(app, world, last_year_cases, browser):
    year = last_year_cases
    boss = browser(world.approver)
    before = stored_files(app)
    r = boss.post("/reports/yearly", data={"year": str(year)})
    assert r.status_code == 302, r.text[:500]
    rep = db.session.scalar(select(YearlyReport))
    assert r.headers["Location"].endswith(f"/reports/yearly/{rep.id}.pdf")
    assert (rep.agency_id, rep.year, rep.scheduled, rep.generated_by_id) == \
        (world.amr.id, year, False, world.approver.id)
    assert stored_files(app) - before == {rep.stored_name}

    dl = boss.get(r.headers["Location"])
    assert dl.status_code == 200 and dl.mimetype == "application/pdf"
    assert dl.headers["Content-Disposition"].startswith("attachment")
    body = dl.get_data()
    assert body.startswith(b"%PDF")
    digest = hashlib.sha256(body).hexdigest()
    assert dl.headers["X-Content-Sha256"] == digest == rep.sha256 and rep.size == len(body)
    assert count(AuditEvent, AuditEvent.action == "report.yearly_generate") == 1
    assert count(AuditEvent, AuditEvent.action == "report.yearly_download") == 1

    # the figures, counted here from the cases
    rows = db.session.execute(select(Case.state, Case.ip_type).where(
        Case.owner_agency_id == world.amr.id, Case.received_on >= dt.date(year, 1, 1),
        Case.received_on <= dt.date(year, 12, 31))).all()
    by_state = Counter(s for s, _ in rows)
    by_ip = Counter(t for _, t in rows)
    assert len(rows) == 7  # the seed, as planned: not this year's case, not the culture squad's
    assert by_state == {"clue": 2, "verifying": 3, "rejected": 1, "filed": 1}
    assert by_ip == {"trademark": 4, "patent": 2, "copyright": 1}

    text = pdf_text(body)
    flat = squeeze(text)
    assert AMR_NAME in flat and f"{year}年度知识产权执法工作报告" in flat
    for label in ("专项行动和双随机检查", "G60", "公示率"):
        assert label in flat, label
    assert f"受理案件（线索）{len(rows)}件" in flat
    for state, n in by_state.items():
        assert f"{STATE_ZH[state]}{n}" in flat, (state, n)
    for ip, n in by_ip.items():
        assert f"{IP_ZH[ip]}{n}" in flat, (ip, n)
    assert f"合计{len(rows)}" in flat
    # the charts (SVG) come through as text: the month labels of the year
    for m in range(1, 13):
        assert f"{m}月" in flat, m
    assert "年度未结束" not in flat  # last year is complete
    assert not re.findall(r"[A-Za-z]{3,}", flat), "English words in the Chinese report"
    assert CULTURE_NAME not in flat

    # the list shows it, with its hash
    page = boss.get("/reports/yearly")
    assert page.status_code == 200
    assert f"/reports/yearly/{rep.id}.pdf" in page.text and rep.sha256[:16] in page.text


def test_this_years_report_runs_to_today(app, world, make_case, browser):
    today = today_local()
    make_case(title="本年度受理的案件", received_at=today.isoformat(), ip_type="copyright")
    world.approver.locale = "en"  # the report is in Chinese whatever the reader's interface
    db.session.commit()
    boss = browser(world.approver)
    r = boss.post("/reports/yearly", data={"year": str(today.year)})
    assert r.status_code == 302
    dl = boss.get(r.headers["Location"])
    assert dl.status_code == 200 and dl.mimetype == "application/pdf"
    assert dl.headers["X-Content-Sha256"] == hashlib.sha256(dl.get_data()).hexdigest()
    flat = squeeze(pdf_text(dl.get_data()))
    assert f"{today.year}年度知识产权执法工作报告" in flat
    assert "年度未结束" in flat  # a running year is reported up to today
    assert f"至{today.strftime('%Y年%m月%d日')}" in flat
    assert "受理案件（线索）1件" in flat and "著作权1" in flat
    assert f"{today.month}月" in flat
    assert "线索登记1" in flat
    assert not re.findall(r"[A-Za-z]{3,}", flat), "English words in the Chinese report"


@pytest.mark.parametrize("bad", ["1999", str(today_local().year + 1), "abc", "", "２０２５", "2025.0",
                                 "-2025", "99999999999999999999"])
def test_bad_year_is_refused(app, world, browser, bad):
    boss = browser(world.approver)
    before = stored_files(app)
    r = boss.post("/reports/yearly", data={"year": bad})
    assert r.status_code == 422, bad
    assert 'id="year-error"' in r.text
    from flask_babel import force_locale

    from caseflow.cases import messages

    with app.test_request_context(), force_locale("zh_Hans_CN"):
        word = messages.text("report_year")
    assert word in html.unescape(r.text)
    if bad:
        assert f'value="{html.escape(bad)}"' in r.text  # what was typed is kept
    assert count(YearlyReport) == 0
    assert stored_files(app) == before
    assert count(AuditEvent, AuditEvent.action == "report.yearly_generate") == 0


def test_who_may_generate_list_and_download(app, world, make_user, browser):
    y = today_local().year - 1
    # a report made directly, so no PDF needs rendering here
    from caseflow.core.uploads import upload_dir

    data = b"%PDF-1.7 fake yearly report"
    (upload_dir("reports") / ("a" * 32)).write_bytes(data)
    rep = YearlyReport(agency_id=world.amr.id, year=y, scheduled=True, stored_name="a" * 32,
                       size=len(data), sha256=hashlib.sha256(data).hexdigest())
    db.session.add(rep)
    db.session.commit()
    url = f"/reports/yearly/{rep.id}.pdf"

    officer = browser(world.officer)  # case officer, neither approver nor coordinator
    assert officer.post("/reports/yearly", data={"year": str(y)}).status_code == 403
    page = officer.get("/reports/yearly")
    assert page.status_code == 200 and url in page.text
    assert 'name="year"' not in page.text  # no form for who cannot use it
    r = officer.get(url)
    assert r.status_code == 200 and r.get_data() == data
    assert r.headers["X-Content-Sha256"] == hashlib.sha256(data).hexdigest()
    assert count(YearlyReport) == 1

    coord = browser(make_user(world.amr, "coord", ["coordinator"]))
    assert 'name="year"' in coord.get("/reports/yearly").text

    other = browser(world.other)  # another agency
    assert other.get(url).status_code == 404
    assert url not in other.get("/reports/yearly").text
    other_boss = browser(make_user(world.culture, "culture_boss", ["approver"]))
    assert other_boss.get(url).status_code == 404
    assert browser(world.auditor).get(url).status_code == 403
    assert browser(world.auditor).post("/reports/yearly", data={"year": str(y)}).status_code == 403
    assert officer.get("/reports/yearly/999999.pdf").status_code == 404
    assert officer.get(f"/reports/yearly/{2**31}.pdf").status_code == 404
    assert count(YearlyReport) == 1


def test_scheduler_makes_last_years_reports_once(app, world, last_year_cases):
    from caseflow.accounts.operations import create_agency
    from caseflow.reports.present import generate_due_reports
    from caseflow.reports.rules import first_working_day

    joint = create_agency("sj-joint", "joint_office", "上海市松江区知识产权联席会议办公室", "松知联",
                          region="上海市松江区")
    db.session.commit()
    year = today_local().year
    jan1 = dt.date(year, 1, 1)
    if load_calendar().is_workday(jan1):  # a year the calendar package does not cover yet
        db.session.add(CalendarDay(day=jan1, is_workday=False, note="元旦"))
        db.session.commit()
    first = first_working_day(year, load_calendar())
    assert first > jan1

    # before the first working day: nothing
    assert generate_due_reports(jan1) == []
    assert generate_due_reports(first - dt.timedelta(days=1)) == []
    assert count(YearlyReport) == 0

    before = stored_files(app)
    made = generate_due_reports(first)
    assert {rep.agency_id for rep in made} == {world.amr.id, world.culture.id}
    assert len(made) == 2 and joint.id not in {rep.agency_id for rep in made}
    for rep in made:
        assert rep.year == year - 1 and rep.scheduled is True and rep.generated_by_id is None
    assert stored_files(app) - before == {rep.stored_name for rep in made}
    ev = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "report.yearly_generate")).all()
    assert {e.agency_id for e in ev} == {world.amr.id, world.culture.id}
    assert all(e.data["scheduled"] is True and e.user_id is None for e in ev)

    # each PDF is its agency's, with its hash
    from caseflow.reports.present import report_path

    for rep in made:
        data = report_path(rep).read_bytes()
        assert hashlib.sha256(data).hexdigest() == rep.sha256
        flat = squeeze(pdf_text(data))
        name = AMR_NAME if rep.agency_id == world.amr.id else CULTURE_NAME
        assert name in flat and f"{year - 1}年度知识产权执法工作报告" in flat
        assert f"受理案件（线索）{7 if rep.agency_id == world.amr.id else 2}件" in flat

    # a second pass, the same day or later: nothing more
    assert generate_due_reports(first) == []
    assert generate_due_reports(first + dt.timedelta(days=40)) == []
    assert count(YearlyReport) == 2

    # the scheduler's job runs (today: last year's reports already made)
    from caseflow.reminders.scheduler import REPORT_JOB_ID, build_scheduler, report_job

    db.session.commit()  # on SQLite our open transaction would hold the write lock
    assert report_job(app) == []
    assert count(YearlyReport) == 2
    assert REPORT_JOB_ID == "yearly-reports"
    scheduler = build_scheduler(app)
    job = scheduler.get_job("yearly-reports")
    assert job is not None and job.func is report_job and job.args == (app,)
    assert job.trigger.interval == dt.timedelta(seconds=app.config["REPORT_CHECK_SECONDS"])
