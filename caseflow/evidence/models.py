"""Evidence files of a case and their chain of custody."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caseflow.accounts.models import User
from caseflow.core.db import UTCDateTime
from caseflow.core.timeutil import utcnow
from caseflow.extensions import db


class Evidence(db.Model):
    """A photo, video or document captured for a case; SHA-256 computed on the device and
    checked on arrival; stored outside the web root under a generated name."""

    __tablename__ = "evidence"
    __table_args__ = (
        CheckConstraint("kind IN ('photo', 'video', 'document')", name="kind"),
        Index("ix_evidence_case", "case_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(255))  # as uploaded (display only)
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    captured_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    place: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    uploaded_by: Mapped[User] = relationship()
    custody: Mapped[list[CustodyEntry]] = relationship(
        back_populates="evidence", order_by="CustodyEntry.id", cascade="all, delete-orphan")


class CustodyEntry(db.Model):
    """One link of the chain of custody: capture, arrival, every access, every hand-over."""

    __tablename__ = "evidence_custody"
    __table_args__ = (Index("ix_evidence_custody_evidence", "evidence_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    action: Mapped[str] = mapped_column(String(32))  # captured, received, accessed, handed_over
    data: Mapped[dict] = mapped_column(JSON, default=dict)

    evidence: Mapped[Evidence] = relationship(back_populates="custody")
    user: Mapped[User] = relationship()
