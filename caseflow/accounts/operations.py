"""Accounts: agencies, users, passwords, login sessions and API tokens."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import joinedload

from caseflow.accounts import passwords, totp
from caseflow.accounts.models import (SEPARATED_ADMIN_ROLES, Agency, AgencyKind, ApiToken,
                                      LoginSession, PasswordHistory, Role, User, UserRole)
from caseflow.cases import messages
from caseflow.core import audit
from caseflow.core.errors import InvalidInput, NotFound, PermissionDenied
from caseflow.core.timeutil import utcnow
from caseflow.extensions import db

_hashers: dict[tuple, PasswordHasher] = {}
#: default or generic account names refused for every account (等保: no default accounts)
RESERVED_USERNAMES = frozenset({"admin", "administrator", "root", "test", "guest", "user", "sa",
                                "superuser", "demo"})
_dummy_hashes: dict[tuple, str] = {}


def _hasher_for_app() -> PasswordHasher:
    """argon2id with the library's recommended parameters (tests may lower the cost)."""
    params = tuple(sorted((current_app.config.get("ARGON2_PARAMS") or {}).items()))
    if params not in _hashers:
        _hashers[params] = PasswordHasher(**dict(params))
        # Verified against when the username is unknown, so both paths cost the same time.
        _dummy_hashes[params] = _hashers[params].hash(secrets.token_hex(16))
    return _hashers[params]


def _dummy_hash() -> str:
    _hasher_for_app()
    return _dummy_hashes[tuple(sorted((current_app.config.get("ARGON2_PARAMS") or {}).items()))]


def hash_password(password: str) -> str:
    return _hasher_for_app().hash(password)


def normalize_username(username: str) -> str:
    """Lower-case, half-width, no spaces: 'Ｓｊ Officer' and 'sjofficer' are one account."""
    from caseflow.core.ids import normalize_code

    return normalize_code(username).lower()


def password_problems(password: str, username: str = "", agency: Agency | None = None) -> list[str]:
    """The policy's objections to a new password (accounts.passwords), as message codes."""
    names = (agency.name, agency.code) if agency is not None else ()
    return passwords.problems(password, username, names,
                              min_length=current_app.config["PASSWORD_MIN_LENGTH"])


def _set_password(user: User, password: str, now: dt.datetime) -> None:
    user.password_hash = hash_password(password)
    user.password_changed_at = now
    db.session.add(PasswordHistory(user=user, password_hash=user.password_hash, created_at=now))


def create_agency(code: str, kind: str, name: str, case_prefix: str | None = None,
                  region: str = "", credit_code: str | None = None) -> Agency:
    errors = {}
    if kind not in {k.value for k in AgencyKind}:
        errors["kind"] = f"unknown kind {kind!r}; one of {', '.join(k.value for k in AgencyKind)}"
    if not code or len(code) > 32:
        errors["code"] = "1–32 characters"
    if not name:
        errors["name"] = "required"
    if db.session.scalar(select(Agency).where(Agency.code == code)):
        errors["code"] = f"agency {code!r} already exists"
    if credit_code:
        from caseflow.core.ids import check_credit_code, normalize_code

        credit_code = normalize_code(credit_code)
        if check_credit_code(credit_code):
            errors["credit_code"] = "not a valid unified social credit code"
    if errors:
        raise InvalidInput(errors)
    agency = Agency(code=code, kind=kind, name=name, case_prefix=case_prefix or name,
                    region=region, credit_code=credit_code)
    db.session.add(agency)
    db.session.flush()
    audit.record("agency.create", obj_type="agency", obj_id=agency.id, code=code, kind=kind)
    return agency


def role_errors(roles) -> str | None:
    """Why a set of roles cannot be held by one account, or None (三员分立)."""
    roles = set(roles)
    if not roles or roles - {x.value for x in Role}:
        return str(messages.text("roles_unknown", roles=", ".join(r.value for r in Role)))
    if roles & SEPARATED_ADMIN_ROLES and len(roles) > 1:
        # 三员分立: system, security and audit administration are separate people
        return str(messages.text("roles_separated"))
    return None


def _require_security_admin(actor: User, target: User | None = None) -> None:
    """Only the security administrator manages accounts, and never their own."""
    if not actor.has_role(Role.SEC_ADMIN):
        raise PermissionDenied("forbidden")
    if target is not None and target.id == actor.id:
        raise PermissionDenied("own_account")


def create_user(agency: Agency, username: str, password: str, roles: list[str],
                display_name: str | None = None, actor: User | None = None) -> User:
    errors = {}
    uname = normalize_username(username)
    if not uname or len(uname) > 64:
        errors["username"] = messages.text("username_length")
    elif uname in RESERVED_USERNAMES:
        # 等保: no default or guessable administrator accounts
        errors["username"] = messages.text("username_reserved")
    elif db.session.scalar(select(User).where(User.username == uname)):
        errors["username"] = messages.text("username_taken")
    role_problem = role_errors(roles)
    if role_problem:
        errors["role"] = role_problem
    problems = password_problems(password, uname, agency)
    if problems:
        errors["password"] = "; ".join(str(messages.text(p, n=current_app.config["PASSWORD_MIN_LENGTH"]))
                                       for p in problems)
    if errors:
        raise InvalidInput(errors)
    user = User(agency=agency, username=uname, display_name=display_name or username,
                active=True, failed_logins=0)
    _set_password(user, password, utcnow())
    user.role_rows = [UserRole(role=r) for r in dict.fromkeys(roles)]
    db.session.add(user)
    db.session.flush()
    audit.record("user.create", user=actor, obj_type="user", obj_id=user.id, roles=sorted(roles))
    return user


class LoginRefused(Exception):
    """Login failed; the message never says whether the username exists."""

    def __init__(self, code: str, until: dt.datetime | None = None):
        super().__init__(code)
        self.code = code
        self.until = until


def authenticate(username: str, password: str, ip: str = "") -> User:
    """Check a password with a lockout counter kept in the database."""
    cfg = current_app.config
    uname = normalize_username(username)
    # Lock the user's row so concurrent attempts count every failure (PostgreSQL). FOR NO KEY
    # UPDATE: the key never changes here, and a stronger lock would wait on every foreign-key
    # check of a row naming this user (an audit record written by another request of the
    # same account, which holds the audit chain's head meanwhile: a deadlock).
    user = db.session.scalar(select(User).where(User.username == uname).with_for_update(of=User, key_share=True))
    now = utcnow()
    if user is None:
        try:
            _hasher_for_app().verify(_dummy_hash(), password)
        except VerificationError:
            pass
        audit.record("login.failed", ip=ip, username=uname[:64], reason="unknown")
        raise LoginRefused("bad_credentials")
    if user.locked_until and user.locked_until > now:
        try:  # the same work as any other attempt: timing tells nothing about the account
            _hasher_for_app().verify(_dummy_hash(), password)
        except VerificationError:
            pass
        audit.record("login.locked", user=user, ip=ip)
        raise LoginRefused("locked", user.locked_until)
    try:
        _hasher_for_app().verify(user.password_hash, password)
        ok = True
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or not user.active:
        if ok is False:
            _count_failure(user, now, ip)
        audit.record("login.failed", user=user, ip=ip, reason="password" if not ok else "disabled")
        raise LoginRefused("bad_credentials")
    if _hasher_for_app().check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.first_failed_at = None
    user.locked_until = None
    user.last_login_at = now
    return user


def _count_failure(user: User, now: dt.datetime, ip: str) -> bool:
    """One more failed attempt (password or one-time code) within the window; lock at the limit."""
    cfg = current_app.config
    window = dt.timedelta(minutes=cfg["LOGIN_FAILURE_WINDOW_MINUTES"])
    if user.first_failed_at is None or now - user.first_failed_at > window:
        user.failed_logins, user.first_failed_at = 0, now  # a new window of failures
    user.failed_logins += 1
    if user.failed_logins >= cfg["LOGIN_MAX_FAILURES"]:
        user.locked_until = now + dt.timedelta(minutes=cfg["LOGIN_LOCKOUT_MINUTES"])
        user.failed_logins, user.first_failed_at = 0, None
        audit.record("login.lockout", user=user, ip=ip)
        return True
    return False


# ----------------------------------------------------------------------------- second factor

def second_factor_required(user: User) -> bool:
    """Administrators and approvers must use a second factor (TOTP_REQUIRED_ROLES)."""
    return bool(user.roles & set(current_app.config["TOTP_REQUIRED_ROLES"]))


def second_factor_enrolled(user: User) -> bool:
    return bool(user.totp_secret)


def needs_second_factor(user: User) -> bool:
    """After the password: is a one-time code (or first an enrolment) still to come?"""
    return second_factor_required(user) or second_factor_enrolled(user)


def _secret_of(user: User) -> str | None:
    try:
        return totp.decrypt(user.totp_secret, current_app.config["SECRET_KEY"])
    except totp.SecretUnreadable:
        return None


def check_second_factor(user: User, code: str, ip: str = "") -> None:
    """Accept the user's one-time code once; a wrong, reused or late code counts as a failed
    login toward the lockout. Raises LoginRefused with the same code as a wrong password."""
    user = db.session.scalar(select(User).where(User.id == user.id).with_for_update(of=User, key_share=True))
    now = utcnow()
    if user.locked_until and user.locked_until > now:
        audit.record("login.locked", user=user, ip=ip, factor="totp")
        raise LoginRefused("locked", user.locked_until)
    secret = _secret_of(user) if user.totp_secret else None
    step = totp.accepted_step(secret, code, now, user.totp_last_step) if secret else None
    if step is None or not user.active:
        locked = user.active and _count_failure(user, now, ip)
        audit.record("login.failed", user=user, ip=ip,
                     reason="totp" if secret else "totp_unreadable")
        raise LoginRefused("locked" if locked else "bad_credentials")
    user.totp_last_step = step
    user.failed_logins, user.first_failed_at, user.locked_until = 0, None, None


def enrolment_secret(sealed: str | None) -> tuple[str, str]:
    """The key offered on the set-up page, and its encrypted form for the caller to keep
    (the login session's cookie is signed, not secret): the same key on every reload, a new
    one when there is none yet or it cannot be read."""
    key = current_app.config["SECRET_KEY"]
    if sealed:
        try:
            return totp.decrypt(sealed, key), sealed
        except totp.SecretUnreadable:
            pass
    secret = totp.new_secret()
    return secret, totp.encrypt(secret, key)


def enrolment_offer(user: User, secret: str) -> dict:
    """What the set-up page shows: the key in groups of four, the QR code and its URI."""
    uri = totp.provisioning_uri(secret, f"{user.username} ({user.agency.code})")
    return {"secret": secret, "uri": uri, "qr": totp.qr_data_uri(uri),
            "grouped": " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))}


def enrol_second_factor(user: User, secret: str, code: str, ip: str = "") -> None:
    """Keep the new secret once the user proves their app makes its codes."""
    user = db.session.scalar(select(User).where(User.id == user.id).with_for_update(of=User, key_share=True))
    now = utcnow()
    if user.locked_until and user.locked_until > now:
        audit.record("login.locked", user=user, ip=ip, factor="totp_enrol")
        raise LoginRefused("locked", user.locked_until)
    step = totp.accepted_step(secret, code, now, None)
    if step is None:
        locked = _count_failure(user, now, ip)
        audit.record("login.failed", user=user, ip=ip, reason="totp_enrol")
        if locked:
            raise LoginRefused("locked", user.locked_until)
        raise InvalidInput({"code": messages.text("totp_wrong")})
    user.totp_secret = totp.encrypt(secret, current_app.config["SECRET_KEY"])
    user.totp_last_step = step
    user.totp_enrolled_at = now
    user.failed_logins, user.first_failed_at, user.locked_until = 0, None, None
    audit.record("mfa.enrolled", user=user, obj_type="user", obj_id=user.id, ip=ip,
                 secret=totp.fingerprint(secret))


def reset_second_factor(actor: User | None, user: User, ip: str = "") -> None:
    """Security administrator: forget a user's authenticator (lost phone); the user enrols
    again at the next login, and every session and API token of theirs ends."""
    if actor is not None:
        _require_security_admin(actor, user)
    user.totp_secret = None
    user.totp_last_step = None
    user.totp_enrolled_at = None
    revoke_all_sessions(user)
    audit.record("mfa.reset", user=actor, obj_type="user", obj_id=user.id, ip=ip,
                 username=user.username)


def start_session(user: User, user_agent: str = "", ip: str = "") -> LoginSession:
    lifetime = dt.timedelta(hours=current_app.config["SESSION_ABSOLUTE_HOURS"])
    sess = LoginSession(id=secrets.token_urlsafe(32), user_id=user.id,
                        expires_at=utcnow() + lifetime, user_agent=user_agent[:255])
    db.session.add(sess)
    audit.record("login.success", user=user, ip=ip)
    return sess


#: the login statements, built once per set of extra columns (every request runs one)
_login_statements: dict = {}


def _login_statement(credential, extra: tuple):
    """(revoked_at, expires_at, User, *extra) of the session or token whose key is the
    parameter ``key``, with the user's agency and roles. ``extra`` must be the same tuple
    object each time for the same columns (it keys the statements kept)."""
    stmt = _login_statements.get((credential, extra))
    if stmt is None:
        key = LoginSession.id if credential is LoginSession else ApiToken.token_hash
        stmt = (select(credential.revoked_at, credential.expires_at, User, *extra)
                .join(User, User.id == credential.user_id).where(key == bindparam("key"))
                .options(joinedload(User.role_rows)))
        _login_statements[(credential, extra)] = stmt
    return stmt


def load_session_user(session_id: str, extra: tuple = ()) -> User | None:
    """The user of a live session, or None. One statement on every request: the session,
    its user, the user's agency and roles together, and the ``extra`` columns (expressions
    over ``User``) the request's page asks for, left on ``user.prefetched``."""
    if not session_id:
        return None
    found = db.session.execute(_login_statement(LoginSession, extra),
                               {"key": session_id}).unique().first()
    if found is None:
        return None
    revoked_at, expires_at, user, *values = found
    if revoked_at is not None or expires_at <= utcnow() or not user.active:
        return None
    user._session_id = session_id
    user.prefetched = tuple(values)
    return user


def end_session(session_id: str, user: User | None = None, reason: str = "logout") -> None:
    """End one login session: logout, or the idle timeout (reason "idle")."""
    row = db.session.get(LoginSession, session_id) if session_id else None
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        if user is None:
            user = db.session.get(User, row.user_id)
        audit.record("logout" if reason == "logout" else f"session.{reason}", user=user)


def revoke_all_sessions(user: User) -> None:
    now = utcnow()
    db.session.execute(update(LoginSession).where(LoginSession.user_id == user.id,
                                                  LoginSession.revoked_at.is_(None))
                       .values(revoked_at=now))
    db.session.execute(update(ApiToken).where(ApiToken.user_id == user.id,
                                              ApiToken.revoked_at.is_(None))
                       .values(revoked_at=now))


def password_expired(user: User, now: dt.datetime | None = None) -> bool:
    return passwords.expired(user.password_changed_at, now or utcnow(),
                             current_app.config["PASSWORD_EXPIRY_DAYS"])


def change_password(user: User, current: str, new: str, repeat: str, ip: str = "") -> None:
    """Set a new password: the current one proves it is the user; the new one meets the
    policy and is none of the last five; every session and API token of the user ends."""
    errors = {}
    try:
        _hasher_for_app().verify(user.password_hash, current or "")
    except (VerificationError, InvalidHashError):
        errors["current"] = messages.text("password_current_wrong")
    n = current_app.config["PASSWORD_MIN_LENGTH"]
    problems = password_problems(new or "", user.username, user.agency)
    if problems:
        errors["new"] = " ".join(messages.text(p, n=n) for p in problems)
    elif new != repeat:
        errors["repeat"] = messages.text("password_repeat")
    elif "current" not in errors:
        earlier = db.session.scalars(select(PasswordHistory.password_hash).where(
            PasswordHistory.user_id == user.id).order_by(PasswordHistory.id.desc())
            .limit(passwords.HISTORY)).all()
        for h in {user.password_hash, *earlier}:
            try:
                _hasher_for_app().verify(h, new)
                errors["new"] = messages.text("password_reused", n=passwords.HISTORY)
                break
            except (VerificationError, InvalidHashError):
                continue
    if errors:
        audit.record("password.change_refused", user=user, ip=ip, fields=sorted(errors))
        raise InvalidInput(errors)
    _set_password(user, new, utcnow())
    revoke_all_sessions(user)
    audit.record("password.change", user=user, obj_type="user", obj_id=user.id, ip=ip)


def set_user_active(user: User, active: bool, actor: User | None = None) -> None:
    """Disabling a user ends every session and API token at once."""
    user.active = active
    if not active:
        revoke_all_sessions(user)
    audit.record("user.enable" if active else "user.disable", user=actor, obj_type="user",
                 obj_id=user.id)


def set_locale(user: User, locale: str) -> None:
    user.locale = locale


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_api_token(user: User, ip: str = "", label: str = "") -> tuple[str, ApiToken]:
    token = "cf_" + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, token_hash=_token_hash(token), label=(label or "")[:100] or None,
                   expires_at=utcnow() + dt.timedelta(hours=current_app.config["API_TOKEN_HOURS"]))
    db.session.add(row)
    audit.record("api_token.issue", user=user, ip=ip)
    return token, row


def load_token_user(token: str, extra: tuple = ()) -> User | None:
    """The user of a live token, or None; one statement (token, user, agency, roles and the
    ``extra`` columns, as ``load_session_user``)."""
    found = db.session.execute(_login_statement(ApiToken, extra),
                               {"key": _token_hash(token)}).unique().first()
    if found is None:
        return None
    revoked_at, expires_at, user, *values = found
    if revoked_at is not None or expires_at <= utcnow() or not user.active:
        return None
    user.prefetched = tuple(values)
    return user


def count_users() -> int:
    return db.session.scalar(select(func.count()).select_from(User)) or 0


# ----------------------------------------------------------------------------- API tokens


def tokens_visible_to(actor: User, agency_wide: bool = False) -> list[ApiToken]:
    """The actor's own tokens, or (agency admin) those of every user of the agency."""
    stmt = select(ApiToken).join(User, User.id == ApiToken.user_id)
    if agency_wide:
        if not actor.has_role(Role.AGENCY_ADMIN):
            raise PermissionDenied("forbidden")
        stmt = stmt.where(User.agency_id == actor.agency_id)
    else:
        stmt = stmt.where(ApiToken.user_id == actor.id)
    return list(db.session.scalars(stmt.order_by(ApiToken.id.desc()).limit(500)))


def revoke_api_token(actor: User, token_id: int, ip: str = "") -> ApiToken:
    """The owner or the owner's agency admin ends a token at once."""
    row = db.session.get(ApiToken, token_id) if 0 < token_id < 2**31 else None
    allowed = row is not None and (row.user_id == actor.id or (
        actor.has_role(Role.AGENCY_ADMIN) and row.user.agency_id == actor.agency_id))
    if not allowed:
        raise NotFound("token not found")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record("api_token.revoke", user=actor, obj_type="api_token", obj_id=row.id,
                     owner=row.user_id, ip=ip)
    return row
