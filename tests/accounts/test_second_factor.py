"""Second factor (等保2.0 8.1.4.1 d, ASVS 6.5): TOTP codes, mandatory for administrators and
approvers, single-use, accepted one 30-second step either side; the secret stored encrypted;
failures count toward the lockout; the API asks for the code too."""
from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from sqlalchemy import select, text

from caseflow.accounts import operations as accounts, totp
from caseflow.core.audit import AuditEvent
from caseflow.extensions import db as _db
from tests.accounts.test_auth import client, errors, is_logged_in, location, login, new_client, reload  # noqa: F401
from tests.conftest import PASSWORD, enrol_second_factor, second_factor_code

API = "/api/v1"


def _now():
    return dt.datetime.now(dt.timezone.utc)


def _actions(user_id=None):
    stmt = select(AuditEvent.action).order_by(AuditEvent.seq)
    if user_id is not None:
        stmt = stmt.where(AuditEvent.user_id == user_id)
    return list(_db.session.scalars(stmt))


def _secret_from_page(r) -> str:
    return re.search(r'data-secret="([A-Z2-7]+)"', r.get_data(as_text=True)).group(1)


def _code_at(user, when):
    from flask import current_app

    return totp.code_at(totp.decrypt(reload(user).totp_secret, current_app.config["SECRET_KEY"]), when)


def test_rfc6238_reference_values():
    """The SHA-1 test vectors of RFC 6238 appendix B (6-digit truncation)."""
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # b"12345678901234567890"
    for ts, code in ((59, "287082"), (1111111109, "081804"), (1234567890, "005924"),
                     (2000000000, "279037")):
        assert totp.code_at(secret, dt.datetime.fromtimestamp(ts, dt.timezone.utc)) == code


def test_approver_must_enrol_then_logs_in_with_a_code(new_client, world):
    c = new_client()
    r = login(c, "approver")
    assert r.status_code == 302 and location(r) == "/login/enrol"
    assert not is_logged_in(c)  # the password alone logs nobody in
    page = c.get("/login/enrol")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'src="data:image/svg+xml' in html
    secret = _secret_from_page(page)
    assert c.get("/login/enrol").get_data(as_text=True).count(secret) >= 1  # same key on reload
    # a wrong code: a clear error, the key stays the same, the failure counts
    r = c.post("/login/enrol", data={"code": "000000" if totp.code_at(secret, _now()) != "000000"
                                     else "111111"})
    assert r.status_code == 422 and errors(r) == ["验证码错误或已使用：请输入身份验证器应用当前显示的 6 位验证码。"]
    assert 'value="000000"' in r.get_data(as_text=True) or 'value="111111"' in r.get_data(as_text=True)
    assert _secret_from_page(r) == secret
    assert reload(world.approver).failed_logins == 1 and reload(world.approver).totp_secret is None
    r = c.post("/login/enrol", data={"code": totp.code_at(secret, _now())})
    assert r.status_code == 302 and location(r) == "/"
    assert is_logged_in(c)
    user = reload(world.approver)
    assert user.totp_enrolled_at is not None and user.failed_logins == 0
    # stored encrypted: the key is nowhere in the row
    raw = _db.session.execute(text("SELECT totp_secret FROM user_account WHERE id = :i"),
                              {"i": user.id}).scalar()
    assert raw.startswith("v1:") and secret not in raw
    assert _actions(user.id)[-2:] == ["mfa.enrolled", "login.success"]

    # the next login asks for the code, not a new enrolment
    c2 = new_client()
    r = login(c2, "approver")
    assert location(r) == "/login/code"
    r = c2.post("/login/code", data={"code": second_factor_code("approver")})
    assert r.status_code == 302 and is_logged_in(c2)


def test_a_code_works_once_and_only_one_step_either_side(new_client, world):
    enrol_second_factor("approver")
    outcomes = {}
    for offset in (-2, -1, 0, 1, 2):
        second_factor_code("approver")  # forget the last accepted step
        c = new_client()
        login(c, "approver")
        r = c.post("/login/code", data={"code": _code_at(world.approver,
                                                         _now() + dt.timedelta(seconds=30 * offset))})
        outcomes[offset] = r.status_code == 302
    assert outcomes == {-2: False, -1: True, 0: True, 1: True, 2: False}

    # single use: the code that just worked is refused in another browser
    second_factor_code("approver")
    code = _code_at(world.approver, _now())
    c1, c2 = new_client(), new_client()
    login(c1, "approver"), login(c2, "approver")
    assert c1.post("/login/code", data={"code": code}).status_code == 302
    r = c2.post("/login/code", data={"code": code})
    assert r.status_code == 401 and not is_logged_in(c2)
    # and an older code of the window is refused after a newer one was used
    second_factor_code("approver")
    c3, c4 = new_client(), new_client()
    login(c3, "approver"), login(c4, "approver")
    assert c3.post("/login/code", data={"code": _code_at(world.approver, _now() + dt.timedelta(
        seconds=30))}).status_code == 302
    assert c4.post("/login/code", data={"code": _code_at(world.approver, _now())}).status_code == 401
    print(f"second factor: window {sorted(k for k, v in outcomes.items() if v)} accepted, "
          f"replayed and older codes refused 2 of 2")


def test_code_formats_and_bad_input(new_client, world):
    enrol_second_factor("approver")
    c = new_client()
    login(c, "approver")
    for bad in ("", "12345", "1234567", "abcdef"):
        r = c.post("/login/code", data={"code": bad})
        assert r.status_code == 401 and errors(r), bad
        assert f'value="{bad}"' in r.get_data(as_text=True)  # what was typed stays
    assert reload(world.approver).failed_logins == 4  # each counts toward the lockout
    # spaces and full-width digits as an app or an IME shows them are folded
    second_factor_code("approver")
    user = reload(world.approver)
    user.locked_until, user.failed_logins, user.first_failed_at = None, 0, None
    _db.session.commit()
    c = new_client()
    login(c, "approver")
    code = _code_at(world.approver, _now())
    spaced = code[:3] + " " + "".join(chr(ord(d) + 0xFEE0) for d in code[3:])
    assert c.post("/login/code", data={"code": spaced}).status_code == 302


def test_wrong_codes_lock_the_account(new_client, world):
    enrol_second_factor("approver")
    c = new_client()
    login(c, "approver")
    good = _code_at(world.approver, _now())
    wrong = "000000" if good != "000000" else "111111"
    for _ in range(4):
        assert c.post("/login/code", data={"code": wrong}).status_code == 401
    r = c.post("/login/code", data={"code": wrong})
    assert r.status_code == 302 and location(r) == "/login"  # locked: back to the password
    assert reload(world.approver).locked_until is not None
    assert "login.lockout" in _actions(world.approver.id)
    # locked: even the right password and a right code do not log in
    c2 = new_client()
    assert login(c2, "approver").status_code == 401
    assert not is_logged_in(c2)


def test_pending_code_expires(new_client, world, app):
    enrol_second_factor("approver")
    c = new_client()
    start = _now()
    with time_machine.travel(start, tick=False):
        assert location(login(c, "approver")) == "/login/code"
    later = start + dt.timedelta(seconds=app.config["TOTP_PENDING_SECONDS"] + 5)
    with time_machine.travel(later, tick=False):
        second_factor_code("approver")
        r = c.post("/login/code", data={"code": _code_at(world.approver, later)})
        assert r.status_code == 302 and location(r) == "/login"
        assert not is_logged_in(c)


def test_code_page_without_a_password_is_refused(new_client, world):
    c = new_client()
    for path in ("/login/code", "/login/enrol"):
        r = c.get(path)
        assert r.status_code == 302 and location(r) == "/login"
        r = c.post(path, data={"code": "123456"})
        assert r.status_code == 302 and location(r) == "/login"


def test_users_without_the_requirement_log_in_with_the_password(new_client, world):
    c = new_client()
    r = login(c, "officer")
    assert r.status_code == 302 and location(r) == "/"
    assert is_logged_in(c)


def test_every_administrator_role_needs_the_second_factor(app, world, make_user):
    for role in ("approver", "agency_admin", "sys_admin", "sec_admin", "auditor"):
        u = make_user(world.amr, f"x_{role}", [role])
        assert accounts.needs_second_factor(u), role
    for role in ("inspector", "case_officer", "legal_reviewer", "coordinator", "publisher"):
        u = make_user(world.amr, f"y_{role}", [role])
        assert not accounts.needs_second_factor(u), role


def test_configuration_cannot_drop_administrators():
    from caseflow import create_app
    from caseflow.config import ConfigError

    with pytest.raises(ConfigError, match="TOTP_REQUIRED_ROLES"):
        create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x",
                    "TOTP_REQUIRED_ROLES": ["sys_admin", "sec_admin", "auditor"]})


def test_a_changed_application_key_makes_the_secret_unreadable(new_client, world, app):
    enrol_second_factor("approver")
    code = second_factor_code("approver")
    old = app.config["SECRET_KEY"]
    app.config["SECRET_KEY"] = "another-key"
    try:
        c = new_client()
        login(c, "approver")
        r = c.post("/login/code", data={"code": code})
        assert r.status_code == 401
    finally:
        app.config["SECRET_KEY"] = old
    ev = _db.session.scalars(select(AuditEvent).where(AuditEvent.action == "login.failed")
                             .order_by(AuditEvent.seq.desc())).first()
    assert ev.data["reason"] == "totp_unreadable"


def test_api_token_needs_the_code(client, world):
    body = {"username": "approver", "password": PASSWORD}
    r = client.post(f"{API}/auth/token", json=body)
    assert r.status_code == 403 and r.json["message"]  # not set up yet: the web first
    enrol_second_factor("approver")
    r = client.post(f"{API}/auth/token", json=body)
    assert r.status_code == 401 and "otp" in r.json["errors"]
    good = second_factor_code("approver")
    r = client.post(f"{API}/auth/token", json=body | {"otp": "000000" if good != "000000" else "1"})
    assert r.status_code == 401
    assert reload(world.approver).failed_logins == 1
    r = client.post(f"{API}/auth/token", json=body | {"otp": good})
    assert r.status_code == 201 and r.json["token"]
    r = client.post(f"{API}/auth/token", json=body | {"otp": good})  # replayed
    assert r.status_code == 401
    # a user without a second factor is not asked for one
    r = client.post(f"{API}/auth/token", json={"username": "officer", "password": PASSWORD})
    assert r.status_code == 201


def test_reset_by_the_security_administrator(new_client, world, make_user):
    sec = make_user(world.amr, "secadmin", ["sec_admin"])
    enrol_second_factor("approver")
    c = new_client()
    login(c, "approver")
    c.post("/login/code", data={"code": second_factor_code("approver")})
    assert is_logged_in(c)
    with pytest.raises(accounts.PermissionDenied):
        accounts.reset_second_factor(world.officer, reload(world.approver))
    with pytest.raises(accounts.PermissionDenied):
        accounts.reset_second_factor(sec, sec)  # never one's own
    accounts.reset_second_factor(sec, reload(world.approver))
    _db.session.commit()
    assert not is_logged_in(c)  # sessions ended
    assert reload(world.approver).totp_secret is None
    assert location(login(new_client(), "approver")) == "/login/enrol"
    assert "mfa.reset" in _actions(sec.id)
