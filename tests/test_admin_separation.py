"""三员分立 (等保2.0 8.1.4.2 c/d, 8.1.4.3): the system, security and audit administrators each
do only their own functions; the security administrator manages accounts and roles (never
their own); the audit administrator reads, exports and verifies the log and nothing else;
none reads case data."""
from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import func, select, text

from caseflow.accounts.models import User
from caseflow.core.audit import AuditEvent
from caseflow.extensions import db as _db
from tests.conftest import PASSWORD, pass_second_factor

SECRET_TITLE = "ZQXSEPARATIONMARK"


@pytest.fixture()
def admins(world, make_user):
    world.sysadmin = make_user(world.amr, "sysadmin", ["sys_admin"])
    world.secadmin = make_user(world.amr, "secadmin", ["sec_admin"])
    world.secadmin2 = make_user(world.amr, "secadmin2", ["sec_admin"])
    return world


def _client(app, login_as, username):
    return login_as(app.test_client(), username)


def _actions(actor=None):
    stmt = select(AuditEvent).order_by(AuditEvent.seq)
    if actor is not None:
        stmt = stmt.where(AuditEvent.user_id == actor.id)
    return list(_db.session.scalars(stmt))


def _users():
    return _db.session.scalar(select(func.count()).select_from(User))


def _errors(r):
    return re.findall(r'<p class="error"[^>]*>(.*?)</p>', r.get_data(as_text=True), re.S)


def test_each_administrator_does_only_their_own_functions(app, admins, login_as):
    w = admins
    functions = [  # (method, path, data, the role whose function it is)
        ("GET", "/admin/calendar", None, "sys_admin"),
        ("GET", "/admin/thresholds", None, "sys_admin"),
        ("POST", "/admin/calendar", {"day": "2031-10-01", "kind": "holiday", "note": "国庆"}, "sys_admin"),
        ("GET", "/security/users", None, "sec_admin"),
        ("GET", f"/security/users/{w.officer.id}", None, "sec_admin"),
        ("POST", f"/security/users/{w.officer.id}", {"action": "unlock"}, "sec_admin"),
        ("GET", "/audit/", None, "auditor"),
        ("GET", "/audit/export.csv", None, "auditor"),
        ("POST", "/audit/verify", {}, "auditor"),
    ]
    clients = {"sys_admin": _client(app, login_as, "sysadmin"),
               "sec_admin": _client(app, login_as, "secadmin"),
               "auditor": _client(app, login_as, "auditor")}
    allowed = refused = 0
    problems = []
    for method, path, data, owner in functions:
        for role, c in clients.items():
            r = c.open(path, method=method, data=data)
            ok = r.status_code in (200, 302, 303)
            if role == owner and not ok:
                problems.append(f"{role} cannot use its own {method} {path}: {r.status_code}")
            elif role != owner and r.status_code != 403:
                problems.append(f"{role} uses {owner}'s {method} {path}: {r.status_code}")
            allowed += role == owner and ok
            refused += role != owner and r.status_code == 403
    # and none of them opens a case page
    case_pages = ["/cases/", "/cases/new", "/referrals/", "/reports/", "/publications/"]
    for role, c in clients.items():
        for path in case_pages:
            r = c.get(path)
            if r.status_code != 403:
                problems.append(f"{role} opens {path}: {r.status_code}")
            refused += r.status_code == 403
    print(f"separation of duties: 3 administrators × {len(functions)} functions: {allowed} own "
          f"allowed, {refused} others' functions and case pages refused, {len(problems)} problems")
    assert not problems, problems
    assert allowed == len(functions)


def test_combining_administrator_roles_is_refused_everywhere(app, admins, login_as):
    c = _client(app, login_as, "secadmin")
    n = _users()
    for roles in (["sys_admin", "auditor"], ["sec_admin", "approver"], ["auditor", "case_officer"]):
        r = c.post("/security/users", data={"agency_id": w_id(admins), "username": "newperson",
                                            "display_name": "新人", "roles": roles})
        assert r.status_code == 422 and _errors(r), roles
        assert _users() == n
    r = c.post(f"/security/users/{admins.officer.id}",
               data={"action": "roles", "roles": ["case_officer", "auditor"]})
    assert r.status_code == 422
    assert _db.session.get(User, admins.officer.id).roles == {"case_officer", "inspector"}


def w_id(world) -> str:
    return str(world.amr.id)


def test_security_administrator_creates_an_account_that_must_change_its_password(
        app, admins, login_as):
    c = _client(app, login_as, "secadmin")
    r = c.post("/security/users", data={"agency_id": w_id(admins), "username": "Zhang.Wei",
                                        "display_name": "张伟", "roles": ["case_officer"]})
    assert r.status_code == 200
    password = re.search(r'id="one-time-password">([^<]+)<', r.get_data(as_text=True)).group(1)
    user = _db.session.scalar(select(User).where(User.username == "zhang.wei"))
    assert user.roles == {"case_officer"} and user.password_changed_at is None
    assert [e.action for e in _actions(admins.secadmin)][-1] == "user.create"
    assert password not in str([e.data for e in _actions()])  # never in the log
    # the person logs in with it and is sent to the password form
    p = app.test_client()
    r = p.post("/login", data={"username": "zhang.wei", "password": password})
    assert r.status_code == 302
    assert p.get("/cases/").headers["Location"].endswith("/account/password")


@pytest.mark.parametrize("data, field", [
    ({"agency_id": "", "username": "li.na", "display_name": "李娜", "roles": ["inspector"]}, "agency"),
    ({"agency_id": "999999", "username": "li.na", "display_name": "李娜", "roles": ["inspector"]}, "agency"),
    ({"agency_id": "x", "username": "li.na", "display_name": "李娜", "roles": ["inspector"]}, "agency"),
    ({"username": "li.na", "display_name": "", "roles": ["inspector"]}, "display_name"),
    ({"username": "admin", "display_name": "管理员", "roles": ["inspector"]}, "username"),
    ({"username": "officer", "display_name": "重名", "roles": ["inspector"]}, "username"),
    ({"username": "", "display_name": "李娜", "roles": ["inspector"]}, "username"),
    ({"username": "li.na", "display_name": "李娜", "roles": []}, "roles"),
    ({"username": "li.na", "display_name": "李娜", "roles": ["superuser"]}, "roles"),
])
def test_bad_account_input_keeps_what_was_typed(app, admins, login_as, data, field):
    c = _client(app, login_as, "secadmin")
    body = {"agency_id": w_id(admins)} | data
    n = _users()
    r = c.post("/security/users", data=body)
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and _errors(r), html[:400]
    assert f'id="{field}' in html and "has-error" in html
    if body.get("display_name"):
        assert f'value="{body["display_name"]}"' in html  # what was typed stays
    assert _users() == n


def test_roles_grants_are_audited_and_end_sessions(app, admins, login_as):
    officer = _client(app, login_as, "officer")
    assert officer.get("/cases/").status_code == 200
    c = _client(app, login_as, "secadmin")
    r = c.post(f"/security/users/{admins.officer.id}",
               data={"action": "roles", "roles": ["case_officer", "approver"]})
    assert r.status_code == 303
    assert officer.get("/cases/").status_code == 302  # logged out: log in again (now with TOTP)
    acts = [(e.action, e.data.get("role")) for e in _actions(admins.secadmin)]
    assert ("role.grant", "approver") in acts and ("role.revoke", "inspector") in acts
    # the new approver must now set up the second factor
    r = app.test_client().post("/login", data={"username": "officer", "password": PASSWORD})
    assert r.headers["Location"].endswith("/login/enrol")


def test_no_one_changes_their_own_account(app, admins, login_as):
    c = _client(app, login_as, "secadmin")
    for data in ({"action": "roles", "roles": ["sec_admin", "auditor"]},
                 {"action": "roles", "roles": ["approver"]},
                 {"action": "disable"}, {"action": "reset_second_factor"},
                 {"action": "reset_password"}):
        r = c.post(f"/security/users/{admins.secadmin.id}", data=data)
        assert r.status_code == 403, data
    assert _db.session.get(User, admins.secadmin.id).roles == {"sec_admin"}
    # another security administrator may
    c2 = _client(app, login_as, "secadmin2")
    assert c2.post(f"/security/users/{admins.secadmin.id}", data={"action": "disable"}).status_code == 303
    assert not _db.session.get(User, admins.secadmin.id).active


def test_disable_unlock_and_one_time_password(app, admins, login_as):
    officer = _client(app, login_as, "officer")
    c = _client(app, login_as, "secadmin")
    assert c.post(f"/security/users/{admins.officer.id}", data={"action": "disable"}).status_code == 303
    assert officer.get("/cases/").status_code == 302
    assert c.post(f"/security/users/{admins.officer.id}", data={"action": "enable"}).status_code == 303
    u = _db.session.get(User, admins.officer.id)
    import datetime as dt

    u.locked_until = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=20)
    _db.session.commit()
    assert c.post(f"/security/users/{admins.officer.id}", data={"action": "unlock"}).status_code == 303
    _db.session.expire_all()
    assert _db.session.get(User, admins.officer.id).locked_until is None
    r = c.post(f"/security/users/{admins.officer.id}", data={"action": "reset_password"})
    password = re.search(r'id="one-time-password">([^<]+)<', r.get_data(as_text=True)).group(1)
    p = app.test_client()
    assert p.post("/login", data={"username": "officer", "password": PASSWORD}).status_code == 401
    assert p.post("/login", data={"username": "officer", "password": password}).status_code == 302
    assert p.get("/cases/").headers["Location"].endswith("/account/password")
    acts = [e.action for e in _actions(admins.secadmin)]
    for a in ("user.disable", "user.enable", "user.unlock", "password.reset"):
        assert a in acts
    r = c.post(f"/security/users/{admins.officer.id}", data={"action": "bogus"})
    assert r.status_code == 422
    assert c.get("/security/users/999999").status_code == 404


def test_audit_administrator_reads_the_log_without_case_details(app, admins, login_as, make_case):
    case = make_case(title=SECRET_TITLE)
    r = app.test_client().post("/login", data={"username": "officer", "password": "Wrong-pass-123"})
    assert r.status_code == 401
    c = _client(app, login_as, "auditor")
    r = c.get("/audit/")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert SECRET_TITLE not in html  # the record of the case's creation shows no field values
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", html)  # time with its offset
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]+)</td><td>([^<]*)</td><td>([^<]*)</td>"
                      r"<td>([^<]+)</td><td>([^<]*)</td>", html)
    assert rows
    assert any(act == "login.failed" and user == "officer" for _, _, user, _, act, _ in rows)
    assert any(obj == f"case:{case.id}" for *_, obj in rows)
    # filters
    r = c.get("/audit/?result=failure")
    failures = re.findall(r'<td>(login\.failed|request\.denied|login\.lockout)</td>', r.get_data(as_text=True))
    assert failures and "login.success</td>" not in r.get_data(as_text=True)
    r = c.get("/audit/?username=officer&action=login.")
    assert "login.failed" in r.get_data(as_text=True)
    # bad filters: 422, what was typed stays
    r = c.get("/audit/?from=2026-13-01&result=maybe&username=ZQ")
    assert r.status_code == 422 and 'value="2026-13-01"' in r.get_data(as_text=True)
    assert len(_errors(r)) == 2
    r = c.get("/audit/?from=2026-05-01&to=2026-04-01")
    assert r.status_code == 422
    # CSV export, parsed
    r = c.get("/audit/export.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    table = list(csv.reader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    assert table[0] == ["序号", "时间", "用户", "机构", "操作", "对象", "结果", "来源地址"]
    assert int(r.headers["X-Rows"]) == len(table) - 1 > 3
    assert all(row[1].endswith("+08:00") and row[6] in ("成功", "失败") for row in table[1:])
    assert any(row[4] == "login.failed" and row[6] == "失败" and row[2] == "officer" for row in table)
    assert SECRET_TITLE not in r.get_data(as_text=True)
    # the chain check
    r = c.post("/audit/verify", follow_redirects=True)
    assert "审计链校验通过" in r.get_data(as_text=True)  # the flash of a verifying chain
    # an edited record: the same button says so (the database triggers refuse an UPDATE, so
    # the edit goes around them, as an attacker with the owner's rights would)
    from caseflow.core.audit import drop_guard_statements, guard_statements

    dialect = _db.engine.dialect.name
    for stmt in drop_guard_statements(dialect):
        _db.session.execute(text(stmt))
    _db.session.execute(text("UPDATE audit_event SET action = 'case.nothing' WHERE seq = 2"))
    for stmt in guard_statements(dialect):
        _db.session.execute(text(stmt))
    _db.session.commit()
    r = c.post("/audit/verify", follow_redirects=True)
    assert "审计链校验未通过" in r.get_data(as_text=True)
    mine = [e.action for e in _actions(admins.auditor)]
    assert {"audit.search", "audit.export", "audit.verify"} <= set(mine)


def test_every_record_made_in_a_request_names_its_source_address(app, admins, login_as):
    c = _client(app, login_as, "officer")
    n = len(_actions())
    c.get("/security/users", environ_base={"REMOTE_ADDR": "10.1.2.3"})  # refused: audited
    c.post("/account/password", data={"current": "x", "new": "y", "repeat": "z"},
           environ_base={"REMOTE_ADDR": "10.1.2.4"})  # refused change: audited
    recent = _actions()[n:]
    assert [(e.action, e.ip) for e in recent] == [("request.denied", "10.1.2.3"),
                                                  ("password.change_refused", "10.1.2.4")]
