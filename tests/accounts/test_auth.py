"""Login, lockout, server-side sessions, language choice and redirects after login."""
from __future__ import annotations

import contextvars
import datetime as dt
import re
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
import time_machine
from flask.testing import FlaskClient
from sqlalchemy import func, select

from caseflow.accounts import operations as accounts
from caseflow.accounts.models import LoginSession, User
from caseflow.extensions import db as _db
from tests.conftest import PASSWORD


# ----------------------------------------------------------------------------- harness


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in its own application context, as in production.

    The ``db`` fixture keeps an application context pushed, and Flask reuses it for
    test-client requests, so the requests would share ``g`` and the test's SQLAlchemy session
    (conftest's client only forgets Flask-Login's cached user). Running each request in an
    empty contextvars.Context makes Flask push a fresh context: two clients are two browsers
    with their own database sessions.
    """

    def open(self, *args, **kwargs):
        _db.session.commit()  # end the test's own transaction (on SQLite it holds the write lock)
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture()
def new_client(app, db):
    return lambda: IsolatedClient(app, app.response_class, use_cookies=True)


@pytest.fixture()
def client(new_client):  # this module's client is isolated too
    return new_client()


def login(client, username, password=PASSWORD, next_=None):
    url = "/login" + (f"?{urlencode({'next': next_})}" if next_ is not None else "")
    return client.post(url, data={"username": username, "password": password})


def sign_in(client, user):
    r = login(client, user.username)
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    return client


def location(r) -> str:
    return urlsplit(r.headers["Location"]).path


def errors(r) -> list[str]:
    html = r.get_data(as_text=True)
    return [re.sub(r"\s+", " ", m).strip()
            for m in re.findall(r'<p class="error"[^>]*>(.*?)</p>', html, re.S)]


def html_lang(r) -> str:
    m = re.search(r'<html lang="([^"]+)"', r.get_data(as_text=True))
    assert m, "no <html lang>"
    return m.group(1)


def is_logged_in(client) -> bool:
    r = client.get("/cases/")
    if r.status_code == 302:
        assert location(r) == "/login"
        return False
    assert r.status_code == 200
    return True


def reload(user: User) -> User:
    _db.session.expire_all()
    return _db.session.get(User, user.id)


# ----------------------------------------------------------------------------- login


def test_authenticate_works_on_this_database(world):
    """Regression: SELECT … FOR UPDATE with User.agency joined-eager loaded (an outer join)
    was refused by PostgreSQL, so every login there was a 500."""
    user = accounts.authenticate("officer", PASSWORD)
    assert user.id == world.officer.id


def test_login_page_is_shown(client):
    r = client.get("/login")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'name="username"' in html and 'name="password"' in html


def test_login_success_starts_a_server_side_session(client, world):
    assert not is_logged_in(client)
    with client.session_transaction() as s:
        s["planted"] = "before login"
    r = login(client, "officer")
    assert r.status_code == 302
    assert location(r) == "/"
    assert is_logged_in(client)
    sessions = _db.session.scalars(select(LoginSession)).all()
    assert [(s.user_id, s.revoked_at) for s in sessions] == [(world.officer.id, None)]
    # the cookie carries only the session's random id, not the user id
    with client.session_transaction() as s:
        assert s["_user_id"] == sessions[0].id
        assert "planted" not in s  # a fresh session at login
    assert reload(world.officer).last_login_at is not None


def test_wrong_password_is_refused(client, world):
    r = login(client, "officer", "Wrong-Horse-42")
    assert r.status_code == 401
    assert len(errors(r)) == 1 and errors(r)[0]
    assert 'value="officer"' in r.get_data(as_text=True)  # the username typed is kept
    assert not is_logged_in(client)
    assert reload(world.officer).failed_logins == 1
    assert _db.session.scalar(select(func.count()).select_from(LoginSession)) == 0


def test_unknown_user_gets_the_same_message_as_a_wrong_password(client, world):
    wrong_password = login(client, "officer", "Wrong-Horse-42")
    unknown_user = login(client, "nobody-here", "Wrong-Horse-42")
    unknown_right_pw = login(client, "nobody-here", PASSWORD)
    assert wrong_password.status_code == unknown_user.status_code == \
        unknown_right_pw.status_code == 401
    assert errors(unknown_user) == errors(wrong_password) == errors(unknown_right_pw)
    assert errors(unknown_user)


@pytest.mark.parametrize("typed", [
    "OFFICER", "Officer", " officer ", "ｏｆｆｉｃｅｒ", "ＯＦＦＩＣＥＲ", "offi cer",
    pytest.param("officer2", id="not-a-prefix-match"),
])
def test_username_is_case_and_width_insensitive(client, world, typed):
    r = login(client, typed)
    assert r.status_code == 302
    [sess] = _db.session.scalars(select(LoginSession)).all()
    expected = world.officer2 if typed == "officer2" else world.officer
    assert sess.user_id == expected.id


def test_empty_form_is_a_validation_error(client, world):
    r = client.post("/login", data={"username": "", "password": ""})
    assert r.status_code == 422
    assert len(errors(r)) == 2
    assert reload(world.officer).failed_logins == 0


def test_logged_in_user_visiting_login_is_sent_on(client, world):
    sign_in(client, world.officer)
    r = client.get("/login")
    assert r.status_code == 302 and location(r) == "/"


# ----------------------------------------------------------------------------- lockout


def test_lockout_after_five_failures_is_kept_in_the_database(new_client, world):
    client = new_client()
    for _ in range(5):
        assert login(client, "officer", "Wrong-Horse-42").status_code == 401
    user = reload(world.officer)
    assert user.locked_until is not None
    now = dt.datetime.now(dt.timezone.utc)
    assert now + dt.timedelta(minutes=29) < user.locked_until <= now + dt.timedelta(minutes=31)

    # the sixth attempt, with the RIGHT password, is refused — from any client
    locked = login(new_client(), "officer")
    assert locked.status_code == 401
    assert errors(locked)
    assert not is_logged_in(client)
    assert _db.session.scalar(select(func.count()).select_from(LoginSession)) == 0

    with time_machine.travel(now + dt.timedelta(minutes=29)):
        assert login(new_client(), "officer").status_code == 401  # still locked
    with time_machine.travel(now + dt.timedelta(minutes=31)):
        fresh = new_client()
        assert login(fresh, "officer").status_code == 302
        assert is_logged_in(fresh)
    user = reload(world.officer)
    assert user.locked_until is None and user.failed_logins == 0


def test_four_failures_then_success_resets_the_counter(client, world):
    for _ in range(4):
        assert login(client, "officer", "Wrong-Horse-42").status_code == 401
    assert reload(world.officer).failed_logins == 4
    assert login(client, "officer").status_code == 302
    assert reload(world.officer).failed_logins == 0
    client.post("/logout")
    for _ in range(4):
        assert login(client, "officer", "Wrong-Horse-42").status_code == 401
    assert reload(world.officer).locked_until is None
    assert login(client, "officer").status_code == 302


def test_lockout_is_per_user(client, world):
    for _ in range(5):
        login(client, "officer", "Wrong-Horse-42")
    assert login(client, "officer").status_code == 401
    assert login(client, "officer2").status_code == 302


# ----------------------------------------------------------------------------- sessions


def test_logout_ends_the_session_server_side(new_client, world):
    client = sign_in(new_client(), world.officer)
    assert is_logged_in(client)
    stolen = client.get_cookie("session")
    assert stolen is not None

    # before logout, the copied cookie works in another client (so the check below can fail)
    replay = new_client()
    replay.set_cookie("session", stolen.value)
    assert is_logged_in(replay)

    r = client.post("/logout")
    assert r.status_code == 302 and location(r) == "/login"
    assert not is_logged_in(client)
    [row] = _db.session.scalars(select(LoginSession)).all()
    assert row.revoked_at is not None

    # the old, correctly signed cookie no longer logs anyone in
    replay = new_client()
    replay.set_cookie("session", stolen.value)
    r = replay.get("/cases/")
    assert r.status_code == 302 and location(r) == "/login"


def test_logging_out_one_session_keeps_the_others(new_client, world):
    desk = sign_in(new_client(), world.officer)
    laptop = sign_in(new_client(), world.officer)
    desk.post("/logout")
    assert not is_logged_in(desk)
    assert is_logged_in(laptop)


def test_disabling_a_user_ends_their_session_at_once(new_client, world):
    officer = sign_in(new_client(), world.officer)
    colleague = sign_in(new_client(), world.officer2)
    assert is_logged_in(officer)

    accounts.set_user_active(reload(world.officer), False)
    _db.session.commit()

    r = officer.get("/cases/")
    assert r.status_code == 302 and location(r) == "/login"
    assert officer.post("/cases/new", data={"title": "x"}).status_code == 302
    assert is_logged_in(colleague)  # only that user's sessions end
    assert all(s.revoked_at is not None for s in _db.session.scalars(
        select(LoginSession).where(LoginSession.user_id == world.officer.id)))


def test_inactive_user_is_refused_even_if_a_session_row_survives(new_client, world):
    """Defence in depth: a user switched off by any path (not only set_user_active, which
    also revokes sessions) gets no further."""
    client = sign_in(new_client(), world.officer)
    assert is_logged_in(client)
    user = reload(world.officer)
    user.active = False
    _db.session.commit()
    assert _db.session.scalar(select(LoginSession)).revoked_at is None
    assert not is_logged_in(client)


def test_disabled_user_cannot_log_in_and_gets_the_usual_message(client, world):
    wrong = login(client, "officer", "Wrong-Horse-42")
    accounts.set_user_active(reload(world.officer), False)
    _db.session.commit()
    r = login(client, "officer")
    assert r.status_code == 401
    assert errors(r) == errors(wrong)
    assert not is_logged_in(client)


def test_session_expires_after_its_absolute_lifetime(new_client, world, app):
    client = sign_in(new_client(), world.officer)
    hours = app.config["SESSION_ABSOLUTE_HOURS"]
    now = dt.datetime.now(dt.timezone.utc)
    # in use every 10 minutes (never idle) until 5 minutes before the end …
    step = dt.timedelta(minutes=10)
    at = now + step
    while at < now + dt.timedelta(hours=hours) - dt.timedelta(minutes=5):
        with time_machine.travel(at):
            assert is_logged_in(client), at - now
        at += step
    with time_machine.travel(now + dt.timedelta(hours=hours) - dt.timedelta(minutes=5)):
        assert is_logged_in(client)
    # … and out after the absolute lifetime, however active
    with time_machine.travel(now + dt.timedelta(hours=hours, minutes=5)):
        assert not is_logged_in(client)


def test_session_ends_after_15_idle_minutes(new_client, world, app):
    from caseflow.accounts.models import LoginSession
    from caseflow.core.audit import AuditEvent

    client = sign_in(new_client(), world.officer)
    idle = app.config["SESSION_IDLE_MINUTES"]
    assert idle == 15
    now = dt.datetime.now(dt.timezone.utc)
    with time_machine.travel(now + dt.timedelta(minutes=idle - 1)):
        assert is_logged_in(client)  # 14 minutes: still in, and the clock restarts
    with time_machine.travel(now + dt.timedelta(minutes=2 * idle - 2)):
        assert is_logged_in(client)
    with time_machine.travel(now + dt.timedelta(minutes=3 * idle)):
        assert not is_logged_in(client)  # 16+ minutes without a request
    _db.session.expire_all()
    rows = _db.session.scalars(select(LoginSession).where(LoginSession.user_id == world.officer.id)).all()
    assert rows and all(r.revoked_at is not None for r in rows)  # ended on the server too
    assert _db.session.scalar(select(AuditEvent).where(AuditEvent.action == "session.idle"))


def test_logout_needs_post(client):
    assert client.get("/logout").status_code == 405


# ----------------------------------------------------------------------------- language


def test_default_language_is_simplified_chinese(client):
    r = client.get("/login")
    assert html_lang(r) == "zh-CN"
    assert "登录" in r.get_data(as_text=True)
    assert "Log in" not in r.get_data(as_text=True)


def test_switching_to_english_and_back(client):
    r = client.post("/lang/en", data={"next": "/login"})
    assert r.status_code == 302 and location(r) == "/login"
    r = client.get("/login")
    assert html_lang(r) == "en"
    assert "Log in" in r.get_data(as_text=True)
    assert "登录" not in r.get_data(as_text=True)

    client.post("/lang/zh_Hans_CN", data={"next": "/login"})
    r = client.get("/login")
    assert html_lang(r) == "zh-CN" and "登录" in r.get_data(as_text=True)


@pytest.mark.parametrize("code", ["xx", "fr", "EN", "zh"])
def test_unknown_language_changes_nothing(client, code):
    r = client.post(f"/lang/{code}", data={"next": "/login"})
    assert r.status_code == 302
    r = client.get("/login")
    assert html_lang(r) == "zh-CN"
    assert "登录" in r.get_data(as_text=True)


def test_unknown_language_keeps_an_earlier_choice(client):
    client.post("/lang/en")
    client.post("/lang/xx")
    assert html_lang(client.get("/login")) == "en"


def test_logged_in_users_choice_is_saved_and_follows_them(new_client, world):
    client = sign_in(new_client(), world.officer)
    assert html_lang(client.get("/cases/")) == "zh-CN"
    r = client.post("/lang/en", data={"next": "/cases/"})
    assert r.status_code == 302 and location(r) == "/cases/"
    assert reload(world.officer).locale == "en"
    assert html_lang(client.get("/cases/")) == "en"

    # a new session (another browser, no language cookie) is in English too
    other = sign_in(new_client(), world.officer)
    r = other.get("/cases/")
    assert html_lang(r) == "en"
    # an unknown code does not touch the saved choice
    other.post("/lang/xx")
    assert reload(world.officer).locale == "en"
    # and other users are unaffected
    assert html_lang(sign_in(new_client(), world.officer2).get("/cases/")) == "zh-CN"


def test_language_chosen_before_login_is_kept_on_the_user(client, world):
    client.post("/lang/en")
    assert login(client, "officer").status_code == 302
    assert reload(world.officer).locale == "en"
    assert html_lang(client.get("/cases/")) == "en"


def test_language_chosen_before_login_does_not_override_a_saved_one(client, world):
    user = reload(world.officer)
    user.locale = "zh_Hans_CN"
    _db.session.commit()
    client.post("/lang/en")
    assert login(client, "officer").status_code == 302
    assert reload(world.officer).locale == "zh_Hans_CN"
    assert html_lang(client.get("/cases/")) == "zh-CN"


# ----------------------------------------------------------------------------- redirects


EXTERNAL = ["https://evil.example/", "//evil.example/", "http:evil.example", "/\\evil.example/",
            "/\\/evil.example/", "javascript:alert(1)", "%2F%2Fevil.example%2F",
            pytest.param("/\t/evil.example/", id="tab-in-path"),
            pytest.param("/\n/evil.example/", id="newline-in-path")]


def stays_on_site(r) -> bool:
    """Where a browser would go: it drops tabs and newlines from URLs and reads a backslash
    as a slash in http(s) URLs."""
    loc = re.sub(r"[\t\r\n]", "", r.headers["Location"])
    resolved = urlsplit(urljoin("http://localhost/login", loc.replace("\\", "/")))
    return resolved.scheme == "http" and resolved.netloc == "localhost"


def home_or_encoded_path(r) -> bool:
    """Sent home, or (backslash forms) to a same-site path Werkzeug percent-encoded."""
    loc = r.headers["Location"]
    return loc in ("/", "http://localhost/") or loc.startswith(("/%5C", "/%09", "/%0A"))


@pytest.mark.parametrize("target", EXTERNAL)
def test_login_never_redirects_off_site(client, world, target):
    r = login(client, "officer", next_=target)
    assert r.status_code == 302
    assert stays_on_site(r) and home_or_encoded_path(r), r.headers["Location"]
    if not set("\\\t\n") & set(target):
        assert location(r) == "/"
    assert is_logged_in(client)


@pytest.mark.parametrize("target", EXTERNAL)
def test_language_switch_never_redirects_off_site(client, target):
    r = client.post("/lang/en", data={"next": target})
    assert r.status_code == 302
    assert stays_on_site(r) and home_or_encoded_path(r), r.headers["Location"]
