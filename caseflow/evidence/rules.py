"""Evidence capture facts: the declared hash, capture time and place. Plain Python, no Flask."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

SHA256_HEX = re.compile(r"[0-9a-f]{64}")
KINDS = ("photo", "video", "document")


def kind_of(content_type: str) -> str:
    if content_type.startswith("image/"):
        return "photo"
    if content_type.startswith("video/"):
        return "video"
    return "document"


def parse_sha256(raw: str | None) -> str | None:
    value = (raw or "").strip().lower()
    return value if SHA256_HEX.fullmatch(value) else None


def parse_captured_at(raw: str | None, now: dt.datetime) -> tuple[dt.datetime | None, str | None]:
    """An ISO 8601 moment with its offset (e.g. 2026-11-20T09:30:00+08:00), not in the future
    (two minutes of clock skew allowed) nor before 2000. Returns (UTC moment, error code)."""
    value = (raw or "").strip()
    if not value:
        return None, "field_required"
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None, "datetime_parsing"
    if moment.tzinfo is None:
        return None, "datetime_offset"
    moment = moment.astimezone(dt.timezone.utc)
    if moment > now + dt.timedelta(minutes=2):
        return None, "date_in_future"
    if moment.year < 2000:
        return None, "date_too_old"
    return moment, None


def parse_coordinate(raw: str | None, limit: int) -> tuple[Decimal | None, bool]:
    """A latitude (limit 90) or longitude (limit 180) in decimal degrees; (value, ok)."""
    value = (raw or "").strip()
    if not value:
        return None, True
    try:
        d = Decimal(value)
    except InvalidOperation:
        return None, False
    if not d.is_finite() or abs(d) > limit:
        return None, False
    return d.quantize(Decimal("0.000001")), True
