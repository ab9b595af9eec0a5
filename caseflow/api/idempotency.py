"""Idempotent create requests: ``Idempotency-Key`` on POST /api/v1/….

A field app that lost the answer to a request sends it again with the same key. The first
request stores its successful response in the same transaction as the change itself, so
either both are committed or neither is; a retry (also one arriving concurrently) finds the
stored row and gets the identical response without doing anything again.

Concurrency: the key row is inserted (flushed) before the work starts. On PostgreSQL a
concurrent insert of the same (user, key) waits on the unique index until the first
transaction ends, then fails and replays the committed answer (or, if the first failed and
rolled back, goes ahead itself). On SQLite every writing request holds the write lock from
its BEGIN IMMEDIATE, so the second request sees the first one's committed row.

Failed requests (4xx, 5xx) are not stored: nothing was written, and a retry runs again.
Keys are kept ``IDEMPOTENCY_KEEP_DAYS`` (at least 7) days, then purged by the scheduler.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from functools import wraps

from flask import Response, current_app, g, request
from flask_login import current_user
from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from caseflow.cases import messages
from caseflow.core.db import UTCDateTime
from caseflow.core.errors import Conflict, InvalidInput
from caseflow.core.timeutil import utcnow
from caseflow.extensions import db

HEADER = "Idempotency-Key"
KEY_RE = re.compile(r"[\x21-\x7e]{1,200}")  # printable ASCII, no spaces (UUIDs, ULIDs, …)


class IdempotencyKey(db.Model):
    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("user_id", "key"),
                      Index("ix_idempotency_key_created", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(300))
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def request_hash() -> str:
    """What identifies the request: method, path and body. A multipart body is hashed by its
    fields and files' contents, not its bytes: clients pick a new boundary for every try."""
    h = hashlib.sha256()
    h.update(request.method.encode() + b"\n" + request.path.encode() + b"\n")
    if request.mimetype == "multipart/form-data":
        # a part may come without a name (None): order by the text of both
        for name, value in sorted(request.form.items(multi=True), key=lambda x: (str(x[0]), str(x[1]))):
            h.update(json.dumps(["field", name, value]).encode() + b"\n")
        for name, f in sorted(request.files.items(multi=True),
                              key=lambda x: (str(x[0]), x[1].filename or "")):
            content = hashlib.sha256()
            while chunk := f.stream.read(1024 * 1024):
                content.update(chunk)
            f.stream.seek(0)
            h.update(json.dumps(["file", name, f.filename or "", content.hexdigest()]).encode() + b"\n")
    else:
        h.update(request.get_data(cache=True))
    return h.hexdigest()


def _lookup(user_id: int, key: str) -> IdempotencyKey | None:
    return db.session.scalar(select(IdempotencyKey).where(IdempotencyKey.user_id == user_id,
                                                         IdempotencyKey.key == key))


def _replay(row: IdempotencyKey, digest: str) -> Response:
    if row.request_hash != digest:
        raise InvalidInput({HEADER: messages.text("idempotency_key_reused")})
    if row.response_status is None:  # never completed (should not happen: stored atomically)
        raise Conflict(messages.text("idempotency_in_progress"))
    resp = Response(row.response_body, status=row.response_status, mimetype="application/json")
    resp.headers["Idempotent-Replayed"] = "true"
    return resp


def idempotent(view):
    """Make a POST view idempotent under the ``Idempotency-Key`` header. The view must
    finish with :func:`respond`, which stores its answer and commits."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        g.idempotency_row = None
        if key is None or not current_user.is_authenticated:
            return view(*args, **kwargs)
        if not KEY_RE.fullmatch(key):
            raise InvalidInput({HEADER: messages.text("idempotency_key_invalid")})
        digest = request_hash()
        row = _lookup(current_user.id, key)
        if row is not None:
            return _replay(row, digest)
        row = IdempotencyKey(user_id=current_user.id, key=key, method=request.method,
                             path=request.path[:300], request_hash=digest)
        db.session.add(row)
        try:
            db.session.flush()
        except IntegrityError:  # a concurrent request with the same key committed first
            db.session.rollback()
            row = _lookup(current_user.id, key)
            if row is None:
                raise Conflict(messages.text("idempotency_in_progress")) from None
            return _replay(row, digest)
        g.idempotency_row = row
        return view(*args, **kwargs)

    return wrapper


def respond(body: dict, status: int = 200) -> Response:
    """Commit the change together with its stored answer (when the request has a key) and
    return the answer; a replay returns exactly these bytes."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    row = g.get("idempotency_row")
    if row is not None:
        row.response_status, row.response_body = status, text
    db.session.commit()
    return Response(text, status=status, mimetype="application/json")


def keep_days() -> int:
    return max(7, int(current_app.config.get("IDEMPOTENCY_KEEP_DAYS", 8)))


def purge(now: dt.datetime | None = None) -> int:
    """Delete keys older than the keeping period; returns how many."""
    cutoff = (now or utcnow()) - dt.timedelta(days=keep_days())
    result = db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    return result.rowcount or 0
