"""Joint actions, their participants, targets, tasks, progress reports and timeline, and the
shared key-trademark protection list (重点商标保护名录) of the G60 cities."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (JSON, Boolean, CheckConstraint, Column, Date, ForeignKey, Index, Integer,
                        Numeric, String, Table, Text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caseflow.accounts.models import Agency, Unit, User, _enum_check
from caseflow.actions.rules import ActionKind, ActionState, TargetKind, TaskState
from caseflow.core.db import UTCDateTime
from caseflow.core.timeutil import utcnow
from caseflow.extensions import db

action_participant = Table(
    "joint_action_participant", db.metadata,
    Column("action_id", ForeignKey("joint_action.id", ondelete="CASCADE"), primary_key=True),
    Column("agency_id", ForeignKey("agency.id"), primary_key=True, index=True),
)


class JointAction(db.Model):
    __tablename__ = "joint_action"
    __table_args__ = (
        CheckConstraint(_enum_check("kind", ActionKind), name="kind"),
        CheckConstraint(_enum_check("state", ActionState), name="state"),
        CheckConstraint("period_end >= period_start", name="period"),
        CheckConstraint("state <> 'completed' OR completed_on IS NOT NULL", name="completed_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    lead_agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    objectives: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default=ActionState.OPEN.value)
    summary: Mapped[str] = mapped_column(Text, default="")  # written when completed
    completed_on: Mapped[dt.date | None] = mapped_column(Date)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}

    lead_agency: Mapped[Agency] = relationship()
    participants: Mapped[list[Agency]] = relationship(secondary=action_participant,
                                                      order_by="Agency.id")
    targets: Mapped[list[ActionTarget]] = relationship(back_populates="action",
                                                       order_by="ActionTarget.id",
                                                       cascade="all, delete-orphan")
    tasks: Mapped[list[ActionTask]] = relationship(back_populates="action",
                                                   order_by="ActionTask.id",
                                                   cascade="all, delete-orphan")

    def agency_ids(self) -> set[int]:
        return {self.lead_agency_id} | {a.id for a in self.participants}


class KeyTrademark(db.Model):
    """A trademark on the shared key-trademark protection list, exchanged between G60 cities."""

    __tablename__ = "key_trademark"

    id: Mapped[int] = mapped_column(primary_key=True)
    reg_number: Mapped[str] = mapped_column(String(12), unique=True)  # 注册号
    mark: Mapped[str] = mapped_column(String(100))  # 商标
    holder: Mapped[str] = mapped_column(String(200))  # 权利人
    classes: Mapped[str] = mapped_column(String(200), default="")  # Nice classes "9,25"
    city: Mapped[str] = mapped_column(String(20), default="")  # the G60 city that listed it
    listed_by_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    listed_on: Mapped[dt.date] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    removed_reason: Mapped[str] = mapped_column(String(300), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ActionTarget(db.Model):
    """What the action aims at: a market, a platform or shop, a listed trademark."""

    __tablename__ = "joint_action_target"
    __table_args__ = (CheckConstraint(_enum_check("kind", TargetKind), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("joint_action.id", ondelete="CASCADE"),
                                           index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(String(300), default="")  # address, shop URL…
    trademark_id: Mapped[int | None] = mapped_column(ForeignKey("key_trademark.id"))

    action: Mapped[JointAction] = relationship(back_populates="targets")
    trademark: Mapped[KeyTrademark | None] = relationship()


class ActionTask(db.Model):
    __tablename__ = "joint_task"
    __table_args__ = (
        CheckConstraint(_enum_check("state", TaskState), name="state"),
        CheckConstraint("state NOT IN ('declined', 'cancelled') OR reason IS NOT NULL",
                        name="reason"),
        Index("ix_joint_task_action_agency", "action_id", "assignee_agency_id"),
        Index("ix_joint_task_agency_state", "assignee_agency_id", "state", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("joint_action.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    assignee_agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    assignee_unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    target_id: Mapped[int | None] = mapped_column(ForeignKey("joint_action_target.id",
                                                             ondelete="SET NULL"))
    due_on: Mapped[dt.date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16), default=TaskState.ASSIGNED.value)
    #: the last decline / return / cancel reason
    reason: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}

    action: Mapped[JointAction] = relationship(back_populates="tasks")
    assignee_agency: Mapped[Agency] = relationship(foreign_keys=[assignee_agency_id])
    assignee_unit: Mapped[Unit | None] = relationship()
    assignee_user: Mapped[User | None] = relationship(foreign_keys=[assignee_user_id])
    target: Mapped[ActionTarget | None] = relationship()
    reports: Mapped[list[TaskReport]] = relationship(back_populates="task",
                                                     order_by="TaskReport.id",
                                                     cascade="all, delete-orphan")


Money = Numeric(16, 2)


class TaskReport(db.Model):
    """A progress report: the figures of the period it covers (reports add up)."""

    __tablename__ = "joint_task_report"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'verified', 'returned', 'cancelled')",
                        name="status"),
        CheckConstraint("places_inspected >= 0 AND cases_filed >= 0 AND goods_seized >= 0 "
                        "AND goods_value >= 0 AND referrals >= 0", name="non_negative"),
        Index("ix_joint_task_report_task", "task_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("joint_task.id", ondelete="CASCADE"))
    #: the agency that reported (its figures stay its own if the task is reassigned later)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    places_inspected: Mapped[int] = mapped_column(Integer, default=0)
    cases_filed: Mapped[int] = mapped_column(Integer, default=0)
    goods_seized: Mapped[int] = mapped_column(Integer, default=0)
    goods_value: Mapped[Decimal] = mapped_column(Money, default=0)
    referrals: Mapped[int] = mapped_column(Integer, default=0)
    narrative: Mapped[str] = mapped_column(Text, default="")
    final: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    review_note: Mapped[str] = mapped_column(Text, default="")

    task: Mapped[ActionTask] = relationship(back_populates="reports")
    submitted_by: Mapped[User] = relationship(foreign_keys=[submitted_by_id])
    attachments: Mapped[list[ReportAttachment]] = relationship(
        back_populates="report", order_by="ReportAttachment.id", cascade="all, delete-orphan")


class ReportAttachment(db.Model):
    """A file of a progress report, kept outside the web root under a generated name."""

    __tablename__ = "joint_task_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("joint_task_report.id", ondelete="CASCADE"),
                                           index=True)
    filename: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    report: Mapped[TaskReport] = relationship(back_populates="attachments")


class ActionEvent(db.Model):
    """The action's timeline (for the board and the after-action report)."""

    __tablename__ = "joint_action_event"
    __table_args__ = (Index("ix_joint_action_event_action", "action_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("joint_action.id", ondelete="CASCADE"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("joint_task.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict] = mapped_column(JSON, default=dict)

    user: Mapped[User] = relationship()
