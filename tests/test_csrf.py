"""CSRF protection on every HTML form POST, with CSRF enabled as in production.

The shared ``app`` fixture turns CSRF off; these tests build a second app on the same
(already migrated) database with it on. Each POST is refused (400, nothing changed) without
the form's token and works with the token taken from the page. The JSON API is exempt: it
only accepts bearer tokens, never the session cookie.
"""
from __future__ import annotations

import contextvars
import time
import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from caseflow import create_app
from caseflow.accounts import operations as accounts
from caseflow.accounts.models import LoginSession
from caseflow.cases.models import Case
from caseflow.extensions import db as _db
from tests.conftest import FAST_ARGON2, PASSWORD, clue_payload, csrf_token_from, valid_credit_code
from caseflow.core.timeutil import today_local  # legal dates are Beijing dates


# ----------------------------------------------------------------------------- harness


@pytest.fixture(scope="module")
def csrf_app(app, database_url, tmp_path_factory):
    """Like the ``app`` fixture (whose migrations built the schema) but with CSRF enabled."""
    assert app.config["WTF_CSRF_ENABLED"] is False  # the shared app really has it off
    protected = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "INSTANCE_PATH": str(tmp_path_factory.mktemp("instance-csrf")),
        "WTF_CSRF_ENABLED": True,
        "ARGON2_PARAMS": FAST_ARGON2,
        "SECRET_KEY": "test-secret",
    })
    yield protected
    with protected.app_context():
        _db.engine.dispose()


class IsolatedClient(FlaskClient):
    """Ends the test's own transaction before each request (on SQLite it holds the write
    lock) and runs the request in a fresh context, as in production. (Requests to
    ``csrf_app`` would get their own application context anyway: the one the ``db`` fixture
    keeps pushed belongs to ``app``.)"""

    def open(self, *args, **kwargs):
        _db.session.commit()  # end the test's own transaction (on SQLite it holds the write lock)
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture()
def new_client(csrf_app, db):
    return lambda: IsolatedClient(csrf_app, csrf_app.response_class, use_cookies=True)


def sign_in(client, user):
    """A logged-in session without going through the login form (tested on its own below)."""
    sess = accounts.start_session(user, "pytest")
    _db.session.commit()
    with client.session_transaction() as s:
        s["_user_id"] = sess.id
        s["seen"] = int(time.time())  # signed in just now (idle timeout)
        s["_fresh"] = True
    return client


@pytest.fixture()
def officer(new_client, world):
    return sign_in(new_client(), world.officer)


def token(client, url: str) -> str:
    r = client.get(url)
    assert r.status_code == 200, url
    return csrf_token_from(r.get_data(as_text=True))


def form_fields(html: str) -> dict:
    """Every named <input>/<textarea>/<select> value of the case form (enough for edit)."""
    data: dict = {}
    for m in re.finditer(r'<input id="([^"]+)" name="\1" type="[^"]*" value="([^"]*)"', html):
        data[m.group(1)] = _unescape(m.group(2))
    for m in re.finditer(r'<textarea id="([^"]+)" name="\1"[^>]*>(.*?)</textarea>', html, re.S):
        data[m.group(1)] = _unescape(m.group(2))
    for m in re.finditer(r'<select id="([^"]+)" name="\1".*?</select>', html, re.S):
        sel = re.search(r'<option value="([^"]*)" selected', m.group(0))
        data[m.group(1)] = sel.group(1) if sel else ""
    if re.search(r'name="is_major" value="y" checked', html):
        data["is_major"] = "y"
    data["version"] = re.search(r'name="version" value="(\d+)"', html).group(1)
    return data


def _unescape(s: str) -> str:
    import html

    return html.unescape(s)


def refused(r) -> bool:
    return r.status_code == 400


def is_logged_in(client) -> bool:
    r = client.get("/cases/")
    if r.status_code == 302:
        assert urlsplit(r.headers["Location"]).path == "/login"
        return False
    assert r.status_code == 200
    return True


def html_lang(client, url="/login") -> str:
    return re.search(r'<html lang="([^"]+)"', client.get(url).get_data(as_text=True)).group(1)


def n_cases() -> int:
    return _db.session.scalar(select(func.count()).select_from(Case))


def reload(obj):
    _db.session.expire_all()
    return _db.session.get(type(obj), obj.id)


def clue_form(**over) -> dict:
    data = {"title": "某商行涉嫌销售假冒注册商标的商品", "channel": "report",
            "ip_type": "trademark",
            "received_at": (today_local() - dt.timedelta(days=3)).isoformat(),
            "description": "举报人反映该商行销售假冒运动鞋。",
            "parties-0-kind": "business", "parties-0-name": "上海某某商行",
            "parties-0-credit_code": valid_credit_code(1)}
    data.update(over)
    return data


# ----------------------------------------------------------------------------- login


def test_login_without_token_is_refused_and_not_counted(new_client, world):
    client = new_client()
    client.get("/login")  # a session exists, the token is simply missing from the post
    r = client.post("/login", data={"username": "officer", "password": PASSWORD})
    assert refused(r)
    assert not is_logged_in(client)
    assert _db.session.scalar(select(func.count()).select_from(LoginSession)) == 0
    # a wrong password without a token is not even counted towards the lockout
    r = client.post("/login", data={"username": "officer", "password": "Wrong-Horse-42"})
    assert refused(r)
    assert reload(world.officer).failed_logins == 0


def test_login_with_a_forged_or_foreign_token_is_refused(new_client, world):
    elsewhere = token(new_client(), "/login")  # valid, but for another browser's session
    client = new_client()
    client.get("/login")
    for bad in ("forged-token", elsewhere):
        r = client.post("/login", data={"username": "officer", "password": PASSWORD,
                                        "csrf_token": bad})
        assert refused(r), bad
    assert not is_logged_in(client)


def test_login_with_token_works(new_client, world):
    client = new_client()
    t = token(client, "/login")
    r = client.post("/login", data={"username": "officer", "password": PASSWORD,
                                    "csrf_token": t})
    assert r.status_code == 302
    assert is_logged_in(client)


# ----------------------------------------------------------------------------- logout / language


def test_logout_needs_the_token(officer):
    r = officer.post("/logout")
    assert refused(r)
    assert is_logged_in(officer)
    assert _db.session.scalar(select(LoginSession)).revoked_at is None

    r = officer.post("/logout", data={"csrf_token": token(officer, "/cases/")})
    assert r.status_code == 302
    assert not is_logged_in(officer)
    assert _db.session.scalar(select(LoginSession)).revoked_at is not None


def test_language_switch_needs_the_token(new_client):
    client = new_client()
    client.get("/login")
    assert refused(client.post("/lang/en", data={"next": "/login"}))
    assert html_lang(client) == "zh-CN"
    r = client.post("/lang/en", data={"next": "/login", "csrf_token": token(client, "/login")})
    assert r.status_code == 302
    assert html_lang(client) == "en"


def test_saved_language_needs_the_token(officer, world):
    assert refused(officer.post("/lang/en"))
    assert reload(world.officer).locale is None
    assert html_lang(officer, "/cases/") == "zh-CN"
    r = officer.post("/lang/en", data={"csrf_token": token(officer, "/cases/")})
    assert r.status_code == 302
    assert reload(world.officer).locale == "en"


# ----------------------------------------------------------------------------- case screens


def test_new_clue_needs_the_token(officer):
    assert refused(officer.post("/cases/new", data=clue_form()))
    assert refused(officer.post("/cases/new", data=clue_form(csrf_token="forged")))
    assert n_cases() == 0
    r = officer.post("/cases/new", data=clue_form(csrf_token=token(officer, "/cases/new")))
    assert r.status_code == 302
    assert n_cases() == 1


def test_edit_needs_the_token(officer, make_case):
    case = make_case()
    before = (case.title, case.version)
    html = officer.get(f"/cases/{case.id}/edit").get_data(as_text=True)
    data = form_fields(html)
    assert data["version"] == str(case.version) and data["title"] == case.title
    data["title"] = "没有令牌的修改"
    assert refused(officer.post(f"/cases/{case.id}/edit", data=data))
    case = reload(case)
    assert (case.title, case.version) == before

    data["csrf_token"] = csrf_token_from(html)
    r = officer.post(f"/cases/{case.id}/edit", data=data)
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    assert reload(case).title == "没有令牌的修改"


def test_workflow_action_needs_the_token(officer, make_case):
    case = make_case()
    before = (case.state, case.version, len(case.events))
    data = {"action": "accept", "version": str(case.version)}
    assert refused(officer.post(f"/cases/{case.id}/actions", data=data))
    case = reload(case)
    assert (case.state, case.version, len(case.events)) == before

    data["csrf_token"] = token(officer, f"/cases/{case.id}")
    r = officer.post(f"/cases/{case.id}/actions", data=data)
    assert r.status_code == 302
    assert reload(case).state == "verifying"


def test_officers_need_the_token(officer, world, make_case):
    case = make_case(officers=False)
    data = {"officer_ids": [str(world.officer.id), str(world.officer2.id)],
            "version": str(case.version)}
    assert refused(officer.post(f"/cases/{case.id}/officers", data=data))
    case = reload(case)
    assert [u.id for u in case.officers] == [world.officer.id]

    data["csrf_token"] = token(officer, f"/cases/{case.id}")
    r = officer.post(f"/cases/{case.id}/officers", data=data)
    assert r.status_code == 302
    assert {u.id for u in reload(case).officers} == {world.officer.id, world.officer2.id}


def test_every_form_on_the_pages_carries_a_token(officer, make_case):
    case = make_case()
    for url in ("/cases/", "/cases/new", f"/cases/{case.id}", f"/cases/{case.id}/edit"):
        html = officer.get(url).get_data(as_text=True)
        forms = re.findall(r'<form method="post".*?</form>', html, re.S)
        assert forms, url
        for f in forms:
            assert 'name="csrf_token"' in f, (url, f[:120])


# ----------------------------------------------------------------------------- API


def test_api_is_exempt_and_takes_bearer_tokens_only(new_client, world, officer):
    bearer, _ = accounts.issue_api_token(reload(world.officer))
    _db.session.commit()
    client = new_client()
    r = client.post("/api/v1/cases", json=clue_payload(),
                    headers={"Authorization": f"Bearer {bearer}"})
    assert r.status_code == 201, r.get_data(as_text=True)
    assert n_cases() == 1
    # a logged-in browser session is not enough: the API ignores the session cookie,
    # which is why it can do without CSRF tokens
    r = officer.post("/api/v1/cases", json=clue_payload())
    assert r.status_code == 401
    assert n_cases() == 1


def test_api_token_endpoint_is_exempt(new_client, world):
    r = new_client().post("/api/v1/auth/token",
                          json={"username": "officer", "password": PASSWORD})
    assert r.status_code == 201
