"""Field checks shared by the operations that take plain form dicts (joint actions,
mediation): each bad field gets its own translated message in ``errors``."""
from __future__ import annotations

import datetime as dt

from caseflow.cases import messages


def text(data: dict, name: str, errors: dict, *, required: bool = False, max_len: int = 200,
         min_len: int = 0) -> str:
    """A stripped text without control characters (line breaks and tabs allowed)."""
    raw = data.get(name)
    value = ("" if raw is None else str(raw)).strip()
    if any(ord(c) < 32 and c not in "\r\n\t" for c in value):
        errors[name] = messages.text("control_characters")
    elif required and not value:
        errors[name] = messages.text("field_required")
    elif len(value) > max_len:
        errors[name] = messages.text("string_too_long", max_length=max_len)
    elif value and len(value) < min_len:
        errors[name] = messages.text("reason_too_short", n=min_len)
    return value


def date(data: dict, name: str, errors: dict, *, latest: dt.date | None = None) -> dt.date | None:
    """A required YYYY-MM-DD date, not after ``latest`` when given."""
    raw = str(data.get(name) or "").strip()
    if not raw:
        errors[name] = messages.text("field_required")
        return None
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        errors[name] = messages.text("date_parsing")
        return None
    if latest is not None and day > latest:
        errors[name] = messages.text("date_in_future")
    return day
