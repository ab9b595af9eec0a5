"""Password policy (等保2.0 8.1.4.1 身份鉴别: complexity and periodic change). Plain Python.

At least 12 characters from at least 3 of the 4 classes (lower-case, upper-case, digits,
other), not one of the 30,000 most common passwords (zxcvbn's list), and not containing the
username or the agency's name or code. Expiry and history live in ``operations``.
"""
from __future__ import annotations

import datetime as dt
import unicodedata
from functools import lru_cache

MIN_LENGTH = 12
MIN_CLASSES = 3
EXPIRY_DAYS = 90  # 等保 periodic change; ASVS discourages it (SECURITY.md: deviation)
HISTORY = 5  # the last five passwords (the current one included) cannot be chosen again


@lru_cache(maxsize=1)
def _common() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def _fold(text: str) -> str:
    """Half-width, lower-case, without spaces: how names are compared with passwords."""
    return "".join(unicodedata.normalize("NFKC", text or "").lower().split())


def classes(password: str) -> int:
    kinds = set()
    for ch in password:
        if ch.islower():
            kinds.add("lower")
        elif ch.isupper():
            kinds.add("upper")
        elif ch.isdigit():
            kinds.add("digit")
        else:
            kinds.add("other")
    return len(kinds)


def problems(password: str, username: str = "", names: tuple[str, ...] = (),
             min_length: int = MIN_LENGTH) -> list[str]:
    """Every rule the password breaks, as message codes (empty: acceptable)."""
    out = []
    if len(password) < min_length:
        out.append("password_too_short")
    if classes(password) < MIN_CLASSES:
        out.append("password_classes")
    folded = _fold(password)
    if folded in _common() or folded.rstrip("0123456789!@#$%^&*.?_-") in _common():
        out.append("password_common")
    user = _fold(username)
    if len(user) >= 3 and user in folded:
        out.append("password_contains_username")
    if any(len(_fold(n)) >= 2 and _fold(n) in folded for n in names if n):
        out.append("password_contains_agency")
    return out


def expired(changed_at: dt.datetime | None, now: dt.datetime, days: int = EXPIRY_DAYS) -> bool:
    return changed_at is None or now - changed_at > dt.timedelta(days=days)
