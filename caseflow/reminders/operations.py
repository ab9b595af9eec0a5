"""Reminder operations: generate, deliver (inbox and e-mail), and the user's inbox.

Reminders are rows, so each goes out exactly once whatever the scheduler does:

- ``generate_all`` runs every source and inserts with ``ON CONFLICT (key, user_id) DO
  NOTHING``: a second scheduler process, or the same reminder found again next minute,
  inserts nothing.
- ``deliver_pending`` claims each due row with a conditional ``UPDATE … WHERE sent_at IS
  NULL`` (on PostgreSQL after ``SELECT … FOR UPDATE SKIP LOCKED``, so two processes take
  different rows without waiting for each other) and commits the claim before any e-mail
  goes out: a reminder is in the inbox once, and e-mailed at most once.
- A scheduler that was down catches up: the sources describe what is due *now* and every
  unsent row whose ``due_at`` has passed is delivered on the next run.

E-mail addresses: the user table has no e-mail column yet (it arrives with user
management). ``email_address(user)`` reads a ``user.email`` attribute when the model has
one, so reminders go to the inbox only until then, and by e-mail as soon as the column
exists and SMTP_HOST is configured — no change here.
"""
from __future__ import annotations

import datetime as dt
import importlib
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from flask import current_app
from flask_babel import force_locale, gettext as _
from sqlalchemy import func, select, update

from caseflow.accounts.models import User
from caseflow.core.errors import NotFound
from caseflow.core.timeutil import utcnow
from caseflow.extensions import db
from caseflow.reminders.models import Reminder
from caseflow.reminders.registry import SOURCES, ReminderSpec

log = logging.getLogger("caseflow.reminders")

#: modules whose import registers reminder sources; a domain that is not there yet is skipped
SOURCE_MODULES = ("caseflow.reminders.sources", "caseflow.inspections.reminders",
                  "caseflow.actions.reminders", "caseflow.mediation.reminders")
INSERT_CHUNK = 500
CLAIM_BATCH = 200
SMTP_TIMEOUT = 10  # seconds: a hung mail server must not stall the reminders


@dataclass
class Delivery:
    delivered: int = 0  # put in the inbox (claimed by this worker)
    emailed: int = 0
    email_errors: int = 0


@dataclass
class RunResult:
    generated: int
    delivered: int
    emailed: int
    email_errors: int


# ----------------------------------------------------------------------------- generating


def load_sources() -> None:
    for name in SOURCE_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            missing = exc.name or ""
            if not (name == missing or name.startswith(missing + ".")):
                raise  # the module is there but imports something missing: say so


def collect(now: dt.datetime) -> list[ReminderSpec]:
    """Every source's reminders for ``now``, texts in the default locale (there is no user
    request to choose another). A failing source is logged and skipped: a bug in one
    domain's reminders must not silence the legal clocks of the others."""
    load_sources()
    specs: list[ReminderSpec] = []
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        for source in list(SOURCES):
            try:
                with db.session.begin_nested():  # its failed query must not spoil the others'
                    found = list(source(now))
                    for spec in found:
                        _check(spec)
            except Exception:  # noqa: BLE001 (logged, see above)
                log.exception("reminder source %s.%s failed", source.__module__,
                              source.__qualname__)
                continue
            specs.extend(found)
    return specs


def _read_only_collect(now: dt.datetime) -> list[ReminderSpec]:
    """Collect outside any write lock when we start the transaction ourselves: on SQLite a
    write transaction (BEGIN IMMEDIATE) would block the web server's writes while every
    open case's clocks are computed."""
    if db.session().in_transaction():  # the caller's transaction: stay inside it
        return collect(now)
    from caseflow import _write_intent

    token = _write_intent.set(False)
    try:
        specs = collect(now)
    finally:
        _write_intent.reset(token)
    db.session.rollback()  # end the read transaction (nothing was written)
    return specs


def _insert():
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def store(specs: list[ReminderSpec], now: dt.datetime) -> int:
    """Insert the reminders not stored yet; return how many are new."""
    unique = {(s.key, s.user_id): s for s in specs}
    # one order in every process, so two schedulers inserting the same rows on PostgreSQL
    # wait for each other instead of deadlocking
    ordered = [unique[k] for k in sorted(unique)]
    insert = _insert()
    new = 0
    for i in range(0, len(ordered), INSERT_CHUNK):
        rows = [_row(s, now) for s in ordered[i:i + INSERT_CHUNK]]
        stmt = (insert(Reminder).values(rows)
                .on_conflict_do_nothing(index_elements=["key", "user_id"])
                .returning(Reminder.id))
        new += len(db.session.execute(stmt).all())
    return new


def _check(s: ReminderSpec) -> None:
    if len(s.key) > 200 or len(s.kind) > 32:
        raise ValueError(f"reminder key or kind too long: {s.key!r}")
    if s.due_at.tzinfo is None:
        raise ValueError(f"reminder {s.key!r}: due_at must be timezone-aware")


def _row(s: ReminderSpec, now: dt.datetime) -> dict:
    _check(s)
    return {"key": s.key, "user_id": s.user_id, "kind": s.kind, "subject": s.subject[:300],
            "body": s.body, "link": s.link[:300], "due_at": s.due_at, "created_at": now}


def generate_all(now: dt.datetime) -> int:
    """Run every reminder source and store what is new; the caller commits."""
    return store(_read_only_collect(now), now)


# ----------------------------------------------------------------------------- delivering


def _claim_batch(now: dt.datetime, worker: str) -> list[int]:
    """Claim due, unsent reminders for this worker (one transaction, committed by the
    caller). A row another worker claimed first is skipped, never delivered twice."""
    stmt = (select(Reminder.id)
            .where(Reminder.sent_at.is_(None), Reminder.due_at <= now)
            .order_by(Reminder.due_at, Reminder.id).limit(CLAIM_BATCH))
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    claimed = []
    for reminder_id in db.session.scalars(stmt).all():
        result = db.session.execute(
            update(Reminder)
            .where(Reminder.id == reminder_id, Reminder.sent_at.is_(None))
            .values(sent_at=now, sent_by=worker[:64])
            .execution_options(synchronize_session=False))
        if result.rowcount == 1:
            claimed.append(reminder_id)
    return claimed


def deliver_pending(now: dt.datetime, worker: str) -> Delivery:
    """Deliver every due reminder nobody has delivered: into the owner's inbox, then by
    e-mail when SMTP is configured. Commits: the claim must be durable before an e-mail
    leaves, and a slow mail server must not hold the rows locked."""
    result = Delivery()
    while True:
        claimed = _claim_batch(now, worker)
        db.session.commit()
        if not claimed:
            return result
        result.delivered += len(claimed)
        if current_app.config.get("SMTP_HOST"):
            sent, failed = _email(claimed, now)
            result.emailed += sent
            result.email_errors += failed
            db.session.commit()


def run_once(now: dt.datetime, worker: str) -> RunResult:
    """One scheduler pass: generate, commit, deliver."""
    from caseflow.api.idempotency import purge

    generated = generate_all(now)
    purge(now)  # housekeeping: idempotency keys past their keeping period
    db.session.commit()
    delivery = deliver_pending(now, worker)
    return RunResult(generated, delivery.delivered, delivery.emailed, delivery.email_errors)


# ----------------------------------------------------------------------------- e-mail


def email_address(user: User) -> str | None:
    """The user's e-mail address, once the user model has one (see the module docstring)."""
    return (getattr(user, "email", None) or "").strip() or None


def _email(reminder_ids: list[int], now: dt.datetime) -> tuple[int, int]:
    """E-mail the claimed reminders whose owner has an address; record emailed_at or the
    error on each. Returns (sent, failed)."""
    reminders = db.session.scalars(select(Reminder).where(Reminder.id.in_(reminder_ids))
                                   .order_by(Reminder.id)).all()
    users = {u.id: u for u in db.session.scalars(
        select(User).where(User.id.in_({r.user_id for r in reminders})))}
    todo = []
    for r in reminders:
        user = users.get(r.user_id)
        address = email_address(user) if user is not None and user.active else None
        if address:
            todo.append((r, address))
    if not todo:
        return 0, 0
    try:
        smtp = _connect()
    except (OSError, smtplib.SMTPException) as exc:
        for r, _address in todo:
            r.email_error = _error_text(exc)
        return 0, len(todo)
    sent = failed = 0
    try:
        for r, address in todo:
            try:
                smtp.send_message(_message(r, address, now))
            except (OSError, smtplib.SMTPException) as exc:
                r.email_error = _error_text(exc)
                failed += 1
            else:
                r.emailed_at = now
                r.email_error = None
                sent += 1
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
    return sent, failed


def _connect() -> smtplib.SMTP:
    cfg = current_app.config
    smtp = smtplib.SMTP(cfg["SMTP_HOST"], int(cfg["SMTP_PORT"]), timeout=SMTP_TIMEOUT)
    try:
        if cfg.get("SMTP_STARTTLS"):
            smtp.starttls(context=ssl.create_default_context())
        if cfg.get("SMTP_USER"):
            smtp.login(cfg["SMTP_USER"], cfg.get("SMTP_PASSWORD") or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def _message(r: Reminder, address: str, now: dt.datetime) -> EmailMessage:
    cfg = current_app.config
    msg = EmailMessage()
    msg["Subject"] = r.subject
    msg["From"] = cfg["SMTP_FROM"]
    msg["To"] = address
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(f"reminder{r.id}", domain="caseflow")
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this
    link = r.link
    if link and cfg.get("SERVER_NAME"):  # an absolute link only when the host is known
        link = f"{cfg.get('PREFERRED_URL_SCHEME', 'http')}://{cfg['SERVER_NAME']}{link}"
    msg.set_content("\n\n".join(p for p in (r.subject, r.body, link) if p) + "\n")
    return msg


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


# ----------------------------------------------------------------------------- inbox


def _delivered_to(user):
    return select(Reminder).where(Reminder.user_id == user.id, Reminder.sent_at.is_not(None))


def unread_conditions(user_id) -> tuple:
    """SQL conditions on ``Reminder``: delivered to the user (an id or a column) and not read.
    The one rule of the inbox badge, for its count and the case list's page stamp."""
    return (Reminder.user_id == user_id, Reminder.sent_at.is_not(None), Reminder.read_at.is_(None))


def unread_count(user) -> int:
    return db.session.scalar(select(func.count()).select_from(Reminder)
                             .where(*unread_conditions(user.id))) or 0


def inbox(user, limit: int = 100) -> list[Reminder]:
    """The user's delivered reminders, newest first."""
    return list(db.session.scalars(_delivered_to(user)
                                   .order_by(Reminder.sent_at.desc(), Reminder.id.desc())
                                   .limit(limit)))


def mark_read(user, reminder_id: int, now: dt.datetime | None = None) -> Reminder:
    """Mark one of the user's own reminders read; anyone else's is NotFound."""
    reminder = db.session.scalar(_delivered_to(user).where(Reminder.id == reminder_id)) \
        if 0 < reminder_id < 2**31 else None
    if reminder is None:
        raise NotFound(_("Reminder not found."))
    if reminder.read_at is None:
        reminder.read_at = now or utcnow()
        db.session.flush()
    return reminder
