"""Share grants: a case made visible to another agency, for a purpose, until a date."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caseflow.accounts.models import Agency, User
from caseflow.cases.models import Case
from caseflow.core.db import UTCDateTime
from caseflow.core.timeutil import utcnow
from caseflow.extensions import db

#: Parts of a case a grant can show. The complainant's identity only when chosen.
SHARE_PARTS = ("details", "parties", "amounts", "timeline", "complainant", "evidence")
DEFAULT_PARTS = ("details", "parties", "amounts", "timeline")


class ShareGrant(db.Model):
    __tablename__ = "share_grant"
    __table_args__ = (
        Index("ix_share_grant_agency_case", "agency_id", "case_id"),
        Index("ix_share_grant_case", "case_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id", ondelete="CASCADE"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))  # who may see it
    purpose: Mapped[str] = mapped_column(Text)
    parts: Mapped[list] = mapped_column(JSON, default=list)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    granted_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referral.id", ondelete="SET NULL"))

    case: Mapped[Case] = relationship()
    agency: Mapped[Agency] = relationship()
    granted_by: Mapped[User] = relationship(foreign_keys=[granted_by_id])

    def active(self, now: dt.datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
