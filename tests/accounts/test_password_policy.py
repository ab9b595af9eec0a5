"""Password policy (等保2.0 身份鉴别): length, classes, common passwords, no username or agency
name, 90-day expiry, the last five not reusable, and a change ends every session."""
from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from sqlalchemy import select

from caseflow.accounts import operations as accounts
from caseflow.accounts import passwords
from caseflow.accounts.models import ApiToken, LoginSession, User
from caseflow.core.audit import AuditEvent
from caseflow.core.errors import InvalidInput
from caseflow.extensions import db as _db
from tests.accounts.test_auth import client, is_logged_in, login, new_client, sign_in  # noqa: F401 (fixtures)
from tests.conftest import PASSWORD


@pytest.mark.parametrize("password, problem", [
    ("Short-1a", "password_too_short"),
    ("alllowercaseletters", "password_classes"),
    ("ALLCAPS-AND-SYMBOLS", "password_classes"),
    ("Password123!", "password_common"),  # "password" + digits and a sign
    ("Qwerty123456", "password_common"),
    ("My-officer-Pass-9", "password_contains_username"),
    ("ＯＦＦＩＣＥＲ-pass-99", "password_contains_username"),  # full-width spelling
    ("Sj-AMR-pass-2026", "password_contains_agency"),  # the agency's code
    ("上海市松江区市场监督管理局Ab1", "password_contains_agency"),
])
def test_rules_name_each_problem(password, problem):
    names = ("上海市松江区市场监督管理局", "sj-amr")
    assert problem in passwords.problems(password, "officer", names)


def test_a_good_password_passes():
    assert passwords.problems("Correct-Horse-42", "officer", ("上海市松江区市场监督管理局", "sj-amr")) == []
    assert passwords.classes("aB3-") == 4
    now = dt.datetime(2026, 11, 22, tzinfo=dt.timezone.utc)
    assert not passwords.expired(now - dt.timedelta(days=90), now)
    assert passwords.expired(now - dt.timedelta(days=91), now) and passwords.expired(None, now)


def test_create_user_refuses_a_weak_password(world):
    with pytest.raises(InvalidInput) as e:
        accounts.create_user(world.amr, "newbie", "newbie12345", ["inspector"])
    assert "password" in e.value.errors


def change(client, current, new, repeat=None):
    return client.post("/account/password", data={"current": current, "new": new,
                                                   "repeat": new if repeat is None else repeat})


def test_change_password_refuses_bad_input_and_keeps_the_session(client, world):
    sign_in(client, world.officer)
    assert client.get("/account/password").status_code == 200
    for current, new, repeat, field in [
        ("Wrong-Horse-42", "Brand-New-Pass-77", None, "current"),
        (PASSWORD, "short", None, "new"),
        (PASSWORD, "Brand-New-Pass-77", "Brand-New-Pass-78", "repeat"),
        (PASSWORD, PASSWORD, None, "new"),  # the current one again
    ]:
        r = change(client, current, new, repeat)
        assert r.status_code == 422, (field, r.status_code)
        assert f'id="{field}-error"' in r.get_data(as_text=True), field
    assert is_logged_in(client)
    refused = _db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "password.change_refused")).all()
    assert len(refused) == 4


def test_a_change_ends_every_session_and_token_and_the_new_password_works(client, new_client, world, api_headers):
    other = sign_in(new_client(), world.officer)  # a second device
    api_headers(new_client(), "officer")
    sign_in(client, world.officer)
    r = change(client, PASSWORD, "Brand-New-Pass-77")
    assert r.status_code == 302 and r.headers["Location"].endswith("/login")
    assert not is_logged_in(client) and not is_logged_in(other)
    _db.session.expire_all()
    assert all(s.revoked_at for s in _db.session.scalars(select(LoginSession)))
    assert all(t.revoked_at for t in _db.session.scalars(select(ApiToken)))
    assert login(new_client(), "officer").status_code == 401  # the old password is gone
    assert login(new_client(), "officer", "Brand-New-Pass-77").status_code == 302
    assert _db.session.scalar(select(AuditEvent).where(AuditEvent.action == "password.change"))


def test_the_last_five_passwords_cannot_be_chosen_again(world):
    user = _db.session.get(User, world.officer.id)
    chain = [PASSWORD] + [f"Another-Pass-{i}x" for i in range(2, 7)]  # P1 … P6
    for old, new in zip(chain, chain[1:]):
        accounts.change_password(user, old, new, new)
        _db.session.commit()
    # now P6 is current: P2…P6 are the last five, P1 is free again
    for reused in chain[1:]:
        with pytest.raises(InvalidInput) as e:
            accounts.change_password(user, chain[-1], reused, reused)
        assert "new" in e.value.errors
        _db.session.rollback()
    accounts.change_password(user, chain[-1], chain[0], chain[0])


def test_an_expired_password_must_be_changed_first(client, world, app):
    sign_in(client, world.officer)
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=app.config["PASSWORD_EXPIRY_DAYS"] + 1)
    with time_machine.travel(later):
        login(client, "officer")  # a fresh login after the holidays
        r = client.get("/cases/")
        assert r.status_code == 302 and r.headers["Location"].endswith("/account/password")
        page = client.get("/account/password").get_data(as_text=True)
        assert "90" in page  # the page says why
        assert change(client, PASSWORD, "Brand-New-Pass-77").status_code == 302
        assert login(client, "officer", "Brand-New-Pass-77").status_code == 302
        assert client.get("/cases/").status_code == 200
