"""The system administrator's holiday calendar (for years chinesecalendar does not cover)."""
import datetime as dt

from sqlalchemy import select

from caseflow.core.audit import AuditEvent
from caseflow.core.models import CalendarDay, load_calendar
from caseflow.extensions import db


def test_only_sys_admin_may_edit(client, world, make_user, login_as):
    login_as(client, "officer")
    assert client.get("/admin/calendar").status_code == 403
    assert client.post("/admin/calendar", data={"day": "2030-01-02", "kind": "holiday"}).status_code == 403
    assert db.session.scalar(select(CalendarDay)) is None


def test_sys_admin_enters_days_and_due_dates_follow(client, world, make_user, login_as, make_case):
    make_user(world.amr, "sysadmin", ["sys_admin"])
    case = make_case()
    before = case.next_due_on
    login_as(client, "sysadmin")
    # the admin sees no case data
    assert client.get("/cases/").status_code == 403
    page = client.get("/admin/calendar")
    assert page.status_code == 200
    # declare the next working day after receipt a holiday: the verification due date moves
    cal = load_calendar()
    nxt = cal.add_working_days(case.received_on, 1)
    r = client.post("/admin/calendar", data={"day": nxt.isoformat(), "kind": "holiday", "note": "测试"})
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(CalendarDay, nxt).is_workday is False
    assert db.session.get(type(case), case.id).next_due_on > before
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "calendar.set"))
    r = client.post(f"/admin/calendar/{nxt.isoformat()}/delete")
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(type(case), case.id).next_due_on == before


def test_bad_input_is_refused_and_kept(client, world, make_user, login_as):
    make_user(world.amr, "sysadmin", ["sys_admin"])
    login_as(client, "sysadmin")
    r = client.post("/admin/calendar", data={"day": "2030-02-30", "kind": "holiday", "note": "春节"})
    assert r.status_code == 422 and 'id="day-error"' in r.text and "春节" in r.text
    r = client.post("/admin/calendar", data={"day": "2030-02-03", "kind": "sometimes"})
    assert r.status_code == 422 and 'id="kind-error"' in r.text
    r = client.post("/admin/calendar", data={"day": "2030-02-03", "kind": "workday", "note": "x" * 201})
    assert r.status_code == 422 and 'id="note-error"' in r.text
    assert db.session.scalar(select(CalendarDay)) is None


def test_cli_calendar_set(app, db):
    r = app.test_cli_runner().invoke(args=["caseflow", "calendar-set", "2030-10-08", "holiday",
                                           "--note", "国庆"])
    assert r.exit_code == 0, r.output
    assert db.session.get(CalendarDay, dt.date(2030, 10, 8)).is_workday is False
    r = app.test_cli_runner().invoke(args=["caseflow", "calendar-set", "2030-13-01", "holiday"])
    assert r.exit_code == 2
