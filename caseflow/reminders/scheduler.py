"""The reminder scheduler: APScheduler 3 in a process of its own (``flask caseflow
scheduler``), never inside web workers — each gunicorn worker would run its own copy.

The jobs keep no state of their own: every pass reads the database (what is due, what is
unsent), so a restart after hours of downtime catches up on its first pass, and two
scheduler processes started by mistake deliver each reminder once (see operations).
"""
from __future__ import annotations

import datetime as dt
import hashlib
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
TALLY_JOB_ID = "case-tally"
TALLY_SECONDS = 300
EXPORT_JOB_ID = "export-jobs"


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


def export_job(app, worker: str):
    """Render the queued PDF lists (penalties.operations.run_export_jobs), one at a time."""
    from caseflow.penalties.operations import run_export_jobs

    with app.app_context():
        return run_export_jobs(worker)


def tally_job(app):
    """Fold the case list's per-state deltas (PostgreSQL) so reading them stays cheap."""
    from caseflow.cases import tally
    from caseflow.extensions import db

    with app.app_context():
        folded = tally.compact()
        db.session.commit()
    if folded:
        log.debug("case tally: %d delta rows folded", folded)
    return folded


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
    scheduler.add_job(
        export_job, "interval", seconds=app.config.get("EXPORT_JOB_INTERVAL_SECONDS", 5),
        args=(app, worker or worker_id()), id=EXPORT_JOB_ID, name="export jobs (PDF lists)",
        next_run_time=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=5),
        coalesce=True, max_instances=1, misfire_grace_time=None, replace_existing=True)
    scheduler.add_job(
        tally_job, "interval", seconds=TALLY_SECONDS, args=(app,), id=TALLY_JOB_ID,
        name="fold case counts", coalesce=True, max_instances=1, misfire_grace_time=None,
        replace_existing=True)
    return scheduler


# ----------------------------------------------------------------------------- exactly one


#: pg_try_advisory_lock key: the first 8 bytes of sha256("caseflow.scheduler"), as a bigint
LOCK_KEY = int.from_bytes(hashlib.sha256(b"caseflow.scheduler").digest()[:8], "big", signed=True)


class SchedulerLock:
    """Exactly one scheduler per database, however many are started.

    PostgreSQL: ``pg_try_advisory_lock`` on a connection of its own, held for the life of the
    process; the server releases it when the connection ends (process killed, machine lost),
    so a standby scheduler on another machine takes over. SQLite: an exclusive ``fcntl.flock``
    on ``<database file>.scheduler.lock`` (one machine only, as SQLite itself), released by the
    kernel when the process dies."""

    def __init__(self, app):
        self.app = app
        self.dialect = None
        self._conn = None
        self._file = None

    def describe(self) -> str:
        if self._dialect() == "postgresql":
            return f"PostgreSQL advisory lock {LOCK_KEY}"
        return f"lock file {self._path()}"

    def _dialect(self) -> str:
        if self.dialect is None:
            from sqlalchemy.engine import make_url

            self.dialect = make_url(self.app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name()
        return self.dialect

    def _path(self):
        """Beside the database file: one scheduler per database, whatever the instance."""
        from pathlib import Path

        from sqlalchemy.engine import make_url

        db_file = make_url(self.app.config["SQLALCHEMY_DATABASE_URI"]).database
        if db_file and db_file != ":memory:" and not db_file.startswith("file:"):
            p = Path(db_file)
            return p.with_name(p.name + ".scheduler.lock")
        return Path(self.app.instance_path) / "scheduler.lock"

    def acquire(self) -> bool:
        """Try once, without waiting: True when this process now holds the lock."""
        if self._conn is not None or self._file is not None:
            return True
        if self._dialect() == "postgresql":
            from sqlalchemy import text

            from caseflow.extensions import db

            with self.app.app_context():
                conn = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar()
            except Exception:
                conn.close()
                raise
            if not got:
                conn.close()
                return False
            self._conn = conn
            return True
        import fcntl

        path = self._path()
        path.parent.mkdir(parents=True, exist_ok=True)
        f = open(path, "a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            return False
        f.seek(0)
        f.truncate()
        f.write(f"{worker_id()}\n")
        f.flush()
        self._file = f
        return True

    def held(self) -> bool:
        """Still ours? On PostgreSQL a lost connection means a lost lock (another scheduler
        may already have it): the caller stops its jobs."""
        if self._file is not None:
            return True
        if self._conn is None:
            return False
        from sqlalchemy import text

        try:
            # this connection takes no other advisory lock: any granted one is ours
            return bool(self._conn.execute(text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND pid = pg_backend_pid()")).scalar())
        except Exception:
            log.exception("scheduler lock: the lock's database connection failed")
            self._drop_conn()
            return False

    def _drop_conn(self):
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except Exception:  # already gone
                pass

    def release(self) -> None:
        if self._conn is not None:
            from sqlalchemy import text

            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
                self._conn.close()
            except Exception:
                self._drop_conn()
            self._conn = None
        if self._file is not None:
            import fcntl

            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def run_exclusive(app, retry_seconds: float, *, stop=None, scheduler_factory=None,
                  sleep=None) -> None:
    """Wait (idle, trying again every ``retry_seconds``) until this process holds the
    scheduler lock, run the jobs while it does, and go back to waiting if it is lost.
    ``stop`` (a threading.Event) ends the loop — the command stops on SIGTERM/Ctrl-C."""
    import threading

    stop = stop or threading.Event()
    factory = scheduler_factory or (lambda: build_scheduler(app, background=True))
    lock = SchedulerLock(app)
    waiting_logged = False
    try:
        while not stop.is_set():
            try:
                got = lock.acquire()
            except Exception:
                log.exception("scheduler lock: could not ask the database; retrying in %s s",
                              retry_seconds)
                got = False
            if not got:
                if not waiting_logged:
                    log.info("another scheduler holds the %s: idle, trying again every %s s",
                             lock.describe(), retry_seconds)
                    waiting_logged = True
                else:
                    log.debug("scheduler lock still held elsewhere")
                stop.wait(retry_seconds)
                continue
            waiting_logged = False
            log.info("scheduler lock taken (%s): running the jobs", lock.describe())
            scheduler = factory()
            scheduler.start()
            try:
                while not stop.wait(retry_seconds):
                    if not lock.held():
                        log.warning("scheduler lock lost: jobs stopped, waiting to take it again")
                        break
            finally:
                scheduler.shutdown(wait=True)
    finally:
        lock.release()
