"""Reminders: rows in the database, so each is delivered exactly once."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from caseflow.core.db import UTCDateTime
from caseflow.core.timeutil import utcnow
from caseflow.extensions import db


class Reminder(db.Model):
    """One reminder for one user. ``key`` names what it is about (e.g.
    ``case:12:decision:due_soon:2026-12-01``); (key, user) is unique, so generating the same
    reminder twice — two scheduler processes, or a catch-up after downtime — creates it once.
    Delivery claims the row with a conditional UPDATE, so it is delivered once."""

    __tablename__ = "reminder"
    __table_args__ = (UniqueConstraint("key", "user_id"),
                      Index("ix_reminder_pending", "sent_at", "due_at"),
                      Index("ix_reminder_inbox", "user_id", "read_at", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(300), default="")
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)  # when it should go out
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # delivered to the inbox
    sent_by: Mapped[str | None] = mapped_column(String(64))  # which scheduler process
    emailed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    email_error: Mapped[str | None] = mapped_column(String(300))
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
