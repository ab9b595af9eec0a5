"""Reminders: generated once per key and user, delivered once, e-mailed through a real SMTP
server, shown in the inbox. The clock is moved (time-machine), never slept."""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import socket
import threading

import pytest
import time_machine
from sqlalchemy import select

from caseflow.accounts.models import User
from caseflow.cases.operations import case_clocks
from caseflow.core.errors import NotFound
from caseflow.core.timeutil import LOCAL_TZ
from caseflow.extensions import db
from caseflow.reminders import operations as ops
from caseflow.reminders.models import Reminder
from caseflow.reminders.registry import ReminderSpec
from tests.referrals.conftest import agencies, referral_of  # noqa: F401 (fixtures)


def at_local(day: dt.date, hour: int = 10, minute: int = 0) -> dt.datetime:
    """A Beijing-time moment as UTC."""
    return dt.datetime.combine(day, dt.time(hour, minute), LOCAL_TZ).astimezone(dt.timezone.utc)


def verification_due(case) -> dt.date:
    return next(c for c in case_clocks(case) if c.name == "verification").due


def rows() -> list[Reminder]:
    db.session.commit()  # end our transaction: see what other sessions committed
    return list(db.session.scalars(select(Reminder).order_by(Reminder.id)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def due_soon_case(make_case):
    """A case whose verification clock is due in 2 days at ``now``."""
    case = make_case()
    due = verification_due(case)
    db.session.commit()
    return case, due, at_local(due - dt.timedelta(days=2))


def test_clock_due_in_two_days_reminds_each_officer_once(due_soon_case, world):
    case, due, now = due_soon_case
    assert ops.generate_all(now) == 2
    db.session.commit()
    got = rows()
    assert {(r.user_id, r.kind) for r in got} == {(world.officer.id, "due_soon"),
                                                 (world.officer2.id, "due_soon")}
    r = got[0]
    assert r.key == f"case:{case.id}:verification:due_soon:{due.isoformat()}"
    assert r.link == f"/cases/{case.id}"
    # in Chinese: 案件…：核查并决定是否立案将于…到期
    assert "核查" in r.subject and due.isoformat() in r.subject and "到期" in r.subject
    assert r.due_at == at_local(due - dt.timedelta(days=3), 0)  # the window opened at midnight
    assert r.sent_at is None  # generated, not yet delivered


def test_running_twice_keeps_one_row_each_delivered_once(due_soon_case, world):
    _case, _due, now = due_soon_case
    first = ops.run_once(now, "w1")
    second = ops.run_once(now + dt.timedelta(minutes=1), "w1")
    assert (first.generated, first.delivered) == (2, 2)
    assert (second.generated, second.delivered) == (0, 0)
    got = rows()
    assert len(got) == 2
    assert all(r.sent_at == now and r.sent_by == "w1" for r in got)


def test_overdue_reminder_replaces_nothing_and_comes_once(due_soon_case, world):
    case, due, now = due_soon_case
    ops.run_once(now, "w1")
    late = at_local(due + dt.timedelta(days=1), 9)
    assert ops.run_once(late, "w1").delivered == 2
    assert ops.run_once(late + dt.timedelta(hours=5), "w1").delivered == 0
    kinds = sorted(r.kind for r in rows())
    assert kinds == ["due_soon", "due_soon", "overdue", "overdue"]
    overdue = [r for r in rows() if r.kind == "overdue"][0]
    assert "逾期" in overdue.subject and overdue.key.endswith(f"overdue:{due.isoformat()}")


def test_stopped_and_party_clocks_are_not_reminded(make_case, drive, world):
    case = make_case()
    due = verification_due(case)
    drive(case, "accept", "file")  # filing stops the verification clock
    assert ops.generate_all(at_local(due - dt.timedelta(days=1))) == 0


def test_a_reminder_due_later_waits(world):
    now = at_local(dt.date(2026, 11, 2))
    spec = ReminderSpec(world.officer.id, "test:later", "due_soon", "稍后", "", "/cases/",
                        now + dt.timedelta(hours=1))
    assert ops.store([spec, spec], now) == 1  # the same spec twice in one run: one row
    db.session.commit()
    assert ops.deliver_pending(now, "w1").delivered == 0
    assert ops.unread_count(world.officer) == 0 and ops.inbox(world.officer) == []
    assert ops.deliver_pending(now + dt.timedelta(hours=1), "w1").delivered == 1
    assert ops.unread_count(world.officer) == 1


def test_a_failing_source_does_not_silence_the_others(due_soon_case, monkeypatch, caplog):
    from caseflow.reminders import registry

    _case, _due, now = due_soon_case
    ops.load_sources()

    def broken(now):
        db.session.execute(select(Reminder).where(Reminder.id == "not a number!"))
        raise RuntimeError("a bug in some domain's reminders")

    monkeypatch.setattr(registry, "SOURCES", [broken, *registry.SOURCES])
    monkeypatch.setattr(ops, "SOURCES", registry.SOURCES)
    monkeypatch.setattr(ops.log, "disabled", False)  # alembic's fileConfig disabled it
    assert ops.run_once(now, "w1").delivered == 2
    assert "broken failed" in caplog.text


def run_together(app, job, names=("w1", "w2")) -> dict:
    """Run ``job(name)`` in one thread per name, each with its own application context
    (database session and connection) like a scheduler process, released together."""
    db.session.commit()  # on SQLite our open transaction would hold the write lock
    barrier = threading.Barrier(len(names))
    results, errors = {}, []

    def worker(name):
        try:
            with app.app_context():
                barrier.wait(timeout=30)
                results[name] = job(name)
        except Exception as exc:  # noqa: BLE001 (re-raised in the test thread)
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return results


def test_two_schedulers_at_once_generate_and_deliver_each_reminder_once(app, make_case, world):
    dues = {verification_due(make_case()) for _ in range(5)}
    assert len(dues) == 1
    now = at_local(dues.pop() - dt.timedelta(days=1))
    results = run_together(app, lambda name: ops.run_once(now, name))
    got = rows()
    assert len(got) == 10  # 5 cases × 2 officers
    assert sum(r.generated for r in results.values()) == 10  # each row inserted once
    assert sum(r.delivered for r in results.values()) == 10  # each delivered once
    assert all(r.sent_at == now and r.sent_by in ("w1", "w2") for r in got)


def test_two_workers_claiming_the_same_rows_deliver_each_once(app, world):
    now = at_local(dt.date(2026, 11, 2))
    users = [world.officer, world.officer2, world.inspector, world.reviewer, world.approver]
    specs = [ReminderSpec(u.id, f"test:{i}", "due_soon", f"提醒{i}", "", "/cases/", now)
             for i in range(30) for u in users]
    assert ops.store(specs, now) == 150
    results = run_together(app, lambda name: ops.deliver_pending(now, name), ("a", "b", "c"))
    assert sum(r.delivered for r in results.values()) == 150
    got = rows()
    assert len(got) == 150 and all(r.sent_by in ("a", "b", "c") for r in got)


# ----------------------------------------------------------------------------- other sources


def test_referral_clock_reminds_the_acting_police_agency(make_case, drive, referral_of, agencies):
    from tests.referrals.conftest import step

    case = make_case(amounts={"sales_amount": "60000", "illegal_gains": "20000"})
    drive(case, "accept", "file", "investigate")
    r = referral_of(case)
    for user, action in ((agencies.officer, "submit"), (agencies.approver, "approve"),
                         (agencies.officer, "send")):
        step(user, r, action)
    received = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(hours=1)
    with time_machine.travel(received, tick=False):
        step(agencies.cop, r, "receive")
    # the police decide within 3 days (§8): reminded in the last 24 hours
    assert ops.generate_all(received + dt.timedelta(days=1)) == 0
    assert ops.generate_all(received + dt.timedelta(days=2, hours=1)) == 2
    assert ops.generate_all(received + dt.timedelta(days=3, hours=1)) == 2
    db.session.commit()
    got = rows()
    assert {r_.user_id for r_ in got} == {agencies.cop.id, agencies.cop_boss.id}
    assert sorted(r_.kind for r_ in got) == ["due_soon", "due_soon", "overdue", "overdue"]
    assert all(r_.key.startswith(f"referral:{r.id}:police_decision:") for r_ in got)
    assert all(r_.link == f"/referrals/{r.id}" and "公安" in r_.subject for r_ in got)


def test_publication_deadline_reminds_the_publishers(make_case, drive, world, make_user):
    from caseflow.core.models import load_calendar
    from caseflow.penalties import operations as pops
    from tests.penalties.test_publication import decision_form

    publisher = make_user(world.amr, "publisher", ["publisher"])
    case = make_case()
    # served: the officers' own service clock is not part of this test
    drive(case, "accept", "file", "investigate", "notify", "record_statement", "decide_penalty",
          "serve")
    d = pops.record_decision(world.officer, case, decision_form(case))
    db.session.commit()
    deadline = pops.status(d)["deadlines"].platform
    # two working days before the credit-platform deadline, and the day after it
    day = deadline
    while load_calendar().add_working_days(day - dt.timedelta(days=1), 2) >= deadline:
        day -= dt.timedelta(days=1)
    assert ops.generate_all(at_local(day - dt.timedelta(days=1))) == 0
    assert ops.generate_all(at_local(day)) == 1
    assert ops.generate_all(at_local(deadline + dt.timedelta(days=1))) == 1
    got = rows()
    assert {r.user_id for r in got} == {publisher.id}
    assert [r.kind for r in got] == ["due_soon", "overdue"]
    assert all(r.key.startswith(f"decision:{d.id}:platform:") for r in got)
    assert "信用中国" in got[0].subject and d.number in got[0].subject
    # once published, nothing more about that channel
    pops.publish(publisher, d, "platform")
    db.session.commit()
    assert ops.generate_all(at_local(deadline + dt.timedelta(days=2))) == 0


# ----------------------------------------------------------------------------- e-mail


class Collector:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.rcpt_tos, msg))
        return "250 Message accepted for delivery"


@pytest.fixture()
def with_addresses(monkeypatch):
    """Users have no e-mail column yet (it comes with user management): give the model an
    ``email`` attribute for this test only, as the column will."""
    monkeypatch.setattr(User, "email", property(lambda u: f"{u.username}@example.test"),
                        raising=False)


@pytest.fixture()
def smtp_server(app, monkeypatch):
    from aiosmtpd.controller import Controller

    handler = Collector()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", controller.port)
    monkeypatch.setitem(app.config, "SMTP_FROM", "caseflow@district.example")
    yield handler
    controller.stop()


def test_email_one_message_per_reminder_in_chinese(due_soon_case, world, smtp_server,
                                                   with_addresses):
    _case, _due, now = due_soon_case
    result = ops.run_once(now, "w1")
    assert (result.delivered, result.emailed, result.email_errors) == (2, 2, 0)
    assert ops.run_once(now + dt.timedelta(minutes=1), "w1").emailed == 0
    got = rows()
    assert len(smtp_server.messages) == len(got) == 2
    by_rcpt = {tuple(rcpt): msg for rcpt, msg in smtp_server.messages}
    assert set(by_rcpt) == {("officer@example.test",), ("officer2@example.test",)}
    for r in got:
        assert r.emailed_at == now and r.email_error is None
        username = "officer" if r.user_id == world.officer.id else "officer2"
        msg = by_rcpt[(f"{username}@example.test",)]
        assert msg["Subject"] == r.subject and "核查" in msg["Subject"]
        assert msg["From"] == "caseflow@district.example"
        assert r.link in msg.get_content()


def test_smtp_down_records_the_error_and_delivers_to_the_inbox_once(due_soon_case, app,
                                                                    monkeypatch, world,
                                                                    with_addresses):
    _case, _due, now = due_soon_case
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", free_port())  # nobody listens there
    result = ops.run_once(now, "w1")
    assert (result.delivered, result.emailed, result.email_errors) == (2, 0, 2)
    assert ops.run_once(now + dt.timedelta(minutes=1), "w1").delivered == 0
    got = rows()
    assert len(got) == 2
    assert all(r.sent_at == now and r.emailed_at is None and "Connection" in r.email_error
               for r in got)
    assert ops.unread_count(world.officer) == 1


def test_no_address_no_email_but_the_inbox(due_soon_case, smtp_server, world):
    _case, _due, now = due_soon_case
    result = ops.run_once(now, "w1")
    assert (result.delivered, result.emailed, result.email_errors) == (2, 0, 0)
    assert smtp_server.messages == []


# ----------------------------------------------------------------------------- inbox


def test_inbox_page_badge_and_mark_read_by_the_owner_only(app, due_soon_case, world, login_as):
    case, _due, now = due_soon_case
    ops.run_once(now, "w1")
    mine = db.session.scalar(select(Reminder).where(Reminder.user_id == world.officer.id))
    officer = login_as(app.test_client(), "officer")
    page = officer.get("/inbox")
    assert page.status_code == 200
    assert mine.subject in page.text and 'class="unread"' in page.text
    assert 'data-unread="1"' in officer.get("/cases/").text  # the badge on every page
    # another user can neither read nor mark it
    other = login_as(app.test_client(), "officer2")
    assert f'data-reminder="{mine.id}"' not in other.get("/inbox").text
    theirs = db.session.scalar(select(Reminder).where(Reminder.user_id == world.officer2.id))
    assert other.post(f"/inbox/{mine.id}/read").status_code == 404
    with pytest.raises(NotFound):
        ops.mark_read(world.inspector, mine.id)
    db.session.commit()
    assert db.session.get(Reminder, mine.id).read_at is None
    # the owner opens it: marked read and on to the case
    r = officer.post(f"/inbox/{mine.id}/read", data={"next": mine.link})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/cases/{case.id}")
    db.session.commit()
    assert db.session.get(Reminder, mine.id).read_at is not None
    assert "data-unread" not in officer.get("/cases/").text
    assert 'class="read"' in officer.get("/inbox").text
    assert db.session.get(Reminder, theirs.id).read_at is None
    # an unsafe next goes back to the inbox
    r = other.post(f"/inbox/{theirs.id}/read", data={"next": "//evil.example/"})
    assert r.headers["Location"].endswith("/inbox")


def test_inbox_is_empty_for_a_new_user(app, world, login_as):
    page = login_as(app.test_client(), "inspector").get("/inbox")
    assert page.status_code == 200 and "data-reminder" not in page.text
    assert "data-unread" not in page.text
