"""Security audit log: who did what to which object, written in the same transaction."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from caseflow.core.db import UTCDateTime
from caseflow.core.timeutil import utcnow
from caseflow.extensions import db


class AuditEvent(db.Model):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32), default="")
    object_id: Mapped[str] = mapped_column(String(64), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    data: Mapped[dict] = mapped_column(JSON, default=dict)


def record(action: str, *, user=None, obj_type: str = "", obj_id=None, ip: str = "",
           **data) -> AuditEvent:
    """Add an audit row to the current transaction (the caller commits)."""
    ev = AuditEvent(
        action=action,
        user_id=getattr(user, "id", None),
        agency_id=getattr(user, "agency_id", None),
        object_type=obj_type,
        object_id="" if obj_id is None else str(obj_id),
        ip=ip,
        data=data,
    )
    db.session.add(ev)
    return ev
