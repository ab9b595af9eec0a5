"""Agency isolation: a case is visible only to case-working users of the agency that owns it.

Every way in -- HTML pages, HTML forms, the JSON API, lists, counts, search -- must answer
404 (never 403, which would confirm the case exists) or leave the case out. Users holding only
a separated admin role (三员分立: sys_admin, sec_admin, auditor) see no case data at all.

Logins here use server-side sessions and tokens created directly (``browser_login``,
``bearer``): the subject is visibility, and the login endpoints are covered (and broken on
PostgreSQL) in tests/api/test_api.py.
"""
from __future__ import annotations

import re
import time

import pytest
from flask import g, request_started
from sqlalchemy import func, select

from caseflow.accounts import operations as accounts
from caseflow.cases import messages, operations as ops, queries
from caseflow.cases.models import Case, CaseEvent
from caseflow.core.errors import NotFound
from caseflow.extensions import db as _db
from tests.conftest import clue_payload, valid_credit_code

API = "/api/v1"
AMR_TITLE = "松江某商行涉嫌销售假冒注册商标的运动鞋"
AMR_CODE = "11230500001755309F"
AMR_PARTY = "上海泗泾某某鞋业商行"
CULTURE_TITLE = "某网吧传播未经授权的影视作品"


@pytest.fixture(autouse=True)
def _fresh_g_per_request(app):
    """Give every test-client request an empty ``g``, as a real request has.

    conftest's ``db`` fixture keeps an app context pushed and Flask reuses it for test-client
    requests, so ``g`` -- where Flask-Login caches the current user -- would otherwise carry
    one request's user into the next one.
    """
    def clear(sender, **extra):
        for name in list(vars(g)):
            delattr(g, name)

    request_started.connect(clear, app)
    yield
    request_started.disconnect(clear, app)


@pytest.fixture()
def bearer(db):
    def headers(user):
        token, _ = accounts.issue_api_token(user)
        db.session.commit()
        return {"Authorization": f"Bearer {token}"}

    return headers


@pytest.fixture()
def browser_login(app, db):
    """A test client logged in with a server-side session, as the /login view does."""
    def login(user):
        client = app.test_client()
        sess = accounts.start_session(user)
        db.session.commit()
        with client.session_transaction() as s:
            s["_user_id"] = sess.id
            s["seen"] = int(time.time())  # signed in just now (idle timeout)
            s["_fresh"] = True
        return client

    return login


@pytest.fixture()
def amr_case(make_case):
    return make_case(title=AMR_TITLE, parties=[{"kind": "business", "name": AMR_PARTY,
                                                "credit_code": AMR_CODE}])


@pytest.fixture()
def culture_case(world, make_case):
    return make_case(user=world.other, officers=False, title=CULTURE_TITLE, ip_type="copyright",
                     channel="inspection", parties=[{"kind": "business", "name": "松江某网吧",
                                                     "credit_code": valid_credit_code(99)}])


def snapshot(case: Case) -> tuple:
    _db.session.expire_all()
    c = _db.session.get(Case, case.id)
    return (c.state, c.version, c.title, [o.id for o in c.officers], c.pending_action,
            len(c.events))


def _row_link(case: Case) -> str:
    """The link a case's row in the HTML list points to."""
    return f'href="/cases/{case.id}"'


def _edit_form(case: Case) -> dict:
    return {"title": "被他人篡改的标题", "channel": "report", "ip_type": "trademark",
            "received_at": case.received_on.isoformat(), "version": str(case.version),
            "parties-0-kind": "business", "parties-0-name": AMR_PARTY,
            "parties-0-credit_code": AMR_CODE}


#: id → (method, path, form builder, status for the owning agency's officer)
HTML_REQUESTS = {
    "detail": ("GET", "/cases/{id}", None, 200),
    "edit_page": ("GET", "/cases/{id}/edit", None, 200),
    "edit_save": ("POST", "/cases/{id}/edit", _edit_form, 302),
    "action": ("POST", "/cases/{id}/actions",
               lambda c: {"action": "accept", "version": str(c.version)}, 302),
    "assign_officers": ("POST", "/cases/{id}/officers",
                        lambda c: {"version": str(c.version), "officer_ids": []}, 302),
}


def _html_request(client, world, case, name):
    method, path, form, _ = HTML_REQUESTS[name]
    data = form(case) if form else None
    if name == "assign_officers":
        data["officer_ids"] = [str(world.officer2.id), str(world.officer.id)]
    return client.open(path.format(id=case.id), method=method, data=data)


@pytest.mark.parametrize("name", sorted(HTML_REQUESTS))
def test_other_agency_gets_404_on_html_pages(world, amr_case, browser_login, name):
    client = browser_login(world.other)
    before = snapshot(amr_case)
    r = _html_request(client, world, amr_case, name)
    assert r.status_code == 404
    assert AMR_TITLE not in r.text and AMR_CODE not in r.text
    assert snapshot(amr_case) == before


@pytest.mark.parametrize("name", sorted(HTML_REQUESTS))
def test_owning_agency_can_use_the_same_pages(world, amr_case, browser_login, name):
    """Positive control: the requests above are well-formed and work for the owner."""
    client = browser_login(world.officer)
    before = snapshot(amr_case)
    r = _html_request(client, world, amr_case, name)
    assert r.status_code == HTML_REQUESTS[name][3], r.text[:500]
    if r.status_code == 200:
        assert AMR_TITLE in r.text
    else:
        assert snapshot(amr_case) != before  # the POST changed the case


def test_html_detail_404_looks_like_a_missing_case(world, amr_case, browser_login):
    client = browser_login(world.other)
    hidden = client.get(f"/cases/{amr_case.id}")
    missing = client.get(f"/cases/{amr_case.id + 1000}")
    assert hidden.status_code == missing.status_code == 404
    # the CSRF token in the page is re-signed with the current second: ignore it
    strip = lambda t: re.sub(r'name="csrf_token" value="[^"]*"', "", t)  # noqa: E731
    assert strip(hidden.text.replace(f"/cases/{amr_case.id}?", "")) == \
        strip(missing.text.replace(f"/cases/{amr_case.id + 1000}?", ""))


def test_isolation_is_symmetric(world, culture_case, amr_case, browser_login, bearer):
    assert browser_login(world.officer).get(f"/cases/{culture_case.id}").status_code == 404
    assert browser_login(world.other).get(f"/cases/{culture_case.id}").status_code == 200
    client = browser_login(world.officer)
    assert client.get(f"{API}/cases/{culture_case.id}",
                      headers=bearer(world.officer)).status_code == 404


def _api_requests(case: Case) -> dict:
    return {
        "get": ("GET", f"{API}/cases/{{id}}", None),
        "timeline": ("GET", f"{API}/cases/{{id}}/timeline", None),
        "put": ("PUT", f"{API}/cases/{{id}}",
                clue_payload(title="被他人篡改的标题", version=case.version,
                             parties=[{"kind": "business", "name": AMR_PARTY,
                                       "credit_code": AMR_CODE}])),
        "transition": ("POST", f"{API}/cases/{{id}}/transitions",
                       {"action": "accept", "version": case.version}),
    }


def _has_timeline(app) -> bool:
    return any(r.rule == "/api/v1/cases/<int:case_id>/timeline" for r in app.url_map.iter_rules())


def _skip_without_route(app, name):
    if name == "timeline" and not _has_timeline(app):
        pytest.skip("no timeline endpoint in this version of the API")


@pytest.mark.parametrize("name", ["get", "timeline", "put", "transition"])
def test_other_agency_gets_404_from_the_api(app, client, world, amr_case, bearer, name):
    _skip_without_route(app, name)
    method, path, body = _api_requests(amr_case)[name]
    headers = bearer(world.other)
    before = snapshot(amr_case)
    r = client.open(path.format(id=amr_case.id), method=method, json=body, headers=headers)
    assert r.status_code == 404
    assert AMR_TITLE not in r.text and AMR_CODE not in r.text
    # the same answer as for an id that does not exist: no way to tell the case is there
    missing = client.open(path.format(id=amr_case.id + 1000), method=method, json=body,
                          headers=headers)
    assert (missing.status_code, missing.json) == (404, r.json)
    assert snapshot(amr_case) == before


@pytest.mark.parametrize("name", ["get", "timeline", "put", "transition"])
def test_owning_agency_gets_the_case_from_the_api(app, client, world, amr_case, bearer, name):
    """Positive control for the test above."""
    _skip_without_route(app, name)
    method, path, body = _api_requests(amr_case)[name]
    r = client.open(path.format(id=amr_case.id), method=method, json=body,
                    headers=bearer(world.officer))
    assert r.status_code == 200, r.text
    if name == "timeline":
        assert [e["action"] for e in r.json["items"]][:1] == ["create"]
    else:
        assert r.json["id"] == amr_case.id and r.json["timeline"]


def test_lists_and_counts_show_only_the_own_agency(world, amr_case, culture_case, drive,
                                                   browser_login, bearer, client):
    drive(amr_case, "accept")
    other = client.get(f"{API}/cases", headers=bearer(world.other)).json
    assert [i["id"] for i in other["items"]] == [culture_case.id]
    assert other["counts"] == {"clue": 1}
    mine = client.get(f"{API}/cases", headers=bearer(world.officer)).json
    assert [i["id"] for i in mine["items"]] == [amr_case.id]
    assert mine["counts"] == {"verifying": 1}
    for state in ("verifying", "clue"):
        r = client.get(f"{API}/cases?state={state}", headers=bearer(world.other)).json
        assert amr_case.id not in [i["id"] for i in r["items"]]
        assert r["counts"] == {"clue": 1}
    page = browser_login(world.other).get("/cases/")
    assert page.status_code == 200
    assert CULTURE_TITLE in page.text and _row_link(culture_case) in page.text
    assert AMR_TITLE not in page.text and _row_link(amr_case) not in page.text
    page = browser_login(world.officer).get("/cases/")
    assert AMR_TITLE in page.text and _row_link(amr_case) in page.text
    assert CULTURE_TITLE not in page.text and _row_link(culture_case) not in page.text


@pytest.mark.parametrize("query", ["title", "title_part", "party_name", "credit_code", "number",
                                   "officer"])
def test_search_finds_nothing_across_agencies(world, amr_case, culture_case, drive, client,
                                              browser_login, bearer, query):
    drive(amr_case, "accept", "file")
    params = {"title": {"q": AMR_TITLE}, "title_part": {"q": "运动鞋"},
              "party_name": {"q": AMR_PARTY}, "credit_code": {"q": AMR_CODE},
              "number": {"q": amr_case.number}, "officer": {"officer": world.officer.id}}[query]
    r = client.get(f"{API}/cases", query_string=params, headers=bearer(world.other))
    assert r.status_code == 200
    assert r.json["items"] == [] and r.json["counts"] == {}
    page = browser_login(world.other).get("/cases/", query_string=params)
    assert page.status_code == 200 and _row_link(amr_case) not in page.text
    # positive control: the owner's same search finds the case
    r = client.get(f"{API}/cases", query_string=params, headers=bearer(world.officer))
    assert [i["id"] for i in r.json["items"]] == [amr_case.id]
    assert r.json["counts"] == {"filed": 1}
    page = browser_login(world.officer).get("/cases/", query_string=params)
    assert _row_link(amr_case) in page.text


def test_officer_assignment_rejects_users_of_another_agency(world, amr_case, browser_login):
    before = snapshot(amr_case)
    r = browser_login(world.officer).post(
        f"/cases/{amr_case.id}/officers",
        data={"version": str(amr_case.version), "officer_ids": [str(world.officer.id),
                                                                str(world.other.id)]})
    assert r.status_code == 422
    assert snapshot(amr_case) == before


# ----------------------------------------------------------------------------- separated admins


@pytest.fixture(params=["auditor", "sys_admin", "sec_admin"])
def admin(request, world, make_user):
    if request.param == "auditor":
        return world.auditor
    return make_user(world.amr, request.param.replace("_", ""), [request.param])


def test_separated_admin_roles_see_no_case_data_in_html(world, amr_case, admin, browser_login):
    client = browser_login(admin)
    assert client.get("/cases/").status_code == 403
    assert client.get("/cases/new").status_code == 403
    r = client.get(f"/cases/{amr_case.id}")
    assert r.status_code in (403, 404) and AMR_TITLE not in r.text
    before = snapshot(amr_case)
    r = client.post(f"/cases/{amr_case.id}/actions", data={"action": "accept"})
    assert r.status_code in (403, 404)
    assert snapshot(amr_case) == before


def test_separated_admin_roles_get_403_from_the_api(app, client, world, amr_case, admin, bearer):
    headers = bearer(admin)
    before = snapshot(amr_case)
    n_cases = _db.session.scalar(select(func.count()).select_from(Case))
    requests = [("GET", f"{API}/cases", None), ("POST", f"{API}/cases", clue_payload()),
                *[(m, p.format(id=amr_case.id), b) for n, (m, p, b)
                  in _api_requests(amr_case).items()
                  if n != "timeline" or _has_timeline(app)]]
    for method, path, body in requests:
        r = client.open(path, method=method, json=body, headers=headers)
        assert r.status_code == 403, (method, path)
        assert r.is_json and AMR_TITLE not in r.text
    assert snapshot(amr_case) == before
    assert _db.session.scalar(select(func.count()).select_from(Case)) == n_cases


def test_a_case_officer_token_works_where_the_admin_token_does_not(client, world, amr_case, bearer):
    """Positive control: the 403s above come from the role, not from a broken token."""
    assert client.get(f"{API}/cases", headers=bearer(world.officer)).status_code == 200


# ----------------------------------------------------------------------------- one rule


def _listed_ids(user) -> set[int]:
    ids, cursor = [], None
    for _ in range(100):
        items, cursor = queries.list_cases(user, queries.CaseFilters(), cursor, 2, messages.text)
        ids.extend(c.id for c in items)
        if cursor is None:
            break
    assert len(ids) == len(set(ids)), "a case was listed twice"
    return set(ids)


def _gettable_ids(user, candidates) -> set[int]:
    found = set()
    for case_id in candidates:
        try:
            case = ops.get_case(user, case_id)
        except NotFound:
            continue
        assert case.id == case_id
        found.add(case_id)
    return found


def test_list_and_single_case_lookup_apply_the_same_rule(world, make_case, make_user, drive):
    amr = [make_case(title=f"市场监管线索{i}") for i in range(3)]
    drive(amr[1], "accept")
    drive(amr[2], "reject")
    amr.append(make_case(user=world.inspector, officers=False, title="巡查员登记的线索"))
    culture = [make_case(user=world.other, officers=False, title=f"文化执法线索{i}", ip_type="copyright")
               for i in range(3)]
    culture_approver = make_user(world.culture, "cultureboss", ["approver"])
    all_ids = [c.id for c in amr + culture]
    candidates = all_ids + [max(all_ids) + 1, max(all_ids) + 50]
    amr_ids, culture_ids = {c.id for c in amr}, {c.id for c in culture}
    expected = {
        world.officer: amr_ids, world.officer2: amr_ids, world.inspector: amr_ids,
        world.reviewer: amr_ids, world.approver: amr_ids, world.auditor: set(),
        world.other: culture_ids, culture_approver: culture_ids,
    }
    for user, ids in expected.items():
        listed = _listed_ids(user)
        assert listed == _gettable_ids(user, candidates), user.username
        assert listed == ids, user.username
        counts = queries.state_counts(user, queries.CaseFilters())
        assert sum(counts.values()) == len(ids), user.username
    n_events = _db.session.scalar(select(func.count()).select_from(CaseEvent))
    assert n_events > len(all_ids)  # the cases did get their history
