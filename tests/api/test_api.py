"""The JSON API /api/v1: bearer tokens, clue intake, lists, detail, transitions, edits, OpenAPI.

Most tests get their bearer token from ``accounts.issue_api_token`` (the ``bearer`` fixture)
rather than POST /auth/token: the endpoint has its own tests below.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import time
import os
import re

import pytest
import sqlalchemy.exc
from flask import g, request_started
from sqlalchemy import func, select, update

from caseflow.accounts import operations as accounts
from caseflow.accounts.models import ApiToken
from caseflow.cases import messages
from caseflow.cases.models import Case, CaseEvent, Party
from caseflow.cases.rules import ACTIONS
from caseflow.core.models import load_calendar
from caseflow.core.timeutil import today_local, utcnow
from caseflow.extensions import db as _db
from tests.conftest import PASSWORD, VALID_ID, clue_payload, valid_credit_code

ON_POSTGRES = os.environ.get("CASEFLOW_TEST_DATABASE_URL", "").startswith("postgres")


API = "/api/v1"
BAD_CREDIT_CODE = "11230500001755309E"  # check character should be F
GOOD_CREDIT_CODE = "11230500001755309F"
BAD_ID = "110105194912310021"  # check digit should be X
IMPOSSIBLE_BIRTH_ID = "11010519490230002X"  # 30 February 1949


@pytest.fixture(autouse=True)
def _fresh_g_per_request(app):
    """Give every test-client request an empty ``g``, as a real request has.

    conftest's ``db`` fixture keeps an app context pushed and Flask reuses it for test-client
    requests, so ``g`` -- where Flask-Login caches the current user -- would otherwise carry
    one request's user into the next (a request without a token would run as the previous
    caller).
    """
    def clear(sender, **extra):
        for name in list(vars(g)):
            delattr(g, name)

    request_started.connect(clear, app)
    yield
    request_started.disconnect(clear, app)


@pytest.fixture()
def bearer(db):
    """Authorization header for a user, with a token issued the way /auth/token issues it."""
    def headers(user):
        token, _ = accounts.issue_api_token(user)
        db.session.commit()
        return {"Authorization": f"Bearer {token}"}

    return headers


@pytest.fixture()
def browser_login(db):
    """Log a test client in with a server-side session, as the /login view does."""
    def login(client, user):
        sess = accounts.start_session(user)
        db.session.commit()
        with client.session_transaction() as s:
            s["_user_id"] = sess.id
            s["seen"] = int(time.time())  # signed in just now (idle timeout)
            s["_fresh"] = True
        return client

    return login


def count(model) -> int:
    return _db.session.scalar(select(func.count()).select_from(model))


def row_counts() -> tuple[int, int, int]:
    return count(Case), count(Party), count(CaseEvent)


def snapshot(case: Case) -> tuple:
    _db.session.expire_all()
    c = _db.session.get(Case, case.id)
    return c.state, c.version, c.title, c.pending_action, len(c.events)


def cursor_of(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


# ----------------------------------------------------------------------------- tokens


def test_token_is_issued_for_correct_credentials(client, world, app):
    before = utcnow()
    r = client.post(f"{API}/auth/token", json={"username": "officer", "password": PASSWORD})
    assert r.status_code == 201, r.text
    assert set(r.json) == {"token", "expires_at"}
    expires = dt.datetime.fromisoformat(r.json["expires_at"].replace("Z", "+00:00"))
    lifetime = dt.timedelta(hours=app.config["API_TOKEN_HOURS"])
    assert before + lifetime - dt.timedelta(minutes=1) <= expires <= utcnow() + lifetime
    me = client.get(f"{API}/cases", headers={"Authorization": f"Bearer {r.json['token']}"})
    assert me.status_code == 200
    assert count(ApiToken) == 1


@pytest.mark.parametrize("username, password", [("officer", "Wrong-Horse-42"),
                                                ("nobody", PASSWORD)])
def test_wrong_credentials_are_401_json(client, world, username, password):
    r = client.post(f"{API}/auth/token", json={"username": username, "password": password})
    assert r.status_code == 401
    assert r.is_json and isinstance(r.json["message"], str) and r.json["message"]
    assert "token" not in r.json
    assert count(ApiToken) == 0


def test_unknown_user_and_wrong_password_get_the_same_answer(client, world):
    wrong = client.post(f"{API}/auth/token", json={"username": "officer", "password": "nope-nope"})
    unknown = client.post(f"{API}/auth/token", json={"username": "ghost", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json == unknown.json


@pytest.mark.parametrize("body, fields", [
    ({}, {"username", "password"}),
    ({"username": "officer"}, {"password"}),
    ({"password": PASSWORD}, {"username"}),
    ({"username": "  ", "password": ""}, {"username", "password"}),
    ({"username": 7, "password": PASSWORD}, {"username"}),
    ({"username": "officer", "password": PASSWORD, "roles": ["approver"]}, {"roles"}),
])
def test_token_request_field_errors_are_422(client, world, body, fields):
    r = client.post(f"{API}/auth/token", json=body)
    assert r.status_code == 422
    assert set(r.json["errors"]) == fields
    assert all(isinstance(m, str) and m for m in r.json["errors"].values())
    assert count(ApiToken) == 0


@pytest.mark.parametrize("raw", ['{"username": "officer", "password": ', "username=officer",
                                 '["officer", "Correct-Horse-42"]', '"officer"', "null", ""])
def test_token_request_body_must_be_a_json_object(client, world, raw):
    r = client.post(f"{API}/auth/token", data=raw, content_type="application/json")
    assert r.status_code == 422
    assert set(r.json["errors"]) == {"__root__"}
    assert count(ApiToken) == 0


def test_account_locks_after_max_failures(client, world, app):
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        r = client.post(f"{API}/auth/token", json={"username": "officer", "password": "not-it-42"})
        assert r.status_code == 401
    r = client.post(f"{API}/auth/token", json={"username": "officer", "password": PASSWORD})
    assert r.status_code == 401 and "token" not in r.json
    assert count(ApiToken) == 0
    _db.session.refresh(world.officer)
    assert world.officer.locked_until is not None and world.officer.locked_until > utcnow()


def test_failures_below_the_limit_do_not_lock_and_success_resets_the_counter(client, world, app):
    for _round in range(2):
        for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
            r = client.post(f"{API}/auth/token",
                            json={"username": "officer", "password": "nah-42x"})
            assert r.status_code == 401
        r = client.post(f"{API}/auth/token", json={"username": "officer", "password": PASSWORD})
        assert r.status_code == 201


def test_disabled_user_gets_no_token(client, world):
    accounts.set_user_active(world.officer, False)
    _db.session.commit()
    r = client.post(f"{API}/auth/token", json={"username": "officer", "password": PASSWORD})
    assert r.status_code == 401 and count(ApiToken) == 0


# ----------------------------------------------------------------------------- authentication


def _protected_requests(case_id: int) -> dict:
    return {
        "list": ("GET", f"{API}/cases", None),
        "create": ("POST", f"{API}/cases", clue_payload()),
        "get": ("GET", f"{API}/cases/{case_id}", None),
        "put": ("PUT", f"{API}/cases/{case_id}", clue_payload(title="改过的标题", version=99)),
        "transition": ("POST", f"{API}/cases/{case_id}/transitions", {"action": "accept"}),
    }


@pytest.mark.parametrize("name", ["list", "create", "get", "put", "transition"])
def test_requests_without_token_are_401_json(client, make_case, name):
    case = make_case()
    method, url, body = _protected_requests(case.id)[name]
    before, state = row_counts(), snapshot(case)
    r = client.open(url, method=method, json=body)
    assert r.status_code == 401
    assert r.is_json and r.json["message"]
    assert row_counts() == before and snapshot(case) == state


@pytest.mark.parametrize("how", ["login_form",
                                 "server_session"])
def test_session_cookie_does_not_authenticate_the_api(client, world, make_case, login_as,
                                                      browser_login, how):
    case = make_case()
    if how == "login_form":
        login_as(client, "officer")
    else:
        browser_login(client, world.officer)
    assert client.get("/cases/").status_code == 200  # the cookie does log in the HTML app
    before, state = row_counts(), snapshot(case)
    for method, url, body in _protected_requests(case.id).values():
        r = client.open(url, method=method, json=body)
        assert r.status_code == 401, (method, url)
        assert r.is_json
    assert row_counts() == before and snapshot(case) == state


def test_token_authenticates_only_as_a_bearer_header(client, world, bearer):
    token = bearer(world.officer)["Authorization"].removeprefix("Bearer ")
    ok = client.get(f"{API}/cases", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    for header in [f"Token {token}", token, f"Basic {token}", "Bearer ", "Bearer garbage",
                   f"Bearer {token[:-2]}", "Bearer cf_" + "A" * 43]:
        r = client.get(f"{API}/cases", headers={"Authorization": header})
        assert r.status_code == 401, header
    assert client.get(f"{API}/cases?access_token={token}").status_code == 401


def test_revoked_token_is_refused_and_other_tokens_keep_working(client, world, bearer):
    first, second = bearer(world.officer), bearer(world.officer)
    row = _db.session.scalars(select(ApiToken).order_by(ApiToken.id)).first()
    row.revoked_at = utcnow()
    _db.session.commit()
    assert client.get(f"{API}/cases", headers=first).status_code == 401
    assert client.get(f"{API}/cases", headers=second).status_code == 200


def test_expired_token_is_refused(client, world, bearer):
    headers = bearer(world.officer)
    assert client.get(f"{API}/cases", headers=headers).status_code == 200
    _db.session.execute(update(ApiToken).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    _db.session.commit()
    assert client.get(f"{API}/cases", headers=headers).status_code == 401


def test_disabling_a_user_stops_their_token_at_once(client, world, make_case, bearer):
    case = make_case()
    headers = bearer(world.officer)
    assert client.get(f"{API}/cases/{case.id}", headers=headers).status_code == 200
    accounts.set_user_active(world.officer, False)
    _db.session.commit()
    assert client.get(f"{API}/cases/{case.id}", headers=headers).status_code == 401
    r = client.post(f"{API}/cases/{case.id}/transitions", json={"action": "accept"},
                    headers=headers)
    assert r.status_code == 401 and snapshot(case)[0] == "clue"
    # re-enabling does not bring back the tokens revoked when the account was disabled
    accounts.set_user_active(world.officer, True)
    _db.session.commit()
    assert client.get(f"{API}/cases", headers=headers).status_code == 401
    assert client.get(f"{API}/cases", headers=bearer(world.officer)).status_code == 200


def test_token_of_an_inactive_user_is_refused_even_if_not_revoked(client, world, bearer):
    """Defence in depth: an account marked inactive by any path cannot use the API."""
    headers = bearer(world.officer)
    world.officer.active = False
    _db.session.commit()
    assert _db.session.scalar(select(ApiToken.revoked_at)) is None
    assert client.get(f"{API}/cases", headers=headers).status_code == 401


# ----------------------------------------------------------------------------- create


def test_create_clue(client, world, bearer):
    received = today_local() - dt.timedelta(days=3)
    payload = clue_payload(received_at=received.isoformat(),
                           parties=[{"kind": "business", "name": "上海某某商行",
                                     "credit_code": " 11230500001755309f "},
                                    {"kind": "person", "name": "张三", "id_number": VALID_ID}])
    r = client.post(f"{API}/cases", json=payload, headers=bearer(world.officer))
    assert r.status_code == 201, r.text
    body = r.json
    assert body["state"] == "clue" and body["number"] is None
    assert body["title"] == payload["title"] and body["received_at"] == received.isoformat()
    assert set(body["allowed_actions"]) == {"accept", "reject", "terminate"}
    assert body["pending_action"] is None
    assert [p["credit_code"] for p in body["parties"]] == [GOOD_CREDIT_CODE, None]
    assert [p["id_number"] for p in body["parties"]] == [None, VALID_ID]
    assert body["officers"] == [world.officer.display_name]
    clocks = {c["name"]: c for c in body["clocks"]}
    verification = clocks["verification"]
    assert {"due", "paused", "overdue"} <= set(verification)
    # 市场监督管理行政处罚程序规定 §18: 15 working days from receipt
    assert verification["due"] == load_calendar().add_working_days(received, 15).isoformat()
    assert verification["paused"] is False and verification["overdue"] is False
    assert "acceptance" not in clocks  # only complaints have the 7-working-day acceptance clock
    [event] = body["timeline"]
    assert event["action"] == "create" and event["to_state"] == "clue"
    assert event["effective_on"] == received.isoformat()
    assert event["user"] == world.officer.display_name

    case = _db.session.get(Case, body["id"])
    assert case.owner_agency_id == world.amr.id and case.created_by_id == world.officer.id
    assert case.version == body["version"]
    assert str(case.illegal_business_volume) in ("8000", "8000.00")
    assert row_counts() == (1, 2, 1)
    again = client.get(f"{API}/cases/{body['id']}", headers=bearer(world.officer))
    assert again.json == body


def test_allowed_actions_are_those_of_the_caller(client, world, bearer):
    r = client.post(f"{API}/cases", json=clue_payload(channel="complaint"),
                    headers=bearer(world.inspector))
    assert r.status_code == 201
    assert r.json["allowed_actions"] == []  # an inspector logs clues but cannot accept them
    assert "acceptance" in {c["name"] for c in r.json["clocks"]}
    as_officer = client.get(f"{API}/cases/{r.json['id']}", headers=bearer(world.officer))
    assert set(as_officer.json["allowed_actions"]) == {"accept", "reject", "terminate"}
    as_approver = client.get(f"{API}/cases/{r.json['id']}", headers=bearer(world.approver))
    assert as_approver.json["allowed_actions"] == []


def _without(key):
    def change(p):
        del p[key]
    return change


def _set(key, value):
    def change(p):
        p[key] = value
    return change


def _amount(key, value):
    def change(p):
        p["amounts"] = {**p["amounts"], key: value}
    return change


def _parties(*parties):
    return _set("parties", list(parties))


def _tomorrow(p):
    p["received_at"] = (today_local() + dt.timedelta(days=1)).isoformat()


BUSINESS = {"kind": "business", "name": "上海某某商行", "credit_code": GOOD_CREDIT_CODE}

#: id → (change to a valid payload, error path, message code or None for "any message")
INVALID_CLUES = {
    "title_missing": (_without("title"), "title", "missing"),
    "title_too_short": (_set("title", " 假 "), "title", "string_too_short"),
    "title_too_long": (_set("title", "假" * 201), "title", None),
    "channel_unknown": (_set("channel", "fax"), "channel", "enum"),
    "ip_type_unknown": (_set("ip_type", "design"), "ip_type", "enum"),
    "received_in_future": (_tomorrow, "received_at", "date_in_future"),
    "received_malformed": (_set("received_at", "2024-02-30"), "received_at", None),
    "received_not_a_date": (_set("received_at", "上周三"), "received_at", None),
    "received_too_old": (_set("received_at", "1999-12-31"), "received_at", "date_too_old"),
    "amount_negative": (_amount("illegal_gains", "-1"), "amounts.illegal_gains", None),
    "amount_not_a_number": (_amount("illegal_gains", "两万"), "amounts.illegal_gains", None),
    "amount_three_decimals": (_amount("sales_amount", "10.005"), "amounts.sales_amount",
                              "decimal_max_places"),
    "amount_too_large": (_amount("sales_amount", "10000000000000"), "amounts.sales_amount", None),
    "copies_fraction": (_amount("copies", 1.5), "amounts.copies", None),
    "copies_text": (_amount("copies", "许多"), "amounts.copies", None),
    "amounts_unknown_field": (_amount("tax", "1"), "amounts.tax", "extra_forbidden"),
    "business_without_code": (_parties({"kind": "business", "name": "上海某某商行"}),
                              "parties.0.credit_code", "credit_code_required"),
    "business_bad_check_char": (_parties({**BUSINESS, "credit_code": BAD_CREDIT_CODE}),
                                "parties.0.credit_code", "credit_code_checksum"),
    "business_code_short": (_parties({**BUSINESS, "credit_code": GOOD_CREDIT_CODE[:17]}),
                            "parties.0.credit_code", "credit_code_length"),
    "person_bad_id": (_parties(BUSINESS, {"kind": "person", "name": "张三", "id_number": BAD_ID}),
                      "parties.1.id_number", "id_number_checksum"),
    "person_impossible_birth": (_parties({"kind": "person", "name": "张三",
                                          "id_number": IMPOSSIBLE_BIRTH_ID}),
                                "parties.0.id_number", "id_number_birthdate"),
    "person_without_id": (_parties({"kind": "person", "name": "张三"}),
                          "parties.0.id_number", "id_number_required"),
    "party_kind_unknown": (_parties({**BUSINESS, "kind": "robot"}), "parties.0.kind", "enum"),
    "party_unknown_field": (_parties({**BUSINESS, "phone": "12345"}), "parties.0.phone",
                            "extra_forbidden"),
    "duplicate_party": (_parties(BUSINESS, {**BUSINESS, "name": "同一家商行"}),
                        "parties.1.credit_code", "duplicate_party"),
    "duplicate_party_after_normalizing": (
        _parties(BUSINESS, {**BUSINESS, "credit_code": GOOD_CREDIT_CODE.lower()[:9] + "　"
                            + GOOD_CREDIT_CODE.lower()[9:]}),
        "parties.1.credit_code", "duplicate_party"),
    "duplicate_person": (_parties({"kind": "person", "name": "张三", "id_number": VALID_ID},
                                  {"kind": "person", "name": "张叁", "id_number": VALID_ID}),
                         "parties.1.id_number", "duplicate_party"),
    "unknown_field": (_set("priority", "high"), "priority", "extra_forbidden"),
    "state_cannot_be_set": (_set("state", "filed"), "state", "extra_forbidden"),
    "parties_not_a_list": (_set("parties", {"kind": "business"}), "parties", None),
}


@pytest.mark.parametrize("name", sorted(INVALID_CLUES))
def test_invalid_clue_is_422_with_field_path_and_saves_nothing(client, world, bearer, name):
    change, path, code = INVALID_CLUES[name]
    payload = clue_payload()
    change(payload)
    before = row_counts()
    r = client.post(f"{API}/cases", json=payload, headers=bearer(world.officer))
    assert r.status_code == 422, r.text
    assert set(r.json["errors"]) == {path}
    message = r.json["errors"][path]
    assert isinstance(message, str) and message
    if code is not None:
        assert message == messages.text(code)
    assert row_counts() == before


def test_every_invalid_field_is_reported_at_once(client, world, bearer):
    payload = clue_payload(title="", channel="fax", amounts={"copies": -1})
    r = client.post(f"{API}/cases", json=payload, headers=bearer(world.officer))
    assert r.status_code == 422
    assert set(r.json["errors"]) == {"title", "channel", "amounts.copies"}
    assert row_counts() == (0, 0, 0)


def test_valid_identifiers_from_the_invalid_cases_are_accepted(client, world, bearer):
    """Control for the table above: the same payload with valid codes is saved."""
    payload = clue_payload(parties=[BUSINESS, {"kind": "person", "name": "张三",
                                               "id_number": VALID_ID}],
                           amounts={"sales_amount": "10.05", "copies": 3})
    r = client.post(f"{API}/cases", json=payload, headers=bearer(world.officer))
    assert r.status_code == 201, r.text
    assert r.json["amounts"]["copies"] == 3
    assert row_counts() == (1, 2, 1)


@pytest.mark.parametrize("raw", ["{", "[]", '"title"', "null"])
def test_create_needs_a_json_object(client, world, bearer, raw):
    r = client.post(f"{API}/cases", data=raw, content_type="application/json",
                    headers=bearer(world.officer))
    assert r.status_code == 422 and set(r.json["errors"]) == {"__root__"}
    assert row_counts() == (0, 0, 0)


# ----------------------------------------------------------------------------- list


def list_ids(client, headers, **params) -> list[int]:
    r = client.get(f"{API}/cases", query_string=params, headers=headers)
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json["items"]]


def walk_pages(client, headers, limit, **params) -> list[list[int]]:
    pages, cursor = [], None
    for _ in range(50):
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        r = client.get(f"{API}/cases", query_string=query, headers=headers)
        assert r.status_code == 200, r.text
        pages.append([item["id"] for item in r.json["items"]])
        cursor = r.json["next_cursor"]
        if cursor is None:
            return pages
    pytest.fail("pagination did not end")


def test_list_is_newest_first_with_summaries(client, world, make_case, bearer):
    cases = [make_case(title=f"第{i}号线索：销售假冒商品") for i in range(4)]
    r = client.get(f"{API}/cases", headers=bearer(world.officer))
    assert r.status_code == 200
    assert [i["id"] for i in r.json["items"]] == [c.id for c in reversed(cases)]
    assert r.json["next_cursor"] is None
    first = r.json["items"][-1]
    assert first["title"] == "第0号线索：销售假冒商品" and first["state"] == "clue"
    assert first["version"] == cases[0].version and first["overdue"] is False
    assert {"number", "channel", "ip_type", "received_at"} <= set(first)


def test_list_filters(client, world, make_case, drive, bearer):
    today = today_local()
    clue = make_case(title="甲：商标线索")
    patent = make_case(title="乙：专利线索", ip_type="patent", channel="complaint")
    accepted = drive(make_case(title="丙：核查中"), "accept")
    overdue = make_case(title="丁：早已超期", received_at=(today - dt.timedelta(days=60)).isoformat())
    inspectors = make_case(user=world.inspector, officers=False, title="戊：巡查发现",
                           channel="inspection")
    h = bearer(world.officer)

    assert list_ids(client, h, state="verifying") == [accepted.id]
    assert set(list_ids(client, h, state="clue")) == {clue.id, patent.id, overdue.id, inspectors.id}
    assert list_ids(client, h, ip_type="patent") == [patent.id]
    assert list_ids(client, h, channel="complaint") == [patent.id]
    assert list_ids(client, h, channel="inspection") == [inspectors.id]
    assert list_ids(client, h, officer=world.inspector.id) == [inspectors.id]
    assert set(list_ids(client, h, officer=world.officer2.id)) == {clue.id, patent.id, accepted.id,
                                                                  overdue.id}
    assert list_ids(client, h, officer=world.approver.id) == []
    assert list_ids(client, h, overdue="1") == [overdue.id]
    assert list_ids(client, h, overdue="true", state="clue") == [overdue.id]
    assert list_ids(client, h, ip_type="patent", channel="inspection") == []
    items = {i["id"]: i for i in client.get(f"{API}/cases", headers=h).json["items"]}
    assert items[overdue.id]["overdue"] is True and items[clue.id]["overdue"] is False
    assert len(items) == 5


def test_list_search(client, world, make_case, drive, bearer):
    by_title = make_case(title="某鞋店销售假冒耐克运动鞋")
    by_party = make_case(title="线索二", parties=[{"kind": "business", "name": "上海云间贸易有限公司",
                                                 "credit_code": valid_credit_code(7)}])
    by_person = make_case(title="线索三", parties=[{"kind": "person", "name": "李四",
                                                  "id_number": VALID_ID}])
    filed = drive(make_case(title="线索四", parties=[{"kind": "business", "name": "松江某厂",
                                                     "credit_code": GOOD_CREDIT_CODE}]),
                  "accept", "file")
    h = bearer(world.officer)
    assert list_ids(client, h, q="耐克") == [by_title.id]
    assert list_ids(client, h, q="云间贸易") == [by_party.id]
    assert list_ids(client, h, q=valid_credit_code(7)) == [by_party.id]
    assert list_ids(client, h, q=GOOD_CREDIT_CODE.lower()) == [filed.id]
    assert list_ids(client, h, q=VALID_ID) == [by_person.id]
    assert list_ids(client, h, q=filed.number) == [filed.id]
    assert list_ids(client, h, q=f"  {filed.number}  ") == [filed.id]
    assert list_ids(client, h, q="阿迪达斯") == []
    # the search term is text, not a LIKE pattern
    assert list_ids(client, h, q="%") == []
    assert list_ids(client, h, q="_") == []
    r = client.get(f"{API}/cases", query_string={"q": "耐克"}, headers=h)
    assert r.json["counts"] == {"clue": 1}


def test_counts_per_state_follow_filters_but_not_the_state_filter(client, world, make_case,
                                                                   drive, bearer):
    make_case(), make_case(ip_type="patent")
    drive(make_case(), "accept")
    drive(make_case(ip_type="patent"), "reject")
    h = bearer(world.officer)
    everything = {"clue": 2, "verifying": 1, "rejected": 1}
    assert client.get(f"{API}/cases", headers=h).json["counts"] == everything
    only_clues = client.get(f"{API}/cases?state=clue", headers=h).json
    assert len(only_clues["items"]) == 2 and only_clues["counts"] == everything
    assert client.get(f"{API}/cases?ip_type=patent", headers=h).json["counts"] == \
        {"clue": 1, "rejected": 1}


@pytest.mark.parametrize("n, limit, sizes", [(7, 3, [3, 3, 1]), (6, 3, [3, 3]), (2, 5, [2]),
                                             (3, 1, [1, 1, 1])])
def test_keyset_pagination_returns_each_case_once(client, world, make_case, bearer, n, limit,
                                                  sizes):
    ids = [make_case(title=f"分页线索{i}").id for i in range(n)]
    pages = walk_pages(client, bearer(world.officer), limit)
    assert [len(p) for p in pages] == sizes
    assert [i for p in pages for i in p] == sorted(ids, reverse=True)


def test_pagination_with_equal_timestamps_and_a_filter(client, world, make_case, drive, bearer):
    cases = [make_case(title=f"同一时刻{i}", ip_type="patent" if i % 2 else "trademark")
             for i in range(9)]
    same = utcnow() - dt.timedelta(hours=1)
    _db.session.execute(update(Case).values(created_at=same))
    _db.session.commit()
    h = bearer(world.officer)
    pages = walk_pages(client, h, 2)
    assert [i for p in pages for i in p] == sorted((c.id for c in cases), reverse=True)
    patents = [c.id for c in cases if c.ip_type == "patent"]
    pages = walk_pages(client, h, 3, ip_type="patent")
    assert [i for p in pages for i in p] == sorted(patents, reverse=True)


def test_cursor_pages_are_stable_when_new_cases_arrive(client, world, make_case, bearer):
    old = [make_case(title=f"旧线索{i}").id for i in range(4)]
    h = bearer(world.officer)
    first = client.get(f"{API}/cases?limit=2", headers=h).json
    newer = make_case(title="翻页期间新登记的线索")
    rest = client.get(f"{API}/cases", query_string={"limit": 2, "cursor": first["next_cursor"]},
                      headers=h).json
    assert [i["id"] for i in first["items"] + rest["items"]] == sorted(old, reverse=True)
    assert newer.id in list_ids(client, h)


@pytest.mark.parametrize("query, fields", [
    ("state=bogus", {"state"}),
    ("state=CLUE", {"state"}),
    ("ip_type=bogus", {"ip_type"}),
    ("channel=bogus", {"channel"}),
    ("officer=abc", {"officer"}),
    ("officer=-1", {"officer"}),
    ("limit=0", {"limit"}),
    ("limit=abc", {"limit"}),
    ("limit=1000", {"limit"}),
    ("limit=201", {"limit"}),
    ("limit=-5", {"limit"}),
    ("limit=2.5", {"limit"}),
    ("cursor=garbage", {"cursor"}),
    ("cursor=" + cursor_of({"created": "2024-01-01T00:00:00+00:00"}), {"cursor"}),
    ("cursor=" + cursor_of(["yesterday", 5]), {"cursor"}),
    ("cursor=" + cursor_of(["2024-01-01T00:00:00+00:00", "five"]), {"cursor"}),
    ("state=bogus&limit=0&channel=fax", {"state", "limit", "channel"}),
    ("limit=²", {"limit"}),
    ("officer=²", {"officer"}),
    ("officer=99999999999999999999", {"officer"}),
    ("cursor=" + cursor_of(["2024-01-01T00:00:00+00:00", 10**20]), {"cursor"}),
])
def test_bad_list_parameters_are_422(client, world, make_case, bearer, query, fields):
    make_case()
    r = client.get(f"{API}/cases?{query}", headers=bearer(world.officer))
    assert r.status_code == 422
    assert set(r.json["errors"]) == fields
    assert all(isinstance(m, str) and m for m in r.json["errors"].values())


# ----------------------------------------------------------------------------- detail


def test_case_detail_after_filing(client, world, make_case, drive, bearer):
    case = make_case()
    drive(case, "accept", "file")
    r = client.get(f"{API}/cases/{case.id}", headers=bearer(world.officer))
    assert r.status_code == 200
    body = r.json
    year = today_local().year
    assert body["number"] == f"沪市监松处〔{year}〕0001号"
    assert body["state"] == "filed" and body["version"] == case.version
    assert "investigate" in body["allowed_actions"] and "accept" not in body["allowed_actions"]
    for clock in body["clocks"]:
        assert {"name", "due", "paused", "overdue"} <= set(clock)
        dt.date.fromisoformat(clock["due"])
    clocks = {c["name"]: c for c in body["clocks"]}
    assert clocks["verification"]["stopped_on"] == today_local().isoformat()
    decision = clocks["decision"]  # 行政处罚法 §60: 90 days from filing; a rest day moves it on
    day_90 = today_local() + dt.timedelta(days=90)
    assert decision["due"] == load_calendar().next_workday_on_or_after(day_90).isoformat()
    assert decision["days_left"] >= 90
    assert decision["paused"] is False and decision["overdue"] is False
    assert [e["action"] for e in body["timeline"]] == ["create", "assign_officers", "accept",
                                                       "request_approval", "file"]
    file_event = body["timeline"][-1]
    assert (file_event["from_state"], file_event["to_state"]) == ("verifying", "filed")
    assert file_event["user"] == world.approver.display_name
    assert set(body["officers"]) == {world.officer.display_name, world.officer2.display_name}


def test_unknown_case_is_404_json(client, world, bearer):
    r = client.get(f"{API}/cases/424242", headers=bearer(world.officer))
    assert r.status_code == 404 and r.is_json and r.json["message"]


def test_case_id_beyond_the_integer_range_is_404(client, world, bearer):
    r = client.get(f"{API}/cases/{10**20}", headers=bearer(world.officer))
    assert r.status_code == 404


# ----------------------------------------------------------------------------- transitions


def transition(client, case_id, headers, **body):
    return client.post(f"{API}/cases/{case_id}/transitions", json=body, headers=headers)


def test_valid_transition_changes_state(client, world, make_case, bearer):
    case = make_case()
    version = case.version
    r = transition(client, case.id, bearer(world.officer), action="accept", version=version)
    assert r.status_code == 200, r.text
    assert r.json["state"] == "verifying" and r.json["version"] > version
    last = r.json["timeline"][-1]
    assert (last["action"], last["from_state"], last["to_state"]) == ("accept", "clue", "verifying")
    assert "file" in r.json["allowed_actions"]
    assert snapshot(case)[0] == "verifying"


def test_action_not_allowed_in_state_is_409(client, world, make_case, bearer):
    case = make_case()
    state = snapshot(case)
    for action in ("close", "investigate", "file", "resume"):
        r = transition(client, case.id, bearer(world.officer), action=action)
        assert r.status_code == 409, action
        assert r.is_json and r.json["message"]
    assert snapshot(case) == state


def test_stale_version_is_409_and_changes_nothing(client, world, make_case, bearer):
    case = make_case()
    seen = case.version
    edited = client.put(f"{API}/cases/{case.id}", headers=bearer(world.officer2),
                        json=clue_payload(title="同事刚刚改过的标题", version=seen))
    assert edited.status_code == 200
    state = snapshot(case)
    r = transition(client, case.id, bearer(world.officer), action="accept", version=seen)
    assert r.status_code == 409 and r.json["message"]
    assert snapshot(case) == state
    r = transition(client, case.id, bearer(world.officer), action="accept",
                   version=edited.json["version"])
    assert r.status_code == 200 and r.json["state"] == "verifying"


@pytest.mark.parametrize("body, fields", [
    ({"action": "fly"}, {"action"}),
    ({}, {"action"}),
    ({"action": "reject"}, {"reason"}),
    ({"action": "reject", "reason": "  "}, {"reason"}),
    ({"action": "accept", "version": "latest"}, {"version"}),
    ({"action": "accept", "note": "x"}, {"note"}),
    ({"action": "accept", "effective_on": "2099-01-01"}, {"effective_on"}),
])
def test_invalid_transition_input_is_422(client, world, make_case, bearer, body, fields):
    case = make_case()
    state = snapshot(case)
    r = client.post(f"{API}/cases/{case.id}/transitions", json=body, headers=bearer(world.officer))
    assert r.status_code == 422, r.text
    assert set(r.json["errors"]) == fields
    assert snapshot(case) == state


def test_reject_with_reason_succeeds(client, world, make_case, bearer):
    case = make_case()
    r = transition(client, case.id, bearer(world.officer), action="reject", reason="证据不足")
    assert r.status_code == 200 and r.json["state"] == "rejected"
    assert r.json["timeline"][-1]["reason"] == "证据不足"


@pytest.mark.parametrize("who, action", [("inspector", "accept"), ("reviewer", "accept"),
                                         ("approver", "reject"), ("officer", "pass_review")])
def test_role_not_allowed_is_403(client, world, make_case, drive, bearer, who, action):
    case = make_case()
    if action == "pass_review":
        drive(case, "accept", "file", "investigate", "submit_review")
    state = snapshot(case)
    r = transition(client, case.id, bearer(getattr(world, who)), action=action, reason="理由充分")
    assert r.status_code == 403
    assert r.is_json and r.json["message"]
    assert snapshot(case) == state


def test_approval_flow_over_the_api(client, world, make_case, bearer):
    case = make_case()
    officer, approver = bearer(world.officer), bearer(world.approver)
    assert transition(client, case.id, officer, action="accept").status_code == 200
    r = transition(client, case.id, approver, action="approve")
    assert r.status_code == 409  # nothing pending yet
    r = transition(client, case.id, officer, action="file")
    assert r.status_code == 200
    assert r.json["state"] == "verifying" and r.json["pending_action"] == "file"
    assert r.json["number"] is None and r.json["allowed_actions"] == []
    # the requester cannot approve their own request; nothing else runs meanwhile
    assert transition(client, case.id, officer, action="approve").status_code == 403
    assert transition(client, case.id, officer, action="reject", reason="不立案").status_code == 409
    pending = client.get(f"{API}/cases/{case.id}", headers=approver).json
    assert pending["allowed_actions"] == ["approve", "deny"]
    r = transition(client, case.id, approver, action="approve", version=pending["version"])
    assert r.status_code == 200, r.text
    assert r.json["state"] == "filed" and r.json["pending_action"] is None
    assert re.fullmatch(r"沪市监松处〔\d{4}〕0001号", r.json["number"])
    assert r.json["number"] == f"沪市监松处〔{today_local().year}〕0001号"
    file_event = r.json["timeline"][-1]
    assert file_event["action"] == "file"
    assert file_event["data"]["requested_by"] == world.officer.id
    assert file_event["data"]["approved_by"] == world.approver.id


def test_requester_cannot_approve_their_own_request(client, world, make_case, make_user, bearer):
    chief = make_user(world.amr, "chief", ["case_officer", "approver"])
    case = make_case()
    mine = bearer(chief)
    assert transition(client, case.id, mine, action="accept").status_code == 200
    assert transition(client, case.id, mine, action="file").status_code == 200
    assert client.get(f"{API}/cases/{case.id}", headers=mine).json["allowed_actions"] == []
    state = snapshot(case)
    assert transition(client, case.id, mine, action="approve").status_code == 403
    assert snapshot(case) == state
    r = transition(client, case.id, bearer(world.approver), action="approve")
    assert r.status_code == 200 and r.json["state"] == "filed"
    assert r.json["timeline"][-1]["data"]["requested_by"] == chief.id


def test_deny_needs_a_reason_and_keeps_the_state(client, world, make_case, bearer):
    case = make_case()
    officer, approver = bearer(world.officer), bearer(world.approver)
    transition(client, case.id, officer, action="accept")
    transition(client, case.id, officer, action="file")
    r = transition(client, case.id, approver, action="deny")
    assert r.status_code == 422 and set(r.json["errors"]) == {"reason"}
    r = transition(client, case.id, approver, action="deny", reason="证据不足，继续核查")
    assert r.status_code == 200
    assert r.json["state"] == "verifying"
    assert r.json["pending_action"] is None and r.json["number"] is None


# ----------------------------------------------------------------------------- edit


def test_put_with_stale_version_is_409_and_case_unchanged(client, world, make_case, bearer):
    case = make_case()
    h = bearer(world.officer)
    seen = client.get(f"{API}/cases/{case.id}", headers=h).json
    accepted = transition(client, case.id, bearer(world.officer2), action="accept")
    assert accepted.status_code == 200
    state = snapshot(case)
    r = client.put(f"{API}/cases/{case.id}", headers=h,
                   json=clue_payload(title="基于旧版本的修改", version=seen["version"]))
    assert r.status_code == 409 and r.json["message"]
    assert snapshot(case) == state
    assert "edit" not in [e["action"] for e in client.get(f"{API}/cases/{case.id}", headers=h)
                          .json["timeline"]]
    r = client.put(f"{API}/cases/{case.id}", headers=h,
                   json=clue_payload(title="基于最新版本的修改", version=accepted.json["version"]))
    assert r.status_code == 200
    assert r.json["title"] == "基于最新版本的修改" and r.json["version"] > accepted.json["version"]
    edit = r.json["timeline"][-1]
    assert edit["action"] == "edit"
    assert edit["data"]["changes"]["title"] == [seen["title"], "基于最新版本的修改"]


def test_put_validates_like_create(client, world, make_case, bearer):
    case = make_case()
    state = snapshot(case)
    payload = clue_payload(version=case.version,
                           parties=[{**BUSINESS, "credit_code": BAD_CREDIT_CODE}])
    r = client.put(f"{API}/cases/{case.id}", json=payload, headers=bearer(world.officer))
    assert r.status_code == 422 and set(r.json["errors"]) == {"parties.0.credit_code"}
    r = client.put(f"{API}/cases/{case.id}", json=clue_payload(), headers=bearer(world.officer))
    assert r.status_code == 422 and set(r.json["errors"]) == {"version"}
    assert snapshot(case) == state


def test_put_by_someone_who_may_not_edit_is_403(client, world, make_case, bearer):
    case = make_case()  # logged by the officer: an inspector may edit only their own clue
    state = snapshot(case)
    r = client.put(f"{API}/cases/{case.id}", headers=bearer(world.inspector),
                   json=clue_payload(title="巡查员的修改", version=case.version))
    assert r.status_code == 403 and r.is_json
    assert snapshot(case) == state


# ----------------------------------------------------------------------------- OpenAPI


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_openapi_document(client, world, bearer):
    r = client.get(f"{API}/openapi.json", headers=bearer(world.officer))
    assert r.status_code == 200 and r.is_json
    doc = r.json
    assert doc["openapi"].startswith("3.1")
    assert doc["info"]["title"] and doc["info"]["version"]
    assert {"/auth/token", "/cases", "/cases/{id}", "/cases/{id}/transitions"} <= set(doc["paths"])
    assert "post" in doc["paths"]["/auth/token"]
    assert {"get", "post"} <= set(doc["paths"]["/cases"])
    assert {"get", "put"} <= set(doc["paths"]["/cases/{id}"])
    assert "post" in doc["paths"]["/cases/{id}/transitions"]
    schemas = doc["components"]["schemas"]
    assert {"ClueIn", "TransitionIn", "CaseOut", "PartyIn"} <= set(schemas)
    refs = list(_refs(doc))
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            assert op["responses"], (path, method)
            for param in op.get("parameters", []):
                if param["in"] == "path":
                    assert "{" + param["name"] + "}" in path
    assert set(schemas["ClueIn"]["required"]) == {"title", "channel", "ip_type", "received_at"}
    assert doc["paths"]["/auth/token"]["post"]["security"] == []


def test_openapi_matches_what_the_api_returns_and_accepts(client, world, make_case, bearer):
    doc = client.get(f"{API}/openapi.json", headers=bearer(world.officer)).json
    schemas = doc["components"]["schemas"]
    case = make_case()
    body = client.get(f"{API}/cases/{case.id}", headers=bearer(world.officer)).json
    assert set(body) == set(schemas["CaseOut"]["properties"])
    assert set(schemas["CaseOut"].get("required", [])) <= set(body)
    action = schemas["TransitionIn"]["properties"]["action"]
    assert set(action["enum"]) == set(ACTIONS)
    assert set(schemas["PartyIn"]["properties"]) == {"kind", "name", "credit_code", "id_number",
                                                     "address"}


@pytest.mark.skipif(not os.environ.get("CASEFLOW_TEST_DATABASE_URL"),
                    reason="SQLite serialises writing requests (BEGIN IMMEDIATE): no one can "
                           "save in between")
def test_a_concurrent_move_of_the_same_case_is_409_not_500(client, world, make_case, bearer,
                                                           monkeypatch):
    """Two officers accept the same clue at once (load test): the second's UPDATE finds the
    version changed. The failed flush used to leave the session broken, so building the
    "changed meanwhile" message (the user's language) raised again and the answer was 500."""
    from sqlalchemy import text

    from caseflow.cases import operations as case_ops

    case = make_case()
    headers = bearer(world.officer)
    real = case_ops.refresh_due

    def someone_else_saves_first(c, *a, **k):
        with _db.engine.begin() as other:  # another request commits in between
            other.execute(text("UPDATE case_record SET version = version + 1 WHERE id = :i"),
                          {"i": c.id})
        return real(c, *a, **k)

    monkeypatch.setattr(case_ops, "refresh_due", someone_else_saves_first)
    r = transition(client, case.id, headers, action="accept")
    assert r.status_code == 409, r.text[:300]
    assert r.is_json and r.json["message"]
    monkeypatch.setattr(case_ops, "refresh_due", real)
    r = transition(client, case.id, headers, action="accept")  # the retry goes through
    assert r.status_code == 200, r.text[:300]
