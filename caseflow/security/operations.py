"""The security administrator's functions (安全管理员, 三员分立): accounts and role grants.

Only a security administrator calls these, never on their own account; none of them shows
or touches case data. Every change writes its audit record in the same transaction; the
audit administrator reads those records (security.auditlog), the security administrator
cannot.
"""
from __future__ import annotations

import secrets
import string

from sqlalchemy import func, or_, select

from caseflow.accounts import operations as accounts
from caseflow.accounts.models import Agency, Role, User, UserRole
from caseflow.cases import messages
from caseflow.core import audit
from caseflow.core.errors import InvalidInput, NotFound
from caseflow.core.timeutil import utcnow
from caseflow.extensions import db

PAGE = 100


def can_manage(user) -> bool:
    return user.has_role(Role.SEC_ADMIN)


def _check(actor, target: User | None = None) -> None:
    accounts._require_security_admin(actor, target)


def users(actor, q: str = "", agency_id: int | None = None, limit: int = PAGE) -> list[User]:
    """Accounts of every agency (names, roles, state; no case data)."""
    _check(actor)
    stmt = select(User).order_by(User.agency_id, User.username).limit(limit)
    q = (q or "").strip()
    if q:
        like = f"%{q.lower().replace('%', '').replace('_', '')}%"
        stmt = stmt.where(or_(User.username.like(like), func.lower(User.display_name).like(like)))
    if agency_id:
        stmt = stmt.where(User.agency_id == agency_id)
    return list(db.session.scalars(stmt))


def get_user(actor, user_id: int) -> User:
    _check(actor)
    user = db.session.get(User, user_id) if 0 < user_id < 2**31 else None
    if user is None:
        raise NotFound(messages.text("user_unknown"))
    return user


def agencies() -> list[Agency]:
    return list(db.session.scalars(select(Agency).order_by(Agency.name)))


def temporary_password(length: int = 16) -> str:
    """A random password meeting the policy: all four character classes."""
    pools = (string.ascii_lowercase, string.ascii_uppercase, string.digits, "-_.!@#%+=")
    while True:
        chars = [secrets.choice(p) for p in pools]
        chars += [secrets.choice("".join(pools)) for _ in range(length - len(chars))]
        secrets.SystemRandom().shuffle(chars)
        candidate = "".join(chars)
        if not accounts.password_problems(candidate):
            return candidate


def create_account(actor, agency_id, username: str, display_name: str, roles: list[str]
                   ) -> tuple[User, str]:
    """A new account with a one-time password the person must change at the first login."""
    _check(actor)
    errors = {}
    agency = None
    try:
        agency = db.session.get(Agency, int(agency_id))
    except (TypeError, ValueError):
        pass
    if agency is None:
        errors["agency"] = messages.text("agency_unknown")
    display_name = (display_name or "").strip()
    if not 1 <= len(display_name) <= 100:
        errors["display_name"] = messages.text("display_name_length")
    problem = accounts.role_errors(roles)
    if problem:
        errors["roles"] = problem
    if errors:
        raise InvalidInput(errors)
    password = temporary_password()
    try:
        user = accounts.create_user(agency, username, password, roles, display_name, actor=actor)
    except InvalidInput as e:
        raise InvalidInput({("roles" if k == "role" else k): v for k, v in e.errors.items()}) \
            from None
    user.password_changed_at = None  # expired: the first login leads to the change form
    return user, password


def set_roles(actor, user: User, roles: list[str]) -> None:
    """Grant and revoke roles; the person logs in again (a newly required second factor, or
    fewer rights, take effect at once)."""
    _check(actor, user)
    problem = accounts.role_errors(roles)
    if problem:
        raise InvalidInput({"roles": problem})
    old, new = set(user.roles), set(roles)
    if old == new:
        return
    user.role_rows = [r for r in user.role_rows if r.role in new] + \
        [UserRole(role=r) for r in sorted(new - old)]
    accounts.revoke_all_sessions(user)
    for role in sorted(new - old):
        audit.record("role.grant", user=actor, obj_type="user", obj_id=user.id, role=role,
                     username=user.username)
    for role in sorted(old - new):
        audit.record("role.revoke", user=actor, obj_type="user", obj_id=user.id, role=role,
                     username=user.username)


def set_active(actor, user: User, active: bool) -> None:
    _check(actor, user)
    if user.active != active:
        accounts.set_user_active(user, active, actor)


def unlock(actor, user: User) -> None:
    _check(actor, user)
    if user.locked_until is not None or user.failed_logins:
        user.locked_until, user.failed_logins, user.first_failed_at = None, 0, None
        audit.record("user.unlock", user=actor, obj_type="user", obj_id=user.id,
                     username=user.username)


def reset_password(actor, user: User) -> str:
    """A one-time password, shown once to the administrator; every session and token ends
    and the person must choose a new password at the next login."""
    _check(actor, user)
    password = temporary_password()
    accounts._set_password(user, password, utcnow())
    user.password_changed_at = None
    accounts.revoke_all_sessions(user)
    audit.record("password.reset", user=actor, obj_type="user", obj_id=user.id,
                 username=user.username)
    return password


def reset_second_factor(actor, user: User) -> None:
    accounts.reset_second_factor(actor, user)
