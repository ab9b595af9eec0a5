"""``PageCache``: an entry is served only for its key and stamp, before its moment, and the
least recently used go first."""
from __future__ import annotations

import datetime as dt

from caseflow.core.pagecache import Entry, PageCache

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)


def entry(stamp=(1, 0), body=b"page", valid_until=None) -> Entry:
    return Entry(stamp, valid_until, body, "text/html")


def test_served_only_for_the_same_key_and_stamp():
    c = PageCache(4)
    c.put(("html", 1), entry((5, 0)))
    assert c.get(("html", 1), (5, 0), NOW).body == b"page"
    assert c.get(("html", 1), (6, 0), NOW) is None  # the counter moved
    assert c.get(("html", 1), (5, 1), NOW) is None  # a reminder arrived
    assert c.get(("html", 2), (5, 0), NOW) is None  # another user
    assert (c.hits, c.misses) == (1, 3)


def test_not_served_from_the_moment_a_grant_expires():
    c = PageCache(4)
    c.put("k", entry(valid_until=NOW + dt.timedelta(seconds=1)))
    assert c.get("k", (1, 0), NOW) is not None
    assert c.get("k", (1, 0), NOW + dt.timedelta(seconds=1)) is None
    assert c.get("k", (1, 0), NOW + dt.timedelta(days=1)) is None


def test_least_recently_used_go_first():
    c = PageCache(2)
    c.put("a", entry())
    c.put("b", entry())
    assert c.get("a", (1, 0), NOW)  # a used: b is now the oldest
    c.put("c", entry())
    assert len(c) == 2
    assert c.get("b", (1, 0), NOW) is None
    assert c.get("a", (1, 0), NOW) and c.get("c", (1, 0), NOW)


def test_a_new_render_replaces_the_entry():
    c = PageCache(2)
    c.put("a", entry((1, 0), b"old"))
    c.put("a", entry((2, 0), b"new"))
    assert c.get("a", (1, 0), NOW) is None
    assert c.get("a", (2, 0), NOW).body == b"new"
    assert len(c) == 1


def test_large_pages_and_a_zero_size_keep_nothing():
    c = PageCache(4, max_bytes=10)
    c.put("big", entry(body=b"x" * 11))
    c.put("small", entry(body=b"x" * 10))
    assert len(c) == 1 and c.get("small", (1, 0), NOW)
    off = PageCache(0)
    off.put("a", entry())
    assert len(off) == 0 and off.get("a", (1, 0), NOW) is None


def test_clear():
    c = PageCache(4)
    c.put("a", entry())
    c.get("a", (1, 0), NOW)
    c.clear()
    assert len(c) == 0 and (c.hits, c.misses) == (0, 0)


def test_the_setting(tmp_path):
    import pytest

    from caseflow import create_app
    from caseflow.cases import pages
    from caseflow.config import ConfigError

    base = {"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x",
            "INSTANCE_PATH": str(tmp_path)}
    with pytest.raises(ConfigError, match="LIST_CACHE_ENTRIES"):
        create_app({**base, "LIST_CACHE_ENTRIES": -1})
    assert create_app({**base, "LIST_CACHE_ENTRIES": 0}).extensions[pages.EXTENSION] is None
    assert create_app(base).extensions[pages.EXTENSION].max_entries == 256
