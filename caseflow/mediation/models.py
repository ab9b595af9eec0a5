"""Assistance and mediation requests, the mediator roster, sessions and assistance services."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caseflow.accounts.models import Agency, User, _enum_check
from caseflow.core.db import UTCDateTime
from caseflow.core.timeutil import utcnow
from caseflow.extensions import db
from caseflow.mediation.rules import RState


class Mediator(db.Model):
    """调解员名册: professional or volunteer, with expertise."""

    __tablename__ = "mediator"
    __table_args__ = (CheckConstraint("kind IN ('professional', 'volunteer')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    expertise: Mapped[str] = mapped_column(String(300), default="")
    contact: Mapped[str] = mapped_column(String(100), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    conflicts: Mapped[list[MediatorConflict]] = relationship(
        back_populates="mediator", cascade="all, delete-orphan", order_by="MediatorConflict.id")


class MediatorConflict(db.Model):
    """A declared conflict of interest: the mediator is never assigned where this party is."""

    __tablename__ = "mediator_conflict"

    id: Mapped[int] = mapped_column(primary_key=True)
    mediator_id: Mapped[int] = mapped_column(ForeignKey("mediator.id", ondelete="CASCADE"),
                                             index=True)
    party: Mapped[str] = mapped_column(String(200))  # a name or a credit code / ID number
    reason: Mapped[str] = mapped_column(String(300))
    declared_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    mediator: Mapped[Mediator] = relationship(back_populates="conflicts")


class AssistanceRequest(db.Model):
    """A request for rights-protection assistance or for mediation."""

    __tablename__ = "assistance_request"
    __table_args__ = (
        CheckConstraint(_enum_check("state", RState), name="state"),
        CheckConstraint("kind IN ('assistance', 'mediation')", name="kind"),
        CheckConstraint("channel IN ('counter', 'phone', 'online')", name="channel"),
        CheckConstraint("state <> 'rejected' OR state_reason IS NOT NULL", name="rejected_reason"),
        Index("ix_assistance_request_agency_state", "agency_id", "state", "received_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_code: Mapped[str] = mapped_column(String(14), unique=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    kind: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    requester_kind: Mapped[str] = mapped_column(String(16))  # rights_holder, business, citizen
    requester_name: Mapped[str] = mapped_column(String(200))
    requester_contact: Mapped[str] = mapped_column(String(100))
    requester_code: Mapped[str] = mapped_column(String(18), default="")  # credit code / ID
    respondent_name: Mapped[str] = mapped_column(String(200), default="")
    respondent_code: Mapped[str] = mapped_column(String(18), default="")
    ip_type: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(Text)
    received_on: Mapped[dt.date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16), default=RState.RECEIVED.value)
    state_reason: Mapped[str | None] = mapped_column(Text)
    decided_on: Mapped[dt.date | None] = mapped_column(Date)  # accepted or rejected
    accepted_on: Mapped[dt.date | None] = mapped_column(Date)
    mediator_id: Mapped[int | None] = mapped_column(ForeignKey("mediator.id"))
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    agreement_terms: Mapped[str] = mapped_column(Text, default="")
    notified_on: Mapped[dt.date | None] = mapped_column(Date)
    clue_case_id: Mapped[int | None] = mapped_column(ForeignKey("case_record.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}

    agency: Mapped[Agency] = relationship()
    mediator: Mapped[Mediator | None] = relationship()
    sessions: Mapped[list[MediationSession]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="MediationSession.id")
    services: Mapped[list[AssistanceService]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="AssistanceService.id")
    documents: Mapped[list[MediationDocument]] = relationship(
        cascade="all, delete-orphan", order_by="MediationDocument.id")


class MediationSession(db.Model):
    __tablename__ = "mediation_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("assistance_request.id", ondelete="CASCADE"),
                                            index=True)
    held_on: Mapped[dt.date] = mapped_column(Date)
    place: Mapped[str] = mapped_column(String(200), default="")
    present: Mapped[str] = mapped_column(String(500))  # parties present
    notes: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))

    request: Mapped[AssistanceRequest] = relationship(back_populates="sessions")


class AssistanceService(db.Model):
    """An assistance service given: legal consultation, expert opinion, help with evidence."""

    __tablename__ = "assistance_service"
    __table_args__ = (CheckConstraint(
        "kind IN ('legal_consultation', 'expert_opinion', 'evidence_help')", name="kind"),
        CheckConstraint("minutes > 0", name="minutes"))

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("assistance_request.id", ondelete="CASCADE"),
                                            index=True)
    kind: Mapped[str] = mapped_column(String(32))
    expert: Mapped[str] = mapped_column(String(100))
    minutes: Mapped[int] = mapped_column(Integer)
    given_on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))

    request: Mapped[AssistanceRequest] = relationship(back_populates="services")


class ReceiptLookup(db.Model):
    """Receipt-code lookups by source address: wrong codes are throttled (no enumeration)."""

    __tablename__ = "receipt_lookup"
    __table_args__ = (Index("ix_receipt_lookup_ip_at", "ip", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    found: Mapped[bool] = mapped_column(Boolean)


class MediationDocument(db.Model):
    """A document of the request (application, evidence from the parties, signed agreement)."""

    __tablename__ = "mediation_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("assistance_request.id", ondelete="CASCADE"),
                                            index=True)
    filename: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
