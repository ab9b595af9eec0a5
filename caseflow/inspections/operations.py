"""Dual-random inspections: the list and the two pools, plans, verifiable draws, results.

Managers (approver, coordinator, agency_admin) keep the list, the pools and the plans and
run draws; inspectors enter and publish the results of their own inspections
("谁检查、谁录入、谁公开").
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
from collections import Counter
from decimal import Decimal, InvalidOperation
from itertools import repeat
from operator import itemgetter, mul

from flask import current_app
from sqlalchemy import Integer, String, any_, bindparam, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from caseflow.accounts.models import Role, User
from caseflow.cases import messages
from caseflow.core import audit, ids
from caseflow.core.errors import InvalidInput, InvalidTransition, NotFound, PermissionDenied
from caseflow.core.models import load_calendar
from caseflow.core.timeutil import today_local, utcnow
from caseflow.extensions import db
from caseflow.inspections import rules as r
from caseflow.inspections.models import (RESULTS, Business, Conflict, Draw, ImportReport,
                                         Inspection, InspectionItem, InspectionPlan, PlanItem,
                                         RosterEntry, inspection_inspector)

MANAGERS = (Role.APPROVER, Role.COORDINATOR, Role.AGENCY_ADMIN)
PUBLISH_WD = 20  # results public within 20 working days [M]


def can_manage(user) -> bool:
    return user.has_role(*MANAGERS)


def _manage(user):
    if not can_manage(user):
        raise PermissionDenied(messages.text("forbidden"))


def _decimal(raw, field, errors, lo=Decimal(0), hi=Decimal(1)):
    if raw in (None, ""):
        return None
    try:
        v = Decimal(str(raw).strip())
        if not v.is_finite() or v < lo or v > hi:
            raise InvalidOperation
        return v
    except InvalidOperation:
        errors[field] = messages.text("ratio_invalid")
        return None


# ----------------------------------------------------------------------------- the list


def add_item(user, data: dict) -> InspectionItem:
    _manage(user)
    errors = {}
    code = (data.get("code") or "").strip()
    name = (data.get("name") or "").strip()
    kind = data.get("kind") or ""
    if not code or len(code) > 32:
        errors["code"] = messages.text("field_required")
    elif db.session.scalar(select(InspectionItem.id).where(
            InspectionItem.agency_id == user.agency_id, InspectionItem.code == code)):
        errors["code"] = messages.text("item_code_taken")
    if not name or len(name) > 200:
        errors["name"] = messages.text("field_required")
    if kind not in ("key", "general"):
        errors["kind"] = messages.text("enum")
    cap = _decimal(data.get("ratio_cap"), "ratio_cap", errors)
    if kind == "general" and cap is None and "ratio_cap" not in errors:
        errors["ratio_cap"] = messages.text("ratio_cap_required")
    if errors:
        raise InvalidInput(errors)
    item = InspectionItem(agency_id=user.agency_id, code=code, name=name, kind=kind,
                          ratio_cap=cap if kind == "general" else None,
                          basis=(data.get("basis") or "").strip()[:2000])
    db.session.add(item)
    db.session.flush()
    audit.record("inspection.item_add", user=user, obj_type="inspection_item", obj_id=item.id)
    return item


# ----------------------------------------------------------------------------- the business pool

IMPORT_COLUMNS = ("统一社会信用代码", "名称", "区", "行业", "信用风险分类", "地址")
MAX_REPORTED = 1000
_CC_VALUE = {c: i for i, c in enumerate(ids.CREDIT_CODE_ALPHABET)}


def _normalize_code(raw: str) -> str:
    """``ids.normalize_code`` with a fast path for plain ASCII (the register's usual case):
    the same result, without looking at every character for full-width forms."""
    if raw.isascii():
        return raw.strip().replace(" ", "").upper()
    return ids.normalize_code(raw)


def _bad_credit_code(code: str) -> bool:
    """``ids.check_credit_code(code) is not None``, by table look-ups (hundreds of
    thousands of rows per import)."""
    if len(code) != 18:
        return True
    try:
        values = list(map(_CC_VALUE.__getitem__, code))
    except KeyError:
        return True
    if not code[2:8].isdigit():
        return True
    total = sum(map(mul, values, ids.CREDIT_CODE_WEIGHTS))
    return values[17] != (31 - total % 31) % 31


class _PgRegister:
    """PostgreSQL: the good rows go through COPY into a temporary table, then one UPDATE of
    the businesses already in the directory and one INSERT of the others — instead of
    loading the agency's whole directory (millions of codes) and a statement per row."""

    COLUMNS = ("credit_code", "name", "district", "industry", "risk_class", "address")

    def __init__(self, agency_id: int):
        self.agency_id = agency_id
        # the session's own connection: the same transaction as the rest of the import
        self.cur = db.session.connection().connection.driver_connection.cursor()
        self.cur.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS register_import (credit_code varchar(18), "
            "name varchar(200), district varchar(64), industry varchar(64), "
            "risk_class varchar(1), address varchar(300)) ON COMMIT DROP")
        self.cur.execute("DELETE FROM register_import")
        self._copy_cm = self.cur.copy(f"COPY register_import ({', '.join(self.COLUMNS)}) FROM STDIN")
        self._copy = self._copy_cm.__enter__()

    def add(self, row: tuple) -> None:
        """One good row, in the order of ``COLUMNS``."""
        self._copy.write_row(row)

    def abort(self) -> None:
        if self._copy_cm is not None:
            try:
                self._copy_cm.__exit__(InvalidInput, InvalidInput(), None)
            except Exception:  # the transaction is rolled back by the caller anyway
                pass
            self._copy_cm = None

    def finish(self, good: int) -> tuple[int, int]:
        """(imported, updated) of the ``good`` rows written."""
        self._copy_cm.__exit__(None, None, None)
        self._copy_cm = None
        # a business already in the directory is rewritten only when the register changed
        # it (a monthly re-import changes few); every one of them counts as updated
        self.cur.execute(
            "UPDATE business AS b SET name = r.name, district = r.district, industry = r.industry, "
            "risk_class = r.risk_class, address = r.address, active = true FROM register_import r "
            "WHERE b.agency_id = %s AND b.credit_code = r.credit_code AND (b.name, b.district, "
            "b.industry, b.risk_class, b.address, b.active) IS DISTINCT FROM (r.name, r.district, "
            "r.industry, r.risk_class, r.address, true)", (self.agency_id,))
        self.cur.execute(
            "INSERT INTO business (agency_id, credit_code, name, district, industry, risk_class, "
            "address, active) SELECT %s, r.credit_code, r.name, r.district, r.industry, "
            "r.risk_class, r.address, true FROM register_import r WHERE NOT EXISTS ("
            "SELECT 1 FROM business b WHERE b.agency_id = %s AND b.credit_code = r.credit_code)",
            (self.agency_id, self.agency_id))
        imported = self.cur.rowcount
        self.cur.execute("DROP TABLE register_import")
        return imported, good - imported


def import_businesses(user, stream, filename: str = "") -> ImportReport:
    """One streaming pass over a CSV of the credit register (UTF-8, BOM allowed).

    Rows with a bad credit code, a duplicate within the file or a missing field are
    rejected with the reason; the good rows are inserted or updated in batches. Nothing is
    written when the header is wrong (the whole file is refused).
    """
    _manage(user)
    digest = hashlib.sha256()

    def lines():
        for raw in stream:
            digest.update(raw)
            yield raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw

    reader = csv.reader(lines())
    try:
        header = [h.strip() for h in next(reader)]
    except (StopIteration, UnicodeDecodeError):
        raise InvalidInput({"file": messages.text("import_header")})
    missing = [c for c in IMPORT_COLUMNS[:2] if c not in header]
    if missing:
        raise InvalidInput({"file": messages.text("import_header")})
    col = {name: header.index(name) if name in header else None for name in IMPORT_COLUMNS}
    report = ImportReport(agency_id=user.agency_id, user_id=user.id, filename=filename[:255],
                          rejected=[], total=0, imported=0, updated=0, rejected_count=0)
    pg = db.session.get_bind().dialect.name == "postgresql"
    sink = _PgRegister(user.agency_id) if pg else None
    existing = {} if pg else dict(db.session.execute(select(
        Business.credit_code, Business.id).where(Business.agency_id == user.agency_id)).all())
    seen: set[str] = set()
    batch_new, batch_upd = [], []
    rejected = []
    i_code, i_name, i_district, i_industry, i_class, i_address = (col[n] for n in IMPORT_COLUMNS)

    def get(row, i):
        return (row[i].strip() if i is not None and i < len(row) else "")

    def flush():
        if batch_new:
            db.session.execute(Business.__table__.insert(), batch_new)
        if batch_upd:  # one executemany, not a statement per row
            db.session.execute(update(Business), batch_upd)
        batch_new.clear()
        batch_upd.clear()

    total = refused = imported = updated = 0
    line = 1
    try:
        for row in reader:
            line += 1
            if not any(cell.strip() for cell in row):
                continue
            total += 1
            code = _normalize_code(row[i_code] if i_code is not None and i_code < len(row) else "")
            name = get(row, i_name)
            cls = (get(row, i_class) or "B").upper()
            reason = None
            if not code:
                reason = "missing_credit_code"
            elif _bad_credit_code(code):
                reason = "bad_credit_code"
            elif not name:
                reason = "missing_name"
            elif cls not in r.CLASSES:
                reason = "bad_risk_class"
            elif code in seen:
                reason = "duplicate"
            if reason:
                refused += 1
                if len(rejected) < MAX_REPORTED:
                    rejected.append({"line": line, "reason": reason, "value": code or name})
                continue
            seen.add(code)
            district, industry = get(row, i_district)[:64], get(row, i_industry)[:64]
            address = get(row, i_address)[:300]
            if sink is not None:
                sink.add((code, name[:200], district, industry, cls, address))
                continue
            values = {"agency_id": user.agency_id, "credit_code": code, "name": name[:200],
                      "district": district, "industry": industry, "risk_class": cls,
                      "address": address, "active": True}
            if code in existing:
                batch_upd.append({"id": existing[code], **values})
                updated += 1
            else:
                batch_new.append(values)
                imported += 1
            if len(batch_new) + len(batch_upd) >= 2000:
                flush()
        if sink is not None:
            imported, updated = sink.finish(len(seen))
        flush()
    except (UnicodeDecodeError, csv.Error) as exc:
        if sink is not None:
            sink.abort()
        raise InvalidInput({"file": messages.text("import_unreadable", line=line)}) from exc
    except BaseException:
        if sink is not None:
            sink.abort()
        raise
    report.total, report.rejected_count = total, refused
    report.imported, report.updated = imported, updated
    report.rejected = rejected
    report.sha256 = digest.hexdigest()
    db.session.add(report)
    db.session.flush()
    audit.record("inspection.import", user=user, obj_type="import_report", obj_id=report.id,
                 total=report.total, imported=report.imported, rejected=report.rejected_count)
    return report


# ----------------------------------------------------------------------------- the inspector pool


def add_to_roster(user, username: str, qualifications: str) -> RosterEntry:
    _manage(user)
    from caseflow.accounts.operations import normalize_username

    member = db.session.scalar(select(User).where(User.username == normalize_username(username)))
    if member is None or member.agency_id != user.agency_id or not member.has_role(
            Role.INSPECTOR, Role.CASE_OFFICER):
        raise InvalidInput({"username": messages.text("officer_invalid")})
    entry = db.session.scalar(select(RosterEntry).where(RosterEntry.user_id == member.id))
    if entry is None:
        entry = RosterEntry(agency_id=user.agency_id, user_id=member.id)
        db.session.add(entry)
    entry.qualifications = (qualifications or "").strip()[:300]
    entry.active = True
    db.session.flush()
    audit.record("inspection.roster_add", user=user, obj_type="user", obj_id=member.id)
    return entry


def set_roster_active(user, entry_id: int, active: bool) -> None:
    _manage(user)
    entry = db.session.get(RosterEntry, entry_id)
    if entry is None or entry.agency_id != user.agency_id:
        raise NotFound(messages.text("case_not_found"))
    entry.active = active


def declare_conflict(user, business_code: str, reason: str, for_user: User | None = None) -> Conflict:
    """回避: an inspector (or a manager on their behalf) declares a conflict of interest."""
    target = for_user or user
    if target.id != user.id:
        _manage(user)
    elif not user.has_role(Role.INSPECTOR):
        raise PermissionDenied(messages.text("forbidden"))  # only inspectors are drawn
    biz = db.session.scalar(select(Business).where(
        Business.agency_id == user.agency_id,
        Business.credit_code == ids.normalize_code(business_code)))
    errors = {}
    if biz is None:
        errors["business"] = messages.text("business_unknown")
    if len((reason or "").strip()) < 2:
        errors["reason"] = messages.text("reason_required")
    if errors:
        raise InvalidInput(errors)
    c = db.session.scalar(select(Conflict).where(Conflict.user_id == target.id,
                                                 Conflict.business_id == biz.id))
    if c is None:
        c = Conflict(user_id=target.id, business_id=biz.id, reason=reason.strip()[:300])
        db.session.add(c)
        db.session.flush()
        audit.record("inspection.conflict", user=user, obj_type="business", obj_id=biz.id,
                     inspector=target.id)
    return c


# ----------------------------------------------------------------------------- plans


def create_plan(user, data: dict) -> InspectionPlan:
    _manage(user)
    errors = {}
    name = (data.get("name") or "").strip()
    if not name or len(name) > 200:
        errors["name"] = messages.text("field_required")
    dates = {}
    for k in ("period_start", "period_end"):
        try:
            dates[k] = dt.date.fromisoformat((data.get(k) or "").strip())
        except ValueError:
            errors[k] = messages.text("date_parsing")
    if not errors and dates["period_end"] < dates["period_start"]:
        errors["period_end"] = messages.text("period_reversed")
    if errors:
        raise InvalidInput(errors)
    plan = InspectionPlan(agency_id=user.agency_id, year=dates["period_start"].year, name=name,
                          created_by_id=user.id, **dates)
    db.session.add(plan)
    db.session.flush()
    audit.record("inspection.plan_create", user=user, obj_type="inspection_plan", obj_id=plan.id)
    return plan


def get_plan(user, plan_id: int) -> InspectionPlan:
    plan = db.session.get(InspectionPlan, plan_id) if 0 < plan_id < 2**31 else None
    if plan is None or plan.agency_id != user.agency_id or not (user.works_cases or can_manage(user)):
        raise NotFound(messages.text("case_not_found"))
    return plan


def add_plan_item(user, plan: InspectionPlan, data: dict) -> PlanItem:
    _manage(user)
    errors = {}
    item = db.session.get(InspectionItem, int(data["item_id"])) \
        if str(data.get("item_id") or "").isdigit() and len(str(data["item_id"])) < 10 else None
    if item is None or item.agency_id != plan.agency_id:
        errors["item_id"] = messages.text("field_required")
    ratio = _decimal(data.get("ratio"), "ratio", errors)
    count = None
    raw_count = str(data.get("count") or "").strip()
    if raw_count:
        if not raw_count.isdigit() or not 0 < int(raw_count) <= 100000:
            errors["count"] = messages.text("int_parsing")
        else:
            count = int(raw_count)
    if ratio is None and count is None and "ratio" not in errors and "count" not in errors:
        errors["ratio"] = messages.text("ratio_or_count")
    class_ratios = {}
    for c in ("C", "D"):
        v = _decimal(data.get(f"ratio_{c}"), f"ratio_{c}", errors)
        if v is not None:
            class_ratios[c] = str(v)
    if item is not None and item.kind == "general" and item.ratio_cap is not None:
        for field, v in [("ratio", ratio)] + [(f"ratio_{c}", Decimal(x)) for c, x in class_ratios.items()]:
            if v is not None and v > item.ratio_cap:
                errors[field] = messages.text("ratio_over_cap", cap=str(item.ratio_cap))
    classes = [c for c in (data.get("classes") or []) if c in r.CLASSES]
    k = str(data.get("inspectors_per_target") or "2").strip()
    if not k.isdigit() or not 2 <= int(k) <= 6:
        errors["inspectors_per_target"] = messages.text("two_inspectors")  # at least two
    due = None
    try:
        due = dt.date.fromisoformat((data.get("due_date") or "").strip())
        if not plan.period_start <= due <= plan.period_end:
            errors["due_date"] = messages.text("due_outside_period")
    except ValueError:
        errors["due_date"] = messages.text("date_parsing")
    if errors:
        raise InvalidInput(errors)
    pi = PlanItem(plan=plan, item_id=item.id, ratio=ratio, count=count, class_ratios=class_ratios,
                  inspectors_per_target=int(k), due_date=due,
                  filters={"district": (data.get("district") or "").strip()[:64],
                           "industry": (data.get("industry") or "").strip()[:64],
                           "classes": classes})
    db.session.add(pi)
    db.session.flush()
    audit.record("inspection.plan_item_add", user=user, obj_type="plan_item", obj_id=pi.id)
    return pi


def add_participant(user, plan: InspectionPlan, agency_id) -> None:
    """联合抽查: another department takes part; it draws its own inspectors."""
    from caseflow.accounts.models import Agency

    _manage(user)
    if plan.agency_id != user.agency_id:
        raise NotFound(messages.text("case_not_found"))
    agency = db.session.get(Agency, agency_id) if agency_id else None
    if agency is None or agency.id == plan.agency_id:
        raise InvalidInput({"agency_id": messages.text("referral_agency_kind")})
    if agency not in plan.participants:
        plan.participants.append(agency)
        audit.record("inspection.participant_add", user=user, obj_type="inspection_plan",
                     obj_id=plan.id, agency_id=agency.id)


def joint_draws_to_staff(user) -> list[Draw]:
    """The lead agencies' drawn items of joint plans this agency takes part in, for which it
    has not drawn its inspectors yet."""
    from caseflow.inspections.models import plan_participant

    leads = db.session.scalars(select(Draw).join(PlanItem, PlanItem.id == Draw.plan_item_id)
                               .join(plan_participant, plan_participant.c.plan_id == PlanItem.plan_id)
                               .where(plan_participant.c.agency_id == user.agency_id,
                                      Draw.state == "drawn", Draw.parent_draw_id.is_(None)))
    done = set(db.session.scalars(select(Draw.parent_draw_id).where(
        Draw.agency_id == user.agency_id, Draw.parent_draw_id.is_not(None), Draw.state == "drawn")))
    return [d for d in leads if d.id not in done]


# ----------------------------------------------------------------------------- draws


def eligible(plan_item: PlanItem) -> list[tuple[str, str]]:
    """The plan item's population: (credit code, risk class) of the agency's active
    businesses that match its filters, sorted."""
    f = plan_item.filters or {}
    where = [Business.agency_id == plan_item.plan.agency_id, Business.active.is_(True)]
    if f.get("district"):
        where.append(Business.district == f["district"])
    if f.get("industry"):
        where.append(Business.industry == f["industry"])
    if f.get("classes"):
        where.append(Business.risk_class.in_(f["classes"]))
    # Read from the partial index ix_business_active_filter alone (PostgreSQL: an index-only
    # scan), and fetched as one row per risk class with its codes joined by newlines (the
    # separator of the population hash; no credit code holds one): tens of thousands of rows
    # cost more to fetch than the query.
    per_class = select(Business.risk_class, func.count(),
                       func.aggregate_strings(Business.credit_code, "\n"))
    pop: list[tuple[str, str]] = []
    for cls, n, joined in db.session.execute(per_class.where(*where).group_by(Business.risk_class)):
        codes = joined.split("\n")
        if len(codes) != n:  # a code that does hold one: row by row
            return sorted(map(tuple, db.session.execute(
                select(Business.credit_code, Business.risk_class).where(*where))))
        pop += zip(codes, repeat(cls))
    pop.sort()
    return pop


def commit_draw(user, plan_item: PlanItem, parent: Draw | None = None) -> Draw:
    """Record the commitment: the population snapshot and its hash, the roster, the quotas,
    and the hash of a fresh seed — before anything is drawn.

    With ``parent`` (a joint plan), a participating agency commits to drawing its own
    inspectors for the businesses the lead agency drew: those are its population."""
    _manage(user)
    if parent is None:
        if plan_item.plan.agency_id != user.agency_id:
            raise NotFound(messages.text("case_not_found"))
        if any(d.state == "drawn" and d.parent_draw_id is None for d in plan_item.draws):
            raise InvalidTransition(messages.text("already_drawn"))
        pop = eligible(plan_item)
    else:
        if parent not in joint_draws_to_staff(user):
            raise NotFound(messages.text("case_not_found"))
        pop = sorted((t["code"], t["class"]) for t in parent.result["targets"])
    if not pop:
        raise InvalidTransition(messages.text("empty_population"))
    roster = sorted(db.session.scalars(select(User.username).join(
        RosterEntry, RosterEntry.user_id == User.id).where(
        RosterEntry.agency_id == user.agency_id, RosterEntry.active.is_(True), User.active.is_(True))))
    if len(roster) < plan_item.inspectors_per_target:
        raise InvalidTransition(messages.text("roster_too_small"))
    # conflicts by credit code, whichever agency's directory the business was declared in
    declared = db.session.execute(
        select(User.username, Business.credit_code).join(Conflict, Conflict.user_id == User.id)
        .join(Business, Business.id == Conflict.business_id)
        .where(User.agency_id == user.agency_id)).all()
    conflicts = []
    if declared:
        codes = {code for code, _ in pop}
        conflicts = sorted([u, c] for u, c in declared if c in codes and u in roster)
    per_class = Counter(map(itemgetter(1), pop))
    counts = {c: per_class[c] for c in r.CLASSES}
    if parent is None:
        quota = r.quotas(counts, plan_item.ratio, plan_item.count,
                         {k: Decimal(v) for k, v in (plan_item.class_ratios or {}).items()})
    else:
        quota = counts  # every business the lead drew gets inspectors of this agency too
    seed = r.new_seed()
    # the (code, class) tuples as they are: stored as the same JSON arrays as lists would be
    draw = Draw(plan_item=plan_item, agency_id=user.agency_id, state="committed",
                parent_draw_id=parent.id if parent else None,
                population=pop, population_size=len(pop),
                population_hash=r.population_hash([c for c, _ in pop]), roster=roster,
                conflicts=conflicts, quotas=quota, seed_hash=r.sha256(seed),
                created_by_id=user.id)
    db.session.add(draw)
    db.session.flush()
    # the seed stays out of the database until the draw; only its hash is shown
    _store_secret(draw, seed)
    audit.record("inspection.draw_commit", user=user, obj_type="draw", obj_id=draw.id,
                 population_hash=draw.population_hash, seed_hash=draw.seed_hash)
    return draw


def _secret_path(draw_id: int):
    from pathlib import Path

    path = Path(current_app.instance_path) / "draw-seeds"
    path.mkdir(parents=True, exist_ok=True)
    return path / f"{draw_id}.seed"


def _store_secret(draw: Draw, seed: str) -> None:
    """Kept outside the database until the draw so that nobody reading the tables can
    compute the result in advance."""
    p = _secret_path(draw.id)
    p.write_text(seed)
    p.chmod(0o600)


def run_draw(user, draw: Draw) -> list[Inspection]:
    """Draw the targets and their inspectors, reveal the seed, schedule the inspections."""
    _manage(user)
    if draw.agency_id != user.agency_id:
        raise NotFound(messages.text("case_not_found"))
    if draw.state != "committed":
        raise InvalidTransition(messages.text("already_drawn"))
    if draw.parent_draw_id is not None and db.session.scalar(select(Draw.id).where(
            Draw.parent_draw_id == draw.parent_draw_id, Draw.agency_id == draw.agency_id,
            Draw.state == "drawn")):
        raise InvalidTransition(messages.text("already_drawn"))
    p = _secret_path(draw.id)
    if not p.exists():
        raise InvalidTransition(messages.text("seed_missing"))
    seed = p.read_text().strip()
    if r.sha256(seed) != draw.seed_hash:
        raise InvalidTransition(messages.text("seed_missing"))
    try:
        targets = r.draw(seed, draw.population, draw.quotas, draw.roster,
                         {tuple(x) for x in draw.conflicts},
                         draw.plan_item.inspectors_per_target)
    except r.DrawError as e:
        raise InvalidTransition(messages.text("not_enough_inspectors", business=e.params["business"]))
    draw.seed = seed
    draw.result = r.result_json(targets)
    draw.state = "drawn"
    draw.drawn_at = utcnow()
    if draw.parent_draw_id is not None:
        # joint plan: this agency's inspectors join the lead agency's inspections
        users = {u.username: u for u in db.session.scalars(
            select(User).where(User.username.in_(draw.roster)))}
        lead = {i.business.credit_code: i for i in db.session.scalars(
            select(Inspection).where(Inspection.draw_id == draw.parent_draw_id))}
        for t in targets:
            lead[t.code].inspectors.extend(users[u] for u in t.inspectors)
        db.session.flush()
        p.unlink()
        audit.record("inspection.draw", user=user, obj_type="draw", obj_id=draw.id,
                     targets=len(targets), joint=draw.parent_draw_id)
        return list(lead.values())
    user_ids = dict(db.session.execute(
        select(User.username, User.id).where(User.username.in_(draw.roster))).all())
    # hundreds of targets through the unit of work would cost more than the draw itself: the
    # inspections in one INSERT … RETURNING, then their inspectors in one INSERT
    out = []
    if targets:
        biz = _business_ids(draw.agency_id, [t.code for t in targets])
        out = _schedule(draw, [biz[t.code] for t in targets])
        _insert_links([(insp.id, user_ids[u]) for insp, t in zip(out, targets)
                       for u in t.inspectors])
        for insp in out:  # loaded from the rows just written when first read
            db.session.expire(insp, ["inspectors"])
    p.unlink()
    audit.record("inspection.draw", user=user, obj_type="draw", obj_id=draw.id, targets=len(out))
    return out


# The draw's writes on PostgreSQL pass their hundreds of values as arrays: a short statement
# of a few parameters (neither hundreds of rows' placeholders compiled and converted afresh
# for each draw nor a statement per row). Elsewhere (SQLite), rows of parameters.


def _pg() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _int_array(name: str, values: list[int]):
    return bindparam(name, values, type_=ARRAY(Integer))


def _business_ids(agency_id: int, codes: list[str]) -> dict[str, int]:
    """Credit code -> id of the drawn businesses only (the directory may hold millions)."""
    if _pg():
        return dict(db.session.execute(select(Business.credit_code, Business.id).where(
            Business.agency_id == agency_id,
            Business.credit_code == any_(bindparam("codes", codes, type_=ARRAY(String))))).all())
    biz = {}
    for i in range(0, len(codes), 5000):
        biz.update(db.session.execute(select(Business.credit_code, Business.id).where(
            Business.agency_id == agency_id, Business.credit_code.in_(codes[i:i + 5000]))).all())
    return biz


def _schedule(draw: Draw, business_ids: list[int]) -> list[Inspection]:
    """The draw's inspections, one per business in that order (INSERT … RETURNING)."""
    values = dict(agency_id=draw.agency_id, draw_id=draw.id, plan_item_id=draw.plan_item_id,
                  due_date=draw.plan_item.due_date, state="scheduled", note="")
    if not _pg():
        return list(db.session.scalars(
            insert(Inspection).returning(Inspection, sort_by_parameter_order=True),
            [dict(values, business_id=b) for b in business_ids]))
    ids = func.unnest(_int_array("business_ids", business_ids)).table_valued(
        "business_id", with_ordinality="n").render_derived()
    columns = list(values)
    rows = select(*(literal(values[c]) for c in columns), ids.c.business_id).order_by(ids.c.n)
    made = {i.business_id: i for i in db.session.scalars(
        insert(Inspection).from_select(columns + ["business_id"], rows).returning(Inspection))}
    return [made[b] for b in business_ids]  # a business is drawn once (unique per draw)


def _insert_links(links: list[tuple[int, int]]) -> None:
    """(inspection id, user id) rows of inspection_inspector."""
    if not links:
        return
    if _pg():
        inspections, users = (list(c) for c in zip(*links))
        db.session.execute(inspection_inspector.insert().from_select(
            ["inspection_id", "user_id"],
            select(func.unnest(_int_array("inspections", inspections)),
                   func.unnest(_int_array("users", users)))))
        return
    for i in range(0, len(links), 5000):  # one multi-row VALUES per 5,000 links
        db.session.execute(inspection_inspector.insert().values(
            [{"inspection_id": a, "user_id": b} for a, b in links[i:i + 5000]]))


#: what verify_draw can report, in English for the command line (the page translates them)
VERIFY_PROBLEMS = {
    "population_hash": "population hash does not match the commitment",
    "not_drawn": "not drawn yet",
    "seed_hash": "seed does not match the committed seed hash",
    "replay_failed": "the replay could not assign inspectors",
    "result_differs": "replayed result differs from the recorded result",
}


def verify_draw(draw: Draw) -> list[str]:
    """Replay a draw from its published seed and population; problem codes (keys of
    VERIFY_PROBLEMS), or [] when it holds."""
    problems = []
    codes = [c for c, _ in draw.population]
    if r.population_hash(codes) != draw.population_hash:
        problems.append("population_hash")
    if draw.state != "drawn" or not draw.seed:
        return problems + ["not_drawn"]
    if r.sha256(draw.seed) != draw.seed_hash:
        problems.append("seed_hash")
    try:
        again = r.result_json(r.draw(draw.seed, draw.population, draw.quotas,
                                     draw.roster, {tuple(x) for x in draw.conflicts},
                                     draw.plan_item.inspectors_per_target))
    except r.DrawError:
        return problems + ["replay_failed"]
    if again != draw.result:
        problems.append("result_differs")
    return problems


# ----------------------------------------------------------------------------- results


def my_inspections(user):
    from caseflow.inspections.models import inspection_inspector

    return select(Inspection).join(inspection_inspector).where(
        inspection_inspector.c.user_id == user.id).order_by(Inspection.due_date, Inspection.id)


def get_inspection(user, inspection_id: int) -> Inspection:
    insp = db.session.get(Inspection, inspection_id) if 0 < inspection_id < 2**31 else None
    # the lead agency, and the participants' inspectors drawn for it (joint inspections)
    if insp is None or (insp.agency_id != user.agency_id and user not in insp.inspectors):
        raise NotFound(messages.text("case_not_found"))
    return insp


def enter_result(user, insp: Inspection, result: str, note: str, inspected_on: dt.date | None) -> None:
    """谁检查、谁录入: only an inspector drawn for it enters the result."""
    if user not in insp.inspectors:
        raise PermissionDenied(messages.text("not_your_inspection"))
    if insp.state == "published":
        raise InvalidTransition(messages.text("already_published"))
    errors = {}
    if result not in RESULTS:
        errors["result"] = messages.text("enum")
    if inspected_on is None:
        errors["inspected_on"] = messages.text("field_required")
    elif inspected_on > today_local():
        errors["inspected_on"] = messages.text("date_in_future")
    if result == "其他" and len((note or "").strip()) < 2:
        errors["note"] = messages.text("field_required")
    if len(note or "") > 5000:
        errors["note"] = messages.text("string_too_long", max_length=5000)
    if errors:
        raise InvalidInput(errors)
    insp.result = result
    insp.note = (note or "").strip()
    insp.inspected_on = inspected_on
    insp.entered_by_id = user.id
    insp.state = "done"
    audit.record("inspection.result", user=user, obj_type="inspection", obj_id=insp.id, result=result)


def publish_result(user, insp: Inspection) -> None:
    """谁公开: published on the public page (within 20 working days of the inspection)."""
    if user not in insp.inspectors:
        raise PermissionDenied(messages.text("not_your_inspection"))
    if insp.state != "done":
        raise InvalidTransition(messages.text("result_first"))
    insp.state = "published"
    insp.published_on = today_local()
    audit.record("inspection.publish", user=user, obj_type="inspection", obj_id=insp.id)


def publish_deadline(insp: Inspection) -> dt.date | None:
    if insp.inspected_on is None:
        return None
    return load_calendar().add_working_days(insp.inspected_on, PUBLISH_WD)


def public_results(q: str = "", limit: int = 300) -> list[Inspection]:
    stmt = select(Inspection).join(Business, Business.id == Inspection.business_id).where(
        Inspection.state == "published")
    q = (q or "").strip()[:100]
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where((Business.credit_code == ids.normalize_code(q))
                          | Business.name.ilike(like, escape="\\"))
    return list(db.session.scalars(stmt.order_by(Inspection.published_on.desc(), Inspection.id.desc())
                                   .limit(limit)))


def yearly_progress(agency_id: int, today: dt.date | None = None) -> r.Pace:
    """Dual-random inspections drawn this year and joint actions completed this year (led or
    taken part in) count toward the yearly target (SPEC §5)."""
    from caseflow.actions.operations import completed_count

    today = today or today_local()
    drawn = db.session.scalar(select(func.count(func.distinct(PlanItem.id))).join(
        Draw, Draw.plan_item_id == PlanItem.id).join(InspectionPlan).where(
        InspectionPlan.agency_id == agency_id, Draw.state == "drawn",
        InspectionPlan.year == today.year)) or 0
    done = drawn + completed_count(agency_id, today.year)
    return r.yearly_pace(current_app.config["YEARLY_ACTION_TARGET"], done, today)
