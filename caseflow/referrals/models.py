"""Criminal thresholds, referrals and their events."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (JSON, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, Numeric,
                        String, Text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caseflow.accounts.models import Agency, User, _enum_check
from caseflow.cases.models import Case
from caseflow.core.db import UTCDateTime
from caseflow.core.timeutil import utcnow
from caseflow.extensions import db
from caseflow.referrals.rules import RState


class CriminalThreshold(db.Model):
    """One version of a 立案追诉标准 row; a change is a new row with a later effective date."""

    __tablename__ = "criminal_threshold"
    __table_args__ = (
        CheckConstraint("level IN ('entry', 'serious')", name="level"),
        CheckConstraint("amount >= 0", name="amount"),
        Index("ix_criminal_threshold_key", "crime", "metric", "level", "condition",
              "effective_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    crime: Mapped[str] = mapped_column(String(8))  # 刑法条文: 213 … 219
    metric: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    condition: Mapped[str] = mapped_column(String(32), default="")
    effective_from: Mapped[dt.date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(200))
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(String(300), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Referral(db.Model):
    """移送: one criminal referral of an administrative case to a police agency."""

    __tablename__ = "referral"
    __table_args__ = (
        CheckConstraint(_enum_check("state", RState), name="state"),
        Index("ix_referral_police_state", "police_agency_id", "state"),
        Index("ix_referral_case", "case_id"),
        # the referrals an agency made, received or oversees in a period (dashboards)
        Index("ix_referral_agency_created", "agency_id", "created_at", "state", "case_id"),
        Index("ix_referral_police_created", "police_agency_id", "created_at", "state", "case_id"),
        Index("ix_referral_procuratorate_created", "procuratorate_id", "created_at", "state",
              "case_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id", ondelete="CASCADE"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))  # the referring agency
    police_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    procuratorate_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    state: Mapped[str] = mapped_column(String(32), default=RState.PROPOSED.value)
    suspected_crime: Mapped[str] = mapped_column(String(8), default="")
    report: Mapped[str] = mapped_column(Text, default="")  # 涉嫌犯罪案件调查报告 summary
    package: Mapped[dict] = mapped_column(JSON, default=dict)
    case_state_before: Mapped[str | None] = mapped_column(String(32))
    police_case_number: Mapped[str] = mapped_column(String(64), default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}

    case: Mapped[Case] = relationship()
    agency: Mapped[Agency] = relationship(foreign_keys=[agency_id])
    police_agency: Mapped[Agency | None] = relationship(foreign_keys=[police_agency_id])
    procuratorate: Mapped[Agency | None] = relationship(foreign_keys=[procuratorate_id])
    team: Mapped[list[User]] = relationship(secondary="referral_team", order_by="User.id")
    events: Mapped[list[ReferralEvent]] = relationship(back_populates="referral",
                                                       order_by="ReferralEvent.id",
                                                       cascade="all, delete-orphan")
    documents: Mapped[list[ReferralDocument]] = relationship(back_populates="referral",
                                                             order_by="ReferralDocument.id",
                                                             cascade="all, delete-orphan")


referral_team = db.Table(
    "referral_team",
    db.metadata,
    db.Column("referral_id", ForeignKey("referral.id", ondelete="CASCADE"), primary_key=True),
    db.Column("user_id", ForeignKey("user_account.id"), primary_key=True),
)


class ReferralEvent(db.Model):
    __tablename__ = "referral_event"
    __table_args__ = (Index("ix_referral_event_referral", "referral_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSON, default=dict)

    referral: Mapped[Referral] = relationship(back_populates="events")
    user: Mapped[User] = relationship(lazy="joined")
    agency: Mapped[Agency] = relationship()


class ReferralDocument(db.Model):
    """A file of the referral package, kept outside the web root under a generated name."""

    __tablename__ = "referral_document"
    __table_args__ = (Index("ix_referral_document_referral", "referral_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id", ondelete="CASCADE"))
    item: Mapped[str] = mapped_column(String(32))  # package item it belongs to
    filename: Mapped[str] = mapped_column(String(255))  # as uploaded (display only)
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    referral: Mapped[Referral] = relationship(back_populates="documents")
    uploaded_by: Mapped[User] = relationship()
