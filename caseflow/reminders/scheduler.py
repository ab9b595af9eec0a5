"""The reminder scheduler: APScheduler 3 in a process of its own (``flask caseflow
scheduler``), never inside web workers — each gunicorn worker would run its own copy.

The jobs keep no state of their own: every pass reads the database (what is due, what is
unsent), so a restart after hours of downtime catches up on its first pass, and two
scheduler processes started by mistake deliver each reminder once (see operations).
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.schedulers.base import BaseScheduler

from caseflow.core.timeutil import utcnow

log = logging.getLogger("caseflow.reminders")

JOB_ID = "reminders"
REPORT_JOB_ID = "yearly-reports"


def worker_id() -> str:
    """Who delivered a reminder (``reminder.sent_by``): host and process."""
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def reminder_job(app, worker: str):
    """One pass, in an application context (and database session) of its own."""
    from caseflow.reminders.operations import run_once

    with app.app_context():
        result = run_once(utcnow(), worker)
    if result.generated or result.delivered:
        log.info("reminders: %d generated, %d delivered, %d e-mailed, %d e-mail errors",
                 result.generated, result.delivered, result.emailed, result.email_errors)
    return result


def report_job(app):
    """From the first working day of a year: every agency's yearly report for the year before,
    made once (each pass checks what is already made)."""
    from caseflow.reports.present import generate_due_reports

    with app.app_context():
        made = generate_due_reports()
    if made:
        log.info("yearly reports: %d made for %d", len(made), made[0].year)
    return made


def build_scheduler(app, *, background: bool = False, worker: str | None = None) -> BaseScheduler:
    """A scheduler with the reminder job: every REMINDER_INTERVAL_SECONDS, first run at
    start-up (catching up at once after downtime). ``background=True`` gives a
    BackgroundScheduler (tests); the command runs the blocking one."""
    scheduler = (BackgroundScheduler if background else BlockingScheduler)(
        timezone=dt.timezone.utc)
    scheduler.add_job(
        reminder_job, "interval", seconds=app.config["REMINDER_INTERVAL_SECONDS"],
        args=(app, worker or worker_id()), id=JOB_ID, name="deliver reminders",
        next_run_time=dt.datetime.now(dt.timezone.utc),
        coalesce=True,  # runs missed while the process was stalled collapse into one
        max_instances=1,  # a slow pass (a hung mail server) is never overlapped by the next
        misfire_grace_time=None,  # a late run still runs, however late
        replace_existing=True)
    scheduler.add_job(
        report_job, "interval", seconds=app.config["REPORT_CHECK_SECONDS"], args=(app,),
        id=REPORT_JOB_ID, name="yearly reports",
        # a minute after start-up: reminders first, then the (slower) PDF rendering
        next_run_time=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=60),
        coalesce=True, max_instances=1, misfire_grace_time=None, replace_existing=True)
    return scheduler
