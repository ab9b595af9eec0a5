"""The audit administrator's functions (审计管理员, 三员分立): read, export and verify the log.

The audit administrator sees every record's time (with its UTC offset), user, agency,
action, object, result and source address — not the details a record carries about a case
(field values), so reading the log is not reading case data. Each search, export and
verification is itself recorded. Nobody, the audit administrator included, can change or
delete a record (core.audit: ORM guard, database triggers, hash chain).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

from sqlalchemy import select

from caseflow.accounts.models import Agency, Role, User
from caseflow.cases import messages
from caseflow.core import audit
from caseflow.core.audit import AuditEvent
from caseflow.core.errors import InvalidInput, PermissionDenied
from caseflow.core.timeutil import LOCAL_TZ, to_local
from caseflow.extensions import db
from caseflow.penalties.rules import cell

PAGE = 100
EXPORT_MAX = 100_000
RESULTS = ("success", "failure")


def can_read(user) -> bool:
    return user.has_role(Role.AUDITOR)


def _check(user) -> None:
    if not can_read(user):
        raise PermissionDenied(messages.text("forbidden"))


@dataclass(frozen=True)
class Filters:
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    username: str = ""
    action: str = ""
    result: str = ""
    ip: str = ""
    before_seq: int | None = None  # keyset: records older than this one

    def as_dict(self) -> dict:
        return {"from": str(self.date_from or ""), "to": str(self.date_to or ""),
                "username": self.username, "action": self.action, "result": self.result,
                "ip": self.ip}


def parse_filters(args) -> Filters:
    """Filters from a query string; bad values raise InvalidInput naming the field."""
    errors, dates = {}, {}
    for key in ("from", "to"):
        raw = (args.get(key) or "").strip()
        dates[key] = None
        if raw:
            try:
                dates[key] = dt.date.fromisoformat(raw)
                if not dt.date(2000, 1, 1) <= dates[key] <= dt.date(2099, 12, 31):
                    raise ValueError
            except ValueError:
                errors[key] = messages.text("filter_date_range")
    if dates["from"] and dates["to"] and dates["from"] > dates["to"]:
        errors["to"] = messages.text("period_reversed")
    result = (args.get("result") or "").strip()
    if result and result not in RESULTS:
        errors["result"] = messages.text("enum")
    before = (args.get("before") or "").strip()
    before_seq = None
    if before:
        if not before.isdigit() or len(before) > 18:
            errors["before"] = messages.text("int_parsing")
        else:
            before_seq = int(before)
    texts = {k: (args.get(k) or "").strip() for k in ("username", "action", "ip")}
    for k, v in texts.items():
        if len(v) > 64:
            errors[k] = messages.text("string_too_long", max_length=64)
    if errors:
        raise InvalidInput(errors)
    return Filters(dates["from"], dates["to"], texts["username"].lower(), texts["action"],
                   result, texts["ip"], before_seq)


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), LOCAL_TZ).astimezone(dt.timezone.utc)


def _query(f: Filters):
    stmt = select(AuditEvent, User.username, Agency.code).outerjoin(
        User, User.id == AuditEvent.user_id).outerjoin(Agency, Agency.id == AuditEvent.agency_id)
    if f.date_from:
        stmt = stmt.where(AuditEvent.at >= _day_start(f.date_from))
    if f.date_to:
        stmt = stmt.where(AuditEvent.at < _day_start(f.date_to + dt.timedelta(days=1)))
    if f.username:
        stmt = stmt.where(User.username == f.username)
    if f.action:
        stmt = stmt.where(AuditEvent.action.startswith(f.action, autoescape=True))
    if f.ip:
        stmt = stmt.where(AuditEvent.ip == f.ip)
    if f.result:
        failure = [AuditEvent.action.endswith(s, autoescape=True) for s in audit._FAILURE_SUFFIXES]
        from sqlalchemy import not_, or_

        stmt = stmt.where(or_(*failure) if f.result == "failure" else not_(or_(*failure)))
    return stmt.order_by(AuditEvent.seq.desc())


@dataclass(frozen=True)
class Row:
    seq: int
    at: str  # ISO 8601 in Beijing time with its offset
    username: str
    agency: str
    action: str
    object: str
    result: str
    ip: str


def _row(ev: AuditEvent, username, agency_code) -> Row:
    at = to_local(ev.at).isoformat(timespec="seconds")
    obj = f"{ev.object_type}:{ev.object_id}" if ev.object_type else ""
    # a failed login of an unknown name keeps the name that was typed
    name = username or (ev.data or {}).get("username", "") if ev.action == "login.failed" \
        else username
    return Row(ev.seq, at, name or "", agency_code or "", ev.action, obj, audit.result_of(ev.action),
               ev.ip or "")


def search(user, f: Filters, limit: int = PAGE) -> tuple[list[Row], int | None]:
    """One page of records, newest first, and the cursor of the next page (or None)."""
    _check(user)
    stmt = _query(f)
    if f.before_seq is not None:
        stmt = stmt.where(AuditEvent.seq < f.before_seq)
    rows = [_row(*r) for r in db.session.execute(stmt.limit(limit + 1))]
    more = len(rows) > limit
    rows = rows[:limit]
    audit.record("audit.search", user=user, filters=f.as_dict(), shown=len(rows))
    return rows, (rows[-1].seq if more else None)


HEADER = ["序号", "时间", "用户", "机构", "操作", "对象", "结果", "来源地址"]


#: the CSV speaks Chinese whatever the interface language, like the ledgers
RESULT_ZH = {"success": "成功", "failure": "失败"}


def export_csv(user, f: Filters) -> tuple[bytes, int]:
    """The matching records as CSV (UTF-8 with BOM for Excel), at most EXPORT_MAX rows."""
    _check(user)
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(HEADER)
    n = 0
    for ev, username, code in db.session.execute(_query(f).limit(EXPORT_MAX)):
        r = _row(ev, username, code)
        w.writerow([r.seq, r.at] + [cell(v) for v in (r.username, r.agency, r.action, r.object,
                                                      RESULT_ZH[r.result], r.ip)])
        n += 1
    audit.record("audit.export", user=user, filters=f.as_dict(), rows=n)
    return ("\ufeff" + out.getvalue()).encode("utf-8"), n


def verify(user) -> audit.Verification:
    """Walk the whole chain; the outcome is recorded too."""
    _check(user)
    report = audit.verify_chain()
    audit.record("audit.verify", user=user, ok=report.ok, checked=report.checked,
                 problems=len(report.problems))
    return report
