"""The scheduler process: its job, catching up after downtime, and the command."""
from __future__ import annotations

import datetime as dt
import threading

import time_machine
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from sqlalchemy import select

from caseflow.extensions import db
from caseflow.reminders import operations as ops
from caseflow.reminders.models import Reminder
from caseflow.reminders.scheduler import JOB_ID, build_scheduler, reminder_job
from tests.reminders.test_reminders import at_local, rows, verification_due


def test_the_job_runs_every_interval_coalesced_one_at_a_time(app):
    scheduler = build_scheduler(app, worker="host:1")
    job = scheduler.get_job(JOB_ID)
    assert job.func is reminder_job and job.args == (app, "host:1")
    assert job.coalesce is True and job.max_instances == 1 and job.misfire_grace_time is None
    assert job.trigger.interval == dt.timedelta(seconds=app.config["REMINDER_INTERVAL_SECONDS"])
    assert type(scheduler).__name__ == "BlockingScheduler"
    assert type(build_scheduler(app, background=True)).__name__ == "BackgroundScheduler"


def start_and_wait_for_one_run(scheduler) -> None:
    """Start the scheduler (its job runs at once, in its own thread) and wait for that run."""
    done = threading.Event()
    outcome = {}

    def listener(event):
        outcome["error"] = event.exception
        done.set()

    scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.start()
    try:
        assert done.wait(timeout=60), "the job did not run"
    finally:
        scheduler.shutdown(wait=True)
    assert outcome["error"] is None, outcome["error"]


def test_down_for_two_hours_then_restarted_sends_each_due_reminder_once(app, make_case, world):
    case = make_case()
    due = verification_due(case)
    window_opens = at_local(due - dt.timedelta(days=3), 0)  # 3 days ahead, at midnight
    went_down = window_opens - dt.timedelta(hours=1)
    db.session.commit()  # on SQLite our open transaction would hold the write lock

    with time_machine.travel(went_down, tick=False):
        assert reminder_job(app, "host:1").generated == 0  # the last run before going down
    # down from 23:00 to 01:00: the case's window opened meanwhile, nothing was generated
    assert rows() == []
    db.session.commit()  # (each time before another session writes: see above)
    restarted = went_down + dt.timedelta(hours=2)
    with time_machine.travel(restarted, tick=False):
        start_and_wait_for_one_run(build_scheduler(app, background=True, worker="host:2"))
    got = rows()
    assert {r.user_id for r in got} == {world.officer.id, world.officer2.id} and len(got) == 2
    assert all(r.due_at == window_opens and r.sent_at == restarted and r.sent_by == "host:2"
               for r in got)
    # the next runs find nothing new
    db.session.commit()
    with time_machine.travel(restarted + dt.timedelta(minutes=1), tick=False):
        result = reminder_job(app, "host:2")
    assert (result.generated, result.delivered) == (0, 0)
    assert len(rows()) == 2


def test_scheduler_once_command(app, make_case, world):
    case = make_case()
    now = at_local(verification_due(case) - dt.timedelta(days=1))
    db.session.commit()
    runner = app.test_cli_runner()
    with time_machine.travel(now, tick=False):
        r = runner.invoke(args=["caseflow", "scheduler", "--once"])
        assert r.exit_code == 0, r.output
        assert "2 reminders generated, 2 delivered" in r.output
        r = runner.invoke(args=["caseflow", "scheduler", "--once"])
        assert "0 reminders generated, 0 delivered" in r.output
    db.session.commit()
    sent_by = set(db.session.scalars(select(Reminder.sent_by)))
    assert len(sent_by) == 1 and ":" in sent_by.pop()  # host:pid
    assert ops.unread_count(world.officer) == 1
