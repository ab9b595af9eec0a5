"""Every route has an explicit permission, and the checks fail closed.

* Every endpoint of ``app.url_map`` is either in ``PUBLIC`` (reachable without login, each
  with the reason) or refuses an anonymous request with every method it allows: 302 to the
  login page for the screens, 401 for the API; nothing is written. A new endpoint without a
  rule fails the test by name (and a self-check proves the sweep notices one).
* Credentials do not cross channels: a bearer token opens no screen, a session cookie no API.
* Users without a case role (auditor, sys_admin) get nothing out of the case screens: every
  GET that answers them with 2xx is listed in ``ROLE_FREE`` with the reason, no page shows
  anything of the agency's data, and every POST/PUT/DELETE of theirs is refused and writes
  nothing.
* Mass assignment: the case edit form, the API update and clue creation (API, mobile, form)
  never set protected columns (state, owner agency, number, creator, lead officer…).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import time
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from caseflow.cases import operations as cops
from caseflow.cases.models import Case
from caseflow.cases.schemas import ClueIn, OfficersIn
from caseflow.core.timeutil import today_local
from caseflow.extensions import db as _db
from tests.conftest import clue_payload, valid_credit_code

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

#: Endpoints anonymous users may reach, each with the reason.
PUBLIC = {
    "accounts.login": "the login page itself",
    "accounts.second_factor": "login step 2 (one-time code): only after the right password, "
                              "otherwise back to the login page",
    "accounts.enrol_second_factor": "login step 2 for a first login (set up the authenticator "
                                    "app): only after the right password",
    "core.index": "redirects to the login page (anonymous) or the case list; shows nothing",
    "core.set_language": "language switch (also on the login page): the session's choice, and "
                         "the user's own locale when logged in",
    "api.issue_token": "API login: trades a username and password for a bearer token",
    "api.openapi": "the API description (README §API); contains no data",
    "mobile.service_worker": "static JavaScript of the offline mobile page (no data)",
    "mediation.public_request": "维权援助 public request form (README: no login)",
    "mediation.public_status": "public receipt-code lookup (throttled, shows the stage only)",
    "penalties.public": "行政处罚信息公示: published penalties, redacted (README: no login)",
    "inspections.public": "双随机、一公开: published inspection results (README: no login)",
    "inspections.public_draw": "a draw's commitment and seed, for anyone to replay (README)",
    "health.healthz": "liveness check for load balancers: answers \"ok\", reads no data",
}

#: GET pages a user without any case role may open (2xx), each with the reason. Everything
#: else answers them 403/404.
_OWN = {
    "core.help_page": "static help text, no data",
    "reminders.inbox": "reminders addressed to the user only (none about cases for this role)",
    "accounts.tokens": "the user's own API tokens (agency-wide list for agency_admin only)",
    "api.list_tokens": "JSON of the user's own API tokens (?scope=agency needs agency_admin)",
    "mobile.csrf": "a fresh CSRF token for the user's own session, no data",
    "accounts.change_password": "the user's own password form, no data",
}
ROLE_FREE = {
    "auditor": {**_OWN,
                "security.audit_log": "the audit log: the audit administrator's own screen; "
                                      "no case details, only who/what/when/result",
                "security.audit_export": "the same records as CSV"},
    "sec_admin": {**_OWN,
                  "security.users": "accounts and roles: the security administrator's screen",
                  "security.user": "one account's roles and state (no case data)"},
    "sys_admin": {**_OWN,
                  "admin.calendar": "holiday calendar: the system administrator's own screen",
                  "admin.thresholds": "criminal thresholds: the system administrator's own screen"},
}

#: Tables whose rows an anonymous or refused request may legitimately add.
UNCHECKED_TABLES = {"audit_event", "audit_head", "login_session"}

BUSINESS_CODE = valid_credit_code(11)
MARK = "ZQXPERMMARK"  # in the seeded case's texts: must never show to a role-less user

_ARG = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")


# ----------------------------------------------------------------------------- helpers


def routes(app):
    """[(endpoint, rule, methods)] of every rule but static files."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        out.append((rule.endpoint, rule, [m for m in METHODS if m in rule.methods]))
    return sorted(out, key=lambda x: (x[1].rule, x[0]))


def build(rule, ids: dict | None = None) -> str:
    """The rule's URL with dummy values: int → 1 (or a seeded id by argument name),
    any(...) → its first choice, everything else → "x"."""
    ids = ids or {}

    def value(m):
        conv, args, name = m.group(1), m.group(2), m.group(3)
        if conv == "int":
            return str(ids.get(name, 1))
        if conv == "any":
            return args.split(",")[0].strip().strip("'\"")
        return str(ids.get(name, "x"))

    return _ARG.sub(value, rule.rule)


def snapshot() -> dict:
    """Every row of every table (but the audit chain and login sessions), as text."""
    _db.session.rollback()
    out = {}
    for table in _db.metadata.sorted_tables:
        if table.name in UNCHECKED_TABLES:
            continue
        out[table.name] = sorted(repr(tuple(r)) for r in _db.session.execute(select(table)))
    _db.session.rollback()
    return out


def changed_tables(before: dict, after: dict) -> list[str]:
    return [t for t in before if before[t] != after[t]]


def refused_anonymously(path: str, resp) -> str | None:
    """None when the answer refuses an anonymous caller, else what is wrong."""
    if path.startswith("/api/"):
        return None if resp.status_code == 401 else f"{resp.status_code}, expected 401"
    if resp.status_code == 302 and urlsplit(resp.headers.get("Location", "")).path == "/login":
        return None
    return f"{resp.status_code} {resp.headers.get('Location', '')}, expected 302 to /login"


def send(client, method: str, path: str, headers=None):
    kwargs = {"method": method, "headers": headers or {}}
    if method != "GET":
        if path.startswith("/api/") or path.startswith("/m/"):
            kwargs["json"] = {}
        else:
            kwargs["data"] = {"version": "1"}
    return client.open(path, **kwargs)


def session_client(app, user):
    """A client logged in as ``user`` (server-side session, no password round trip)."""
    from caseflow.accounts.operations import start_session

    sess = start_session(user)
    _db.session.commit()
    client = app.test_client()
    with client.session_transaction() as s:
        s["_user_id"] = sess.id
        s["seen"] = int(time.time())
        s["_fresh"] = True
    return client


def bearer(user) -> dict:
    from caseflow.accounts.operations import issue_api_token

    token, _row = issue_api_token(user)
    _db.session.commit()
    return {"Authorization": f"Bearer {token}"}


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture()
def seeded(world, make_agency, make_user):
    """A case of Songjiang AMR (texts carry MARK) with evidence, a referral to the police,
    a joint action and a mediation request; ids by URL argument name."""
    from caseflow.accounts.operations import issue_api_token
    from caseflow.actions import operations as aops
    from caseflow.cases.schemas import TransitionIn
    from caseflow.evidence.operations import add_evidence
    from caseflow.inspections import operations as iops
    from caseflow.inspections.models import Business
    from caseflow.mediation import operations as mops
    from caseflow.referrals import operations as rops
    from tests.mediation.conftest import request_data

    police = make_agency("sj-police", "police_econ", "上海市公安局松江分局", "沪公松经")
    proc = make_agency("sj-proc", "procuratorate", "上海市松江区人民检察院", "沪松检")
    ipo = make_agency("sj-ipo", "ip_office", "上海市松江区知识产权局", "沪松知")
    world.coord = make_user(world.amr, "coord", ["coordinator"])
    world.sysadmin = make_user(world.amr, "sysadmin", ["sys_admin"])
    world.secadmin = make_user(world.amr, "secadmin", ["sec_admin"])
    make_user(ipo, "clerk", ["case_officer"])  # the office that takes public requests
    payload = clue_payload(title=f"案件{MARK}", description=f"描述{MARK}",
                           reporter_name=f"举报人{MARK}",
                           parties=[{"kind": "business", "name": f"商行{MARK}",
                                     "credit_code": valid_credit_code(7)}])
    case = cops.create_clue(world.officer, ClueIn.model_validate(payload))
    cops.assign_officers(world.officer, case, OfficersIn(
        version=case.version, officer_ids=[world.officer.id, world.officer2.id]))
    data = b"\x89PNG\r\n\x1a\n" + MARK.encode()
    ev = add_evidence(world.officer, case, FileStorage(io.BytesIO(data), filename="photo.png"),
                      {"sha256": hashlib.sha256(data).hexdigest(),
                       "captured_at": "2026-01-05T09:00:00+08:00",
                       "description": f"现场照片{MARK}"})
    cops.perform(world.officer, case, TransitionIn(action="accept"))
    referral = rops.propose_referral(
        world.officer, case, team_ids=[u.id for u in case.officers], report=f"移送报告{MARK}",
        suspected_crime="214", police_agency_id=police.id, procuratorate_id=proc.id,
        package={i: {"done": True} for i in ("transfer_letter", "investigation_report",
                                             "items_list", "inspection_report")})
    doc = rops.add_document(world.officer, referral, "transfer_letter", FileStorage(
        io.BytesIO(b"%PDF-1.4 " + MARK.encode()), filename=f"{MARK}.pdf"))
    today = today_local()
    action = aops.create_action(world.coord, {
        "name": f"行动{MARK}", "kind": "special", "objectives": f"目标{MARK}",
        "participants": [], "period_start": (today - dt.timedelta(days=10)).isoformat(),
        "period_end": (today + dt.timedelta(days=60)).isoformat()})
    req = mops.submit_public(request_data(summary=f"请求调解{MARK}"))
    # dual-random inspections: an item, a business of the directory, a roster entry
    iops.add_item(world.approver, {"code": "PERM-1", "name": f"检查事项{MARK}", "kind": "key"})
    biz = Business(agency_id=world.amr.id, credit_code=BUSINESS_CODE, name=f"企业{MARK}")
    _db.session.add(biz)
    entry = iops.add_to_roster(world.approver, "inspector", "")
    _token, officer_token = issue_api_token(world.officer)  # token_id: not the caller's
    _db.session.commit()
    ids = {"case_id": case.id, "evidence_id": ev.id, "referral_id": referral.id,
           "doc_id": doc.id, "action_id": action.id, "request_id": req.id,
           "entry_id": entry.id, "token_id": officer_token.id}
    return world, case, ids


# ----------------------------------------------------------------------------- 1 + 2


def anonymous_sweep(app, ids: dict, only=None) -> tuple[int, int, list[str]]:
    """Request every non-public endpoint with each of its methods, without a session or a
    token. Returns (requests, refused, problems)."""
    client = app.test_client()
    n_requests = n_denied = 0
    unprotected = []
    for endpoint, rule, methods in routes(app):
        if endpoint in PUBLIC or (only is not None and endpoint not in only):
            continue
        path = build(rule, ids)
        for method in methods:
            r = send(client, method, path)
            n_requests += 1
            problem = refused_anonymously(path, r)
            if problem:
                unprotected.append(f"{endpoint} {method} {path}: {problem}")
            else:
                n_denied += 1
    return n_requests, n_denied, unprotected


def test_every_route_is_public_by_name_or_refuses_anonymous_callers(app, seeded):
    world, case, ids = seeded
    all_routes = routes(app)
    stale = sorted(set(PUBLIC) - {e for e, _r, _m in all_routes})
    assert not stale, f"PUBLIC lists endpoints that no longer exist: {stale}"

    before = snapshot()
    n_requests, n_denied, unprotected = anonymous_sweep(app, ids)
    after = snapshot()
    assert not unprotected, ("routes without a permission rule (add one, or list the endpoint "
                             "in PUBLIC with the reason):\n" + "\n".join(unprotected))
    assert not changed_tables(before, after), \
        f"anonymous requests changed {changed_tables(before, after)}"
    assert n_requests == n_denied > 100
    # public pages answer anonymous callers without a server error
    client = app.test_client()
    for endpoint, rule, methods in all_routes:
        if endpoint in PUBLIC and "GET" in methods:
            r = client.get(build(rule, ids))
            assert r.status_code < 500, (endpoint, r.status_code)
    print(f"route permissions: {len(all_routes)} routes, {n_requests} anonymous requests, "
          f"{n_denied} refused, {len(unprotected)} unprotected")


def test_the_sweep_names_a_new_route_without_a_rule(app, db):
    """The guard itself: an endpoint added without a rule is reported by name."""
    from caseflow import create_app
    from caseflow.extensions import login_manager

    # create_app re-registers the (module-global) login loaders bound to the new app: keep
    # the session app's ones and put them back afterwards
    saved = (login_manager._user_callback, login_manager._request_callback)
    try:
        other = create_app({**{k: app.config[k] for k in (
            "SQLALCHEMY_DATABASE_URI", "ARGON2_PARAMS", "SECRET_KEY")},
            "TESTING": True, "WTF_CSRF_ENABLED": False, "INSTANCE_PATH": app.instance_path})
        other.add_url_rule("/cases/<int:case_id>/forgotten", "cases_forgotten",
                           lambda case_id: "case data", methods=["GET", "POST"])
        other.add_url_rule("/api/v1/forgotten", "api_forgotten", lambda: {"items": []})
        _n, _d, problems = anonymous_sweep(other, {}, only={"cases_forgotten", "api_forgotten"})
    finally:
        login_manager._user_callback, login_manager._request_callback = saved
    assert [p.split(":")[0] for p in problems] == [
        "api_forgotten GET /api/v1/forgotten", "cases_forgotten GET /cases/1/forgotten",
        "cases_forgotten POST /cases/1/forgotten"]


def test_credentials_do_not_cross_channels(app, seeded):
    """A bearer token logs nobody into the screens; a session cookie logs nobody into the API
    (which would bypass CSRF protection). The officer may do everything, so any 2xx is a leak."""
    world, case, ids = seeded
    cookie = session_client(app, world.officer)
    token = bearer(world.officer)
    before = snapshot()
    problems = []
    for endpoint, rule, methods in routes(app):
        if endpoint in PUBLIC:
            continue
        path = build(rule, ids)
        for method in methods:
            if path.startswith("/api/"):
                r = send(cookie, method, path)  # session cookie only
            else:
                r = send(app.test_client(), method, path, headers=token)  # token only
            problem = refused_anonymously(path, r)
            if problem:
                problems.append(f"{endpoint} {method} {path}: {problem}")
    assert not problems, "\n".join(problems)
    assert not changed_tables(before, snapshot())


# ----------------------------------------------------------------------------- 3


@pytest.mark.parametrize("role", ["auditor", "sys_admin", "sec_admin"])
def test_users_without_case_roles_get_nothing(app, seeded, role):
    world, case, ids = seeded
    user = {"auditor": world.auditor, "sys_admin": world.sysadmin, "sec_admin": world.secadmin}[role]
    assert user.roles == {role}
    client = session_client(app, user)
    headers = bearer(user)
    before = snapshot()
    opened, leaks = {}, []
    for endpoint, rule, methods in routes(app):
        if endpoint in PUBLIC or "GET" not in methods:
            continue
        path = build(rule, ids)
        r = client.get(path, headers=headers if path.startswith("/api/") else {})
        assert r.status_code < 500, (endpoint, path, r.status_code)
        if 200 <= r.status_code < 300:
            opened[endpoint] = path
            if MARK.encode() in r.data:
                leaks.append(f"{endpoint} {path}")
    assert not leaks, f"{role} sees case data on: {leaks}"
    unexpected = sorted(set(opened) - set(ROLE_FREE[role]))
    assert not unexpected, (f"{role} (no case role) opens {[(e, opened[e]) for e in unexpected]}: "
                            "refuse it, or list it in ROLE_FREE with the reason")
    stale = sorted(set(ROLE_FREE[role]) - set(opened))
    assert not stale, f"ROLE_FREE[{role!r}] lists pages the {role} cannot open: {stale}"
    assert not changed_tables(before, snapshot())


#: Non-GET endpoints a role-less user may use: on their own session only.
SELF_SERVICE = {
    "accounts.logout": "ends the caller's own session only (and would end the sweep's)",
    "accounts.change_password": "the caller's own password (the sweep's wrong current password "
                                "is refused with 422 and writes only the refusal's audit record)",
}

#: Bodies that pass validation where the default one would not, so a missing role check
#: shows as a write rather than hiding behind a 422.
BODIES = {
    "inspections.conflict": {"business": BUSINESS_CODE, "reason": "曾任该企业法律顾问"},
}


@pytest.mark.parametrize("role", ["auditor", "sys_admin", "sec_admin"])
def test_users_without_case_roles_change_nothing(app, seeded, role):
    """Every POST/PUT/DELETE by a user without a case role is refused: never 2xx, never a
    page showing the agency's data, and nothing written (sys_admin's own admin screens
    excepted: ROLE_FREE)."""
    world, case, ids = seeded
    user = {"auditor": world.auditor, "sys_admin": world.sysadmin, "sec_admin": world.secadmin}[role]
    client = session_client(app, user)
    headers = bearer(user)
    problems = []
    n = 0
    for endpoint, rule, methods in routes(app):
        if endpoint in PUBLIC or endpoint in SELF_SERVICE or endpoint in ROLE_FREE[role]:
            continue
        path = build(rule, ids)
        for method in methods:
            if method == "GET":
                continue
            h = headers if path.startswith("/api/") else {}
            bodies = [None] + ([BODIES[endpoint]] if endpoint in BODIES else [])
            for body in bodies:
                before = snapshot()
                if body is None:
                    r = send(client, method, path, headers=h)
                else:
                    r = client.open(path, method=method, data=body, headers=h)
                n += 1
                wrong = []
                if 200 <= r.status_code < 300 or r.status_code >= 500:
                    wrong.append(f"status {r.status_code}")
                if MARK.encode() in r.data:
                    wrong.append("answers with a page showing the agency's data")
                if r.status_code in (301, 302, 303) \
                        and urlsplit(r.headers["Location"]).path == "/login":
                    wrong.append("logged out: the sweep lost its session")
                changed = changed_tables(before, snapshot())
                if changed:
                    wrong.append(f"wrote {changed}")
                if wrong:
                    problems.append(f"{endpoint} {method} {path} body={body}: {r.status_code}: "
                                    + ", ".join(wrong))
    assert n > 50
    assert not problems, f"{role} (no case role):\n" + "\n".join(problems)


# ----------------------------------------------------------------------------- 4


PROTECTED = ("owner_agency_id", "state", "number", "created_by_id", "lead_officer_id",
             "pending_action", "pending_by_id", "filed_on", "fine_amount", "state_reason")


def protected_of(case_id: int) -> dict:
    _db.session.rollback()
    case = _db.session.get(Case, case_id)
    _db.session.refresh(case)
    return {**{c: getattr(case, c) for c in PROTECTED}, "id": case.id, "version": case.version,
            "officers": [u.id for u in case.officers]}


def extras(world, version: int) -> dict:
    """Fields no form or payload may set, with values an attacker would want."""
    return {"state": "closed", "owner_agency_id": world.culture.id, "agency_id": world.culture.id,
            "created_by_id": world.other.id, "number": "伪造〔2026〕9999号", "roles": "sys_admin",
            "lead_officer_id": world.other.id, "pending_action": "close", "filed_on": "2020-01-01",
            "fine_amount": "1", "id": 999, "officer_ids": [world.other.id], "version": version}


def edit_form(case: Case) -> dict:
    form = {"title": case.title, "channel": case.channel, "ip_type": case.ip_type,
            "received_at": case.received_on.isoformat(), "description": case.description,
            "location": case.location, "version": str(case.version)}
    for i, p in enumerate(case.parties):
        form.update({f"parties-{i}-kind": p.kind, f"parties-{i}-name": p.name,
                     f"parties-{i}-credit_code": p.credit_code or "",
                     f"parties-{i}-id_number": p.id_number or ""})
    return form


def test_case_edit_form_ignores_protected_fields(app, world, make_case, login_as):
    case = make_case()
    before = protected_of(case.id)
    roles_before = set(world.officer.roles)
    client = login_as(app.test_client(), "officer")
    form = {**edit_form(case), **{k: str(v) if not isinstance(v, list) else [str(x) for x in v]
                                  for k, v in extras(world, case.version).items()},
            "parties-0-case_id": str(999), "title": "某商行涉嫌销售假冒商品（已核实地址）"}
    r = client.post(f"/cases/{case.id}/edit", data=form)
    assert r.status_code == 302, r.text[:800]  # the edit itself is accepted…
    after = protected_of(case.id)
    assert _db.session.get(Case, case.id).title == "某商行涉嫌销售假冒商品（已核实地址）"
    # …and nothing protected moved; the version moved on (the save), as the lock wants
    assert {k: after[k] for k in before if k != "version"} == \
        {k: before[k] for k in before if k != "version"}
    assert after["version"] > before["version"]
    assert _db.session.scalar(select(Case.id).where(Case.id == 999)) is None
    _db.session.refresh(world.officer)
    assert set(world.officer.roles) == roles_before


def test_api_case_update_refuses_protected_fields(app, world, make_case, api_headers):
    case = make_case()
    headers = api_headers(app.test_client(), "officer")
    client = app.test_client()
    current = client.get(f"/api/v1/cases/{case.id}", headers=headers).json
    body = {k: current[k] for k in ("title", "channel", "ip_type", "description", "location",
                                    "infringement_kind", "trademark_numbers", "is_major",
                                    "version")}
    body["received_at"] = current["received_at"]
    body["parties"] = current["parties"]
    body["amounts"] = current["amounts"]
    before = protected_of(case.id)
    for method in ("PATCH", "POST"):  # only PUT updates
        assert client.open(f"/api/v1/cases/{case.id}", method=method, json=body,
                           headers=headers).status_code == 405
    r = client.put(f"/api/v1/cases/{case.id}", json={**body, **extras(world, body["version"]),
                                                     "title": "改标题"}, headers=headers)
    assert r.status_code == 422, r.text  # unknown fields are refused, not ignored
    assert set(r.json["errors"]) >= {"state", "owner_agency_id", "number", "created_by_id"}
    assert protected_of(case.id) == before
    assert _db.session.get(Case, case.id).title != "改标题"
    # the same update without the extra fields goes through (the test sends a valid body)
    r = client.put(f"/api/v1/cases/{case.id}", json={**body, "title": "改标题"}, headers=headers)
    assert r.status_code == 200, r.text
    after = protected_of(case.id)
    assert after["version"] > before["version"]
    assert {k: after[k] for k in before if k != "version"} == \
        {k: before[k] for k in before if k != "version"}


def test_clue_creation_takes_agency_state_and_creator_from_the_caller(app, world, api_headers,
                                                                     login_as):
    forged = extras(world, 1)
    forged.pop("version")
    headers = api_headers(app.test_client(), "officer")
    api = app.test_client()
    # API and mobile: unknown fields are refused
    r = api.post("/api/v1/cases", json={**clue_payload(), **forged}, headers=headers)
    assert r.status_code == 422, r.text
    assert set(r.json["errors"]) >= {"state", "owner_agency_id", "number", "created_by_id"}
    browser = login_as(app.test_client(), "officer")
    r = browser.post("/m/clues", json={**clue_payload(), **forged})
    assert r.status_code == 422, r.text
    assert _db.session.scalar(select(func.count()).select_from(Case)) == 0
    # accepted without them: a clue of the caller's agency, created by the caller
    r = api.post("/api/v1/cases", json=clue_payload(title="API登记的线索"), headers=headers)
    assert r.status_code == 201, r.text
    # the HTML form ignores what it does not know
    p = clue_payload(title="表单登记的线索")
    form = {"title": p["title"], "channel": p["channel"], "ip_type": p["ip_type"],
            "received_at": p["received_at"], "description": p["description"],
            "parties-0-kind": "business", "parties-0-name": p["parties"][0]["name"],
            "parties-0-credit_code": p["parties"][0]["credit_code"],
            **{k: str(v) if not isinstance(v, list) else [str(x) for x in v]
               for k, v in forged.items()}}
    r = browser.post("/cases/new", data=form)
    assert r.status_code == 302, r.text[:800]
    _db.session.rollback()
    cases = _db.session.scalars(select(Case).order_by(Case.id)).all()
    assert [c.title for c in cases] == ["API登记的线索", "表单登记的线索"]
    for c in cases:
        assert (c.owner_agency_id, c.state, c.created_by_id, c.number, c.pending_action,
                c.filed_on) == (world.amr.id, "clue", world.officer.id, None, None, None), c.title
        assert c.lead_officer_id in (None, world.officer.id), c.title  # never the forged one
        assert c.id != 999 and world.other not in c.officers
