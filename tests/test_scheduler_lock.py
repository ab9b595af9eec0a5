"""Exactly one scheduler: a second one stays idle while the first holds the lock (PostgreSQL
advisory lock, or a lock file on SQLite) and takes over when the first stops."""
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from caseflow.reminders.scheduler import SchedulerLock, run_exclusive

ROOT = Path(__file__).resolve().parents[1]


def test_second_lock_is_refused_until_the_first_is_released(app, db):
    first, second = SchedulerLock(app), SchedulerLock(app)
    try:
        assert first.acquire()
        assert first.held()
        assert not second.acquire()
        assert not second.held()
        first.release()
        assert second.acquire() and second.held()
        assert not first.acquire()
    finally:
        first.release()
        second.release()


class FakeScheduler:
    def __init__(self, name, log):
        self.name, self.log = name, log

    def start(self):
        self.log.append(("start", self.name))

    def shutdown(self, wait=True):
        self.log.append(("stop", self.name))


def _wait_for(predicate, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return False


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_second_scheduler_idles_then_takes_over(app, db):
    records = Records()
    logger = logging.getLogger("caseflow.reminders")
    logger.addHandler(records)
    old_level, old_disabled = logger.level, logger.disabled
    logger.disabled = False  # alembic's fileConfig (the migrations) disables existing loggers
    logger.setLevel(logging.INFO)
    log = []
    stops = {"a": threading.Event(), "b": threading.Event()}
    threads = {}
    for name in ("a", "b"):
        threads[name] = threading.Thread(target=run_exclusive, args=(app, 0.05), kwargs=dict(
            stop=stops[name], scheduler_factory=lambda name=name: FakeScheduler(name, log)))
        threads[name].start()
        if name == "a":
            assert _wait_for(lambda: ("start", "a") in log)
    try:
        # b keeps trying but stays idle while a runs
        assert _wait_for(lambda: any("another scheduler holds" in m for m in records.messages)), \
            records.messages
        time.sleep(0.3)
        assert log == [("start", "a")]
        stops["a"].set()
        threads["a"].join(5)
        assert _wait_for(lambda: ("start", "b") in log)
        assert log == [("start", "a"), ("stop", "a"), ("start", "b")]
    finally:
        for e in stops.values():
            e.set()
        for t in threads.values():
            t.join(5)
        logger.removeHandler(records)
        logger.setLevel(old_level)
        logger.disabled = old_disabled
    assert log[-1] == ("stop", "b")


def test_two_scheduler_processes(app, db, tmp_path):
    """The real command, twice: the second logs that it is idle, and runs once the first is
    stopped with SIGTERM."""
    env = dict(os.environ, FLASK_APP="wsgi.py", PYTHONUNBUFFERED="1",
               CASEFLOW_SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
               CASEFLOW_SECRET_KEY="lock-test", CASEFLOW_DEV="1",
               CASEFLOW_REMINDER_INTERVAL_SECONDS="3600")
    flask = str(Path(sys.executable).with_name("flask"))
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    procs = []
    try:
        for path in logs:
            procs.append(subprocess.Popen(
                [flask, "caseflow", "scheduler", "--lock-retry", "0.2"], cwd=ROOT, env=env,
                stdout=path.open("w"), stderr=subprocess.STDOUT))
            if path is logs[0]:
                assert _wait_for(lambda: "lock taken" in logs[0].read_text(), 60), \
                    logs[0].read_text()[-2000:]
        assert _wait_for(lambda: "another scheduler holds" in logs[1].read_text(), 60), \
            logs[1].read_text()[-2000:]
        time.sleep(1)
        assert "lock taken" not in logs[1].read_text()
        procs[0].send_signal(signal.SIGTERM)
        assert procs[0].wait(30) == 0
        assert _wait_for(lambda: "lock taken" in logs[1].read_text(), 30), \
            logs[1].read_text()[-2000:]
        assert procs[1].poll() is None
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
    assert procs[1].returncode == 0
