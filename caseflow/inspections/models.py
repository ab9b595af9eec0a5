"""Dual-random inspections (双随机、一公开): one list, two pools, plans, verifiable draws."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (JSON, Boolean, CheckConstraint, Column, Date, ForeignKey, Index, Integer,
                        Numeric, String, Table, Text, UniqueConstraint, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caseflow.accounts.models import Agency, User
from caseflow.core.db import UTCDateTime
from caseflow.core.timeutil import utcnow
from caseflow.extensions import db


class InspectionItem(db.Model):
    """随机抽查事项清单: key items have no ratio cap, general items have one."""

    __tablename__ = "inspection_item"
    __table_args__ = (UniqueConstraint("agency_id", "code"),
                      CheckConstraint("kind IN ('key', 'general')", name="kind"))

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    ratio_cap: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))  # general items only
    basis: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Business(db.Model):
    """检查对象名录库: businesses from the credit register."""

    __tablename__ = "business"
    __table_args__ = (UniqueConstraint("agency_id", "credit_code"),
                      CheckConstraint("risk_class IN ('A', 'B', 'C', 'D')", name="risk_class"),
                      # the draw's population (operations.eligible): the active businesses of a
                      # district and industry, read from this index alone (an index-only scan,
                      # no visit of the table's rows); the predicate is written as the query
                      # writes it, which is what lets the planners use a partial index
                      Index("ix_business_active_filter", "agency_id", "district", "industry",
                            "risk_class", "credit_code",
                            postgresql_where=text("active IS true"),
                            sqlite_where=text("active IS 1")))

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    credit_code: Mapped[str] = mapped_column(String(18))
    name: Mapped[str] = mapped_column(String(200))
    district: Mapped[str] = mapped_column(String(64), default="")
    industry: Mapped[str] = mapped_column(String(64), default="")
    risk_class: Mapped[str] = mapped_column(String(1), default="B")
    address: Mapped[str] = mapped_column(String(300), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ImportReport(db.Model):
    __tablename__ = "import_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    filename: Mapped[str] = mapped_column(String(255), default="")
    total: Mapped[int] = mapped_column(Integer, default=0)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    rejected_count: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[list] = mapped_column(JSON, default=list)  # first rows: {line, reason, value}
    sha256: Mapped[str] = mapped_column(String(64), default="")


class RosterEntry(db.Model):
    """执法检查人员名录库: an inspector of the agency, qualified and active or not."""

    __tablename__ = "roster_entry"
    __table_args__ = (UniqueConstraint("user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    qualifications: Mapped[str] = mapped_column(String(300), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    user: Mapped[User] = relationship()


class Conflict(db.Model):
    """回避: an inspector declared a conflict of interest with a business."""

    __tablename__ = "inspector_conflict"
    __table_args__ = (UniqueConstraint("user_id", "business_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(300))
    declared_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


plan_participant = Table(
    "plan_participant", db.metadata,
    Column("plan_id", ForeignKey("inspection_plan.id", ondelete="CASCADE"), primary_key=True),
    Column("agency_id", ForeignKey("agency.id"), primary_key=True),
)


class InspectionPlan(db.Model):
    """A yearly plan of the lead agency; participants (联合抽查) draw their own inspectors."""

    __tablename__ = "inspection_plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    agency: Mapped[Agency] = relationship()
    items: Mapped[list[PlanItem]] = relationship(back_populates="plan", order_by="PlanItem.id",
                                                 cascade="all, delete-orphan")
    participants: Mapped[list[Agency]] = relationship(secondary=plan_participant,
                                                      order_by="Agency.id")


class PlanItem(db.Model):
    """One item of a plan: which businesses (filters), how many (ratio or count, per class)."""

    __tablename__ = "plan_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("inspection_plan.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("inspection_item.id"))
    filters: Mapped[dict] = mapped_column(JSON, default=dict)  # district, industry, classes
    ratio: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))
    count: Mapped[int | None] = mapped_column(Integer)
    class_ratios: Mapped[dict] = mapped_column(JSON, default=dict)  # {"C": "0.1", "D": "0.2"}
    inspectors_per_target: Mapped[int] = mapped_column(Integer, default=2)
    due_date: Mapped[dt.date] = mapped_column(Date)

    plan: Mapped[InspectionPlan] = relationship(back_populates="items")
    item: Mapped[InspectionItem] = relationship()
    draws: Mapped[list[Draw]] = relationship(back_populates="plan_item", order_by="Draw.id")


class Draw(db.Model):
    """A verifiable draw: the commitment (hashes of the population and of the seed) is
    recorded before the draw; the seed is revealed with the result so anyone can replay it."""

    __tablename__ = "draw"
    __table_args__ = (CheckConstraint("state IN ('committed', 'drawn')", name="state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_item_id: Mapped[int] = mapped_column(ForeignKey("plan_item.id", ondelete="CASCADE"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    #: a participant's draw of its own inspectors for the lead agency's drawn businesses
    parent_draw_id: Mapped[int | None] = mapped_column(ForeignKey("draw.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16), default="committed")
    population_hash: Mapped[str] = mapped_column(String(64))
    population_size: Mapped[int] = mapped_column(Integer)
    #: the snapshot: [credit code, risk class] pairs sorted by code (PostgreSQL compresses it
    #: with lz4, set by migration aba0e3d6ec81)
    population: Mapped[list] = mapped_column(JSON)
    roster: Mapped[list] = mapped_column(JSON)  # sorted inspector usernames
    conflicts: Mapped[list] = mapped_column(JSON, default=list)  # [[username, credit_code]]
    quotas: Mapped[dict] = mapped_column(JSON, default=dict)  # class -> number to draw
    seed_hash: Mapped[str] = mapped_column(String(64))
    seed: Mapped[str | None] = mapped_column(String(64))  # revealed after the draw
    result: Mapped[dict | None] = mapped_column(JSON)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    committed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    drawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    plan_item: Mapped[PlanItem] = relationship(back_populates="draws")


inspection_inspector = Table(
    "inspection_inspector", db.metadata,
    Column("inspection_id", ForeignKey("inspection.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("user_account.id"), primary_key=True),
)

RESULTS = ("未发现问题", "发现问题已责令改正", "未按规定公示应当公示的信息", "通过登记的住所无法联系",
           "不配合检查", "检查对象已注销", "其他")


class Inspection(db.Model):
    __tablename__ = "inspection"
    __table_args__ = (
        CheckConstraint("state IN ('scheduled', 'done', 'published')", name="state"),
        CheckConstraint("state = 'scheduled' OR result IS NOT NULL", name="result"),
        UniqueConstraint("draw_id", "business_id"),
        Index("ix_inspection_agency_state", "agency_id", "state", "due_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    draw_id: Mapped[int] = mapped_column(ForeignKey("draw.id", ondelete="CASCADE"))
    plan_item_id: Mapped[int] = mapped_column(ForeignKey("plan_item.id", ondelete="CASCADE"))
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"))
    due_date: Mapped[dt.date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16), default="scheduled")
    result: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    inspected_on: Mapped[dt.date | None] = mapped_column(Date)
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    published_on: Mapped[dt.date | None] = mapped_column(Date)

    business: Mapped[Business] = relationship()
    plan_item: Mapped[PlanItem] = relationship()
    inspectors: Mapped[list[User]] = relationship(secondary=inspection_inspector,
                                                  order_by="User.id")
