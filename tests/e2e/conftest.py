"""Browser journeys: a real CaseFlow server on 127.0.0.1 and headless Debian Chromium.

Fixtures (all names are e2e-specific so the root conftest's ``app``/``db``/``client`` stay
untouched for the other tests):

``live_server``  session-scoped: a separate app (CSRF enabled), migrated and seeded, served by
                 werkzeug in a daemon thread; ``.url``, ``.app``, ``.users``, ``.agency_id``
                 (market supervision) and ``.agency_ids`` (``police``, ``procuratorate``,
                 ``jingan``: a second market-supervision agency with its own team and a
                 publisher, so its cases never take numbers from Songjiang's sequence;
                 ``jiading``: a third one for the dual-random inspection journey, with a
                 manager and four inspectors and no case at all; ``jiaxing``: a
                 market-supervision agency of another G60 city, 浙江省嘉兴市, with one
                 inspector, for the joint-action journey; ``ipo``: Songjiang's IP office,
                 知识产权局, with one clerk, for the assistance and mediation journey, the only
                 ``ip_office`` agency, so the public request form needs no office chosen).
                 Songjiang's region is 上海市松江区 (G60 cross-region actions need agencies of
                 two G60 cities).
``browser``      session-scoped Playwright Chromium (/usr/bin/chromium, never downloaded).
``new_context``  makes browser contexts for one test (closed afterwards); on failure every open
                 page is saved as a screenshot under tests/e2e/artifacts/.
``login``        log a page in through the real login form.
"""
from __future__ import annotations

import os
import random
import re
import socket
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from caseflow.core.ids import make_credit_code
from tests.conftest import FAST_ARGON2, PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

AGENCY = {"code": "sj-amr", "kind": "market_supervision", "name": "上海市松江区市场监督管理局",
          "case_prefix": "沪市监松处", "region": "上海市松江区"}
# username → (display name, roles)
USERS = {
    "officer": ("张伟", ["case_officer", "inspector"]),
    "officer2": ("李娜", ["case_officer", "inspector"]),
    "approver": ("王强", ["approver"]),
    "coordinator": ("韩冬", ["coordinator"]),  # runs joint actions (联合执法、G60专项行动)
}
# the recipients of a criminal referral (行刑衔接), each with one user
POLICE = {"code": "sj-police", "kind": "police_econ", "name": "上海市公安局松江分局经济犯罪侦查支队",
          "case_prefix": "沪公松经"}
PROCURATORATE = {"code": "sj-proc", "kind": "procuratorate", "name": "上海市松江区人民检察院",
                 "case_prefix": "沪松检"}
# username → (agency key, display name, roles)
OTHER_USERS = {
    "cop": ("police", "赵刚", ["case_officer"]),
    "prosecutor": ("procuratorate", "陈静", ["inspector"]),
}
# a second market-supervision agency for the publication journey (信用公示); its credit code
# is required as 处罚机关统一社会信用代码 in the 双公示 CSV
JINGAN = {"code": "ja-amr", "kind": "market_supervision", "name": "上海市静安区市场监督管理局",
          "case_prefix": "沪市监静处",
          "credit_code": make_credit_code(random.Random(5), "310106", "11")}
JINGAN_USERS = {
    "ja_officer": ("刘洋", ["case_officer", "inspector"]),
    "ja_officer2": ("周敏", ["case_officer", "inspector"]),
    "ja_approver": ("吴磊", ["approver"]),
    "ja_publisher": ("孙丽", ["publisher"]),
}
# a third market-supervision agency for the dual-random inspection journey (双随机抽查): a
# manager (approver) and four inspectors; the journey's own fixture fills its directory,
# roster and inspection list, so nothing here touches the other agencies
JIADING = {"code": "jd-amr", "kind": "market_supervision", "name": "上海市嘉定区市场监督管理局",
           "case_prefix": "沪市监嘉处"}
JIADING_USERS = {
    "jd_manager": ("林峰", ["approver"]),
    "jd_insp1": ("郑洁", ["inspector"]),
    "jd_insp2": ("冯军", ["inspector"]),
    "jd_insp3": ("何芳", ["inspector"]),
    "jd_insp4": ("高翔", ["inspector"]),
}
# a market-supervision agency of another G60 city for the joint-action journey (G60 跨区域联合
# 执法): Songjiang's coordinator assigns it a task, its inspector reports
JIAXING = {"code": "jx-amr", "kind": "market_supervision", "name": "嘉兴市市场监督管理局",
           "case_prefix": "嘉市监处", "region": "浙江省嘉兴市"}
JIAXING_USERS = {
    "jx_inspector": ("沈佳怡", ["inspector"]),
}
# the district IP office for the assistance and mediation journey (维权援助、知识产权纠纷调解):
# its clerk accepts the public request, assigns a mediator and closes with an agreement
IPO = {"code": "sj-ipo", "kind": "ip_office", "name": "上海市松江区知识产权局", "case_prefix": "沪松知"}
IPO_USERS = {
    "ipo_clerk": ("许静", ["case_officer"]),
}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    from flask_migrate import upgrade
    from werkzeug.serving import make_server

    from caseflow import create_app
    from caseflow.accounts.operations import create_agency, create_user
    from caseflow.extensions import db

    tmp = tmp_path_factory.mktemp("e2e")
    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/e2e.db",
        "INSTANCE_PATH": str(tmp),
        "SECRET_KEY": "e2e",
        "ARGON2_PARAMS": FAST_ARGON2,
        # CSRF stays enabled (the default): the browser must send the real tokens.
    })
    assert app.config.get("WTF_CSRF_ENABLED", True), "e2e runs with CSRF protection on"
    users = {}
    with app.app_context():
        upgrade()
        agency = create_agency(AGENCY["code"], AGENCY["kind"], AGENCY["name"],
                               AGENCY["case_prefix"], region=AGENCY["region"])
        for username, (display, roles) in USERS.items():
            user = create_user(agency, username, PASSWORD, roles, display_name=display)
            users[username] = SimpleNamespace(id=user.id, username=username,
                                              display_name=display, roles=roles)
        others = {key: create_agency(a["code"], a["kind"], a["name"], a["case_prefix"])
                  for key, a in (("police", POLICE), ("procuratorate", PROCURATORATE))}
        for username, (key, display, roles) in OTHER_USERS.items():
            user = create_user(others[key], username, PASSWORD, roles, display_name=display)
            users[username] = SimpleNamespace(id=user.id, username=username,
                                              display_name=display, roles=roles)
        others["jingan"] = create_agency(JINGAN["code"], JINGAN["kind"], JINGAN["name"],
                                         JINGAN["case_prefix"], credit_code=JINGAN["credit_code"])
        for username, (display, roles) in JINGAN_USERS.items():
            user = create_user(others["jingan"], username, PASSWORD, roles, display_name=display)
            users[username] = SimpleNamespace(id=user.id, username=username,
                                              display_name=display, roles=roles)
        others["jiading"] = create_agency(JIADING["code"], JIADING["kind"], JIADING["name"],
                                          JIADING["case_prefix"])
        for username, (display, roles) in JIADING_USERS.items():
            user = create_user(others["jiading"], username, PASSWORD, roles, display_name=display)
            users[username] = SimpleNamespace(id=user.id, username=username,
                                              display_name=display, roles=roles)
        others["jiaxing"] = create_agency(JIAXING["code"], JIAXING["kind"], JIAXING["name"],
                                          JIAXING["case_prefix"], region=JIAXING["region"])
        for username, (display, roles) in JIAXING_USERS.items():
            user = create_user(others["jiaxing"], username, PASSWORD, roles, display_name=display)
            users[username] = SimpleNamespace(id=user.id, username=username,
                                              display_name=display, roles=roles)
        others["ipo"] = create_agency(IPO["code"], IPO["kind"], IPO["name"], IPO["case_prefix"])
        for username, (display, roles) in IPO_USERS.items():
            user = create_user(others["ipo"], username, PASSWORD, roles, display_name=display)
            users[username] = SimpleNamespace(id=user.id, username=username,
                                              display_name=display, roles=roles)
        db.session.commit()
        agency_id = agency.id
        agency_ids = {key: a.id for key, a in others.items()}
        db.session.remove()

    server = make_server("127.0.0.1", _free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-server", daemon=True)
    thread.start()
    try:
        yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}", app=app,
                              users=users, agency_id=agency_id, agency_ids=agency_ids,
                              password=PASSWORD)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        with app.app_context():
            db.engine.dispose()


MISSING_CHROMIUM = (f"{CHROMIUM} is missing: the browser journeys need Debian's Chromium "
                    "(the setup installs it: apt-get install chromium). "
                    "Do not run `playwright install`; no browser can be downloaded.")


@pytest.fixture(scope="session")
def browser():
    """The launched Chromium, or None when it is missing (``new_context`` then fails the test
    itself, so the run reports FAILED with MISSING_CHROMIUM rather than a skip)."""
    if not os.path.exists(CHROMIUM):
        yield None
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


@pytest.fixture()
def new_context(browser, live_server, request):
    """``new_context(**kwargs)`` → a fresh BrowserContext (own cookies) on the live server."""
    from playwright.sync_api import expect

    expect.set_options(timeout=10_000)
    contexts = []

    def make(**kwargs):
        if browser is None:
            pytest.fail(MISSING_CHROMIUM, pytrace=False)
        kwargs.setdefault("base_url", live_server.url)
        kwargs.setdefault("locale", "zh-CN")
        ctx = browser.new_context(**kwargs)
        ctx.set_default_timeout(10_000)
        contexts.append(ctx)
        return ctx

    yield make

    rep = getattr(request.node, "rep_call", None)
    failed = rep is not None and (rep.failed or hasattr(rep, "wasxfail"))
    if failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        for ci, ctx in enumerate(contexts):
            for pi, page in enumerate(ctx.pages):
                try:
                    page.screenshot(path=str(ARTIFACTS / f"{name}-ctx{ci}-page{pi}.png"),
                                    full_page=True)
                except Exception:  # a crashed page must not hide the real failure
                    pass
    for ctx in contexts:
        ctx.close()


def _code(secret: str) -> str:
    import datetime as dt

    from caseflow.accounts import totp

    return totp.code_at(secret, dt.datetime.now(dt.timezone.utc))


def _stored_code(app, username: str) -> str:
    """A code for an enrolled user; the last accepted step is forgotten first, since the
    journeys log the same person in again within one 30-second step."""
    from caseflow.accounts import totp
    from caseflow.accounts.models import User
    from caseflow.extensions import db

    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.username == username))
        user.totp_last_step = None
        db.session.commit()
        secret = totp.decrypt(user.totp_secret, app.config["SECRET_KEY"])
        db.session.remove()
    return _code(secret)


@pytest.fixture()
def login(live_server):
    """Log ``page`` in as ``username`` through the login form; lands on the case list."""
    from playwright.sync_api import expect

    def do(page, username):
        page.goto("/login")
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(live_server.password)
        page.get_by_role("button", name="登录", exact=True).click()
        # administrators and approvers then give their one-time code (first: set up the app)
        expect(page.locator("header .who, #totp-secret, #code-form").first).to_be_visible()
        if "/login/enrol" in page.url:
            secret = page.locator("#totp-secret").get_attribute("data-secret")
            page.locator("#code").fill(_code(secret))
            page.locator("#enrol-form button[type=submit]").click()
        elif "/login/code" in page.url:
            page.locator("#code").fill(_stored_code(live_server.app, username))
            page.locator("#code-form button[type=submit]").click()
        expect(page.locator("header .who")).to_contain_text(
            live_server.users[username].display_name)
        return page

    return do
