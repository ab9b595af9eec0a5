"""Case, party and case-event tables."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (JSON, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, Numeric,
                        String, Table, Column, Text, UniqueConstraint, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caseflow.accounts.models import Agency, User, _enum_check
from caseflow.cases.rules import NUMBERED_STATES, Channel, IPType, PartyKind, State
from caseflow.core.db import UTCDateTime
from caseflow.core.timeutil import utcnow
from caseflow.extensions import db

Money = Numeric(16, 2)

case_officer_table = Table(
    "case_officer",
    db.metadata,
    Column("case_id", ForeignKey("case_record.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("user_account.id"), primary_key=True),
)

_numbered = ", ".join(repr(s.value) for s in NUMBERED_STATES)


class Case(db.Model):
    __tablename__ = "case_record"
    __table_args__ = (
        CheckConstraint(_enum_check("state", State), name="state"),
        CheckConstraint(_enum_check("channel", Channel), name="channel"),
        CheckConstraint(_enum_check("ip_type", IPType), name="ip_type"),
        # A filed case always carries its number (Indico-style state/column constraints).
        CheckConstraint(f"state NOT IN ({_numbered}) OR number IS NOT NULL", name="numbered"),
        CheckConstraint("state <> 'suspended' OR suspended_from IS NOT NULL", name="suspended_from"),
        CheckConstraint("state <> 'rejected' OR state_reason IS NOT NULL", name="rejected_reason"),
        CheckConstraint("illegal_business_volume >= 0 AND illegal_gains >= 0 AND sales_amount >= 0 "
                        "AND unsold_goods_value >= 0 AND copies >= 0 AND rights_holder_loss >= 0",
                        name="amounts_non_negative"),
        UniqueConstraint("owner_agency_id", "number"),
        # Case list: agency scope + newest first (keyset), optionally by state.
        Index("ix_case_record_agency_created", "owner_agency_id", "created_at", "id"),
        Index("ix_case_record_agency_state_created", "owner_agency_id", "state", "created_at", "id"),
        Index("ix_case_record_agency_due", "owner_agency_id", "next_due_on"),
        # Dashboards: the agency's cases received in a period, by state, IP type and channel
        Index("ix_case_record_agency_received", "owner_agency_id", "received_on", "state",
              "ip_type", "channel"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    number: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(32))
    ip_type: Mapped[str] = mapped_column(String(32))
    infringement_kind: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(String(300), default="")
    received_on: Mapped[dt.date] = mapped_column(Date)
    #: 注册商标注册号 of the trademark(s) concerned, comma-separated digits (related-case check)
    trademark_numbers: Mapped[str] = mapped_column(String(200), default="")
    reporter_name: Mapped[str] = mapped_column(String(100), default="")
    reporter_contact: Mapped[str] = mapped_column(String(100), default="")
    is_major: Mapped[bool] = mapped_column(Boolean, default=False)

    illegal_business_volume: Mapped[Decimal] = mapped_column(Money, default=0)  # 非法经营数额
    illegal_gains: Mapped[Decimal] = mapped_column(Money, default=0)  # 违法所得
    sales_amount: Mapped[Decimal] = mapped_column(Money, default=0)  # 销售金额
    unsold_goods_value: Mapped[Decimal] = mapped_column(Money, default=0)  # 未销售货值
    copies: Mapped[int] = mapped_column(Integer, default=0)  # 复制品数量 / 标识件数
    rights_holder_loss: Mapped[Decimal] = mapped_column(Money, default=0)  # 权利人损失
    multiple_marks: Mapped[bool] = mapped_column(Boolean, default=False)  # 两种以上注册商标
    repeat_offence: Mapped[bool] = mapped_column(Boolean, default=False)  # 二年内受过处罚
    #: 以罚代刑 guard: why a case meeting a criminal threshold was decided administratively
    no_referral_reason: Mapped[str | None] = mapped_column(Text)
    #: the joint action (专项行动) during which the case was opened; its figures count it
    joint_action_id: Mapped[int | None] = mapped_column(ForeignKey("joint_action.id"), index=True)

    state: Mapped[str] = mapped_column(String(32), default=State.CLUE.value)
    state_reason: Mapped[str | None] = mapped_column(Text)
    suspended_from: Mapped[str | None] = mapped_column(String(32))
    filed_on: Mapped[dt.date | None] = mapped_column(Date)
    fine_amount: Mapped[Decimal | None] = mapped_column(Money)
    #: Earliest due date of the agency's running, unpaused clocks (kept by operations) so
    #: lists can filter "overdue" in SQL; the clocks themselves are always recomputed.
    next_due_on: Mapped[dt.date | None] = mapped_column(Date)
    # A step waiting for an approver: action name + what the officer entered.
    pending_action: Mapped[str | None] = mapped_column(String(32))
    pending_payload: Mapped[dict | None] = mapped_column(JSON)
    pending_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    lead_officer_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}

    owner_agency: Mapped[Agency] = relationship()
    parties: Mapped[list[Party]] = relationship(back_populates="case", cascade="all, delete-orphan",
                                                order_by="Party.id", lazy="selectin")
    goods: Mapped[list[Goods]] = relationship(cascade="all, delete-orphan", order_by="Goods.id")
    events: Mapped[list[CaseEvent]] = relationship(back_populates="case", order_by="CaseEvent.id",
                                                   cascade="all, delete-orphan")
    officers: Mapped[list[User]] = relationship(secondary=case_officer_table, order_by="User.id",
                                                lazy="selectin")
    lead_officer: Mapped[User | None] = relationship(foreign_keys=[lead_officer_id])
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    pending_by: Mapped[User | None] = relationship(foreign_keys=[pending_by_id])

    @property
    def display_number(self) -> str:
        return self.number or f"#{self.id}"


class Party(db.Model):
    """当事人: a business by unified social credit code or a person by resident ID."""

    __tablename__ = "party"
    __table_args__ = (
        CheckConstraint(_enum_check("kind", PartyKind), name="kind"),
        CheckConstraint("kind <> 'business' OR credit_code IS NOT NULL", name="business_code"),
        CheckConstraint("kind <> 'person' OR id_number IS NOT NULL", name="person_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    credit_code: Mapped[str | None] = mapped_column(String(18), index=True)
    id_number: Mapped[str | None] = mapped_column(String(18), index=True)
    address: Mapped[str] = mapped_column(String(300), default="")

    case: Mapped[Case] = relationship(back_populates="parties")


class Goods(db.Model):
    """涉案物品: goods involved, with quantity, unit and value (SPEC §2)."""

    __tablename__ = "case_goods"
    __table_args__ = (CheckConstraint("quantity >= 0 AND value >= 0", name="non_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    unit: Mapped[str] = mapped_column(String(20), default="")
    value: Mapped[Decimal] = mapped_column(Money, default=0)  # 货值 (元)


class CaseEvent(db.Model):
    """One line of the case timeline: who did what, when, and what changed."""

    __tablename__ = "case_event"
    __table_args__ = (Index("ix_case_event_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The legally relevant date (counts the clocks); usually the day it was recorded.
    effective_on: Mapped[dt.date] = mapped_column(Date)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSON, default=dict)

    case: Mapped[Case] = relationship(back_populates="events")
    user: Mapped[User] = relationship(lazy="joined")


class StageExit(db.Model):
    """One time a case left a stage (a state), with the days it spent there: what the
    dashboards' time-in-stage figures count, written with the event that changed the state."""

    __tablename__ = "case_stage_exit"
    __table_args__ = (
        CheckConstraint("days >= 0", name="days_non_negative"),
        # the agency's exits in a period, by stage and duration (an index-only scan)
        Index("ix_case_stage_exit_agency_left", "agency_id", "left_on", "stage", "days", "case_id"),
        # a case's later exits of a stage it left before: what a count of distinct cases per
        # stage subtracts from the count of exits
        Index("ix_case_stage_exit_agency_repeat", "agency_id", "left_on", "stage", "prev_left_on",
              sqlite_where=text("prev_left_on IS NOT NULL"),
              postgresql_where=text("prev_left_on IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id", ondelete="CASCADE"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))  # the case's owner
    stage: Mapped[str] = mapped_column(String(32))
    entered_on: Mapped[dt.date] = mapped_column(Date)
    left_on: Mapped[dt.date] = mapped_column(Date)
    #: calendar days from entering to leaving; a back-dated step that left before it entered
    #: counts as 0
    days: Mapped[int] = mapped_column(Integer)
    #: when the case last left the same stage before this exit (None: the first time). Whatever
    #: writes exits fills it (the operations, the generator): the dashboards' count of distinct
    #: cases per stage relies on it
    prev_left_on: Mapped[dt.date | None] = mapped_column(Date)

    case: Mapped[Case] = relationship()
