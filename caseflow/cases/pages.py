"""The case list's pages (HTML and API) from the worker's page cache.

A page is kept per user, the user's agency, language, day, page size and address, with the
stamp it was rendered under: the agency's change counter (``caseflow.cases.listcache``) and,
on the HTML page, the user's unread reminders (the header shows them). A later request is
served the kept page only when it reads the same stamp and no grant of the agency has
expired meanwhile — nothing the page shows can have changed then — else the page is rendered
again. The stamp is read before the page's own queries, so a kept page is never older than
its stamp.

Not kept: pages with a flash message waiting, dashboard-figure lists (they read stage exits,
referrals and decisions, which the counter does not follow), error pages, SQLite databases
(no counter). The session's CSRF token is put into each page as it is served.
"""
from __future__ import annotations

import functools
import secrets
from typing import Callable

from flask import Response, current_app, g, request, session
from flask_babel import get_locale
from flask_login import current_user

from caseflow.cases import listcache, tally
from caseflow.core.pagecache import Entry, PageCache
from caseflow.core.timeutil import today_local, utcnow

EXTENSION = "caseflow.pages"
#: the query arguments of a list the counter follows (filters on the case, its parties and
#: officers, grants; the deadline filters compare with the day, which is in the key)
KEPT_ARGS = frozenset({"state", "ip_type", "channel", "officer", "overdue", "joint_action", "q",
                       "own", "due", "cursor", "limit"})
#: stands for the CSRF token in a kept page (random: no case title can contain it)
_CSRF_MARK = f"csrf-{secrets.token_hex(16)}"


def init_app(app) -> None:
    size = app.config["LIST_CACHE_ENTRIES"]
    app.extensions[EXTENSION] = PageCache(size) if size > 0 else None
    _guard_reading()

    @app.teardown_request
    def _end_reading(_exc):
        end_reading()


# ----------------------------------------------------------------------------- reading requests
#
# A list request only reads, so it runs on a connection in autocommit: no BEGIN before its
# first statement, no ROLLBACK after its last (two of the three round trips of a kept page).
# Each statement sees what was committed when it started, as it would inside a READ COMMITTED
# transaction. The connection refuses anything but SELECT; a refused request's audit record
# (core.views.record_denied) first leaves this mode.

READING = "caseflow_reading"


class ReadingRequestWrote(RuntimeError):
    pass


def read_without_transaction() -> None:
    """Put this request's database session on an autocommit, SELECT-only connection, if the
    session is fresh (nothing read or written in it yet: a web request's; a test that shares
    its session with the requests keeps its transaction)."""
    from caseflow.extensions import db

    s = db.session()  # the request's Session (not the scoped proxy)
    if s.in_transaction() or len(s.identity_map) or g.get(READING):
        return
    s.connection(execution_options={"isolation_level": "AUTOCOMMIT", READING: True})
    g.setdefault(READING, True)


def end_reading() -> None:
    """Back to transactions: the session lets its autocommit connection go (the pool puts the
    connection's isolation level back); the next statement begins a transaction as usual."""
    if g.pop(READING, False):
        from caseflow.extensions import db

        db.session.close()


_guarded = False


def _guard_reading() -> None:
    global _guarded
    if _guarded:
        return
    _guarded = True
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "before_cursor_execute")
    def _refuse_writes(conn, _cursor, statement, _params, _context, _many):
        if conn.get_execution_options().get(READING) and \
                statement.lstrip()[:6].upper() != "SELECT":
            raise ReadingRequestWrote(f"a reading request tried to write: {statement[:60]}")


def cache() -> PageCache | None:
    return current_app.extensions.get(EXTENSION)


def serve(kind: str, render: Callable[[dict], object]) -> Response:
    """The list page ``render`` draws (given template overrides), kept or drawn now.
    ``kind`` is "html" or "api"."""
    kept = cache()
    if (kept is None or not tally.kept() or not set(request.args) <= KEPT_ARGS
            or (kind == "html" and session.get("_flashes"))):
        return current_app.make_response(render({}))
    user = current_user
    html = kind == "html"
    now = utcnow()
    # read with the user by the login loader (see prefetch), else now: before the page's
    # own queries either way
    stamp = tuple(int(x) for x in user.prefetched) or listcache.stamp(user, html)
    # the agency too: the stamp is its counter, and another agency's counter may read the
    # same number (a user moved between agencies)
    key = (kind, user.id, user.agency_id, str(get_locale()), today_local(),
           current_app.config["PAGE_SIZE"], request.script_root, request.full_path)
    entry = kept.get(key, stamp, now)
    if entry is None:
        valid_until = listcache.next_expiry(user.agency_id)
        overrides = {"csrf_token": lambda: _CSRF_MARK, "inbox_unread": lambda: stamp[1]} \
            if html else {}
        resp = current_app.make_response(render(overrides))
        if resp.status_code != 200:
            return _with_csrf(resp) if html else resp
        entry = Entry(stamp, valid_until, resp.get_data(), resp.mimetype)
        kept.put(key, entry)
    resp = Response(entry.body, mimetype=entry.mimetype)
    return _with_csrf(resp) if html else resp


def prefetch() -> tuple:
    """The columns the login loader reads with the user for this request: the list page's
    stamp, when the request is for a list page that may be kept."""
    kind = _KINDS.get(request.endpoint)
    if kind is None or cache() is None or not set(request.args) <= KEPT_ARGS \
            or not tally.kept():
        return ()
    return _stamp_columns(kind == "html")


_KINDS = {"cases.list_cases": "html", "api.list_cases": "api"}


@functools.cache
def _stamp_columns(with_unread: bool) -> tuple:
    return tuple(listcache.stamp_columns(with_unread))  # the same object each time


def _with_csrf(resp: Response) -> Response:
    from flask_wtf.csrf import generate_csrf

    body = resp.get_data()
    if _CSRF_MARK.encode() in body:
        resp.set_data(body.replace(_CSRF_MARK.encode(), generate_csrf().encode()))
    return resp
