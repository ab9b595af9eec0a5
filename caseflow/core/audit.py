"""Security audit log: who did what to which object, written in the same transaction.

The records form a hash chain (等保2.0 安全审计: records protected against deletion,
modification and forgery): when a transaction flushes new records, each gets the next
sequence number, the hash of the record before it, and its own SHA-256 over its content and
that hash. The chain's head (last sequence number and hash) is a row of its own, updated in
the same transaction, which also serialises writers of the chain. ``verify_chain`` walks the
records and names every edited, missing, inserted or reordered one; a record once written
cannot be changed through the ORM, and database triggers refuse UPDATE and DELETE (DELETE
only for records older than the retention period, 6 months: 网络安全法 §21) and the removal
of the head.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
from dataclasses import dataclass

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, event, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from caseflow.core.db import UTCDateTime
from caseflow.core.timeutil import utcnow
from caseflow.extensions import db

GENESIS = "0" * 64
RETENTION_DAYS = 183  # at least six months (网络安全法 §21)
_order = itertools.count()


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
    #: position in the hash chain (1, 2, 3 … without gaps)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    def __init__(self, **kw):
        super().__init__(**kw)
        self._order = next(_order)  # the order the records were made in this process


class AuditHead(db.Model):
    """The chain's last link, and where retention cut it off (one row, id 1)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    #: records up to this sequence number were deleted by retention; the next one chains to
    #: ``pruned_hash``
    pruned_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    pruned_hash: Mapped[str] = mapped_column(String(64), default=GENESIS)


def record(action: str, *, user=None, obj_type: str = "", obj_id=None, ip: str = "",
           **data) -> AuditEvent:
    """Add an audit row to the current transaction (the caller commits). Inside a request
    the source address defaults to the client's (behind PROXY_FIX_HOPS proxies)."""
    if not ip:
        from flask import has_request_context, request

        if has_request_context():
            ip = request.remote_addr or ""
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


#: actions that record a refusal or failure; every other action records a success
_FAILURE_SUFFIXES = (".failed", ".denied", ".locked", ".lockout", ".refused", "_refused",
                     ".change_refused")


def result_of(action: str) -> str:
    """The result column of the audit log (等保 8.1.4.3 b): "failure" or "success"."""
    return "failure" if action.endswith(_FAILURE_SUFFIXES) else "success"


# ----------------------------------------------------------------------------- the chain

def digest(seq: int, prev_hash: str, at: dt.datetime, user_id, agency_id, action: str,
           object_type: str, object_id: str, ip: str, data) -> str:
    """SHA-256 of a record's content and the previous record's hash (canonical JSON)."""
    at_utc = at.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = json.dumps([seq, prev_hash, at_utc, user_id, agency_id, action, object_type or "",
                       object_id or "", ip or "", data if data is not None else {}],
                      sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _digest_of(ev) -> str:
    return digest(ev.seq, ev.prev_hash, ev.at, ev.user_id, ev.agency_id, ev.action,
                  ev.object_type, ev.object_id, ev.ip, ev.data)


class AuditTampering(RuntimeError):
    """An audit record was about to be changed or deleted through the application."""


@event.listens_for(Session, "before_flush")
def _chain_new_records(session: Session, flush_context, instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditTampering("audit records are never changed or deleted")
    new = sorted((o for o in session.new if isinstance(o, AuditEvent)),
                 key=lambda o: getattr(o, "_order", 0))
    if not new:
        return
    conn = session.connection()
    # Take the head row's write lock first (an UPDATE: a row lock on PostgreSQL, the write
    # lock on SQLite), so two transactions never chain to the same record.
    if conn.execute(text("UPDATE audit_head SET seq = seq WHERE id = 1")).rowcount == 0:
        if conn.execute(text("SELECT 1 FROM audit_event LIMIT 1")).first() is not None:
            # records without a head: someone removed it; never start a second chain
            raise AuditTampering("the audit chain's head is missing")
        conn.execute(text("INSERT INTO audit_head (id, seq, hash, pruned_seq, pruned_hash) "
                          "VALUES (1, 0, :g, 0, :g)"), {"g": GENESIS})
    seq, last = conn.execute(text("SELECT seq, hash FROM audit_head WHERE id = 1")).one()
    for ev in new:
        ev.at = ev.at or utcnow()
        ev.object_type = ev.object_type or ""
        ev.object_id = "" if ev.object_id is None else str(ev.object_id)
        ev.ip = ev.ip or ""
        ev.data = json.loads(json.dumps(ev.data if ev.data is not None else {}, default=str))
        seq += 1
        ev.seq, ev.prev_hash = seq, last
        ev.hash = last = _digest_of(ev)
    conn.execute(text("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1"), {"s": seq, "h": last})


@dataclass
class Problem:
    seq: int | None
    id: int | None
    kind: str  # edited | missing | inserted | reordered | head
    detail: str = ""


@dataclass
class Verification:
    checked: int
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(session=None) -> Verification:
    """Walk the records in chain order and report every break."""
    from sqlalchemy import select

    session = session or db.session
    head = session.get(AuditHead, 1)
    expect_seq = (head.pruned_seq if head else 0) + 1
    prev = head.pruned_hash if head else GENESIS
    problems: list[Problem] = []
    checked = 0
    last_id = None
    rows = session.execute(select(AuditEvent).order_by(AuditEvent.seq)
                           .execution_options(yield_per=2000)).scalars()
    for ev in rows:
        checked += 1
        if ev.seq != expect_seq:
            kind = "missing" if ev.seq > expect_seq else "inserted"
            problems.append(Problem(ev.seq, ev.id, kind, f"expected record {expect_seq}"))
        if ev.prev_hash != prev:
            problems.append(Problem(ev.seq, ev.id, "inserted" if ev.seq == expect_seq else "missing",
                                    "does not chain to the record before it"))
        if _digest_of(ev) != ev.hash:
            problems.append(Problem(ev.seq, ev.id, "edited", "content does not match its hash"))
        if last_id is not None and ev.id < last_id:
            problems.append(Problem(ev.seq, ev.id, "reordered", "id out of chain order"))
        last_id = ev.id
        prev, expect_seq = ev.hash, ev.seq + 1
    if head is None and checked:
        problems.append(Problem(None, None, "head", "the chain's head record is missing"))
    if head is not None and (head.seq != expect_seq - 1 or head.hash != prev):
        problems.append(Problem(head.seq, None, "missing" if head.seq > expect_seq - 1 else "head",
                                "the chain's last record is not the recorded head"))
    return Verification(checked, problems)


# ----------------------------------------------------------------------------- guards

def guard_statements(dialect: str, retention_days: int = RETENTION_DAYS) -> list[str]:
    """Triggers that refuse UPDATE of any audit record and DELETE of one younger than the
    retention period, whoever connects."""
    if dialect == "postgresql":
        return [
            "CREATE OR REPLACE FUNCTION audit_event_guard() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN IF TG_OP = 'UPDATE' THEN RAISE EXCEPTION 'audit records are append-only'; END IF; "
            f"IF OLD.at > now() - interval '{int(retention_days)} days' THEN "
            "RAISE EXCEPTION 'audit records younger than the retention period are kept'; END IF; "
            "RETURN OLD; END $$",
            "DROP TRIGGER IF EXISTS audit_event_guard ON audit_event",
            "CREATE TRIGGER audit_event_guard BEFORE UPDATE OR DELETE ON audit_event "
            "FOR EACH ROW EXECUTE FUNCTION audit_event_guard()",
            "CREATE OR REPLACE FUNCTION audit_head_guard() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'the audit chain head is kept'; END $$",
            "DROP TRIGGER IF EXISTS audit_head_guard ON audit_head",
            "CREATE TRIGGER audit_head_guard BEFORE DELETE ON audit_head "
            "FOR EACH ROW EXECUTE FUNCTION audit_head_guard()",
        ]
    return [
        "DROP TRIGGER IF EXISTS audit_event_no_update",
        "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event BEGIN "
        "SELECT RAISE(ABORT, 'audit records are append-only'); END",
        "DROP TRIGGER IF EXISTS audit_event_keep",
        "CREATE TRIGGER audit_event_keep BEFORE DELETE ON audit_event "
        f"WHEN julianday(OLD.at) > julianday('now') - {int(retention_days)} BEGIN "
        "SELECT RAISE(ABORT, 'audit records younger than the retention period are kept'); END",
        "DROP TRIGGER IF EXISTS audit_head_keep",
        "CREATE TRIGGER audit_head_keep BEFORE DELETE ON audit_head BEGIN "
        "SELECT RAISE(ABORT, 'the audit chain head is kept'); END",
    ]


def drop_guard_statements(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return ["DROP TRIGGER IF EXISTS audit_event_guard ON audit_event",
                "DROP FUNCTION IF EXISTS audit_event_guard()",
                "DROP TRIGGER IF EXISTS audit_head_guard ON audit_head",
                "DROP FUNCTION IF EXISTS audit_head_guard()"]
    return ["DROP TRIGGER IF EXISTS audit_event_no_update", "DROP TRIGGER IF EXISTS audit_event_keep",
            "DROP TRIGGER IF EXISTS audit_head_keep"]


def prune(before: dt.datetime, now: dt.datetime | None = None) -> int:
    """Retention: delete the oldest records written before ``before`` — never one younger
    than RETENTION_DAYS — and move the chain's start past them (the caller commits).
    Returns the number deleted."""
    from sqlalchemy import func, select

    now = now or utcnow()
    cutoff = min(before, now - dt.timedelta(days=RETENTION_DAYS))
    # only a prefix of the chain: up to the first record that is not old enough
    first_young = db.session.scalar(select(func.min(AuditEvent.seq)).where(AuditEvent.at >= cutoff))
    stmt = select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.at < cutoff)
    if first_young is not None:
        stmt = stmt.where(AuditEvent.seq < first_young)
    last = db.session.execute(stmt.order_by(AuditEvent.seq.desc()).limit(1)).first()
    if last is None:
        return 0
    n = db.session.execute(text("DELETE FROM audit_event WHERE seq <= :s"), {"s": last.seq}).rowcount
    db.session.execute(text("UPDATE audit_head SET pruned_seq = :s, pruned_hash = :h WHERE id = 1"),
                       {"s": last.seq, "h": last.hash})
    return n
