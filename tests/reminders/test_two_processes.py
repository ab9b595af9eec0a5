"""Two scheduler processes (real OS processes) on the same database deliver each reminder once."""
import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from caseflow.extensions import db
from caseflow.reminders.models import Reminder

ROOT = Path(__file__).resolve().parents[2]


def test_two_scheduler_processes_deliver_each_reminder_once(app, make_case, world, tmp_path):
    from caseflow.cases.models import Case
    from caseflow.cases.operations import refresh_due
    from caseflow.core.timeutil import today_local

    case = make_case()
    # received 30 days ago: its 15-working-day verification clock is overdue
    case.received_on = today_local() - dt.timedelta(days=30)
    refresh_due(case)
    db.session.commit()
    env = dict(os.environ, FLASK_APP="wsgi.py",
               CASEFLOW_SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
               CASEFLOW_SECRET_KEY="two-processes", CASEFLOW_DEV="1")
    flask = str(Path(sys.executable).with_name("flask"))
    procs = [subprocess.Popen([flask, "caseflow", "scheduler", "--once"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-2000:]
    delivered = sum(int(re.search(r"(\d+) delivered", out).group(1)) for out, _err in outputs)
    db.session.expire_all()
    rows = db.session.scalars(select(Reminder)).all()
    officers = {u.id for u in db.session.get(Case, case.id).officers}
    assert rows and {r.user_id for r in rows} == officers
    # one row per (what, user), every row delivered, and delivered by exactly one process
    assert len({(r.key, r.user_id) for r in rows}) == len(rows)
    assert all(r.sent_at is not None for r in rows)
    assert delivered == len(rows)
    assert db.session.scalar(select(func.count()).select_from(Reminder)) == len(rows)
