"""Durability on SQLite: WAL, synchronous=FULL, foreign keys on, BEGIN IMMEDIATE for writing
transactions — and a writer process killed (SIGKILL) 200 times at random moments leaves the
database intact with every acknowledged commit present and the audit chain verifying.

The writer is the real application (``caseflow.create_app`` with its PRAGMAs and its audit
chain) against a file of its own. Importing the application costs more than a second, so a
small server process imports it once and forks a fresh writer for each round; the test kills
that writer, lets the server reap it, checks the file, and starts the next round. Each writer
continues the numbering from what the database holds.
"""
from __future__ import annotations

import os
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from caseflow import ROOT
from caseflow.core.audit import verify_chain

pytestmark = pytest.mark.skipif(bool(os.environ.get("CASEFLOW_TEST_DATABASE_URL")),
                                reason="SQLite durability; PostgreSQL has its own WAL")

KILLS = 200
SEED = 20261122

WRITER_SERVER = textwrap.dedent(r'''
    import os, sys, types

    db_path, instance = sys.argv[1], sys.argv[2]
    from caseflow import create_app
    from caseflow.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite:///" + db_path, "INSTANCE_PATH": instance,
                      "SECRET_KEY": "durability", "TESTING": True})
    from sqlalchemy import func, select

    from caseflow.accounts.models import Agency
    from caseflow.core import audit


    def acknowledged_so_far():
        return db.session.scalar(select(func.count()).select_from(audit.AuditEvent)
                                 .where(audit.AuditEvent.action == "durability.write"))


    def write(n):
        # one transaction: an agency row and an audit record referring to it
        agency = Agency(code=f"dur-{n}", kind="other", name=f"durability {n}", case_prefix="DUR")
        db.session.add(agency)
        db.session.flush()
        audit.record("durability.write", user=types.SimpleNamespace(id=None, agency_id=agency.id),
                     obj_type="agency", obj_id=agency.id, n=n)
        db.session.flush()


    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        # warm up once here rather than in every writer (mappers, compiled statements):
        # the same work, rolled back
        acknowledged_so_far()
        write(0)
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()  # no SQLite handle may cross a fork
    import gc

    gc.freeze()  # the writers share the server's objects instead of copying them


    def writer():
        os.write(1, b"PID %d\n" % os.getpid())
        with app.app_context():
            n = acknowledged_so_far()
            db.session.rollback()
            while True:
                n += 1
                write(n)
                db.session.commit()
                os.write(1, b"ACK %d\n" % n)  # acknowledged only after the commit returned


    child = None
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    while line := sys.stdin.readline():
        cmd = line.strip()
        if cmd == "start":
            child = os.fork()
            if child == 0:
                try:
                    writer()
                finally:
                    os._exit(70)  # a writer only ever ends by being killed
        elif cmd == "reap":
            _, status = os.waitpid(child, 0)
            sys.stdout.write(f"EXIT {os.waitstatus_to_exitcode(status)}\n")
            sys.stdout.flush()
''')


class WriterServer:
    def __init__(self, tmp: Path):
        self.db_path = tmp / "durable.db"
        script = tmp / "writer_server.py"
        script.write_text(WRITER_SERVER)
        self.stderr = open(tmp / "writer.err", "w+")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("CASEFLOW_TEST_DATABASE_URL", None)
        self.proc = subprocess.Popen([sys.executable, str(script), str(self.db_path),
                                      str(tmp / "instance")], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.stderr, text=True,
                                     bufsize=1, cwd=str(tmp))
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        assert self.next_line(60) == "READY", self.error_output()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def error_output(self) -> str:
        self.stderr.flush()
        self.stderr.seek(0)
        return self.stderr.read()[-3000:]

    def next_line(self, timeout: float = 20) -> str:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("the writer went silent\n" + self.error_output()) from None
        if line is None:
            raise AssertionError("the writer server ended\n" + self.error_output())
        return line

    def send(self, cmd: str) -> None:
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()


def check_database(db_path: Path, engine, acked: set[int]) -> int:
    """The file after a kill: intact, consistent, every acknowledged commit there."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        agencies = {int(code[4:]) for (code,) in
                    conn.execute("SELECT code FROM agency WHERE code LIKE 'dur-%'")}
        audited = [n for (n,) in conn.execute(
            "SELECT json_extract(data, '$.n') FROM audit_event WHERE action = 'durability.write' "
            "ORDER BY seq")]
    finally:
        conn.close()
    # all or nothing per transaction, in order, without gaps, nothing acknowledged lost
    assert audited == sorted(agencies) == list(range(1, len(agencies) + 1))
    missing = acked - agencies
    assert not missing, f"acknowledged commits lost: {sorted(missing)[:10]}"
    with Session(engine) as session:
        chain = verify_chain(session)
        assert chain.ok, chain.problems[:5]
        assert chain.checked == len(audited)
    return len(agencies)


def test_killed_writers_lose_no_acknowledged_commit(tmp_path, app):
    rng = random.Random(SEED)
    server = WriterServer(tmp_path)
    engine = create_engine(f"sqlite:///{server.db_path}", poolclass=NullPool)
    acked: set[int] = set()
    unacked_but_present = 0
    start = time.monotonic()
    try:
        for _ in range(KILLS):
            server.send("start")
            line = server.next_line()
            assert line.startswith("PID "), line + server.error_output()
            pid = int(line.split()[1])
            if rng.random() < 0.65:  # after a random number of acknowledged commits …
                wanted = rng.randint(1, 30)
                seen = 0
                while seen < wanted:
                    line = server.next_line()
                    assert line.startswith("ACK "), line
                    acked.add(int(line.split()[1]))
                    seen += 1
                time.sleep(rng.uniform(0, 0.004))  # … and somewhere inside the next one
            else:  # … or after a random short delay from the start (possibly before any)
                time.sleep(rng.uniform(0, 0.06))
            os.kill(pid, signal.SIGKILL)
            server.send("reap")
            while (line := server.next_line()).startswith("ACK "):
                acked.add(int(line.split()[1]))
            assert line == f"EXIT {-signal.SIGKILL}", line + server.error_output()
            present = check_database(server.db_path, engine, acked)
            if present > max(acked, default=0):
                unacked_but_present += 1  # killed between the commit and its acknowledgement
    finally:
        server.close()
        engine.dispose()
    elapsed = time.monotonic() - start
    assert len(acked) >= KILLS  # the writers did write
    print(f"\ndurability: {KILLS} kills survived, {len(acked)} acknowledged commits all present "
          f"({present} commits in the file; {unacked_but_present} kills between a commit and its "
          f"acknowledgement; {elapsed:.1f} s)")


def test_live_sqlite_connection_runs_with_the_durable_pragmas(app, db):
    conn = db.session.connection()
    assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000


def test_writing_transactions_take_the_write_lock_at_begin(app, db):
    """BEGIN IMMEDIATE: a writing transaction holds the write lock from its first statement, so
    another writer waits for it instead of failing later with "database is locked"; a reading
    one (GET requests) begins deferred and blocks nobody."""
    from caseflow import _write_intent

    path = db.engine.url.database
    db.session.rollback()
    db.session.execute(text("SELECT 1"))  # a writing transaction (the default) has begun
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        db.session.rollback()
        token = _write_intent.set(False)
        try:
            db.session.execute(text("SELECT 1"))  # a reading transaction
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
        finally:
            db.session.rollback()
            _write_intent.reset(token)
    finally:
        other.close()
