"""Penalty decisions (行政处罚决定书), their publication, and export batches."""
from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import (JSON, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, Numeric,
                        String, Text, UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caseflow.accounts.models import Agency, User
from caseflow.cases.models import Case
from caseflow.core.db import UTCDateTime
from caseflow.core.timeutil import utcnow
from caseflow.extensions import db

Money = Numeric(16, 2)


class PenaltyDecision(db.Model):
    __tablename__ = "penalty_decision"
    __table_args__ = (
        UniqueConstraint("case_id"),
        UniqueConstraint("agency_id", "number"),
        CheckConstraint("severity IN ('minor', 'general', 'serious')", name="severity"),
        CheckConstraint("fine_amount >= 0 AND confiscated_amount >= 0", name="amounts"),
        CheckConstraint("withdrawn_on IS NULL OR withdraw_reason IS NOT NULL", name="withdraw_reason"),
        # on PostgreSQL the index also carries what the dashboard's publication timeliness
        # reads, so a city's year of decisions is counted from the index alone
        Index("ix_penalty_decision_agency_date", "agency_id", "decision_date", "id",
              postgresql_include=["other_province", "severity", "simple_procedure",
                                  "platform_published_on", "enterprise_published_on", "case_id",
                                  "categories"]),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id", ondelete="CASCADE"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    number: Mapped[str] = mapped_column(String(80))  # 行政处罚决定书文号
    categories: Mapped[list] = mapped_column(JSON, default=list)
    violation_type: Mapped[str] = mapped_column(String(200))
    facts: Mapped[str] = mapped_column(Text)
    published_facts: Mapped[str] = mapped_column(Text)  # redacted for publication
    basis: Mapped[str] = mapped_column(Text)
    content: Mapped[str] = mapped_column(Text)
    fine_amount: Mapped[Decimal] = mapped_column(Money, default=0)
    confiscated_amount: Mapped[Decimal] = mapped_column(Money, default=0)
    licence: Mapped[str] = mapped_column(String(200), default="")
    decision_date: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date | None] = mapped_column(Date)
    severity: Mapped[str] = mapped_column(String(16), default="general")
    lower_amount: Mapped[bool] = mapped_column(Boolean, default=False)
    simple_procedure: Mapped[bool] = mapped_column(Boolean, default=False)
    special_sector: Mapped[bool] = mapped_column(Boolean, default=False)
    other_province: Mapped[bool] = mapped_column(Boolean, default=False)
    # the party as published
    subject_name: Mapped[str] = mapped_column(String(200))
    subject_kind: Mapped[str] = mapped_column(String(32))
    credit_code: Mapped[str] = mapped_column(String(18), default="")
    legal_rep: Mapped[str] = mapped_column(String(100), default="")
    id_type: Mapped[str] = mapped_column(String(32), default="")
    id_number: Mapped[str] = mapped_column(String(40), default="")
    # publication
    platform_published_on: Mapped[dt.date | None] = mapped_column(Date)
    enterprise_published_on: Mapped[dt.date | None] = mapped_column(Date)
    changed_on: Mapped[dt.date | None] = mapped_column(Date)  # decision changed or revoked
    withdrawn_on: Mapped[dt.date | None] = mapped_column(Date)
    withdraw_reason: Mapped[str | None] = mapped_column(Text)
    ended_on: Mapped[dt.date | None] = mapped_column(Date)
    end_reason: Mapped[str | None] = mapped_column(Text)
    repaired_on: Mapped[dt.date | None] = mapped_column(Date)
    repair_note: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}

    case: Mapped[Case] = relationship()
    agency: Mapped[Agency] = relationship()
    recorded_by: Mapped[User] = relationship()


class ExportBatch(db.Model):
    """One export to the credit platform: who, when, which filter, how many rows, the file's hash."""

    __tablename__ = "export_batch"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(8))  # csv | pdf
    filters: Mapped[dict] = mapped_column(JSON, default=dict)
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    refused: Mapped[list] = mapped_column(JSON, default=list)  # [{"number":…, "missing": […]}]
    sha256: Mapped[str] = mapped_column(String(64), default="")
    size: Mapped[int] = mapped_column(Integer, default=0)

    user: Mapped[User] = relationship()


class ExportJobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ExportJob(db.Model):
    """A publication list (PDF) made outside the web request: started by a publisher, rendered
    by the scheduler process, downloaded later by the agency's publishers."""

    __tablename__ = "export_job"
    __table_args__ = (
        CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name="state"),
        CheckConstraint("state <> 'done' OR (file_name IS NOT NULL AND sha256 IS NOT NULL)",
                        name="done_has_file"),
        CheckConstraint("state <> 'failed' OR error IS NOT NULL", name="failed_has_error"),
        Index("ix_export_job_state_id", "state", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[str] = mapped_column(String(16), default="pdf_list")
    filters: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default=ExportJobState.QUEUED)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    worker: Mapped[str | None] = mapped_column(String(64))
    row_count: Mapped[int | None] = mapped_column(Integer)
    file_name: Mapped[str | None] = mapped_column(String(200))  # under instance/exports/
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("export_batch.id"))

    user: Mapped[User] = relationship()
