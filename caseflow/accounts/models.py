"""Agencies, units, users, roles, login sessions and API tokens (SPEC §1)."""
from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import (BigInteger, Boolean, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint,
                        Index)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caseflow.core.db import UTCDateTime
from caseflow.core.timeutil import utcnow
from caseflow.extensions import db


class AgencyKind(StrEnum):
    MARKET_SUPERVISION = "market_supervision"  # 市场监督管理局
    POLICE_ECON = "police_econ"  # 公安分局经济犯罪侦查支队
    CULTURAL_ENFORCEMENT = "cultural_enforcement"  # 文化市场行政执法大队
    IP_OFFICE = "ip_office"  # 知识产权局
    PROCURATORATE = "procuratorate"  # 人民检察院
    JOINT_OFFICE = "joint_office"  # 知识产权联席会议办公室 (district-wide figures only)
    OTHER = "other"


class Role(StrEnum):
    INSPECTOR = "inspector"  # 执法人员
    CASE_OFFICER = "case_officer"  # 承办人
    LEGAL_REVIEWER = "legal_reviewer"  # 法制审核
    APPROVER = "approver"  # 负责人
    COORDINATOR = "coordinator"  # 协调员
    PUBLISHER = "publisher"  # 信用公示员
    AGENCY_ADMIN = "agency_admin"
    SYS_ADMIN = "sys_admin"  # 系统管理员
    SEC_ADMIN = "sec_admin"  # 安全管理员
    AUDITOR = "auditor"  # 审计管理员


#: Roles that work cases and therefore see their agency's case data.
CASE_ROLES = frozenset({Role.INSPECTOR, Role.CASE_OFFICER, Role.LEGAL_REVIEWER, Role.APPROVER,
                        Role.COORDINATOR, Role.PUBLISHER})
#: 三员分立: no account combines two of these, and none of them reads case data.
SEPARATED_ADMIN_ROLES = frozenset({Role.SYS_ADMIN, Role.SEC_ADMIN, Role.AUDITOR})


def _enum_check(column: str, enum: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(e.value) for e in enum)})"


class Agency(db.Model):
    __tablename__ = "agency"
    __table_args__ = (CheckConstraint(_enum_check("kind", AgencyKind), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(100), default="")
    credit_code: Mapped[str | None] = mapped_column(String(18))
    #: Prefix of case numbers, e.g. 沪市监松处 → 沪市监松处〔2026〕0001号
    case_prefix: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    units: Mapped[list[Unit]] = relationship(back_populates="agency", order_by="Unit.name")


class Unit(db.Model):
    """科室 / 中队 inside an agency."""

    __tablename__ = "unit"
    __table_args__ = (UniqueConstraint("agency_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    name: Mapped[str] = mapped_column(String(200))

    agency: Mapped[Agency] = relationship(back_populates="units")


class User(db.Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str | None] = mapped_column(String(16))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    #: the first of the failures being counted: failures older than the window are forgotten
    first_failed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: when the password was last set (expires after passwords.EXPIRY_DAYS)
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: second factor: the TOTP secret, encrypted (accounts.totp); None until enrolled
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    #: the time step of the last accepted one-time code (a code is accepted only once)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    totp_enrolled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    agency: Mapped[Agency] = relationship(lazy="joined", innerjoin=True)
    unit: Mapped[Unit | None] = relationship()
    role_rows: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    # Flask-Login protocol. The id handed to Flask-Login is the server-side session id, so
    # a session ends the moment its row is revoked (see accounts.operations).
    _session_id = None  # set per request by the login loader (not a column)
    prefetched = ()  # what the request's page asked the login loader to read too
    is_anonymous = False

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return self._session_id or ""

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(r.role for r in self.role_rows)

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))

    @property
    def works_cases(self) -> bool:
        return bool(self.roles & CASE_ROLES)


class UserRole(db.Model):
    __tablename__ = "user_role"
    __table_args__ = (CheckConstraint(_enum_check("role", Role), name="role"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"),
                                         primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)


class PasswordHistory(db.Model):
    """Hashes of a user's earlier passwords: the last ones cannot be chosen again."""

    __tablename__ = "password_history"
    __table_args__ = (Index("ix_password_history_user", "user_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()


class LoginSession(db.Model):
    """A server-side login session; the cookie carries only its random id."""

    __tablename__ = "login_session"
    __table_args__ = (Index("ix_login_session_user_active", "user_id", "revoked_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    user_agent: Mapped[str] = mapped_column(String(255), default="")


class ApiToken(db.Model):
    """Bearer token for /api/v1; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"),
                                         index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: what the owner calls it (e.g. the phone it is on)
    label: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
