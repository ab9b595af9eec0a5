"""Share grants: purpose-bound, time-limited access of another agency to a case.

Every read of a shared case by another agency is audited, and the owning agency sees it.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import exists, or_, select

from caseflow.accounts.models import Agency, Role
from caseflow.cases import messages
from caseflow.cases.models import Case
from caseflow.core import audit
from caseflow.core.audit import AuditEvent
from caseflow.core.errors import InvalidInput, NotFound, PermissionDenied
from caseflow.core.timeutil import utcnow
from caseflow.extensions import db
from caseflow.sharing.models import DEFAULT_PARTS, SHARE_PARTS, ShareGrant

ALL_PARTS = frozenset(SHARE_PARTS)


def active_grant_conditions(agency_id) -> tuple:
    """SQL conditions on ``ShareGrant``: granted to the agency, unrevoked, unexpired. The one
    rule of an active grant, for the detail check, the list and the parts shown."""
    now = utcnow()
    return (ShareGrant.agency_id == agency_id, ShareGrant.revoked_at.is_(None),
            or_(ShareGrant.expires_at.is_(None), ShareGrant.expires_at > now))


def active_grant_exists(agency_id, case_id_column):
    """SQL: an unrevoked, unexpired grant of the case to the agency."""
    return exists().where(ShareGrant.case_id == case_id_column, *active_grant_conditions(agency_id))


def active_grants(agency_id: int, case_id: int) -> list[ShareGrant]:
    return list(db.session.scalars(select(ShareGrant).where(
        ShareGrant.case_id == case_id, *active_grant_conditions(agency_id))))


def visible_parts(user, case: Case) -> frozenset[str]:
    """Which parts of the case the user sees: everything for the owner, the union of the
    active grants' parts for another agency."""
    if case.owner_agency_id == user.agency_id:
        return ALL_PARTS
    parts: set[str] = set()
    for g in active_grants(user.agency_id, case.id):
        parts |= set(g.parts or ())
    return frozenset(parts)


def record_read(user, case: Case, how: str = "view") -> None:
    """Audit a read of a shared case by another agency (SPEC §1: every read is audited)."""
    if case.owner_agency_id != user.agency_id:
        audit.record(f"case.shared_{how}", user=user, obj_type="case", obj_id=case.id,
                     owner_agency_id=case.owner_agency_id)


def can_manage_shares(user, case: Case) -> bool:
    return case.owner_agency_id == user.agency_id and user.has_role(Role.CASE_OFFICER, Role.APPROVER)


def grant_share(user, case: Case, agency_id: int | None, purpose: str, parts: list[str],
                expires_on: dt.date | None, *, referral_id: int | None = None,
                system: bool = False) -> ShareGrant:
    """Share a case with another agency for a purpose, optionally until a date."""
    if not system and not can_manage_shares(user, case):
        raise PermissionDenied(messages.text("forbidden"))
    errors = {}
    agency = db.session.get(Agency, agency_id) if agency_id else None
    if agency is None:
        errors["agency_id"] = messages.text("field_required")
    elif agency.id == case.owner_agency_id:
        errors["agency_id"] = messages.text("share_own_agency")
    purpose = (purpose or "").strip()
    if len(purpose) < 2:
        errors["purpose"] = messages.text("field_required")
    elif len(purpose) > 500:
        errors["purpose"] = messages.text("string_too_long", max_length=500)
    parts = list(dict.fromkeys(parts or ()))
    if not parts or any(p not in ALL_PARTS for p in parts):
        errors["parts"] = messages.text("share_parts_invalid")
    expires_at = None
    if expires_on is not None:
        from caseflow.core.timeutil import LOCAL_TZ, today_local

        if expires_on <= today_local():
            errors["expires_on"] = messages.text("share_expiry_past")
        elif expires_on > today_local() + dt.timedelta(days=3 * 366):
            errors["expires_on"] = messages.text("share_expiry_too_far")
        else:
            # valid through the whole of that (Beijing) day
            expires_at = dt.datetime.combine(expires_on + dt.timedelta(days=1), dt.time(),
                                             LOCAL_TZ).astimezone(dt.timezone.utc)
    if errors:
        raise InvalidInput(errors)
    grant = ShareGrant(case_id=case.id, agency_id=agency.id, purpose=purpose, parts=parts,
                       expires_at=expires_at, granted_by_id=user.id, referral_id=referral_id,
                       case_created_at=case.created_at, case_state=case.state)
    db.session.add(grant)
    db.session.flush()
    audit.record("share.grant", user=user, obj_type="case", obj_id=case.id, grant_id=grant.id,
                 agency_id=agency.id, parts=parts, purpose=purpose,
                 expires_at=expires_at.isoformat() if expires_at else None)
    return grant


def revoke_share(user, grant_id: int, *, system: bool = False) -> ShareGrant:
    grant = db.session.get(ShareGrant, grant_id)
    if grant is None:
        raise NotFound(messages.text("case_not_found"))
    if not system and not can_manage_shares(user, grant.case):
        raise NotFound(messages.text("case_not_found"))
    if grant.revoked_at is None:
        grant.revoked_at = utcnow()
        grant.revoked_by_id = user.id
        audit.record("share.revoke", user=user, obj_type="case", obj_id=grant.case_id,
                     grant_id=grant.id, agency_id=grant.agency_id)
    return grant


def grants_of(case: Case) -> list[ShareGrant]:
    return list(db.session.scalars(select(ShareGrant).where(ShareGrant.case_id == case.id)
                                   .order_by(ShareGrant.granted_at.desc())))


def reads_of(case: Case, limit: int = 200) -> list[AuditEvent]:
    """Reads and exports of the case by other agencies (for the owning agency)."""
    return list(db.session.scalars(
        select(AuditEvent).where(AuditEvent.object_type == "case",
                                 AuditEvent.object_id == str(case.id),
                                 AuditEvent.action.like("case.shared_%"))
        .order_by(AuditEvent.id.desc()).limit(limit)))


DEFAULT_REFERRAL_PARTS = list(DEFAULT_PARTS) + ["evidence"]  # the evidence goes with it
