"""Penalty decisions and their publication: record, publish, withdraw, end early, repair,
export. Each function checks the role and the rules, changes the decision and writes the
case's timeline event and an audit row in the caller's transaction."""
from __future__ import annotations

import datetime as dt
import hashlib
from contextlib import closing
from decimal import Decimal

from flask import current_app
from sqlalchemy import or_, select

from caseflow.accounts.models import Agency, Role
from caseflow.cases import messages
from caseflow.cases.models import Case, CaseEvent
from caseflow.core import audit, ids
from caseflow.core.errors import InvalidInput, InvalidTransition, NotFound, PermissionDenied, StaleVersion
from caseflow.core.models import load_calendar
from caseflow.core.timeutil import today_local
from caseflow.extensions import db
from caseflow.penalties import rules as r
from caseflow.penalties.models import ExportBatch, ExportJob, ExportJobState, PenaltyDecision

DECIDED_STATES = ("decided", "executing", "closed")


def params() -> r.PublicationParams:
    cfg = current_app.config
    return r.PublicationParams(lower_amount_person=Decimal(str(cfg["LOWER_AMOUNT_PERSON"])),
                               lower_amount_organisation=Decimal(str(cfg["LOWER_AMOUNT_ORGANISATION"])))


def facts_of(d: PenaltyDecision) -> r.DecisionFacts:
    return r.DecisionFacts(d.decision_date, tuple(d.categories or ()), Decimal(d.fine_amount or 0),
                           d.severity, d.lower_amount, d.other_province, d.special_sector,
                           d.simple_procedure)


def decision_of(case: Case) -> PenaltyDecision | None:
    return db.session.scalar(select(PenaltyDecision).where(PenaltyDecision.case_id == case.id))


def can_view_decision(user, case: Case) -> bool:
    """The decision document stays with the owning agency, like the publication queue
    (``visible_decisions``): a share of the case does not extend to it."""
    return case.owner_agency_id == user.agency_id and user.works_cases


def can_record(user, case: Case) -> bool:
    return (case.owner_agency_id == user.agency_id and user.has_role(Role.CASE_OFFICER)
            and case.state in DECIDED_STATES
            and any(e.action == "decide_penalty" for e in case.events))


def defaults_for(case: Case) -> dict:
    """Pre-fill the decision from the case and its decide_penalty step."""
    ev = next((e for e in reversed(case.events) if e.action == "decide_penalty"), None)
    data = (ev.data or {}) if ev else {}
    party = case.parties[0] if case.parties else None
    person = party is not None and party.kind == "person"
    return {
        "categories": data.get("penalty_kinds") or [],
        "fine_amount": str(case.fine_amount or 0),
        "confiscated_amount": data.get("confiscated_amount") or "0",
        "content": data.get("decision_summary") or "",
        "decision_date": (ev.effective_on if ev else today_local()).isoformat(),
        "violation_type": case.infringement_kind, "facts": case.description,
        "subject_name": party.name if party else "",
        "subject_kind": "自然人" if person else "法人及非法人组织",
        "credit_code": (party.credit_code or "") if party and not person else "",
        "id_type": "身份证" if person else "", "id_number": (party.id_number or "") if person else "",
        "severity": "general",
    }


def _clean(data: dict, case: Case, existing: PenaltyDecision | None) -> dict:
    errors: dict[str, str] = {}
    out: dict = {}

    def text(name, required=True, limit=20000):
        v = (data.get(name) or "").strip()
        if required and not v:
            errors[name] = messages.text("field_required")
        elif len(v) > limit:
            errors[name] = messages.text("string_too_long", max_length=limit)
        out[name] = v

    for name, limit in (("number", 80), ("violation_type", 200), ("subject_name", 200)):
        text(name, limit=limit)
    for name in ("facts", "basis", "content"):
        text(name)
    text("published_facts", required=False)
    text("licence", required=False, limit=200)
    text("legal_rep", required=False, limit=100)
    cats = [c for c in (data.get("categories") or []) if c]
    if not cats or any(c not in r.CATEGORIES for c in cats):
        errors["categories"] = messages.text("penalty_kinds_required")
    out["categories"] = list(dict.fromkeys(cats))
    for name in ("fine_amount", "confiscated_amount"):
        raw = str(data.get(name) or "0").strip()
        try:
            v = Decimal(raw)
            if not v.is_finite() or v < 0 or v > Decimal("1e12") or v != v.quantize(Decimal("0.01")):
                raise ValueError
            out[name] = v
        except (ValueError, ArithmeticError):
            errors[name] = messages.text("decimal_parsing")
            out[name] = Decimal(0)
    if "罚款" in out["categories"] and out.get("fine_amount", 0) <= 0 and "fine_amount" not in errors:
        errors["fine_amount"] = messages.text("fine_required")
    if set(out["categories"]) & {"暂扣许可证件", "吊销许可证件"} and not out["licence"]:
        errors["licence"] = messages.text("licence_required")
    for name, required in (("decision_date", True), ("valid_until", False)):
        raw = (data.get(name) or "").strip()
        out[name] = None
        if not raw:
            if required:
                errors[name] = messages.text("field_required")
            continue
        try:
            out[name] = dt.date.fromisoformat(raw)
        except ValueError:
            errors[name] = messages.text("date_parsing")
    if out.get("decision_date"):
        if out["decision_date"] > today_local():
            errors["decision_date"] = messages.text("date_in_future")
        elif out["decision_date"] < case.received_on:
            errors["decision_date"] = messages.text("date_before_last_step",
                                                    date=case.received_on.isoformat())
    if out.get("valid_until") and out.get("decision_date") and out["valid_until"] < out["decision_date"]:
        errors["valid_until"] = messages.text("valid_until_before_decision")
    sev = data.get("severity") or "general"
    if sev not in r.SEVERITIES:
        errors["severity"] = messages.text("enum")
    out["severity"] = sev
    kind = data.get("subject_kind") or ""
    if kind not in r.SUBJECT_KINDS:
        errors["subject_kind"] = messages.text("enum")
    out["subject_kind"] = kind
    code = ids.normalize_code(data.get("credit_code"))
    idn = ids.normalize_code(data.get("id_number"))
    id_type = (data.get("id_type") or "").strip()
    out.update(credit_code="", id_number="", id_type="")
    if kind == "自然人":
        if id_type not in r.ID_TYPES:
            errors["id_type"] = messages.text("enum")
        if not idn:
            errors["id_number"] = messages.text("id_number_required")
        elif id_type == "身份证" and ids.check_id_number(idn):
            errors["id_number"] = messages.text(f"id_number_{ids.check_id_number(idn)}")
        out.update(id_type=id_type, id_number=idn[:40])
        out["legal_rep"] = ""
    elif kind in ("法人及非法人组织", "个体工商户"):
        if not code:
            errors["credit_code"] = messages.text("credit_code_required")
        elif ids.check_credit_code(code):
            errors["credit_code"] = messages.text(f"credit_code_{ids.check_credit_code(code)}")
        out["credit_code"] = code[:18]
        if kind == "法人及非法人组织" and not out["legal_rep"]:
            errors["legal_rep"] = messages.text("field_required")
    for flag in ("simple_procedure", "special_sector", "other_province"):
        out[flag] = bool(data.get(flag))
    if not errors and out["number"]:
        clash = db.session.scalar(select(PenaltyDecision.id).where(
            PenaltyDecision.agency_id == case.owner_agency_id,
            PenaltyDecision.number == out["number"],
            PenaltyDecision.id != (existing.id if existing else -1)))
        if clash:
            errors["number"] = messages.text("decision_number_taken")
    if errors:
        raise InvalidInput(errors)
    out["lower_amount"] = r.is_lower_amount(out["fine_amount"], kind != "自然人", params())
    if not out["published_facts"]:
        out["published_facts"] = out["facts"]
    return out


def record_decision(user, case: Case, data: dict, version: int | None = None) -> PenaltyDecision:
    """记录处罚决定: the contents of 行政处罚法 §59, the basis of the PDF and the publication."""
    if not can_record(user, case):
        raise PermissionDenied(messages.text("forbidden"))
    existing = decision_of(case)
    if existing is not None:
        if version is not None and version != existing.version:
            raise StaleVersion(messages.text("stale_version"))
        if existing.platform_published_on or existing.enterprise_published_on:
            raise InvalidTransition(messages.text("decision_published_locked"))
    clean = _clean(data, case, existing)
    d = existing or PenaltyDecision(case_id=case.id, agency_id=case.owner_agency_id,
                                    recorded_by_id=user.id)
    for k, v in clean.items():
        setattr(d, k, v)
    db.session.add(d)
    db.session.flush()
    _case_event(case, user, "record_decision", {"number": d.number})
    return d


def _case_event(case, user, action, data=None, reason=None):
    db.session.add(CaseEvent(case=case, user_id=user.id, action=action, effective_on=today_local(),
                             reason=reason, data=data or {}))
    audit.record(f"case.{action}", user=user, obj_type="case", obj_id=case.id, **(data or {}))


# ----------------------------------------------------------------------------- publication


def visible_decisions(user):
    if not user.works_cases:
        return select(PenaltyDecision).where(PenaltyDecision.id < 0)
    return select(PenaltyDecision).where(PenaltyDecision.agency_id == user.agency_id)


def get_decision(user, decision_id: int) -> PenaltyDecision:
    d = db.session.scalar(visible_decisions(user).where(PenaltyDecision.id == decision_id)) \
        if 0 < decision_id < 2**31 else None
    if d is None:
        raise NotFound(messages.text("case_not_found"))
    return d


def status(d: PenaltyDecision, today: dt.date | None = None) -> dict:
    """Deadlines and periods of one decision's publication, for the queue and the page."""
    today = today or today_local()
    cal = load_calendar()
    p = params()
    f = facts_of(d)
    out = {"publishable": r.is_published(f), "deadlines": None, "overdue": [],
           "enterprise_end": None, "platform": r.platform_period(f, p), "withdraw_due": None,
           "repair_from": None, "active": False}
    if not out["publishable"]:
        return out
    dl = r.publication_deadlines(f, cal, p)
    out["deadlines"] = dl
    if not d.platform_published_on and out["platform"].published and today > dl.platform:
        out["overdue"].append("platform")
    if not d.enterprise_published_on and today > dl.enterprise:
        out["overdue"].append("enterprise")
    if d.enterprise_published_on:
        out["enterprise_end"] = r.enterprise_publicity_end(f, d.enterprise_published_on)
        out["repair_from"] = r.repair_allowed_from(f, d.enterprise_published_on, p)
    if d.changed_on:
        out["withdraw_due"] = r.withdraw_deadline(d.changed_on, cal, p)
        if not d.withdrawn_on and today > out["withdraw_due"]:
            out["overdue"].append("withdraw")
    published = d.platform_published_on or d.enterprise_published_on
    ends = [e for e in (out["enterprise_end"], out["platform"].max_end if d.platform_published_on else None) if e]
    out["active"] = bool(published and not d.withdrawn_on and not d.ended_on
                         and ends and max(ends) >= today)
    return out


def _require_publisher(user, d: PenaltyDecision):
    if d.agency_id != user.agency_id or not user.has_role(Role.PUBLISHER):
        raise PermissionDenied(messages.text("forbidden"))


def publish(user, d: PenaltyDecision, channel: str, on: dt.date | None = None) -> None:
    _require_publisher(user, d)
    on = on or today_local()
    f = facts_of(d)
    if not r.is_published(f):
        raise InvalidTransition(messages.text("not_publishable"))
    if d.withdrawn_on or d.ended_on:
        raise InvalidTransition(messages.text("publication_closed"))
    if channel == "platform":
        if not r.platform_period(f, params()).published:
            raise InvalidTransition(messages.text("not_publishable"))
        if d.platform_published_on:
            raise InvalidTransition(messages.text("already_published"))
        d.platform_published_on = on
    elif channel == "enterprise":
        if d.enterprise_published_on:
            raise InvalidTransition(messages.text("already_published"))
        d.enterprise_published_on = on
    else:
        raise InvalidInput({"channel": messages.text("enum")})
    _case_event(d.case, user, "publish", {"channel": channel, "number": d.number})


def _check_change(changed_on: dt.date | None, reason: str) -> None:
    errors = {}
    if len((reason or "").strip()) < 2:
        errors["reason"] = messages.text("reason_required")
    if changed_on is None:
        errors["changed_on"] = messages.text("field_required")
    elif changed_on > today_local():
        errors["changed_on"] = messages.text("date_in_future")
    if errors:
        raise InvalidInput(errors)


def record_change(user, d: PenaltyDecision, changed_on: dt.date | None, reason: str) -> None:
    """The decision was changed or revoked (复议、诉讼、自行纠正): the 3-WD withdrawal clock starts."""
    _require_publisher(user, d)
    if d.withdrawn_on:
        raise InvalidTransition(messages.text("publication_closed"))
    _check_change(changed_on, reason)
    d.changed_on = changed_on
    due = r.withdraw_deadline(changed_on, load_calendar(), params())
    _case_event(d.case, user, "decision_changed", {"due": due.isoformat()}, reason.strip())


def withdraw(user, d: PenaltyDecision, changed_on: dt.date | None, reason: str) -> None:
    """撤下: the decision was changed or revoked; within 3 WD of the change (§11)."""
    _require_publisher(user, d)
    changed_on = changed_on or d.changed_on
    if not (d.platform_published_on or d.enterprise_published_on):
        raise InvalidTransition(messages.text("not_published"))
    if d.withdrawn_on:
        raise InvalidTransition(messages.text("publication_closed"))
    _check_change(changed_on, reason)
    d.changed_on = changed_on
    d.withdrawn_on = today_local()
    d.withdraw_reason = reason.strip()
    due = r.withdraw_deadline(changed_on, load_calendar(), params())
    _case_event(d.case, user, "withdraw_publication", {"due": due.isoformat(),
                                                       "late": d.withdrawn_on > due}, reason)


def end_early(user, d: PenaltyDecision, *, corrected: bool, committed: bool, reason: str,
              no_repeat: bool = False, not_listed: bool = False) -> None:
    _require_publisher(user, d)
    if d.withdrawn_on or d.ended_on:
        raise InvalidTransition(messages.text("publication_closed"))
    paid = any(e.action == "record_payment" for e in d.case.events)
    problems = r.early_end_problems(facts_of(d), paid=paid, corrected=corrected,
                                    committed=committed, no_repeat=no_repeat,
                                    not_listed=not_listed,
                                    published_on=d.enterprise_published_on or d.platform_published_on,
                                    today=today_local())
    if problems:
        raise InvalidTransition("；".join(messages.text(p) for p in problems))
    if len((reason or "").strip()) < 2:
        raise InvalidInput({"reason": messages.text("reason_required")})
    d.ended_on = today_local()
    d.end_reason = reason.strip()
    _case_event(d.case, user, "end_publication", {"number": d.number}, reason)


def record_repair(user, d: PenaltyDecision, note: str) -> None:
    """信用修复: possible after 6 months of publicity (12 for food, drugs, special equipment)."""
    _require_publisher(user, d)
    published = d.enterprise_published_on or d.platform_published_on
    if not published:
        raise InvalidTransition(messages.text("not_published"))
    allowed = r.repair_allowed_from(facts_of(d), published, params())
    if today_local() < allowed:
        raise InvalidTransition(messages.text("repair_too_early", date=allowed.isoformat()))
    if len((note or "").strip()) < 2:
        raise InvalidInput({"reason": messages.text("reason_required")})
    d.repaired_on = today_local()
    d.repair_note = note.strip()
    d.ended_on = d.ended_on or today_local()
    d.end_reason = d.end_reason or note.strip()
    _case_event(d.case, user, "credit_repair", {"number": d.number}, note)


# ----------------------------------------------------------------------------- export


def csv_record(d: PenaltyDecision, p: r.PublicationParams | None = None) -> r.CsvRecord:
    # the CSV goes to the credit platform: its publicity runs from the decision date by the
    # platform's rules (the enterprise system's own period is kept on the queue). The same
    # periods as ``status`` without its working-day deadlines (no calendar per row).
    f = facts_of(d)
    platform = r.platform_period(f, p or params())
    if platform.published:
        end = platform.max_end
    elif r.is_published(f) and d.enterprise_published_on:
        end = r.enterprise_publicity_end(f, d.enterprise_published_on)
    else:
        end = None
    agency = d.agency
    return r.CsvRecord(
        subject_name=d.subject_name, subject_kind=d.subject_kind, credit_code=d.credit_code,
        legal_rep=d.legal_rep, id_type=d.id_type, id_number=d.id_number, number=d.number,
        violation_type=d.violation_type, facts=d.published_facts, basis=d.basis,
        categories=tuple(d.categories or ()), content=d.content, fine=d.fine_amount,
        confiscated=d.confiscated_amount, licence=d.licence, decision_date=d.decision_date,
        valid_until=d.valid_until, publicity_end=end, authority=agency.name,
        authority_code=agency.credit_code or "", source=agency.name,
        source_code=agency.credit_code or "")


def export_selection(user, date_from: dt.date | None, date_to: dt.date | None):
    """The agency's publishable, not withdrawn decisions in the period, oldest first."""
    stmt = visible_decisions(user).where(PenaltyDecision.withdrawn_on.is_(None),
                                         PenaltyDecision.simple_procedure.is_(False))
    if date_from:
        stmt = stmt.where(PenaltyDecision.decision_date >= date_from)
    if date_to:
        stmt = stmt.where(PenaltyDecision.decision_date <= date_to)
    return stmt.order_by(PenaltyDecision.decision_date, PenaltyDecision.id)


def write_csv(user, stmt, out) -> tuple[int, list[dict]]:
    """The Python path (any database): rows built by ``rules.csv_row`` and written to ``out``
    (a binary file); refused rows are listed, never half-written."""
    import csv
    import io

    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    text.write(CSV_BOM)
    w = csv.writer(text)
    w.writerow(r.CSV_HEADER)
    count, refused = 0, []
    p = params()
    for d in db.session.scalars(stmt.execution_options(yield_per=500)):
        if not r.is_published(facts_of(d)):
            continue
        try:
            row = r.csv_row(csv_record(d, p))
        except r.RowRefused as e:
            refused.append({"id": d.id, "number": d.number, "missing": e.missing})
            continue
        w.writerow(row)
        count += 1
    text.flush()
    text.detach()
    return count, refused


CSV_BOM = "\ufeff"  # spreadsheet programs read the Chinese correctly


def refused_reasons(ids: list[int]) -> list[dict]:
    """The rows the SQL path leaves out, with the Python rules' reasons, in the given order."""
    out = []
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        by_id = {d.id: d for d in db.session.scalars(
            select(PenaltyDecision).where(PenaltyDecision.id.in_(chunk)))}
        for i in chunk:
            d = by_id[i]
            try:
                r.csv_row(csv_record(d))
            except r.RowRefused as e:
                out.append({"id": d.id, "number": d.number, "missing": e.missing})
            else:  # the SQL and the Python rules disagree: a bug, never a silent gap
                raise RuntimeError(f"penalty decision {d.id}: refused by the SQL export rule "
                                   "but not by rules.csv_row")
    return out


def write_csv_sql(user, date_from: dt.date | None, date_to: dt.date | None,
                  write) -> tuple[int, list[dict]]:
    """The PostgreSQL path: the rows formatted by SQL and streamed from COPY (same bytes as
    ``write_csv``; see ``csv_sql``). ``write`` receives bytes.

    A large selection is exported in two halves at once (``csv_sql.split_key``), on two
    connections of the pool sharing one snapshot: PostgreSQL's formatting is the cost, and
    this way it runs on two cores. A small one runs in the session's transaction."""
    from caseflow.penalties import csv_sql

    if not user.works_cases:
        date_from = date_to = None
    agency_id = user.agency_id if user.works_cases else -1
    agency = db.session.get(Agency, user.agency_id)
    name, code = (agency.name, agency.credit_code or "") if agency else ("", "")
    p, end = params(), csv_sql.row_end(name, code)

    def copy_sql(**half):
        return csv_sql.copy_sql(agency_id, date_from, date_to, p, name, code, **half)

    write(CSV_BOM.encode("utf-8") + io_bytes_row(r.CSV_HEADER))
    raw = db.session.connection().connection.driver_connection  # psycopg 3, in the session
    with raw.cursor() as cur:
        key = csv_sql.split_key(cur, agency_id, date_from, date_to)
    if key is None:
        with raw.cursor() as cur:
            count, refused_ids = csv_sql.copy_rows(cur, copy_sql(), write, end)
    else:  # closing gives the connections back to the pool, rolled back
        with closing(db.engine.raw_connection()) as first, \
                closing(db.engine.raw_connection()) as second:
            a, b = first.driver_connection, second.driver_connection
            csv_sql.share_snapshot(a, b)
            count, refused_ids = csv_sql.copy_rows_split(
                a, b, copy_sql(before=key), copy_sql(after=key), write, end)
    refused = refused_reasons(refused_ids)
    return count, refused


def io_bytes_row(values: list[str]) -> bytes:
    import csv
    import io

    buf = io.StringIO(newline="")
    csv.writer(buf).writerow(values)
    return buf.getvalue().encode("utf-8")


def export_csv(user, date_from: dt.date | None, date_to: dt.date | None, path) -> ExportBatch:
    """双公示 CSV of the agency's selection written to ``path``, recorded as a batch (with the
    file's SHA-256) and audited. PostgreSQL formats the rows itself; other databases take
    the Python path. Constant memory either way."""
    if not user.has_role(Role.PUBLISHER):
        raise PermissionDenied(messages.text("forbidden"))
    digest = hashlib.sha256()
    size = 0
    with open(path, "wb") as out:
        def write(data):
            nonlocal size
            digest.update(data)
            size += len(data)
            out.write(data)

        if db.session.get_bind().dialect.name == "postgresql":
            count, refused = write_csv_sql(user, date_from, date_to, write)
        else:
            count, refused = write_csv(user, export_selection(user, date_from, date_to),
                                       _HashingWriter(write))
    return record_batch(user, "csv", {"from": str(date_from or ""), "to": str(date_to or "")},
                        path, count, refused, sha256=digest.hexdigest(), size=size)


class _HashingWriter:
    """A minimal binary file object over ``write`` (for ``io.TextIOWrapper``)."""

    def __init__(self, write):
        self._write = write
        self.closed = False

    def write(self, data):
        self._write(bytes(data))
        return len(data)

    def writable(self):
        return True

    def readable(self):
        return False

    def seekable(self):
        return False

    def flush(self):
        pass


def record_batch(user, kind: str, filters: dict, path, count: int, refused: list, *,
                 sha256: str | None = None, size: int | None = None) -> ExportBatch:
    if sha256 is None or size is None:
        digest = hashlib.sha256()
        size = 0
        with open(path, "rb") as f:
            while chunk := f.read(1 << 16):
                digest.update(chunk)
                size += len(chunk)
        sha256 = digest.hexdigest()
    batch = ExportBatch(agency_id=user.agency_id, user_id=user.id, kind=kind, filters=filters,
                        row_count=count, refused=refused, sha256=sha256, size=size)
    db.session.add(batch)
    db.session.flush()
    audit.record(f"publication.export_{kind}", user=user, obj_type="export_batch", obj_id=batch.id,
                 rows=count, refused=len(refused), sha256=batch.sha256)
    return batch


# ----------------------------------------------------------------------------- PDF list jobs
#
# A publication list of thousands of rows takes WeasyPrint about a minute and most of a
# gigabyte: the web request only queues it (``start_pdf_list``); the scheduler process renders
# it (``run_export_jobs``); the agency's publishers download it later (``job_file``).

JOB_STALE_AFTER = dt.timedelta(hours=1)  # a job "running" longer was cut off (crash, restart)


def _require_publisher_role(user):
    if not user.has_role(Role.PUBLISHER):
        raise PermissionDenied(messages.text("forbidden"))


def visible_jobs(user):
    """The agency's export jobs: its publishers see and download them, nobody else."""
    if not user.has_role(Role.PUBLISHER):
        return select(ExportJob).where(ExportJob.id < 0)
    return select(ExportJob).where(ExportJob.agency_id == user.agency_id)


def start_pdf_list(user, date_from: dt.date | None, date_to: dt.date | None) -> ExportJob:
    """Queue the publication list (PDF) of the same selection as the CSV."""
    _require_publisher_role(user)
    if date_from and date_to and date_from > date_to:
        raise InvalidInput({"to": messages.text("period_reversed")})
    job = ExportJob(agency_id=user.agency_id, user_id=user.id, kind="pdf_list",
                    filters={"from": str(date_from or ""), "to": str(date_to or "")},
                    state=ExportJobState.QUEUED)
    db.session.add(job)
    db.session.flush()
    audit.record("publication.pdf_job_start", user=user, obj_type="export_job", obj_id=job.id,
                 **job.filters)
    return job


def get_job(user, job_id: int) -> ExportJob:
    _require_publisher_role(user)
    job = db.session.scalar(visible_jobs(user).where(ExportJob.id == job_id)) \
        if 0 < job_id < 2**31 else None
    if job is None:
        raise NotFound(messages.text("export_job_not_found"))
    return job


def job_path(job: ExportJob):
    from caseflow.core.uploads import path_of

    return path_of("exports", job.file_name)


def job_file(user, job_id: int):
    """The finished file of a job (path, name) for download, checked against its SHA-256;
    audited."""
    job = get_job(user, job_id)
    if job.state != ExportJobState.DONE:
        raise InvalidTransition(messages.text("export_job_not_ready"))
    path = job_path(job)
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 16):
                digest.update(chunk)
    except FileNotFoundError:
        raise InvalidTransition(messages.text("export_job_file_changed")) from None
    if digest.hexdigest() != job.sha256:
        raise InvalidTransition(messages.text("export_job_file_changed"))
    audit.record("publication.pdf_job_download", user=user, obj_type="export_job", obj_id=job.id,
                 sha256=job.sha256)
    return path, f"行政处罚信息公示-{job.batch_id or job.id}.pdf"


def _claim_next(worker: str) -> int | None:
    """Take the oldest queued job (compare-and-set: two schedulers never take the same one)."""
    from sqlalchemy import update

    from caseflow.core.timeutil import utcnow

    stale = utcnow() - JOB_STALE_AFTER
    db.session.execute(update(ExportJob).where(
        ExportJob.state == ExportJobState.RUNNING, ExportJob.started_at < stale).values(
        state=ExportJobState.FAILED, finished_at=utcnow(),
        error=messages.text("export_job_interrupted")))
    db.session.commit()
    while True:
        job_id = db.session.scalar(select(ExportJob.id).where(
            ExportJob.state == ExportJobState.QUEUED).order_by(ExportJob.id).limit(1))
        if job_id is None:
            return None
        taken = db.session.execute(update(ExportJob).where(
            ExportJob.id == job_id, ExportJob.state == ExportJobState.QUEUED).values(
            state=ExportJobState.RUNNING, started_at=utcnow(), worker=worker[:64])).rowcount
        db.session.commit()
        if taken == 1:
            return job_id


def render_pdf_list(user, date_from: dt.date | None, date_to: dt.date | None) -> tuple[bytes, int]:
    """The publication list PDF (redacted like the public page) and its row count."""
    from flask_babel import force_locale

    from caseflow.core.pdf import render_pdf

    rows = [d for d in db.session.scalars(export_selection(user, date_from, date_to)
                                          .execution_options(yield_per=1000))
            if r.is_published(facts_of(d))]
    with force_locale("zh_Hans_CN"):
        pdf = render_pdf("pdf/publication_list.html", rows=rows, agency=user.agency,
                         date_from=date_from, date_to=date_to, mask=mask_name,
                         generated=today_local(), wan=r.wan)
    return pdf, len(rows)


def run_export_job(job_id: int) -> ExportJob:
    """Render one claimed job, store the file (instance/uploads/exports, with its SHA-256),
    record the export batch; on any failure the job is ``failed`` with the error. Commits."""
    import logging
    import secrets

    from caseflow.core.timeutil import utcnow
    from caseflow.core.uploads import upload_dir

    job = db.session.get(ExportJob, job_id)
    f = job.filters or {}
    date_from = dt.date.fromisoformat(f["from"]) if f.get("from") else None
    date_to = dt.date.fromisoformat(f["to"]) if f.get("to") else None
    target = None
    try:
        pdf, count = render_pdf_list(job.user, date_from, date_to)
        name = secrets.token_hex(16)
        target = upload_dir("exports") / name
        with open(target, "xb") as out:
            out.write(pdf)
        batch = record_batch(job.user, "pdf", dict(f), target, count, [],
                             sha256=hashlib.sha256(pdf).hexdigest(), size=len(pdf))
        job.state, job.file_name, job.sha256, job.size = ExportJobState.DONE, name, batch.sha256, len(pdf)
        job.row_count, job.batch_id, job.finished_at = count, batch.id, utcnow()
        db.session.commit()
    except Exception as exc:  # noqa: BLE001 - any failure is the job's outcome, shown to the user
        logging.getLogger("caseflow.penalties").exception("export job %s failed", job_id)
        db.session.rollback()
        if target is not None:
            target.unlink(missing_ok=True)
        job = db.session.get(ExportJob, job_id)
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        job.state, job.error, job.finished_at = ExportJobState.FAILED, message[:2000], utcnow()
        audit.record("publication.pdf_job_failed", user=job.user, obj_type="export_job",
                     obj_id=job.id, error=job.error[:200])
        db.session.commit()
    return job


def run_export_jobs(worker: str, limit: int = 10) -> int:
    """Scheduler pass: render queued jobs one after the other; how many were run."""
    done = 0
    while done < limit and (job_id := _claim_next(worker)) is not None:
        run_export_job(job_id)
        done += 1
    return done


# ----------------------------------------------------------------------------- public page


def mask_name(name: str, kind: str) -> str:
    """Natural persons are shown by surname only (张**); organisations in full."""
    if kind != "自然人" or not name:
        return name
    return name[0] + "*" * max(len(name) - 1, 1)


def public_decisions(q: str = "", limit: int = 200) -> list[PenaltyDecision]:
    """Published, not withdrawn or ended decisions still in their publicity period."""
    stmt = select(PenaltyDecision).where(
        or_(PenaltyDecision.platform_published_on.is_not(None),
            PenaltyDecision.enterprise_published_on.is_not(None)),
        PenaltyDecision.withdrawn_on.is_(None), PenaltyDecision.ended_on.is_(None))
    q = (q or "").strip()[:100]
    if q:
        code = ids.normalize_code(q)
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(PenaltyDecision.credit_code == code,
                              (PenaltyDecision.subject_kind != "自然人")
                              & PenaltyDecision.subject_name.ilike(like, escape="\\")))
    rows = db.session.scalars(stmt.order_by(PenaltyDecision.decision_date.desc(),
                                            PenaltyDecision.id.desc()).limit(limit * 2))
    return [d for d in rows if status(d)["active"]][:limit]
