"""A worker's cache of rendered pages, each kept with the stamp it was rendered under.

An entry is served only to a request that presents the same key and reads the same stamp
(what the page depends on, read from the database just before), and only before the moment
the page may change without a write (``valid_until``). Anything else is a miss: the caller
renders again and replaces the entry. Least recently used entries go first; a page larger
than ``max_bytes`` is never kept.
"""
from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    stamp: tuple
    valid_until: dt.datetime | None
    body: bytes
    mimetype: str


class PageCache:
    def __init__(self, max_entries: int = 256, max_bytes: int = 1 << 20):
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._entries: OrderedDict[tuple, Entry] = OrderedDict()
        self._lock = threading.Lock()  # gthread workers share one cache between threads
        self.hits = self.misses = 0

    def get(self, key: tuple, stamp: tuple, now: dt.datetime) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.stamp != stamp or (
                    entry.valid_until is not None and now >= entry.valid_until):
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key: tuple, entry: Entry) -> None:
        if self.max_entries <= 0 or len(entry.body) > self.max_bytes:
            return
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)
