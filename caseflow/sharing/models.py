"""Share grants: a case made visible to another agency, for a purpose, until a date."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Index, String, Text, text
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
        # The case list's shared half and its counts: the agency's unrevoked grants newest case
        # first, with the case's state and the grant's expiry in the index (PostgreSQL reads it
        # alone), so a page costs the same whether an agency holds 50 grants or 60,000.
        Index("ix_share_grant_listed", "agency_id", "case_created_at", "case_id",
              postgresql_include=["case_state", "expires_at"],
              postgresql_where=text("revoked_at IS NULL"), sqlite_where=text("revoked_at IS NULL")),
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
    # copies of the case's, for the list (see the index above): created_at never changes; the
    # state is kept by a trigger on case_record (migration 20261123_…_share_grant_listed;
    # SQLite drops a table's triggers when a batch migration rebuilds it: a later migration
    # that rebuilds case_record must create share_grant_case_state again —
    # tests/cases/test_shared_list.py fails otherwise)
    case_created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    case_state: Mapped[str] = mapped_column(String(32))

    case: Mapped[Case] = relationship()
    agency: Mapped[Agency] = relationship()
    granted_by: Mapped[User] = relationship(foreign_keys=[granted_by_id])

    def active(self, now: dt.datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
