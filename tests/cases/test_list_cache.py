"""The case list's page cache (PostgreSQL): ``caseflow.cases.pages`` and ``listcache``.

The oracle throughout: a page served from the cache equals the page rendered without it (the
same request with ``app.extensions["caseflow.pages"]`` set to None), CSRF token values aside.
``PageCache.hits``/``misses`` tell whether a request was served from the cache. Covered:

- a repeated request is a hit, the stored CSRF mark never leaks, each session gets its token;
- every kind of write a list page shows (operations, ORM, Core and raw SQL) makes the next
  request a miss that shows the change, including values that come back to an earlier one;
- a share grant expiring without any write;
- no cross-talk between agencies, users, languages; writes the list does not show keep hits;
- revoked sessions and tokens are refused before the cache; another agency's inspector sees
  only what visibility allows;
- dashboard filters, pending flash messages and error pages are never kept;
- the ``list_version`` triggers themselves, table by table, and ``tally.compact()``.

SQLite keeps no counter (the cache is off there): every test skips.
"""
from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from sqlalchemy import delete, insert, text, update

from caseflow.extensions import db as _db

CSRF_VALUE = re.compile(r'(name="csrf_token" (?:type="hidden" )?value=")([^"]*)(")')
LIST = "/cases/"
API_LIST = "/api/v1/cases"


@pytest.fixture(autouse=True)
def _postgresql_only(app):
    with app.app_context():
        if _db.engine.dialect.name != "postgresql":
            pytest.skip("the list cache runs on PostgreSQL only (no change counter on SQLite)")


# ----------------------------------------------------------------------------- helpers


def _cache(app):
    from caseflow.cases import pages

    kept = app.extensions[pages.EXTENSION]
    assert kept is not None, "LIST_CACHE_ENTRIES is 0 in the test configuration"
    return kept


def _normalised(body: str) -> str:
    return CSRF_VALUE.sub(r"\1CSRF\3", body)


def _request(client, url, **kw):
    """GET as a new request in production would be: the tests' app context (and with it
    ``g`` and the database session) outlives requests, so forget what the last one loaded
    and whatever the last request left on ``g`` (Flask-WTF's CSRF token, Flask-Babel's
    locale: else one client's token or language would reach the next request)."""
    from flask import g

    _db.session.expire_all()
    for name in list(g):
        g.pop(name)
    return client.get(url, **kw)


def _uncached(app, client, url, **kw):
    """The same request rendered with the page cache switched off."""
    from caseflow.cases import pages

    kept = app.extensions[pages.EXTENSION]
    app.extensions[pages.EXTENSION] = None
    try:
        return _request(client, url, **kw)
    finally:
        app.extensions[pages.EXTENSION] = kept


def fetch(app, client, url=LIST, expect="hit", **kw) -> str:
    """GET ``url`` through the cache; assert it was a ``hit`` or a ``miss`` (or neither, "none")
    and that what was served equals the uncached render. The served body (JSON for the API)."""
    from caseflow.cases import pages

    kept = _cache(app)
    before = (kept.hits, kept.misses)
    r = _request(client, url, **kw)
    assert r.status_code == 200, (r.status_code, r.get_data(as_text=True)[:300])
    delta = (kept.hits - before[0], kept.misses - before[1])
    assert delta == {"hit": (1, 0), "miss": (0, 1), "none": (0, 0)}[expect], \
        f"{url}: expected a {expect}, got (hits, misses) += {delta}"
    fresh = _uncached(app, client, url, **kw)
    assert fresh.status_code == 200 and fresh.content_type == r.content_type
    if url.startswith("/api/"):
        assert r.get_json() == fresh.get_json()
        return r.get_json()
    body = r.get_data(as_text=True)
    assert pages._CSRF_MARK not in body
    assert _normalised(body) == _normalised(fresh.get_data(as_text=True))
    return body


def _ids(body) -> set[int]:
    """The case ids a list page (HTML or API JSON) shows."""
    if isinstance(body, dict):
        return {c["id"] for c in body["items"]}
    return {int(i) for i in re.findall(r'href="/cases/(\d+)"', body)}


def _officer_options(body: str) -> dict[int, str]:
    select = re.search(r'<select name="officer".*?</select>', body, re.S).group(0)
    return {int(i): name for i, name in re.findall(r'<option value="(\d+)"[^>]*>([^<]*)</option>',
                                                   select)}


def _unread_badge(body: str) -> int:
    m = re.search(r'data-unread="(\d+)"', body)
    return int(m.group(1)) if m else 0


def _commit_sql(sql: str, **params) -> int:
    """Run raw SQL on its own connection (no ORM), committed; the rows it matched. The
    tests' session ends its transaction first: it may hold locks a TRUNCATE waits for."""
    _db.session.commit()
    with _db.engine.begin() as conn:
        conn.execute(text("SET LOCAL lock_timeout = '10s'"))
        return conn.execute(text(sql), params).rowcount


def _client(app, login_as, username):
    return login_as(app.test_client(), username)


def _share(world, case, agency):
    from caseflow.sharing import operations as sharing

    grant = sharing.grant_share(world.officer, case, agency.id, "串案线索核查", ["details"], None)
    _db.session.commit()
    return grant


# ----------------------------------------------------------------------------- 1. hits


def test_repeat_request_is_a_hit_equal_to_the_uncached_page(app, world, make_case, login_as):
    from flask import session
    from flask_wtf.csrf import validate_csrf

    from caseflow.cases import pages

    cases = [make_case(title=f"缓存测试案件{i}") for i in range(3)]
    client = _client(app, login_as, "officer")
    first = fetch(app, client, expect="miss")
    second = fetch(app, client, expect="hit")
    assert _ids(first) == _ids(second) == {c.id for c in cases}
    # the stored page holds the mark, never a token; what is served holds a token
    stored = [e.body for e in _cache(app)._entries.values()]
    assert len(stored) == 1 and pages._CSRF_MARK.encode() in stored[0]
    tokens = [m.group(2) for m in CSRF_VALUE.finditer(second)]
    assert tokens and all(tokens)

    # a second session of the same user: served the same kept page, with its own token
    other = _client(app, login_as, "officer")
    third = fetch(app, other, expect="hit")
    other_tokens = [m.group(2) for m in CSRF_VALUE.finditer(third)]
    assert other_tokens and all(other_tokens)

    def valid_for(client, token) -> bool:
        with client.session_transaction() as s:
            raw = s.get("csrf_token")
        with app.test_request_context():
            session["csrf_token"] = raw
            try:
                validate_csrf(token)
                return True
            except Exception:
                return False

    assert valid_for(client, tokens[0]) and valid_for(other, other_tokens[0])
    assert not valid_for(client, other_tokens[0]) and not valid_for(other, tokens[0])


# ----------------------------------------------------------------------------- 2. invalidation


def test_state_change_through_the_operations(app, world, make_case, drive, login_as):
    case = make_case(title="状态变更案件")
    client = _client(app, login_as, "officer")
    assert 's-clue"' in fetch(app, client, expect="miss")
    fetch(app, client, expect="hit")
    drive(case, "accept")
    assert case.state != "clue"
    body = fetch(app, client, expect="miss")
    assert f's-{case.state}"' in body and 's-clue"' not in body
    fetch(app, client, expect="hit")


def test_raw_sql_title_update(app, world, make_case, login_as):
    case = make_case(title="原标题案件")
    client = _client(app, login_as, "officer")
    fetch(app, client, expect="miss")
    assert "原标题案件" in fetch(app, client, expect="hit")
    assert _commit_sql("UPDATE case_record SET title = :t WHERE id = :i",
                       t="原始SQL改写的标题", i=case.id) == 1
    body = fetch(app, client, expect="miss")
    assert "原始SQL改写的标题" in body and "原标题案件" not in body


def test_new_case(app, world, make_case, login_as):
    first = make_case(title="第一件案件")
    client = _client(app, login_as, "officer")
    fetch(app, client, expect="miss")
    fetch(app, client, expect="hit")
    second = make_case(title="第二件案件")
    body = fetch(app, client, expect="miss")
    assert _ids(body) == {first.id, second.id}


def test_share_grant_and_revocation_reach_the_other_agency(app, world, make_case, login_as):
    from caseflow.sharing import operations as sharing

    own = make_case(user=world.other, officers=False, title="文化执法自有案件")
    case = make_case(title="待共享案件")
    other = _client(app, login_as, "other")
    assert _ids(fetch(app, other, expect="miss")) == {own.id}
    fetch(app, other, expect="hit")
    grant = _share(world, case, world.culture)
    assert _ids(fetch(app, other, expect="miss")) == {own.id, case.id}
    fetch(app, other, expect="hit")
    sharing.revoke_share(world.officer, grant.id)
    _db.session.commit()
    assert _ids(fetch(app, other, expect="miss")) == {own.id}
    fetch(app, other, expect="hit")


def test_party_added_and_renamed(app, world, make_case, login_as):
    from caseflow.cases.models import Party

    case = make_case(title="当事人测试案件")
    client = _client(app, login_as, "officer")
    url = "/cases/?q=独一无二商贸"
    assert _ids(fetch(app, client, url, expect="miss")) == set()
    fetch(app, client, url, expect="hit")
    party = Party(case_id=case.id, kind="person", name="独一无二商贸经营者",
                  id_number="11010519491231002X")
    _db.session.add(party)
    _db.session.commit()
    assert _ids(fetch(app, client, url, expect="miss")) == {case.id}
    fetch(app, client, url, expect="hit")
    party.name = "改名后的经营者"
    _db.session.commit()
    assert _ids(fetch(app, client, url, expect="miss")) == set()
    assert _ids(fetch(app, client, "/cases/?q=改名后", expect="miss")) == {case.id}


def test_officers_assigned(app, world, make_case, login_as):
    from caseflow.cases.models import case_officer_table as co

    case = make_case(officers=False, title="待指定办案人员的案件")
    client = _client(app, login_as, "officer")
    url = f"/cases/?officer={world.officer2.id}"
    assert _ids(fetch(app, client, url, expect="miss")) == set()
    fetch(app, client, url, expect="hit")
    # Core, the case row untouched: only the case_officer trigger can tell
    with _db.engine.begin() as conn:
        conn.execute(insert(co), [{"case_id": case.id, "user_id": world.officer2.id}])
    assert _ids(fetch(app, client, url, expect="miss")) == {case.id}
    fetch(app, client, url, expect="hit")
    with _db.engine.begin() as conn:
        conn.execute(delete(co).where(co.c.case_id == case.id))
    assert _ids(fetch(app, client, url, expect="miss")) == set()


def test_display_name_change_shows_in_the_officer_filter(app, world, make_case, login_as):
    make_case()
    client = _client(app, login_as, "officer")
    assert _officer_options(fetch(app, client, expect="miss"))[world.officer2.id] == "officer2"
    fetch(app, client, expect="hit")
    world.officer2.display_name = "王二（改名）"
    _db.session.commit()
    assert _officer_options(fetch(app, client, expect="miss"))[world.officer2.id] == "王二（改名）"
    # the user's own name in the header too
    world.officer.display_name = "张三（本人）"
    _db.session.commit()
    body = fetch(app, client, expect="miss")
    assert "张三（本人） · " in body
    fetch(app, client, expect="hit")


def test_new_case_officer_in_the_agency(app, world, make_case, make_user, login_as):
    make_case()
    client = _client(app, login_as, "officer")
    fetch(app, client, expect="miss")
    fetch(app, client, expect="hit")
    newbie = make_user(world.amr, "newbie", ["case_officer"])
    assert _officer_options(fetch(app, client, expect="miss"))[newbie.id] == "newbie"
    fetch(app, client, expect="hit")


def test_role_added_and_removed(app, world, make_case, login_as):
    from caseflow.accounts.models import UserRole

    make_case()
    client = _client(app, login_as, "officer")
    reviewer = world.reviewer.id
    assert reviewer not in _officer_options(fetch(app, client, expect="miss"))
    fetch(app, client, expect="hit")
    with _db.engine.begin() as conn:
        conn.execute(insert(UserRole), [{"user_id": reviewer, "role": "inspector"}])
    assert reviewer in _officer_options(fetch(app, client, expect="miss"))
    fetch(app, client, expect="hit")
    with _db.engine.begin() as conn:
        conn.execute(delete(UserRole).where(UserRole.user_id == reviewer,
                                            UserRole.role == "inspector"))
    assert reviewer not in _officer_options(fetch(app, client, expect="miss"))
    fetch(app, client, expect="hit")


def test_agency_renamed_and_kind_changed(app, world, make_case, login_as):
    make_case()
    client = _client(app, login_as, "officer")
    fetch(app, client, expect="miss")
    fetch(app, client, expect="hit")
    world.amr.name = "松江区市场监督管理局（新名称）"
    _db.session.commit()
    assert " · 松江区市场监督管理局（新名称）" in fetch(app, client, expect="miss")
    fetch(app, client, expect="hit")
    # the kind decides which links the header shows
    assert "/mediation" not in fetch(app, client, expect="hit")
    _commit_sql("UPDATE agency SET kind = 'ip_office' WHERE id = :i", i=world.amr.id)
    assert 'href="/mediation' in fetch(app, client, expect="miss")


def test_key_trademark_badge(app, world, make_case, login_as):
    from caseflow.actions.models import KeyTrademark
    from caseflow.core.timeutil import today_local

    marked = make_case(title="涉及重点商标的案件", trademark_numbers=["12345678"])
    make_case(title="其他商标的案件", trademark_numbers=["87654321"])
    client = _client(app, login_as, "officer")
    assert "key-mark" not in fetch(app, client, expect="miss")
    fetch(app, client, expect="hit")
    mark = KeyTrademark(reg_number="12345678", mark="重点", holder="某某有限公司",
                        listed_on=today_local())
    _db.session.add(mark)
    _db.session.commit()
    body = fetch(app, client, expect="miss")
    assert body.count("key-mark") == 1
    row = re.search(rf'<tr[^>]*>\s*<td[^>]*><a href="/cases/{marked.id}".*?</tr>', body, re.S)
    assert "key-mark" in row.group(0)
    fetch(app, client, expect="hit")
    mark.active = False
    _db.session.commit()
    assert "key-mark" not in fetch(app, client, expect="miss")


def test_inbox_badge_follows_reminders_back_and_forth(app, world, make_case, login_as):
    from caseflow.core.timeutil import utcnow
    from caseflow.reminders import operations as reminders
    from caseflow.reminders.models import Reminder

    make_case()
    client = _client(app, login_as, "officer")

    def deliver(n):
        _db.session.add(Reminder(key=f"test:list-cache:{n}", user_id=world.officer.id,
                                 kind="due_soon", subject=f"提醒{n}",
                                 due_at=utcnow() - dt.timedelta(minutes=1)))
        _db.session.commit()
        assert reminders.deliver_pending(utcnow(), "test").delivered == 1
        return _db.session.scalar(_db.select(Reminder.id).where(
            Reminder.key == f"test:list-cache:{n}"))

    assert _unread_badge(fetch(app, client, expect="miss")) == 0
    assert _unread_badge(fetch(app, client, expect="hit")) == 0
    first = deliver(1)
    assert _unread_badge(fetch(app, client, expect="miss")) == 1
    assert _unread_badge(fetch(app, client, expect="hit")) == 1
    reminders.mark_read(world.officer, first)
    _db.session.commit()
    assert _unread_badge(fetch(app, client, expect="miss")) == 0  # back to an earlier value
    deliver(2)
    assert _unread_badge(fetch(app, client, expect="miss")) == 1  # and again
    assert _unread_badge(fetch(app, client, expect="hit")) == 1


def test_truncate_counts_for_every_agency(app, world, make_case, login_as):
    from caseflow.actions.models import KeyTrademark
    from caseflow.core.timeutil import today_local

    make_case(trademark_numbers=["12345678"])
    _db.session.add(KeyTrademark(reg_number="12345678", mark="重点", holder="某某有限公司",
                                 listed_on=today_local()))
    _db.session.commit()
    client = _client(app, login_as, "officer")
    assert "key-mark" in fetch(app, client, expect="miss")
    fetch(app, client, expect="hit")
    _commit_sql("TRUNCATE key_trademark CASCADE")
    assert "key-mark" not in fetch(app, client, expect="miss")


# ----------------------------------------------------------------------------- 3. expiry


def test_grant_expiring_without_any_write(app, world, make_case, login_as):
    from caseflow.core.timeutil import utcnow
    from caseflow.sharing.models import ShareGrant

    case = make_case(title="限时共享案件")
    other = _client(app, login_as, "other")
    grant = _share(world, case, world.culture)
    expires_at = utcnow() + dt.timedelta(seconds=2)
    _db.session.execute(update(ShareGrant).where(ShareGrant.id == grant.id)
                        .values(expires_at=expires_at))
    _db.session.commit()
    assert _ids(fetch(app, other, expect="miss")) == {case.id}
    assert _ids(fetch(app, other, expect="hit")) == {case.id}
    time.sleep(max(0.0, (expires_at - utcnow()).total_seconds()) + 0.2)
    assert _ids(fetch(app, other, expect="miss")) == set()
    fetch(app, other, expect="hit")


# ----------------------------------------------------------------------------- 4. cross-talk


def test_other_agency_writes_leave_the_page_kept(app, world, make_case, make_user, login_as):
    from caseflow.cases.models import Party

    from caseflow.cases import listcache

    make_case(title="市场监管案件")
    theirs = make_case(user=world.other, officers=False, title="文化执法案件")
    client = _client(app, login_as, "officer")
    fetch(app, client, expect="miss")
    fetch(app, client, expect="hit")
    before = listcache.stamp(world.officer, True)
    make_case(user=world.other, officers=False, title="文化执法新案件")
    _commit_sql("UPDATE case_record SET title = '文化执法案件（改）' WHERE id = :i", i=theirs.id)
    _db.session.add(Party(case_id=theirs.id, kind="person", name="文化执法当事人",
                          id_number="11010519491231002X"))
    world.culture.name = "松江区文化市场行政执法大队（新）"
    world.other.display_name = "文化执法人员（改名）"
    _db.session.commit()
    make_user(world.culture, "culture2", ["case_officer"])
    assert listcache.stamp(world.officer, True) == before
    fetch(app, client, expect="hit")


def test_user_columns_the_list_does_not_show_do_not_bump(app, world, make_case, login_as):
    from caseflow.cases import listcache

    make_case()
    client = _client(app, login_as, "officer")
    fetch(app, client, expect="miss")
    before = listcache.stamp(world.officer, False)
    world.officer.failed_logins = 3
    world.officer2.last_login_at = dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc)
    _db.session.commit()
    _commit_sql("UPDATE user_account SET locked_until = NULL, first_failed_at = NULL")
    _commit_sql("UPDATE agency SET case_prefix = case_prefix || 'X' WHERE id = :i", i=world.amr.id)
    assert listcache.stamp(world.officer, False) == before
    fetch(app, client, expect="hit")
    # an update that sets a watched column to the value it had counts for nothing either
    _commit_sql("UPDATE user_account SET display_name = display_name")
    fetch(app, client, expect="hit")


def test_users_of_one_agency_never_get_each_others_page(app, world, make_case, login_as):
    make_case()
    one = _client(app, login_as, "officer")
    two = _client(app, login_as, "officer2")
    body_one = fetch(app, one, expect="miss")
    fetch(app, one, expect="hit")
    body_two = fetch(app, two, expect="miss")
    assert "officer · " in body_one and "officer2 · " in body_two
    assert "officer2 · " not in body_one
    fetch(app, two, expect="hit")
    fetch(app, one, expect="hit")


def _counter(agency_id: int) -> int:
    return int(_db.session.scalar(text(
        "SELECT coalesce(sum(n), 0) FROM list_version WHERE agency_id = :a"), {"a": agency_id}))


def _bump_to(agency_id: int, target: int) -> None:
    """Raise an agency's counter to ``target`` by renaming it (a dot more each time)."""
    while _counter(agency_id) < target:
        _commit_sql("UPDATE agency SET name = name || '.' WHERE id = :a", a=agency_id)


def test_user_moved_to_another_agency_never_gets_the_old_agencys_page(app, world, make_case,
                                                                        login_as):
    hidden = make_case(title="市场监管内部案件")
    theirs = make_case(user=world.other, officers=False, title="文化执法案件")
    client = _client(app, login_as, "officer2")
    amr, culture = world.amr.id, world.culture.id
    _bump_to(amr, _counter(culture) + 5)  # the old agency's counter ahead of the new one's
    assert _ids(fetch(app, client, expect="miss")) == {hidden.id}
    # the move bumps both agencies: the new one's counter then reads what the page was kept
    # under (nothing else differs: same user, language, day and address)
    _bump_to(culture, _counter(amr) - 1)
    _commit_sql("UPDATE user_account SET agency_id = :c WHERE id = :u",
                c=culture, u=world.officer2.id)
    served = _request(client, LIST).get_data(as_text=True)
    assert "市场监管内部案件" not in served and _ids(served) == {theirs.id}
    assert "松江区文化市场行政执法大队" in served
    fetch(app, client, expect="hit")


def test_language_switch_gets_its_own_page(app, world, make_case, login_as):
    make_case()
    client = _client(app, login_as, "officer")
    assert 'lang="zh-CN"' in fetch(app, client, expect="miss")
    fetch(app, client, expect="hit")
    assert client.post("/lang/en", data={"next": LIST}).status_code == 302
    english = fetch(app, client, expect="miss")
    assert '<html lang="en">' in english and ">Cases <small>" in english
    fetch(app, client, expect="hit")
    assert client.post("/lang/zh_Hans_CN", data={"next": LIST}).status_code == 302
    assert '<html lang="zh-CN">' in fetch(app, client, expect="hit")  # still the right page


# ----------------------------------------------------------------------------- 5. security


def test_revoked_session_is_refused_though_its_page_was_kept(app, world, make_case, login_as):
    from caseflow.accounts import operations as accounts

    make_case()
    client = _client(app, login_as, "officer")
    fetch(app, client, expect="miss")
    fetch(app, client, expect="hit")
    accounts.revoke_all_sessions(world.officer)
    _db.session.commit()
    r = _request(client, LIST)
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_logged_out_session_cookie_is_refused(app, world, make_case, login_as):
    make_case()
    client = _client(app, login_as, "officer")
    fetch(app, client, expect="miss")
    fetch(app, client, expect="hit")
    cookie = client.get_cookie("session")
    token = CSRF_VALUE.search(fetch(app, client, expect="hit")).group(2)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    client.set_cookie("session", cookie.value, domain=cookie.domain, path=cookie.path)
    r = _request(client, LIST)  # the old cookie, replayed
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_revoked_api_token_is_refused_though_its_page_was_kept(app, world, make_case,
                                                                api_headers):
    from caseflow.accounts import operations as accounts
    from caseflow.accounts.models import ApiToken

    make_case()
    client = app.test_client()
    headers = api_headers(client, "officer")
    fetch(app, client, API_LIST, expect="miss", headers=headers)
    fetch(app, client, API_LIST, expect="hit", headers=headers)
    token_id = _db.session.scalar(_db.select(ApiToken.id).where(
        ApiToken.user_id == world.officer.id))
    accounts.revoke_api_token(world.officer, token_id)
    _db.session.commit()
    assert _request(client, API_LIST, headers=headers).status_code == 401


def test_other_agency_inspector_never_sees_unshared_cases(app, world, make_case, make_user,
                                                           login_as, api_headers):
    hidden = make_case(title="不共享的机密案件")
    shared = make_case(title="已共享的案件")
    _share(world, shared, world.culture)
    make_user(world.culture, "cinspector", ["inspector"])
    officer = _client(app, login_as, "officer")
    assert _ids(fetch(app, officer, expect="miss")) == {hidden.id, shared.id}
    fetch(app, officer, expect="hit")
    api = app.test_client()
    headers = api_headers(api, "officer")
    fetch(app, api, API_LIST, expect="miss", headers=headers)

    inspector = _client(app, login_as, "cinspector")
    body = fetch(app, inspector, expect="miss")
    assert _ids(body) == {shared.id} and "不共享的机密案件" not in body
    body = fetch(app, inspector, expect="hit")
    assert _ids(body) == {shared.id} and "不共享的机密案件" not in body
    headers = api_headers(app.test_client(), "cinspector")
    assert _ids(fetch(app, api, API_LIST, expect="miss", headers=headers)) == {shared.id}
    assert _ids(fetch(app, api, API_LIST, expect="hit", headers=headers)) == {shared.id}


# ----------------------------------------------------------------------------- 6. not kept


def test_dashboard_filter_is_neither_served_nor_kept(app, world, make_case, login_as):
    make_case()
    client = _client(app, login_as, "officer")
    fetch(app, client, expect="miss")
    for url in ("/cases/?stage=filed", "/cases/?stage=filed",
                "/cases/?received_from=2020-01-01", "/cases/?own=1&publication=platform_x"):
        kept = _cache(app)
        before = (kept.hits, kept.misses, len(kept))
        r = _request(client, url)
        assert r.status_code in (200, 422), url
        assert (kept.hits, kept.misses, len(kept)) == before, url
    fetch(app, client, "/cases/?stage=filed", expect="none")
    assert len(_cache(app)) == 1


def test_pending_flash_is_not_served_from_the_cache(app, world, make_case, login_as):
    make_case()
    client = _client(app, login_as, "officer")
    fetch(app, client, expect="miss")
    fetch(app, client, expect="hit")
    kept = _cache(app)
    before = (kept.hits, kept.misses, len(kept))
    with client.session_transaction() as s:
        s["_flashes"] = [("info", "一条等待显示的提示")]
    r = _request(client, LIST)
    assert r.status_code == 200 and "一条等待显示的提示" in r.get_data(as_text=True)
    assert (kept.hits, kept.misses, len(kept)) == before
    # consumed, and not kept: the next page is the kept one, without it
    assert "一条等待显示的提示" not in fetch(app, client, expect="hit")


def test_error_pages_are_not_kept(app, world, make_case, login_as, api_headers):
    make_case()
    client = _client(app, login_as, "officer")
    kept = _cache(app)
    for _ in range(2):
        misses = kept.misses
        r = _request(client, "/cases/?state=nope")
        assert r.status_code == 422
        assert kept.misses == misses + 1  # looked up, never found: not kept the first time
        body = r.get_data(as_text=True)
        from caseflow.cases import pages

        assert pages._CSRF_MARK not in body and CSRF_VALUE.search(body).group(2)
    assert len(kept) == 0
    api = app.test_client()
    headers = api_headers(api, "officer")
    for _ in range(2):
        assert _request(api, f"{API_LIST}?state=nope", headers=headers).status_code == 422
        assert _request(api, f"{API_LIST}?limit=0", headers=headers).status_code == 422
    assert len(kept) == 0 and kept.hits == 0


# ----------------------------------------------------------------------------- 7. triggers


def _sums() -> dict[int, int]:
    return {a: int(n) for a, n in _db.session.execute(text(
        "SELECT agency_id, sum(n) FROM list_version GROUP BY agency_id"))}


def _bumps(sql: str, **params) -> dict[int, int]:
    """The agencies whose counter one committed raw statement moved, and by how much."""
    before = _sums()
    _commit_sql(sql, **params)
    after = _sums()
    return {a: after.get(a, 0) - before.get(a, 0) for a in after.keys() | before.keys()
            if after.get(a, 0) != before.get(a, 0)}


def test_triggers_bump_exactly_the_agencies_a_change_reaches(world, make_case, make_agency,
                                                            make_user):
    from caseflow.cases import listcache, tally

    amr, culture = world.amr.id, world.culture.id
    third = make_agency("sj-police", "police_econ", "松江公安分局经侦支队", "沪公松经").id
    shared = make_case(title="共享案件")
    alone = make_case(user=world.other, officers=False, title="文化执法未共享案件")
    _share(world, shared, world.culture)
    _share(world, shared, _db.session.get(type(world.amr), third))
    s, a = shared.id, alone.id
    both = {amr: 1, culture: 1, third: 1}

    # case_record: the owner and every agency holding a grant
    assert _bumps("UPDATE case_record SET title = 'x' WHERE id = :i", i=s) == both
    assert _bumps("UPDATE case_record SET title = 'y' WHERE id = :i", i=a) == {culture: 1}
    assert _bumps("UPDATE case_record SET title = 'z' WHERE id IN (:i, :j)", i=s, j=a) == both
    assert _bumps("UPDATE case_record SET title = 'z' WHERE id = -1") == {}  # no row: nothing
    # a new case: its owner (a copy of a case, by raw SQL)
    cols = [c for c in _db.session.scalars(text(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'case_record' "
        "AND column_name NOT IN ('id', 'number')")).all()]
    assert _bumps(f"INSERT INTO case_record ({', '.join(cols)}) "
                  f"SELECT {', '.join(cols)} FROM case_record WHERE id = :i", i=a) == {culture: 1}
    # moved to another agency: the old owner and the new
    assert _bumps("UPDATE case_record SET owner_agency_id = :t WHERE id = :i", t=third, i=a) \
        == {culture: 1, third: 1}
    # share_grant: the agency it is granted to
    g = _db.session.scalar(text("SELECT id FROM share_grant WHERE case_id = :i AND agency_id = :a"),
                           {"i": s, "a": culture})
    assert _bumps("UPDATE share_grant SET revoked_at = now() WHERE id = :g", g=g) == {culture: 1}
    assert _bumps("UPDATE share_grant SET purpose = purpose WHERE id = -1") == {}
    # case_officer and party: as their case
    assert _bumps("INSERT INTO case_officer (case_id, user_id) VALUES (:i, :u)",
                  i=a, u=world.inspector.id) == {third: 1}
    assert _bumps("DELETE FROM case_officer WHERE case_id = :i", i=s) == both
    assert _bumps("INSERT INTO party (case_id, kind, name, id_number, address) "
                  "VALUES (:i, 'person', '某人', '11010519491231002X', '')", i=s) == both
    assert _bumps("UPDATE party SET name = '某某人' WHERE case_id = :i AND name = '某人'",
                  i=s) == both
    assert _bumps("UPDATE party SET name = name WHERE case_id = -1") == {}
    assert _bumps("DELETE FROM party WHERE case_id = :i", i=s) == both
    # user_account: the user's agency, for the columns a list shows
    o = world.officer.id
    assert _bumps("UPDATE user_account SET display_name = 'n' WHERE id = :u", u=o) == {amr: 1}
    assert _bumps("UPDATE user_account SET active = false WHERE id = :u", u=o) == {amr: 1}
    assert _bumps("UPDATE user_account SET active = true WHERE id = :u", u=o) == {amr: 1}
    assert _bumps("UPDATE user_account SET agency_id = :c WHERE id = :u", c=culture, u=o) \
        == {amr: 1, culture: 1}
    assert _bumps("UPDATE user_account SET agency_id = :a WHERE id = :u", a=amr, u=o) \
        == {amr: 1, culture: 1}
    assert _bumps("UPDATE user_account SET failed_logins = failed_logins + 1, locale = 'en', "
                  "last_login_at = now()") == {}
    assert _bumps("UPDATE user_account SET display_name = display_name") == {}
    assert _bumps("UPDATE user_account SET display_name = display_name || '.'") \
        == {amr: 1, culture: 1}
    assert _bumps("INSERT INTO user_account (agency_id, username, display_name, password_hash, "
                  "active, failed_logins, created_at) VALUES "
                  "(:c, 'rawuser', 'rawuser', 'x', true, 0, now())", c=culture) == {culture: 1}
    assert _bumps("DELETE FROM user_account WHERE username = 'rawuser'") == {culture: 1}
    # user_role: the user's agency
    assert _bumps("INSERT INTO user_role (user_id, role) VALUES (:u, 'publisher')",
                  u=world.other.id) == {culture: 1}
    assert _bumps("DELETE FROM user_role WHERE user_id = :u AND role = 'publisher'",
                  u=world.other.id) == {culture: 1}
    assert _bumps("DELETE FROM user_role WHERE user_id = -1") == {}
    # agency: its name and kind
    assert _bumps("UPDATE agency SET name = name || '（新）' WHERE id = :a", a=culture) \
        == {culture: 1}
    assert _bumps("UPDATE agency SET kind = 'other' WHERE id = :a", a=third) == {third: 1}
    assert _bumps("UPDATE agency SET case_prefix = 'P' WHERE id = :a", a=third) == {}
    # key_trademark: every agency (0)
    assert _bumps("INSERT INTO key_trademark (reg_number, mark, holder, classes, city, "
                  "listed_on, active, removed_reason, updated_at) VALUES "
                  "('12345678', 'm', 'h', '', '', current_date, true, '', now())") == {0: 1}
    assert _bumps("UPDATE key_trademark SET active = false") == {0: 1}
    assert _bumps("DELETE FROM key_trademark") == {0: 1}
    # TRUNCATE (of any watched table): every agency
    assert _bumps("TRUNCATE key_trademark CASCADE") == {0: 1}
    # deleting a shared case: its owner and its grantees
    assert _bumps("DELETE FROM case_record WHERE id = :i", i=s)[amr] >= 1

    # the stamp a page reads: its agency's counter plus every agency's
    sums = _sums()
    assert listcache.stamp(world.officer, False) == (sums[amr] + sums[0],)
    # compaction folds the deltas and keeps every sum
    rows = _db.session.scalar(text("SELECT count(*) FROM list_version"))
    tally.compact()
    _db.session.commit()
    assert _sums() == sums
    assert _db.session.scalar(text("SELECT count(*) FROM list_version")) == len(sums) < rows
    assert listcache.stamp(world.officer, False) == (sums[amr] + sums[0],)


def test_compaction_keeps_kept_pages_valid(app, world, make_case, drive, login_as):
    from caseflow.cases import tally

    case = make_case()
    drive(case, "accept")
    client = _client(app, login_as, "officer")
    fetch(app, client, expect="miss")
    tally.compact()
    _db.session.commit()
    fetch(app, client, expect="hit")  # the sums are the same: the page still holds
    drive(case, "reject")
    fetch(app, client, expect="miss")


# ----------------------------------------------------------------------------- 8. API


def test_api_list_hit_miss_and_equal_to_uncached(app, world, make_case, drive, api_headers):
    case = make_case(title="接口案件")
    client = app.test_client()
    headers = api_headers(client, "officer")
    first = fetch(app, client, API_LIST, expect="miss", headers=headers)
    assert [c["state"] for c in first["items"]] == ["clue"]
    assert fetch(app, client, API_LIST, expect="hit", headers=headers) == first
    fetch(app, client, f"{API_LIST}?limit=1", expect="miss", headers=headers)  # its own page
    drive(case, "accept")
    changed = fetch(app, client, API_LIST, expect="miss", headers=headers)
    assert [c["state"] for c in changed["items"]] == [case.state] != ["clue"]
    assert changed["counts"] == {case.state: 1}
    fetch(app, client, API_LIST, expect="hit", headers=headers)


# ----------------------------------------------------------------------------- 9. reading requests


def _fresh(client, url, **kw):
    """GET as the first use of a fresh database session, as each request of a web worker
    is (the tests' session otherwise outlives requests and keeps its transaction)."""
    from flask import g

    _db.session.commit()
    _db.session.remove()
    for name in list(g):
        g.pop(name)
    return client.get(url, **kw)


def _spy():
    """(statements seen, listener): each statement's verb, isolation level and reading flag."""
    from caseflow.cases import pages

    seen = []

    def spy(conn, _cursor, statement, _params, _context, _many):
        opts = conn.get_execution_options()
        seen.append((statement.split()[0].upper(), opts.get("isolation_level"),
                     bool(opts.get(pages.READING))))
    return seen, spy


def test_list_requests_read_without_a_transaction(app, world, make_case, login_as, api_headers):
    from sqlalchemy import event

    case_id = make_case(title="自动提交读取").id
    client = _client(app, login_as, "officer")
    headers = api_headers(app.test_client(), "officer")
    kept = _cache(app)
    seen, spy = _spy()
    event.listen(_db.engine, "before_cursor_execute", spy)
    try:
        for url, kw in ((LIST, {}), (API_LIST, {"headers": headers})):
            for expect in ("miss", "hit"):
                seen.clear()
                hits = kept.hits
                r = _fresh(client, url, **kw)
                assert r.status_code == 200 and case_id in _ids(r.json if r.is_json else r.text)
                # every statement on an autocommit connection that refuses writes: no BEGIN,
                # no ROLLBACK; a kept page costs the one login statement
                assert seen and set(seen) == {("SELECT", "AUTOCOMMIT", True)}, seen
                assert (kept.hits - hits, len(seen) == 1) == (
                    (1, True) if expect == "hit" else (0, False))
    finally:
        event.remove(_db.engine, "before_cursor_execute", spy)
    # the request's session let its connection go: the next one is transactional again
    _db.session.execute(text("UPDATE case_record SET title = '改了' WHERE id = :i"), {"i": case_id})
    _db.session.rollback()
    assert _db.session.scalar(text("SELECT title FROM case_record WHERE id = :i"),
                              {"i": case_id}) == "自动提交读取"


def test_a_reading_request_cannot_write(app, world):
    from caseflow.cases import pages

    amr = world.amr.id
    _db.session.commit()
    _db.session.remove()
    with app.test_request_context(LIST):
        pages.read_without_transaction()
        with pytest.raises(pages.ReadingRequestWrote):
            _db.session.execute(text("UPDATE agency SET name = name || '!' WHERE id = :a"),
                                {"a": amr})
        pages.end_reading()
        _db.session.execute(text("UPDATE agency SET name = name || '!' WHERE id = :a"), {"a": amr})
        _db.session.rollback()  # transactional again: undone
    assert not _db.session.scalar(text("SELECT name FROM agency WHERE id = :a"),
                                  {"a": amr}).endswith("!")
    # a session already in use (a test's, or anything read before) keeps its transaction
    _db.session.scalar(text("SELECT 1"))
    with app.test_request_context(LIST):
        pages.read_without_transaction()
        assert _db.session.connection().get_execution_options().get(pages.READING) is None


def test_refused_list_requests_still_leave_their_audit_record(app, world, make_case, login_as,
                                                              api_headers):
    from caseflow.accounts import operations as accounts
    from caseflow.accounts.models import User

    make_case()
    client = _client(app, login_as, "auditor")  # no case role: the list is refused
    headers = api_headers(app.test_client(), "officer")
    officer_id = world.officer.id

    def denied() -> list[tuple]:
        return _db.session.execute(text(
            "SELECT user_id, data FROM audit_event WHERE action = 'request.denied' ORDER BY id")).all()

    assert _fresh(client, LIST).status_code == 403
    _db.session.remove()
    assert denied()[-1][1]["path"] == LIST
    accounts.revoke_all_sessions(_db.session.get(User, officer_id))
    _db.session.commit()
    assert _fresh(app.test_client(), API_LIST, headers=headers).status_code == 401
    _db.session.remove()
    assert denied()[-1][1]["path"] == API_LIST and len(denied()) == 2
