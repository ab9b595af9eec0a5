"""The case screens: bad input gets a clear error, nothing is saved, nothing typed is lost.

Assertions use structure (ids, classes, data- attributes, status codes) and the text the
user typed, never the (Chinese by default) interface wording.
"""
from __future__ import annotations

import contextvars
import time
import datetime as dt
import os
from decimal import Decimal
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
import time_machine
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.exc import DataError

from caseflow.accounts.operations import start_session
from caseflow.cases.models import Case
from caseflow.core.timeutil import today_local
from caseflow.extensions import db as _db
from tests.conftest import valid_credit_code

ON_POSTGRES = os.environ.get("CASEFLOW_TEST_DATABASE_URL", "").startswith("postgres")
BAD_CREDIT_CODE = "11230500001755309E"  # wrong check character
BAD_ID = "110105194912310021"  # check digit should be X
IMPOSSIBLE_BIRTH_ID = "110105194902300013"  # born 30 February 1949
VALID_ID = "11010519491231002X"


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


def sign_in(client, user):
    """Log ``client`` in as ``user`` the way /login does: a server-side session row whose id
    is the Flask-Login user id. The login form itself is tested in tests/accounts; these
    screens are tested independently of it."""
    sess = start_session(user, "pytest")
    _db.session.commit()
    with client.session_transaction() as s:
        s["_user_id"] = sess.id
        s["seen"] = int(time.time())  # signed in just now (idle timeout)
        s["_fresh"] = True
    return client


@pytest.fixture()
def officer_client(new_client, world):
    return sign_in(new_client(), world.officer)


class Page(HTMLParser):
    """A tiny DOM: every element with its attributes and text, plus the form's values."""

    VOID = {"input", "meta", "link", "br", "img", "hr"}

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.html = html
        self.elements: list[dict] = []
        self._open: list[dict] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        el = {"tag": tag, "attrs": {k: (v if v is not None else "") for k, v in attrs},
              "text": "", "parents": list(self._open)}
        self.elements.append(el)
        if tag not in self.VOID:
            self._open.append(el)

    def handle_endtag(self, tag):
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i]["tag"] == tag:
                del self._open[i:]
                break

    def handle_data(self, data):
        for el in self._open:
            el["text"] += data

    def find(self, tag=None, inside=None, **attrs) -> list[dict]:
        """Elements by tag and attributes; ``class_`` matches one class among several."""
        out = []
        for el in self.elements:
            if tag and el["tag"] != tag:
                continue
            if inside is not None and not any(p is inside for p in el["parents"]):
                continue
            ok = True
            for k, v in attrs.items():
                if k == "class_":
                    ok = v in el["attrs"].get("class", "").split()
                elif el["attrs"].get(k.replace("_", "-") if k.startswith("data_") else k) != v:
                    ok = False
                if not ok:
                    break
            if ok:
                out.append(el)
        return out

    def one(self, tag=None, **attrs) -> dict:
        found = self.find(tag, **attrs)
        assert len(found) == 1, f"expected one <{tag} {attrs}>, found {len(found)}"
        return found[0]

    def field_error(self, name: str) -> str:
        """The error the form macro shows under a field (``<p class="error" id="…-error">``)."""
        el = self.one("p", id=f"{name}-error")
        assert "error" in el["attrs"]["class"].split()
        assert el["text"].strip()
        return el["text"].strip()

    def field_errors(self) -> set[str]:
        return {el["attrs"]["id"].removesuffix("-error")
                for el in self.find("p", class_="error") if el["attrs"].get("id")}

    def form_data(self, form: dict | None = None) -> dict:
        """What a browser would send for the (first, or given) form."""
        form = form or self.find("form", class_="case-form")[0]
        data: dict = {}
        for el in self.elements:
            if not any(p is form for p in el["parents"]):
                continue
            a, name = el["attrs"], el["attrs"].get("name")
            if not name:
                continue
            if el["tag"] == "input":
                if a.get("type") in ("checkbox", "radio"):
                    if "checked" in a:
                        data.setdefault(name, []).append(a.get("value", "on"))
                else:
                    data[name] = a.get("value", "")
            elif el["tag"] == "textarea":
                data[name] = el["text"]
            elif el["tag"] == "select":
                options = self.find("option", inside=el)
                chosen = [o for o in options if "selected" in o["attrs"]] or options[:1]
                data[name] = chosen[0]["attrs"].get("value", "") if chosen else ""
        return {k: (v[0] if isinstance(v, list) and len(v) == 1 else v) for k, v in data.items()}


def page(response) -> Page:
    return Page(response.get_data(as_text=True))


def n_cases() -> int:
    return _db.session.scalar(select(func.count()).select_from(Case))


def days_ago(n: int) -> str:
    return (today_local() - dt.timedelta(days=n)).isoformat()


def clue_form(**over) -> dict:
    """A complete, valid new-clue form as the browser sends it; ``None`` drops a field."""
    data = {
        "title": "某商行涉嫌销售假冒注册商标的商品",
        "channel": "report",
        "ip_type": "trademark",
        "received_at": days_ago(3),
        "description": "举报人反映该商行销售假冒“耐克”运动鞋，约200双。",
        "location": "松江区中山中路100号",
        "infringement_kind": "销售假冒注册商标的商品",
        "reporter_name": "张三",
        "reporter_contact": "13800000000",
        "is_major": "y",
        "amounts-illegal_business_volume": "60000",
        "amounts-illegal_gains": "20000.50",
        "amounts-sales_amount": "",
        "amounts-unsold_goods_value": "1500",
        "amounts-copies": "",
        "parties-0-kind": "business",
        "parties-0-name": "上海某某商行",
        "parties-0-credit_code": valid_credit_code(1),
        "parties-0-id_number": "",
        "parties-0-address": "松江区中山中路100号",
    }
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def blank_party(i: int, kind: str = "business") -> dict:
    return {f"parties-{i}-kind": kind, f"parties-{i}-name": "", f"parties-{i}-credit_code": "",
            f"parties-{i}-id_number": "", f"parties-{i}-address": ""}


def party(i: int, kind="business", name="上海某某商行", credit_code="", id_number="",
          address="") -> dict:
    return {f"parties-{i}-kind": kind, f"parties-{i}-name": name,
            f"parties-{i}-credit_code": credit_code, f"parties-{i}-id_number": id_number,
            f"parties-{i}-address": address}


def without_parties(form: dict) -> dict:
    return {k: v for k, v in form.items() if not k.startswith("parties-")}


# ----------------------------------------------------------------------------- new clue


def test_new_form_renders_for_an_officer(officer_client):
    r = officer_client.get("/cases/new")
    assert r.status_code == 200
    p = page(r)
    data = p.form_data()
    assert data["received_at"] == today_local().isoformat()  # Beijing's date
    assert data["parties-0-kind"] == "business"
    assert not p.field_errors()
    assert p.find("input", name="csrf_token")


def test_valid_clue_is_saved_and_redirects_to_it(officer_client, world):
    form = clue_form(**{"parties-0-credit_code": " " + valid_credit_code(1).lower() + " "})
    r = officer_client.post("/cases/new", data=form)
    assert r.status_code == 302
    case = _db.session.scalar(select(Case))
    assert urlsplit(r.headers["Location"]).path == f"/cases/{case.id}"
    assert case.state == "clue"
    assert case.title == form["title"] and case.description == form["description"]
    assert case.channel == "report" and case.ip_type == "trademark"
    assert case.received_on == dt.date.fromisoformat(form["received_at"])
    assert case.is_major is True
    assert case.reporter_name == "张三"
    assert case.owner_agency_id == world.amr.id and case.created_by_id == world.officer.id
    assert case.illegal_business_volume == Decimal("60000")
    assert case.illegal_gains == Decimal("20000.50")
    assert case.sales_amount == 0 and case.copies == 0
    assert case.unsold_goods_value == Decimal("1500")
    [p] = case.parties
    assert (p.kind, p.name, p.credit_code, p.id_number) == \
        ("business", "上海某某商行", valid_credit_code(1), None)  # normalised
    assert [e.action for e in case.events] == ["create"]
    # the detail page it redirects to shows it
    detail = officer_client.get(r.headers["Location"])
    assert detail.status_code == 200 and form["title"] in detail.text


def test_person_party_and_blank_rows_are_skipped(officer_client):
    form = without_parties(clue_form(is_major=None))
    form.update(blank_party(0))
    form.update(party(1, kind="person", name="李四", id_number=VALID_ID.lower()))
    form.update(blank_party(2, kind="person"))
    r = officer_client.post("/cases/new", data=form)
    assert r.status_code == 302, page(r).field_errors()
    case = _db.session.scalar(select(Case))
    assert case.is_major is False
    assert [(p.kind, p.name, p.id_number, p.credit_code) for p in case.parties] == \
        [("person", "李四", VALID_ID, None)]


FUTURE = (today_local() + dt.timedelta(days=2)).isoformat()

#: (case id, form overrides, field that must show the error)
BAD_FIELDS = [
    ("title-missing", {"title": None}, "title"),
    ("title-empty", {"title": ""}, "title"),
    ("title-one-char", {"title": "假"}, "title"),
    ("title-too-long", {"title": "假" * 201}, "title"),
    ("title-only-spaces", {"title": "   "}, "title"),
    ("channel-unknown", {"channel": "carrier_pigeon"}, "channel"),
    ("channel-missing", {"channel": ""}, "channel"),
    ("ip_type-unknown", {"ip_type": "design_right"}, "ip_type"),
    ("received_at-future", {"received_at": FUTURE}, "received_at"),
    ("received_at-malformed", {"received_at": "2024-13-45"}, "received_at"),
    ("received_at-impossible", {"received_at": "2023-02-29"}, "received_at"),
    ("received_at-words", {"received_at": "上周三"}, "received_at"),
    ("received_at-missing", {"received_at": ""}, "received_at"),
    ("received_at-too-old", {"received_at": "1999-12-31"}, "received_at"),
    ("description-too-long", {"description": "述" * 20001}, "description"),
    ("location-too-long", {"location": "路" * 301}, "location"),
    ("reporter_name-too-long", {"reporter_name": "张" * 101}, "reporter_name"),
    ("volume-negative", {"amounts-illegal_business_volume": "-1"},
     "amounts-illegal_business_volume"),
    ("volume-non-numeric", {"amounts-illegal_business_volume": "六万"},
     "amounts-illegal_business_volume"),
    ("volume-not-a-number", {"amounts-illegal_business_volume": "NaN"},
     "amounts-illegal_business_volume"),
    ("volume-thousands-separator", {"amounts-illegal_business_volume": "60,000"},
     "amounts-illegal_business_volume"),
    ("gains-three-decimals", {"amounts-illegal_gains": "100.125"}, "amounts-illegal_gains"),
    ("gains-negative", {"amounts-illegal_gains": "-0.01"}, "amounts-illegal_gains"),
    ("sales-non-numeric", {"amounts-sales_amount": "abc"}, "amounts-sales_amount"),
    ("sales-too-large", {"amounts-sales_amount": "1000000000000.01"}, "amounts-sales_amount"),
    ("unsold-three-decimals", {"amounts-unsold_goods_value": "0.001"},
     "amounts-unsold_goods_value"),
    ("copies-fraction", {"amounts-copies": "1.5"}, "amounts-copies"),
    ("copies-words", {"amounts-copies": "many"}, "amounts-copies"),
    ("copies-negative", {"amounts-copies": "-3"}, "amounts-copies"),
    ("copies-too-many", {"amounts-copies": "10000000000"}, "amounts-copies"),
    ("business-bad-credit-code", {"parties-0-credit_code": BAD_CREDIT_CODE},
     "parties-0-credit_code"),
    ("business-short-credit-code", {"parties-0-credit_code": "9131011712345"},
     "parties-0-credit_code"),
    ("business-without-code", {"parties-0-credit_code": ""}, "parties-0-credit_code"),
    ("person-bad-id", {"parties-0-kind": "person", "parties-0-credit_code": "",
                       "parties-0-id_number": BAD_ID}, "parties-0-id_number"),
    ("person-impossible-birth", {"parties-0-kind": "person", "parties-0-credit_code": "",
                                 "parties-0-id_number": IMPOSSIBLE_BIRTH_ID},
     "parties-0-id_number"),
    ("person-without-id", {"parties-0-kind": "person", "parties-0-credit_code": ""},
     "parties-0-id_number"),
    ("party-without-name", {"parties-0-name": ""}, "parties-0-name"),
    ("party-unknown-kind", {"parties-0-kind": "alien"}, "parties-0-kind"),
]


@pytest.mark.parametrize("over,field", [b[1:] for b in BAD_FIELDS], ids=[b[0] for b in BAD_FIELDS])
def test_bad_field_is_refused_with_error_and_everything_typed_kept(officer_client, over, field):
    form = clue_form(**over)
    r = officer_client.post("/cases/new", data=form)
    assert r.status_code == 422
    p = page(r)
    p.field_error(field)
    assert p.field_errors() == {field}  # only the bad field is marked
    # a bad <input> is marked for assistive technology too
    bad = p.find("input", id=field)
    if bad:
        assert bad[0]["attrs"].get("aria-invalid") == "true"
        assert bad[0]["attrs"].get("aria-describedby") == f"{field}-error"
    # nothing typed is lost: the re-rendered form would send back what was posted
    # (a <select> cannot show a value that is not among its options)
    shown = p.form_data()
    for name, value in form.items():
        if name == field and p.find("select", name=name):
            continue
        assert shown.get(name, "") == value, name
    assert form.get("title", "x")[:5] in r.text
    assert n_cases() == 0


def test_special_characters_round_trip_and_are_escaped(officer_client):
    tricky = {"title": '"引号" & <b>粗体</b> \'单引号\' 100%',
              "description": "第一行 <script>alert(1)</script>\n第二行 &amp; 第三行",
              "location": "A&B <路>"}
    r = officer_client.post("/cases/new", data=clue_form(
        **tricky, **{"parties-0-credit_code": BAD_CREDIT_CODE}))
    assert r.status_code == 422
    assert "<script>alert(1)</script>" not in r.text and "<b>粗体</b>" not in r.text
    shown = page(r).form_data()
    assert {k: shown[k] for k in tricky} == tricky
    # once saved, the detail page shows the text, not markup
    r = officer_client.post("/cases/new", data=clue_form(**tricky))
    assert r.status_code == 302
    detail = officer_client.get(r.headers["Location"])
    assert "<script>alert(1)</script>" not in detail.text
    assert page(detail).one("h1")["text"] == tricky["title"]


@pytest.mark.parametrize("field", ["title", "description", "parties-0-name"])
def test_control_characters_are_refused(officer_client, field):
    form = clue_form()
    form[field] = form[field][:2] + "\x00" + form[field][2:]
    r = officer_client.post("/cases/new", data=form)
    assert r.status_code == 422
    assert page(r).field_errors() == {field}
    assert n_cases() == 0


def test_received_date_is_the_beijing_date(new_client, world):
    """Legal dates are Beijing calendar dates, whatever the server's clock zone."""
    moment = dt.datetime.combine(today_local(), dt.time(20, 0), dt.timezone.utc)
    beijing_today = (moment + dt.timedelta(hours=8)).date()  # already tomorrow in Beijing
    with time_machine.travel(moment, tick=False):
        client = sign_in(new_client(), world.officer)
        assert page(client.get("/cases/new")).form_data()["received_at"] == \
            beijing_today.isoformat()
        r = client.post("/cases/new", data=clue_form(
            received_at=(beijing_today + dt.timedelta(days=1)).isoformat()))
        assert r.status_code == 422 and page(r).field_errors() == {"received_at"}
        r = client.post("/cases/new", data=clue_form(received_at=beijing_today.isoformat()))
        assert r.status_code == 302
    assert _db.session.scalar(select(Case.received_on)) == beijing_today


def test_errors_on_several_fields_at_once(officer_client):
    form = clue_form(title="", channel="x", **{"amounts-copies": "1.5",
                                               "parties-0-credit_code": BAD_CREDIT_CODE})
    r = officer_client.post("/cases/new", data=form)
    assert r.status_code == 422
    assert page(r).field_errors() == {"title", "channel", "amounts-copies",
                                      "parties-0-credit_code"}
    assert n_cases() == 0


def test_bad_credit_code_is_echoed_back_in_its_input(officer_client):
    r = officer_client.post("/cases/new", data=clue_form(**{"parties-0-credit_code":
                                                            BAD_CREDIT_CODE}))
    p = page(r)
    code_input = p.one("input", name="parties-0-credit_code")
    assert code_input["attrs"]["value"] == BAD_CREDIT_CODE
    assert code_input["attrs"]["aria-describedby"] == "parties-0-credit_code-error"
    # the name and address typed in the same row are kept too
    assert p.one("input", name="parties-0-name")["attrs"]["value"] == "上海某某商行"
    assert p.one("textarea", name="description")["text"] == clue_form()["description"]
    assert p.one("input", name="title")["attrs"]["value"] == clue_form()["title"]
    assert n_cases() == 0


def test_party_error_uses_the_form_row_when_an_earlier_row_is_blank(officer_client):
    form = without_parties(clue_form())
    form.update(blank_party(0))
    form.update(party(1, credit_code=BAD_CREDIT_CODE, name="上海某某贸易公司"))
    r = officer_client.post("/cases/new", data=form)
    assert r.status_code == 422
    p = page(r)
    assert p.field_errors() == {"parties-1-credit_code"}
    assert p.one("input", name="parties-1-credit_code")["attrs"]["value"] == BAD_CREDIT_CODE
    assert p.one("input", name="parties-1-name")["attrs"]["value"] == "上海某某贸易公司"
    assert p.find("div", class_="party", data_index="0")  # the blank row is still there
    assert n_cases() == 0


def test_party_rows_with_gaps_in_their_numbers(officer_client):
    """Rows removed in the browser leave gaps (0, 3, 7): errors still land on the typed row."""
    form = without_parties(clue_form())
    form.update(party(0, credit_code=valid_credit_code(1)))
    form.update(party(3, name="第二家", credit_code=valid_credit_code(2)))
    form.update(party(7, kind="person", name="王五", id_number=BAD_ID))
    r = officer_client.post("/cases/new", data=form)
    assert r.status_code == 422
    p = page(r)
    # the page re-numbers the rows 0, 1, 2; the error is on the third one shown
    rows = p.find("div", class_="party")
    assert len(rows) == 3
    [err] = p.field_errors()
    idx = int(err.split("-")[1])
    assert err == f"parties-{idx}-id_number"
    assert p.one("input", name=f"parties-{idx}-id_number")["attrs"]["value"] == BAD_ID
    assert p.one("input", name=f"parties-{idx}-name")["attrs"]["value"] == "王五"
    assert n_cases() == 0


def test_duplicate_party_is_refused_on_the_second_row(officer_client):
    code = valid_credit_code(5)
    form = without_parties(clue_form())
    form.update(blank_party(0))
    form.update(party(1, credit_code=code))
    form.update(party(2, name="同一家公司", credit_code=code.lower()))
    r = officer_client.post("/cases/new", data=form)
    assert r.status_code == 422
    p = page(r)
    assert p.field_errors() == {"parties-2-credit_code"}
    assert p.one("input", name="parties-2-name")["attrs"]["value"] == "同一家公司"
    assert n_cases() == 0


def test_duplicate_person_is_refused(officer_client):
    form = without_parties(clue_form())
    form.update(party(0, kind="person", name="李四", id_number=VALID_ID))
    form.update(party(1, kind="person", name="李四", id_number=VALID_ID))
    r = officer_client.post("/cases/new", data=form)
    assert r.status_code == 422
    assert page(r).field_errors() == {"parties-1-id_number"}
    assert n_cases() == 0


def test_new_clue_needs_a_case_role(new_client, world):
    c = sign_in(new_client(), world.reviewer)
    assert c.get("/cases/new").status_code == 403
    assert c.post("/cases/new", data=clue_form()).status_code == 403
    assert n_cases() == 0


def test_screens_need_login(new_client, make_case):
    case = make_case()
    c = new_client()
    for url in ("/cases/", "/cases/new", f"/cases/{case.id}", f"/cases/{case.id}/edit"):
        r = c.get(url)
        assert r.status_code == 302 and urlsplit(r.headers["Location"]).path == "/login", url
    r = c.post("/cases/new", data=clue_form())
    assert r.status_code == 302 and urlsplit(r.headers["Location"]).path == "/login"
    assert n_cases() == 1


# ----------------------------------------------------------------------------- edit


def test_edit_form_shows_the_saved_case(officer_client, make_case):
    case = make_case(reporter_name="张三", description="原始描述")
    r = officer_client.get(f"/cases/{case.id}/edit")
    assert r.status_code == 200
    data = page(r).form_data()
    assert data["version"] == str(case.version)
    assert data["title"] == case.title and data["description"] == "原始描述"
    assert data["reporter_name"] == "张三"
    assert data["parties-0-credit_code"] == case.parties[0].credit_code
    assert data["amounts-illegal_business_volume"] == str(case.illegal_business_volume)


def test_edit_saves_and_records_the_change(officer_client, make_case):
    case = make_case()
    data = page(officer_client.get(f"/cases/{case.id}/edit")).form_data()
    data["title"] = "修改后的标题：某商行销售假冒商品"
    r = officer_client.post(f"/cases/{case.id}/edit", data=data)
    assert r.status_code == 302
    assert urlsplit(r.headers["Location"]).path == f"/cases/{case.id}"
    _db.session.refresh(case)
    assert case.title == "修改后的标题：某商行销售假冒商品"
    assert case.events[-1].action == "edit"
    assert case.events[-1].data["changes"]["title"][1] == data["title"]


def without_csrf(form: dict) -> dict:
    """The CSRF token is re-signed with the current time on each render."""
    return {k: v for k, v in form.items() if k != "csrf_token"}


def test_edit_with_bad_input_keeps_the_typing_and_saves_nothing(officer_client, make_case):
    case = make_case()
    old = (case.title, case.version)
    data = page(officer_client.get(f"/cases/{case.id}/edit")).form_data()
    data.update({"title": "新标题也要保留", "parties-0-credit_code": BAD_CREDIT_CODE})
    r = officer_client.post(f"/cases/{case.id}/edit", data=data)
    assert r.status_code == 422
    p = page(r)
    assert p.field_errors() == {"parties-0-credit_code"}
    assert without_csrf(p.form_data()) == without_csrf(data)
    _db.session.refresh(case)
    assert (case.title, case.version) == old


def test_edit_conflict_keeps_the_second_officers_typing(new_client, world, make_case):
    case = make_case()
    first = sign_in(new_client(), world.officer)
    second = sign_in(new_client(), world.officer2)
    form1 = page(first.get(f"/cases/{case.id}/edit")).form_data()
    form2 = page(second.get(f"/cases/{case.id}/edit")).form_data()
    assert form1["version"] == form2["version"] == str(case.version)

    form1["title"] = "第一位承办人改的标题"
    assert first.post(f"/cases/{case.id}/edit", data=form1).status_code == 302

    form2["title"] = "第二位承办人改的标题"
    form2["description"] = "第二位承办人补充的描述"
    form2["parties-0-address"] = "第二位承办人核实的地址"
    r = second.post(f"/cases/{case.id}/edit", data=form2)
    assert r.status_code == 409
    p = page(r)
    conflict = p.one("div", class_="conflict")
    assert conflict["text"].strip()
    # what the second officer typed is still in the form ...
    shown = p.form_data()
    assert shown["title"] == "第二位承办人改的标题"
    assert shown["description"] == "第二位承办人补充的描述"
    assert shown["parties-0-address"] == "第二位承办人核实的地址"
    # (the CSRF token is re-signed with the time on each render)
    assert {k: v for k, v in shown.items() if k not in ("version", "csrf_token")} == \
        {k: v for k, v in form2.items() if k not in ("version", "csrf_token")}
    # ... and what is saved now is shown next to it
    saved = p.one("dl", class_="saved")
    assert "第一位承办人改的标题" in saved["text"]
    _db.session.refresh(case)
    assert case.title == "第一位承办人改的标题"
    assert shown["version"] == str(case.version)  # the form now carries the current version

    # saving again, deliberately, replaces the first officer's title
    r = second.post(f"/cases/{case.id}/edit", data=shown)
    assert r.status_code == 302
    _db.session.refresh(case)
    assert case.title == "第二位承办人改的标题"
    assert case.description == "第二位承办人补充的描述"
    editors = [e.user_id for e in case.events if e.action == "edit"]
    assert editors == [world.officer.id, world.officer2.id]


def test_edit_without_version_is_refused(officer_client, make_case):
    case = make_case()
    data = page(officer_client.get(f"/cases/{case.id}/edit")).form_data()
    del data["version"]
    data["title"] = "没有版本号的修改"
    r = officer_client.post(f"/cases/{case.id}/edit", data=data)
    assert r.status_code == 422
    p = page(r)
    assert p.find("div", class_="error", role="alert")
    assert p.form_data()["title"] == "没有版本号的修改"
    _db.session.refresh(case)
    assert case.title != "没有版本号的修改"


def test_edit_received_date_after_the_first_step_is_refused(officer_client, make_case, drive):
    case = make_case(received_at=days_ago(10))
    drive(case, "accept", today=today_local() - dt.timedelta(days=5))
    version = case.version
    data = page(officer_client.get(f"/cases/{case.id}/edit")).form_data()
    data.update({"received_at": days_ago(2), "title": "改了日期的线索"})
    r = officer_client.post(f"/cases/{case.id}/edit", data=data)
    assert r.status_code == 422
    p = page(r)
    assert p.field_errors() == {"received_at"}
    assert without_csrf(p.form_data()) == without_csrf(data)
    _db.session.refresh(case)
    assert case.received_on == dt.date.fromisoformat(days_ago(10))
    assert case.version == version and case.title != "改了日期的线索"


def test_edit_is_refused_to_other_agencies_and_closed_cases(new_client, world, make_case, drive):
    case = make_case()
    other = sign_in(new_client(), world.other)
    assert other.get(f"/cases/{case.id}/edit").status_code == 404
    assert other.post(f"/cases/{case.id}/edit", data=clue_form()).status_code == 404
    drive(case, "reject")
    officer = sign_in(new_client(), world.officer)
    assert officer.get(f"/cases/{case.id}/edit").status_code == 403


# ----------------------------------------------------------------------------- detail / actions


def test_detail_shows_clocks_timeline_and_only_allowed_actions(officer_client, world, make_case):
    from caseflow.cases import operations as ops

    case = make_case()
    r = officer_client.get(f"/cases/{case.id}")
    assert r.status_code == 200
    p = page(r)
    assert p.one("tr", data_clock="verification")
    assert p.one("li", data_action="create")
    assert p.one("li", data_action="assign_officers")
    assert p.one(id="case-state")["attrs"]["class"].split() == ["state", "s-clue"]
    shown = {el["attrs"]["data-action"] for el in p.find("details", class_="action")}
    assert shown == set(ops.allowed_actions(world.officer, case))
    assert shown == {"accept", "reject", "terminate"}
    # each action form carries the case version for the optimistic lock
    for el in p.find("details", class_="action"):
        [version] = [i for i in p.find("input", inside=el) if i["attrs"].get("name") == "version"]
        assert version["attrs"]["value"] == str(case.version)


def test_detail_shows_no_actions_to_roles_without_them(new_client, world, make_case):
    case = make_case()
    p = page(sign_in(new_client(), world.reviewer).get(f"/cases/{case.id}"))
    assert p.find("details", class_="action") == []
    assert p.one("li", data_action="create")


def test_detail_of_another_agencys_case_is_not_found(new_client, world, make_case):
    case = make_case()
    r = sign_in(new_client(), world.other).get(f"/cases/{case.id}")
    assert r.status_code == 404
    assert case.title not in r.text


def _act(client, case, **fields):
    data = {"version": str(case.version), **fields}
    return client.post(f"/cases/{case.id}/actions", data=data)


def test_action_is_performed_and_redirects(officer_client, make_case):
    case = make_case()
    r = _act(officer_client, case, action="accept", reason="")
    assert r.status_code == 302
    assert urlsplit(r.headers["Location"]).path == f"/cases/{case.id}"
    _db.session.refresh(case)
    assert case.state == "verifying"
    p = page(officer_client.get(f"/cases/{case.id}"))
    assert p.one("li", data_action="accept")
    assert {el["attrs"]["data-action"] for el in p.find("details", class_="action")} >= {"file"}


def _snapshot(case):
    _db.session.expire_all()
    return (case.state, case.version, len(case.events), case.pending_action)


def test_refused_action_shows_why_and_changes_nothing(officer_client, make_case):
    case = make_case()
    before = _snapshot(case)
    r = _act(officer_client, case, action="close")
    assert r.status_code == 409
    p = page(r)
    alert = p.find("div", class_="error", role="alert")
    assert alert and alert[0]["text"].strip()
    assert p.one(id="case-state")["attrs"]["class"].split() == ["state", "s-clue"]
    assert _snapshot(case) == before


def test_reject_without_reason_shows_the_reason_error(officer_client, make_case):
    case = make_case()
    before = _snapshot(case)
    r = _act(officer_client, case, action="reject", reason="  ")
    assert r.status_code == 422
    p = page(r)
    p.field_error("reason")
    form = p.one("details", class_="action", data_action="reject")
    assert "open" in form["attrs"]  # the form with the error is open
    assert p.find("p", id="reason-error", inside=form)
    assert _snapshot(case) == before
    assert case.state == "clue"


def test_reject_with_reason_keeps_it_in_the_timeline(officer_client, make_case):
    case = make_case()
    r = _act(officer_client, case, action="reject", reason="举报内容与事实不符")
    assert r.status_code == 302
    _db.session.refresh(case)
    assert case.state == "rejected" and case.state_reason == "举报内容与事实不符"
    p = page(officer_client.get(f"/cases/{case.id}"))
    assert "举报内容与事实不符" in p.one("li", data_action="reject")["text"]


def test_action_with_stale_version_is_a_conflict(new_client, world, make_case):
    case = make_case()
    first = sign_in(new_client(), world.officer)
    second = sign_in(new_client(), world.officer2)
    old_version = case.version
    assert _act(first, case, action="accept").status_code == 302
    before = _snapshot(case)
    r = second.post(f"/cases/{case.id}/actions",
                    data={"action": "reject", "reason": "证据不足", "version": str(old_version)})
    assert r.status_code == 409
    p = page(r)
    assert p.find("div", class_="error", role="alert")
    assert _snapshot(case) == before and case.state == "verifying"


def test_action_form_keeps_typed_values_on_error(officer_client, make_case, drive):
    case = make_case()
    drive(case, "accept", "file", "investigate", "notify", "record_statement")
    r = _act(officer_client, case, action="decide_penalty", fine_amount="5000",
             decision_summary="罚款5000元")  # no penalty kind ticked
    assert r.status_code == 422
    p = page(r)
    form = p.one("details", class_="action", data_action="decide_penalty")
    assert p.find("p", id="penalty_kinds-error", inside=form)
    assert p.one("input", id="fine_amount")["attrs"]["value"] == "5000"
    assert p.one("textarea", id="decision_summary")["text"] == "罚款5000元"
    _db.session.refresh(case)
    assert case.state == "notified" and case.pending_action is None


def test_unknown_action_is_refused(officer_client, make_case):
    case = make_case()
    before = _snapshot(case)
    r = _act(officer_client, case, action="delete_everything")
    assert r.status_code == 422
    assert _snapshot(case) == before


# ----------------------------------------------------------------------------- officers


def test_filing_is_offered_only_with_two_officers(officer_client, world, make_case, drive):
    case = make_case(officers=False)
    drive(case, "accept")
    p = page(officer_client.get(f"/cases/{case.id}"))
    assert not p.find("details", class_="action", data_action="file")
    assert p.find("details", class_="action", data_action="reject")
    assert _officers(officer_client, case, [world.officer.id, world.officer2.id]).status_code == 302
    p = page(officer_client.get(f"/cases/{case.id}"))
    assert p.one("details", class_="action", data_action="file")


def test_approval_through_the_screens(officer_client, new_client, world, make_case, drive):
    case = make_case()
    drive(case, "accept")
    r = _act(officer_client, case, action="file", reason="")
    assert r.status_code == 302
    _db.session.refresh(case)
    assert case.state == "verifying" and case.pending_action == "file"
    # the officer waits; nothing else can be done meanwhile
    p = page(officer_client.get(f"/cases/{case.id}"))
    assert p.find("details", class_="action") == []
    assert p.find("div", class_="info", role="status")
    # the approver sees exactly approve / deny
    approver = sign_in(new_client(), world.approver)
    p = page(approver.get(f"/cases/{case.id}"))
    assert {el["attrs"]["data-action"] for el in p.find("details", class_="action")} == \
        {"approve", "deny"}
    before = _snapshot(case)
    r = _act(approver, case, action="deny", reason="")
    assert r.status_code == 422
    p = page(r)
    deny = p.one("details", class_="action", data_action="deny")
    assert p.find("p", id="reason-error", inside=deny)
    assert _snapshot(case) == before
    r = _act(approver, case, action="approve")
    assert r.status_code == 302
    _db.session.refresh(case)
    assert case.state == "filed" and case.number and case.pending_action is None
    assert case.number in approver.get(f"/cases/{case.id}").text


def _officers(client, case, ids, version=None):
    return client.post(f"/cases/{case.id}/officers",
                       data={"officer_ids": [str(i) for i in ids],
                             "version": str(case.version if version is None else version)})


def test_assign_officers(officer_client, world, make_case):
    case = make_case(officers=False)
    assert [u.id for u in case.officers] == [world.officer.id]
    r = _officers(officer_client, case, [world.officer2.id, world.officer.id])
    assert r.status_code == 302
    _db.session.expire_all()
    assert {u.id for u in case.officers} == {world.officer.id, world.officer2.id}
    assert case.lead_officer_id == world.officer2.id  # the first one chosen leads
    assert case.events[-1].action == "assign_officers"


def test_officers_form_lists_agency_officers_with_current_ones_ticked(officer_client, world,
                                                                      make_case):
    case = make_case(officers=False)
    p = page(officer_client.get(f"/cases/{case.id}"))
    boxes = {el["attrs"]["value"]: "checked" in el["attrs"]
             for el in p.find("input", name="officer_ids")}
    assert boxes == {str(world.inspector.id): False, str(world.officer.id): True,
                     str(world.officer2.id): False}  # not the reviewer, not the other agency


@pytest.mark.parametrize("who", ["other_agency", "none", "not_a_number"])
def test_bad_officers_are_refused(officer_client, world, make_case, who):
    case = make_case(officers=False)
    before = _snapshot(case)
    ids = {"other_agency": [world.officer.id, world.other.id], "none": [],
           "not_a_number": ["abc"]}[who]
    r = _officers(officer_client, case, ids)
    assert r.status_code == 422
    p = page(r)
    errors = p.find("p", class_="error", role="alert")
    assert errors and errors[0]["text"].strip()
    assert _snapshot(case) == before
    assert [u.id for u in case.officers] == [world.officer.id]


def test_officers_with_stale_version_are_a_conflict(officer_client, world, make_case):
    case = make_case(officers=False)
    old = case.version
    assert _officers(officer_client, case, [world.officer.id, world.officer2.id]).status_code == 302
    before = _snapshot(case)
    r = _officers(officer_client, case, [world.officer.id, world.inspector.id], version=old)
    assert r.status_code == 409
    assert page(r).find("div", class_="error", role="alert")
    assert _snapshot(case) == before
    assert {u.id for u in case.officers} == {world.officer.id, world.officer2.id}


def test_inspector_cannot_assign_officers(new_client, world, make_case):
    case = make_case(officers=False)
    before = _snapshot(case)
    r = _officers(sign_in(new_client(), world.inspector), case,
                  [world.officer.id, world.inspector.id])
    assert r.status_code == 403
    assert _snapshot(case) == before


# ----------------------------------------------------------------------------- list


def _titles(response) -> list[str]:
    """Titles in the case table, top to bottom (the second cell of each row)."""
    p = page(response)
    bodies = p.find("tbody", inside=p.find("table", class_="cases")[0]) \
        if p.find("table", class_="cases") else []
    if not bodies:
        return []
    return [p.find("td", inside=tr)[1]["text"].strip() for tr in p.find("tr", inside=bodies[0])]


@pytest.fixture()
def listed(world, make_case, drive):
    """Five cases that differ in state, IP type, channel, officers and deadline."""
    cases = {
        "tm": make_case(title="商标案：假冒耐克运动鞋"),
        "patent": make_case(title="专利案：假冒专利标识", ip_type="patent", channel="inspection"),
        "copy": make_case(title="版权案：盗版图书", ip_type="copyright",
                          parties=[{"kind": "business", "name": "松江书店",
                                    "credit_code": valid_credit_code(7)}]),
        "old": make_case(title="逾期线索：早已收到", received_at=days_ago(120)),
        "solo": make_case(user=world.officer2, officers=False, title="另一承办人的线索"),
    }
    drive(cases["tm"], "accept")
    return cases


def test_list_shows_the_agencys_cases(officer_client, listed, new_client, world):
    r = officer_client.get("/cases/")
    assert r.status_code == 200
    assert sorted(_titles(r)) == sorted(c.title for c in listed.values())
    # another agency sees none of them
    r = sign_in(new_client(), world.other).get("/cases/")
    assert r.status_code == 200 and _titles(r) == []


@pytest.mark.parametrize("query,expected", [
    ("state=verifying", {"tm"}),
    ("state=clue", {"patent", "copy", "old", "solo"}),
    ("ip_type=patent", {"patent"}),
    ("channel=inspection", {"patent"}),
    ("ip_type=trademark&state=clue", {"old", "solo"}),
    ("overdue=1", {"old"}),
    ("q=盗版", {"copy"}),
    ("q=松江书店", {"copy"}),
    ("q=%25", set()),  # a literal %, not a wildcard
    ("q=_", set()),
])
def test_list_filters(officer_client, listed, query, expected):
    r = officer_client.get(f"/cases/?{query}")
    assert r.status_code == 200
    assert sorted(_titles(r)) == sorted(listed[k].title for k in expected)


def test_list_filter_by_officer_and_credit_code(officer_client, listed, world):
    r = officer_client.get(f"/cases/?officer={world.officer.id}")
    assert sorted(_titles(r)) == sorted(listed[k].title for k in ("tm", "patent", "copy", "old"))
    r = officer_client.get(f"/cases/?officer={world.officer2.id}")
    assert sorted(_titles(r)) == sorted(c.title for c in listed.values())
    r = officer_client.get(f"/cases/?q={valid_credit_code(7).lower()}")
    assert _titles(r) == [listed["copy"].title]


def _cursor(created: str, case_id) -> str:
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps([created, case_id]).encode()).decode().rstrip("=")


@pytest.mark.parametrize("query,field", [
    ("state=bogus", "state"), ("ip_type=x", "ip_type"), ("channel=pigeon", "channel"),
    ("officer=abc", "officer"), ("officer=-1", "officer"), ("cursor=!!notacursor", "cursor"),
    ("cursor=" + _cursor("yesterday", 1), "cursor"),
    # regressions: these reached the database and were a 500
    pytest.param("officer=99999999999999999999", "officer", id="officer-huge"),
    pytest.param("officer=%C2%B2", "officer", id="officer-superscript"),
    pytest.param("cursor=" + _cursor("2024-01-01T00:00:00+00:00", 10**20), "cursor",
                 id="cursor-huge-id"),
])
def test_bad_filter_is_a_422_page_not_a_crash(app, officer_client, listed, query, field):
    from caseflow.cases.messages import FIELD_LABELS

    r = officer_client.get(f"/cases/?{query}")
    assert r.status_code == 422
    p = page(r)
    errors = p.find("p", class_="error", role="alert")
    assert len(errors) == 1
    with app.test_request_context():  # the field's label in the default language
        label = str(FIELD_LABELS.get(field, field))
    name, _, message = errors[0]["text"].partition(":")
    assert name.strip() == label and message.strip()
    assert sorted(_titles(r)) == sorted(c.title for c in listed.values())  # unfiltered list


def test_list_is_forbidden_to_roles_without_case_work(new_client, world, listed):
    r = sign_in(new_client(), world.auditor).get("/cases/")
    assert r.status_code == 403
    assert listed["tm"].title not in r.text


def test_search_with_a_nul_byte_is_not_a_crash(officer_client, listed):
    r = officer_client.get("/cases/?q=%00")
    assert r.status_code in (200, 422)


@pytest.mark.parametrize("suffix", ["", "/edit"])
def test_out_of_range_case_id_is_not_found(officer_client, listed, suffix):
    """Regression: an id beyond the database's integer range was a 500."""
    r = officer_client.get(f"/cases/99999999999999999999{suffix}")
    assert r.status_code == 404
    r = officer_client.post(f"/cases/99999999999999999999{suffix or '/actions'}",
                            data={"action": "accept"})
    assert r.status_code == 404


def test_list_pages_without_repeats(officer_client, app, make_case):
    titles = {make_case(title=f"分页测试线索{i:02d}").title for i in range(7)}
    old = app.config["PAGE_SIZE"]
    app.config["PAGE_SIZE"] = 3
    try:
        seen, pages, url = [], 0, "/cases/"
        while url:
            r = officer_client.get(url)
            assert r.status_code == 200
            page_titles = _titles(r)
            assert 0 < len(page_titles) <= 3
            seen += page_titles
            pages += 1
            nxt = page(r).find("a", rel="next")
            url = nxt[0]["attrs"]["href"] if nxt else None
            assert pages <= 3
        assert pages == 3
        assert len(seen) == len(set(seen)) == 7
        assert set(seen) == titles
        assert seen == sorted(seen, reverse=True)  # newest first
    finally:
        app.config["PAGE_SIZE"] = old


def test_paging_keeps_the_filter(officer_client, app, make_case):
    for i in range(4):
        make_case(title=f"专利线索{i}", ip_type="patent")
        make_case(title=f"商标线索{i}")
    old = app.config["PAGE_SIZE"]
    app.config["PAGE_SIZE"] = 3
    try:
        r = officer_client.get("/cases/?ip_type=patent")
        first = _titles(r)
        href = page(r).one("a", rel="next")["attrs"]["href"]
        assert "ip_type=patent" in href
        rest = _titles(officer_client.get(href))
        assert sorted(first + rest) == [f"专利线索{i}" for i in range(4)]
    finally:
        app.config["PAGE_SIZE"] = old


def test_no_next_link_when_everything_fits(officer_client, listed):
    r = officer_client.get("/cases/")
    assert page(r).find("a", rel="next") == []
