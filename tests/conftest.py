"""Shared fixtures. The database comes from CASEFLOW_TEST_DATABASE_URL (PostgreSQL in CI's
second run); without it each test worker gets its own SQLite file.

Fixtures: ``app``, ``db``, ``client``, ``make_agency``, ``make_user``, ``login_as``,
``api_headers``, ``make_case``, ``drive`` (run workflow actions through the operations).
"""
from __future__ import annotations

import datetime as dt
import os
import re
from decimal import Decimal

import pytest
from flask import g, has_app_context
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from caseflow import create_app
from caseflow.extensions import db as _db
from caseflow.core.timeutil import today_local  # legal dates are Beijing dates

FAST_ARGON2 = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}
PASSWORD = "Correct-Horse-42"


def _database_url(tmp_path_factory, worker_id: str) -> str:
    base = os.environ.get("CASEFLOW_TEST_DATABASE_URL")
    if not base:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    url = make_url(base.replace("postgresql://", "postgresql+psycopg://", 1)
                   if base.startswith("postgresql://") else base)
    name = f"{url.database}_{worker_id}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


class FreshUserClient(FlaskClient):
    """Tests keep an app context open (for db.session), and a request reuses it; Flask-Login
    caches the user on ``g``. Forget it before each request, as a new request in production
    would, so one request's login never leaks into the next."""

    def open(self, *args, **kwargs):
        if has_app_context():
            g.pop("_login_user", None)
        return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def worker_id(request):
    return getattr(request.config, "workerinput", {}).get("workerid", "main")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory, worker_id):
    return _database_url(tmp_path_factory, worker_id)


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "INSTANCE_PATH": str(tmp_path_factory.mktemp("instance")),
        "WTF_CSRF_ENABLED": False,
        "ARGON2_PARAMS": FAST_ARGON2,
        "SECRET_KEY": "test-secret",
    })
    app.test_client_class = FreshUserClient
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()  # the real migrations build the schema
    yield app


@pytest.fixture()
def db(app):
    ctx = app.app_context()
    ctx.push()
    yield _db
    _db.session.rollback()
    _db.session.remove()
    _truncate()
    _forget_pages(app)
    ctx.pop()


def _forget_pages(app):
    """The next test starts on an empty database whose change counters start again from
    zero: pages the workers kept for the last one would match its stamps (as after restoring
    a backup, when the workers are restarted)."""
    from caseflow.cases import pages

    kept = app.extensions.get(pages.EXTENSION)
    if kept is not None:
        kept.clear()


def _truncate():
    """Empty every table, then put back the reference data the migrations seed."""
    from sqlalchemy import insert

    from caseflow.referrals.models import CriminalThreshold
    from caseflow.referrals.thresholds import seed_rows

    tables = [t.name for t in reversed(_db.metadata.sorted_tables)]
    with _db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables)
                              + " RESTART IDENTITY CASCADE"))
        else:
            # the audit triggers refuse deleting young records: lifted for the wipe only
            from caseflow.core.audit import drop_guard_statements, guard_statements

            for stmt in drop_guard_statements("sqlite"):
                conn.execute(text(stmt))
            for t in tables:
                conn.execute(text(f'DELETE FROM "{t}"'))
            for stmt in guard_statements("sqlite"):
                conn.execute(text(stmt))
        conn.execute(insert(CriminalThreshold), seed_rows())


@pytest.fixture()
def client(app, db):
    return app.test_client()


@pytest.fixture()
def make_agency(db):
    from caseflow.accounts.operations import create_agency

    def make(code="sj-amr", kind="market_supervision", name="上海市松江区市场监督管理局",
             prefix="沪市监松处"):
        agency = create_agency(code, kind, name, prefix)
        _db.session.commit()
        return agency

    return make


@pytest.fixture()
def make_user(db):
    from caseflow.accounts.operations import create_user

    def make(agency, username, roles=("case_officer",), password=PASSWORD):
        user = create_user(agency, username, password, list(roles), display_name=username)
        _db.session.commit()
        return user

    return make


def second_factor_code(username: str) -> str | None:
    """A fresh one-time code for a user with a second factor (None without one).

    Tests log the same user in several times within one 30-second step, and a code is
    accepted only once, so the user's last accepted step is forgotten first; the single use
    itself is tested in tests/accounts/test_second_factor.py."""
    from caseflow.accounts import totp
    from caseflow.accounts.models import User

    user = _db.session.scalar(_db.select(User).where(User.username == username.strip().lower()))
    if user is None or not user.totp_secret:
        return None
    user.totp_last_step = None
    _db.session.commit()
    from flask import current_app

    secret = totp.decrypt(user.totp_secret, current_app.config["SECRET_KEY"])
    return totp.code_at(secret, dt.datetime.now(dt.timezone.utc))


def enrol_second_factor(username: str) -> str:
    """Set up a user's authenticator directly (as the enrolment page would); the secret."""
    from caseflow.accounts import operations as ops, totp
    from caseflow.accounts.models import User

    user = _db.session.scalar(_db.select(User).where(User.username == username.strip().lower()))
    secret = totp.new_secret()
    ops.enrol_second_factor(user, secret, totp.code_at(secret, dt.datetime.now(dt.timezone.utc)))
    _db.session.commit()
    return secret


def pass_second_factor(client, response, username: str):
    """Finish a form login that asked for the one-time code or for its set-up."""
    from caseflow.accounts import totp

    where = response.headers.get("Location", "")
    if "/login/enrol" in where:
        page = client.get("/login/enrol")
        secret = re.search(r'data-secret="([A-Z2-7]+)"', page.text).group(1)
        return client.post("/login/enrol", data={
            "code": totp.code_at(secret, dt.datetime.now(dt.timezone.utc))})
    if "/login/code" in where:
        return client.post("/login/code", data={"code": second_factor_code(username)})
    return response


@pytest.fixture()
def login_as(app):
    def login(client, username, password=PASSWORD):
        r = client.post("/login", data={"username": username, "password": password})
        r = pass_second_factor(client, r, username)
        assert r.status_code == 302 and "/login" not in r.headers["Location"], r.text[:500]
        return client

    return login


@pytest.fixture()
def api_headers(app):
    def headers(client, username, password=PASSWORD):
        from caseflow.accounts import operations as ops
        from caseflow.accounts.models import User

        body = {"username": username, "password": password}
        user = _db.session.scalar(_db.select(User).where(User.username == username.strip().lower()))
        if user is not None and ops.needs_second_factor(user):
            if not user.totp_secret:
                enrol_second_factor(username)
            body["otp"] = second_factor_code(username)
        r = client.post("/api/v1/auth/token", json=body)
        assert r.status_code == 201, r.text
        return {"Authorization": f"Bearer {r.json['token']}"}

    return headers


VALID_ID = "11010519491231002X"


def valid_credit_code(seed: int = 1) -> str:
    import random

    from caseflow.core.ids import make_credit_code

    return make_credit_code(random.Random(seed))


def clue_payload(**over) -> dict:
    data = {
        "title": "某商行涉嫌销售假冒注册商标的商品",
        "channel": "report",
        "ip_type": "trademark",
        "received_at": (today_local() - dt.timedelta(days=3)).isoformat(),
        "description": "举报人反映该商行销售假冒“耐克”运动鞋。",
        "location": "松江区中山中路100号",
        "parties": [{"kind": "business", "name": "上海某某商行", "credit_code": valid_credit_code()}],
        # below every criminal threshold (see tests/referrals for cases above them)
        "amounts": {"illegal_business_volume": "8000", "illegal_gains": "2000"},
    }
    data.update(over)
    return data


@pytest.fixture()
def world(db, make_agency, make_user):
    """Two agencies: Songjiang market supervision (full team) and the culture squad."""
    amr = make_agency()
    culture = make_agency("sj-culture", "cultural_enforcement", "上海市松江区文化市场行政执法大队",
                          "沪松文执")
    users = {
        "inspector": make_user(amr, "inspector", ["inspector"]),
        "officer": make_user(amr, "officer", ["case_officer", "inspector"]),
        "officer2": make_user(amr, "officer2", ["case_officer", "inspector"]),
        "reviewer": make_user(amr, "reviewer", ["legal_reviewer"]),
        "approver": make_user(amr, "approver", ["approver"]),
        "auditor": make_user(amr, "auditor", ["auditor"]),
        "other": make_user(culture, "other", ["case_officer", "inspector"]),
    }
    return type("World", (), {"amr": amr, "culture": culture, **users})


@pytest.fixture()
def make_case(world):
    from caseflow.cases import operations as ops
    from caseflow.cases.schemas import ClueIn, OfficersIn

    def make(user=None, officers=True, **over):
        user = user or world.officer
        case = ops.create_clue(user, ClueIn.model_validate(clue_payload(**over)))
        if officers:
            ops.assign_officers(user, case, OfficersIn(version=case.version,
                                                       officer_ids=[world.officer.id, world.officer2.id]))
        _db.session.commit()
        return case

    return make


@pytest.fixture()
def drive(world):
    """Run actions through the operations, approving where needed: drive(case, "accept", "file")."""
    from caseflow.cases import operations as ops
    from caseflow.cases.rules import TRANSITIONS
    from caseflow.cases.schemas import TransitionIn

    defaults = {
        "reject": {"reason": "证据不足"},
        "extend_verification": {"reason": "线索复杂"},
        "suspend": {"reason": "等待鉴定"},
        "terminate": {"reason": "当事人注销"},
        "extend_decision": {"reason": "案情复杂"},
        "pause_clock": {"reason": "送检", "pause_kind": "testing"},
        "return_review": {"reason": "证据不充分"},
        "record_statement": {"reason": "当事人放弃陈述申辩"},
        "conclude_hearing": {"reason": "听证已举行"},
        "decide_no_penalty": {"reason": "违法行为轻微"},
        "decide_penalty": {"fine_amount": "20000", "penalty_kinds": ["罚款"],
                           "decision_summary": "罚款20000元"},
        "record_payment": {"paid_amount": "20000"},
        "notify": {"proposed_fine": "20000", "proposed_penalties": ["罚款"]},
    }

    def run(case, *actions, today=None, **extra):
        for action in actions:
            payload = {"action": action, **defaults.get(action, {}), **extra}
            actor = world.reviewer if TRANSITIONS[action].roles == {"legal_reviewer"} else world.officer
            ops.perform(actor, case, TransitionIn.model_validate(payload), today=today)
            if case.pending_action:
                ops.perform(world.approver, case, TransitionIn(action="approve"), today=today)
            _db.session.commit()
        return case

    return run


def csrf_token_from(html: str) -> str:
    m = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    assert m, "no csrf token in page"
    return m.group(1)


# ----------------------------------------------------------------------------- figures
# Tests that measure a security or reliability property print one line of figures
# ("audit tampering: 420 of 420 detected", "durability: 200 kills survived, …"). pytest
# captures output, so those lines are gathered here (from xdist workers too) and printed
# at the end of every run.

_FIGURE = re.compile(r"^[a-z][a-z0-9 ()/_.-]{2,40}: .*\d")
_figures: list[str] = []


def pytest_runtest_logreport(report):
    if report.when != "call" or not report.passed:
        return
    for name, content in getattr(report, "sections", ()):
        if "stdout" not in name:
            continue
        for line in content.splitlines():
            if _FIGURE.match(line) and len(line) < 300 and line not in _figures:
                _figures.append(line)


def pytest_terminal_summary(terminalreporter):
    if _figures:
        terminalreporter.section("figures")
        for line in sorted(_figures):
            terminalreporter.write_line(line)
