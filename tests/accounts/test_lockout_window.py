"""Lockout (等保2.0 8.1.4.1 b: 登录失败处理): 5 failures within 15 minutes lock the account for
30 minutes, whatever spelling of the username is used; unknown names, wrong passwords and
locked accounts get the same answer after the same work."""
from __future__ import annotations

import datetime as dt
import os
import statistics
import time

import pytest
import time_machine

from caseflow.accounts import operations as accounts
from caseflow.extensions import db as _db
from tests.accounts.test_auth import client, errors, login, new_client, reload  # noqa: F401
from tests.conftest import PASSWORD


def test_failures_older_than_the_window_are_forgotten(new_client, world, app):
    now = dt.datetime.now(dt.timezone.utc)
    with time_machine.travel(now):
        for _ in range(4):
            assert login(new_client(), "officer", "Wrong-Horse-42").status_code == 401
    assert reload(world.officer).failed_logins == 4
    later = now + dt.timedelta(minutes=app.config["LOGIN_FAILURE_WINDOW_MINUTES"] + 1)
    with time_machine.travel(later):
        login(new_client(), "officer", "Wrong-Horse-42")  # the fifth, but 16 minutes on
        user = reload(world.officer)
        assert user.failed_logins == 1 and user.locked_until is None
        for _ in range(4):
            login(new_client(), "officer", "Wrong-Horse-42")
        assert reload(world.officer).locked_until is not None  # five within the window


def test_spellings_of_a_username_count_on_one_account(new_client, world):
    for spelling in ("OFFICER", " officer", "ｏｆｆｉｃｅｒ", "Off icer", "officer "):
        assert login(new_client(), spelling, "Wrong-Horse-42").status_code == 401
    assert reload(world.officer).locked_until is not None
    assert login(new_client(), "officer", PASSWORD).status_code == 401  # locked


def test_unknown_wrong_and_locked_look_the_same(new_client, world, make_user, app, capsys):
    """Same status, same message, and the same work (one Argon2 verification with the
    production parameters), so neither the answer nor its timing tells an account exists."""
    app.config["ARGON2_PARAMS"] = {}  # the library's recommended (production) cost
    try:
        locked = make_user(world.amr, "lockme", ["inspector"])
        make_user(world.amr, "wrongpw", ["inspector"])
        for _ in range(5):
            login(new_client(), "lockme", "Wrong-Horse-42")
        assert reload(locked).locked_until is not None
        answers = {name: login(new_client(), name, "Wrong-Horse-42")
                   for name in ("nobody-here", "wrongpw", "lockme")}
        assert {r.status_code for r in answers.values()} == {401}
        assert len({tuple(errors(r)) for r in answers.values()}) == 1

        def timed(name):
            samples = []
            for _ in range(7):
                t0 = time.perf_counter()
                with pytest.raises(accounts.LoginRefused):
                    accounts.authenticate(name, "Wrong-Horse-42")
                samples.append((time.perf_counter() - t0) * 1000)
                _db.session.rollback()
            return statistics.median(samples)

        ms = {name: timed(name) for name in ("nobody-here", "wrongpw", "lockme")}
    finally:
        app.config["ARGON2_PARAMS"] = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}
    print("login timing (median ms): unknown %.1f, wrong password %.1f, locked %.1f"
          % (ms["nobody-here"], ms["wrongpw"], ms["lockme"]))
    fastest, slowest = min(ms.values()), max(ms.values())
    assert slowest < 2 * fastest, ms  # one Argon2 verification each


@pytest.mark.skipif(not os.environ.get("CASEFLOW_TEST_DATABASE_URL"), reason="PostgreSQL row locks")
def test_a_login_does_not_wait_on_another_request_of_the_same_account(world, app):
    """Regression (load test): another request of the same account held the audit chain's
    head and, inserting its audit record, the key-share lock a foreign key takes on the user
    row; the login's FOR UPDATE waited on it while holding what that request needed next: a
    deadlock. The login locks the row FOR NO KEY UPDATE, which a key-share lock does not block."""
    from sqlalchemy import text

    other = _db.engine.connect()
    try:
        other.execute(text("SELECT id FROM user_account WHERE id = :u FOR KEY SHARE"),
                      {"u": world.officer.id})  # what the foreign key check of an insert takes
        _db.session.execute(text("SET LOCAL lock_timeout = '2s'"))
        user = accounts.authenticate("officer", PASSWORD)
        assert user.id == world.officer.id
        _db.session.commit()
    finally:
        other.rollback()
        other.close()
