"""Stored yearly reports (年度报告): each generated PDF is kept with its hash."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caseflow.accounts.models import Agency, User
from caseflow.core.db import UTCDateTime
from caseflow.core.timeutil import utcnow
from caseflow.extensions import db


class YearlyReport(db.Model):
    __tablename__ = "yearly_report"
    __table_args__ = (Index("ix_yearly_report_agency_year", "agency_id", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    year: Mapped[int] = mapped_column(Integer)
    #: True when the scheduler made it on the first working day of the following year
    scheduled: Mapped[bool] = mapped_column(Boolean, default=False)
    generated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    generated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))

    agency: Mapped[Agency] = relationship()
    generated_by: Mapped[User | None] = relationship()
