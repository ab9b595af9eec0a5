"""Case list queries: filters, search, keyset pagination, counts per state.

Shared by the HTML list and the API; visibility always comes from ``visible_cases``.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import re
from dataclasses import dataclass

from sqlalchemy import func, or_, select, tuple_
from sqlalchemy.orm import lazyload

from caseflow.cases import tally
from caseflow.cases.models import Case, Party, case_officer_table
from caseflow.cases.rules import Channel, IPType, State
from caseflow.core.errors import InvalidInput
from caseflow.core.timeutil import today_local
from caseflow.extensions import db


MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database
FILTER_DATES = (dt.date(2000, 1, 1), dt.date(2099, 12, 31))  # what a date filter may name


#: dashboard filters: a figure's list is these arguments (see caseflow.reports.operations)
DATE_ARGS = ("received_from", "received_to", "stage_from", "stage_to", "referred_from",
             "referred_to", "decided_from", "decided_to")


@dataclass
class CaseFilters:
    state: str | None = None
    ip_type: str | None = None
    channel: str | None = None
    officer: int | None = None
    overdue: bool = False
    joint_action: int | None = None
    q: str = ""
    own: bool = False  # the agency's own cases only (not those shared with it)
    due: str | None = None  # "week": the next deadline falls between today and Sunday
    stage: str | None = None  # left this stage between stage_from and stage_to
    referral: str | None = None  # has a referral with this outcome, made in the period
    publication: str | None = None  # "<channel>_<class>" of the decision's publication
    received_from: dt.date | None = None
    received_to: dt.date | None = None
    stage_from: dt.date | None = None
    stage_to: dt.date | None = None
    referred_from: dt.date | None = None
    referred_to: dt.date | None = None
    decided_from: dt.date | None = None
    decided_to: dt.date | None = None

    def args(self, **overrides) -> dict:
        """The filters as query arguments (for links that keep them), without empty ones."""
        out = {}
        for name in ("state", "ip_type", "channel", "officer", "joint_action", "q", "due",
                     "stage", "referral", "publication", *DATE_ARGS):
            value = getattr(self, name)
            if value:
                out[name] = value.isoformat() if isinstance(value, dt.date) else value
        if self.overdue:
            out["overdue"] = "1"
        if self.own:
            out["own"] = "1"
        out.update(overrides)
        return {k: v for k, v in out.items() if v not in (None, "")}

    @property
    def from_dashboard(self) -> bool:
        return bool(self.own or self.due or self.stage or self.referral or self.publication
                    or any(getattr(self, n) for n in DATE_ARGS))

    @classmethod
    def from_args(cls, args, message) -> "CaseFilters":
        """Parse query arguments; unknown values are a 422 with a message per field."""
        errors = {}
        f = cls()
        for name, enum in (("state", State), ("ip_type", IPType), ("channel", Channel)):
            value = (args.get(name) or "").strip()
            if value:
                if value not in {e.value for e in enum}:
                    errors[name] = message("enum")
                else:
                    setattr(f, name, value)
        officer = (args.get("officer") or "").strip()
        if officer:
            if not (officer.isascii() and officer.isdigit()) or int(officer) > MAX_ID:
                errors["officer"] = message("int_parsing")
            else:
                f.officer = int(officer)
        action = (args.get("joint_action") or "").strip()
        if action:
            if not (action.isascii() and action.isdigit()) or int(action) > MAX_ID:
                errors["joint_action"] = message("int_parsing")
            else:
                f.joint_action = int(action)
        f.overdue = (args.get("overdue") or "").lower() in ("1", "true", "yes", "on")
        f.own = (args.get("own") or "").lower() in ("1", "true", "yes", "on")
        for name in DATE_ARGS:
            value = (args.get(name) or "").strip()
            if value:
                try:
                    day = dt.date.fromisoformat(value)
                except ValueError:
                    errors[name] = message("date_parsing")
                    continue
                if not FILTER_DATES[0] <= day <= FILTER_DATES[1]:
                    errors[name] = message("filter_date_range")
                else:
                    setattr(f, name, day)
        due = (args.get("due") or "").strip()
        if due:
            if due != "week":
                errors["due"] = message("due_filter")
            else:
                f.due = due
        stage = (args.get("stage") or "").strip()
        if stage:
            if stage not in {e.value for e in State}:
                errors["stage"] = message("enum")
            else:
                f.stage = stage
        from caseflow.reports.rules import PUBLICATION_CLASSES, REFERRAL_OUTCOMES

        referral = (args.get("referral") or "").strip()
        if referral:
            if referral not in REFERRAL_OUTCOMES:
                errors["referral"] = message("enum")
            else:
                f.referral = referral
        publication = (args.get("publication") or "").strip()
        if publication:
            chan, _, cls = publication.partition("_")
            if chan not in ("platform", "enterprise") or cls not in PUBLICATION_CLASSES:
                errors["publication"] = message("publication_filter")
            else:
                f.publication = publication
        f.q = re.sub(r"[\x00-\x1f\x7f]", "", args.get("q") or "").strip()[:100]
        if errors:
            raise InvalidInput(errors)
        return f


def _visible_parts(user, f: CaseFilters) -> list[str] | None:
    """``visibility_clause`` as disjoint parts each an index can serve: "own", the agency's
    cases (an index range on owner_agency_id), and "shared", other agencies' cases shared
    with it (a range of its grants, which carry their case's creation time and state). The
    OR of the two would make PostgreSQL read every case of the city. None when the user sees
    no case at all (the single false clause then)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.works_cases:
        return None
    if f.own or f.publication:  # these filters keep the agency's own cases only
        return ["own"]
    return ["own", "shared"]


def _active_grants(user) -> tuple:
    """The user's agency's active grants: the rule the detail page checks
    (``sharing.operations.active_grant_exists``), on the grant rows themselves."""
    from caseflow.sharing.operations import active_grant_conditions

    return active_grant_conditions(user.agency_id)


def _shared_page(user, f: CaseFilters, keyset: tuple | None, limit: int) -> list[Case]:
    """Up to ``limit`` shared cases newest first, after ``keyset``: the agency's grants read in
    the order of their case (ix_share_grant_listed), joined to the cases that pass the filters.
    A case shared twice with the agency comes once (its grants are adjacent in that order)."""
    from caseflow.sharing.models import ShareGrant as G

    cond = [*_active_grants(user), Case.owner_agency_id != user.agency_id,
            *_filter_conditions(user, f, include_state=False)]
    if f.state:  # from the grant's copy: no visit of the case for a grant of another state
        cond.append(G.case_state == f.state)
    out: list[Case] = []
    seen: set[int] = set()
    after = keyset
    while True:
        stmt = (select(Case).join(G, G.case_id == Case.id).where(*cond)
                .options(lazyload(Case.parties), lazyload(Case.officers))
                .order_by(G.case_created_at.desc(), G.case_id.desc()).limit(limit))
        if after is not None:
            stmt = stmt.where(tuple_(G.case_created_at, G.case_id) < tuple_(*after))
        batch = list(db.session.scalars(stmt))
        for c in batch:
            if c.id not in seen:
                seen.add(c.id)
                out.append(c)
        if len(out) >= limit or len(batch) < limit:
            return out[:limit]
        after = (batch[-1].created_at, batch[-1].id)


def _filter_conditions(user, f: CaseFilters, include_state: bool = True) -> list:
    cond = []
    if include_state and f.state:
        cond.append(Case.state == f.state)
    if f.ip_type:
        cond.append(Case.ip_type == f.ip_type)
    if f.channel:
        cond.append(Case.channel == f.channel)
    if f.officer:
        cond.append(Case.id.in_(select(case_officer_table.c.case_id)
                                .where(case_officer_table.c.user_id == f.officer)))
    if f.joint_action:
        cond.append(Case.joint_action_id == f.joint_action)
    if f.overdue:
        cond.append(Case.next_due_on < today_local())
    if f.own:
        cond.append(Case.owner_agency_id == user.agency_id)
    if f.received_from:
        cond.append(Case.received_on >= f.received_from)
    if f.received_to:
        cond.append(Case.received_on <= f.received_to)
    if f.due == "week":
        from caseflow.reports.rules import week_of

        today = today_local()
        cond.append(Case.next_due_on.between(today, week_of(today).end))
    if f.stage or f.referral or f.publication:
        from caseflow.reports import operations as reports
        from caseflow.reports.rules import REFERRAL_OUTCOMES, Period

        def period(start, end) -> Period:
            return Period(start or dt.date(2000, 1, 1), end or today_local())

        if f.stage:
            p = period(f.stage_from, f.stage_to)
            cond.append(Case.id.in_(reports.stage_condition(f.stage, p)))
        if f.referral:
            cond.append(Case.id.in_(reports.referral_condition(
                user.agency_id, period(f.referred_from, f.referred_to), REFERRAL_OUTCOMES[f.referral])))
        if f.publication:
            ids = reports.publication_case_ids(user.agency_id, period(f.decided_from, f.decided_to),
                                               f.publication)
            cond.append(Case.owner_agency_id == user.agency_id)
            cond.append(Case.id.in_(ids))
    if f.q:
        like = f"%{_escape_like(f.q)}%"
        cond.append(or_(
            Case.number.ilike(like, escape="\\"),
            Case.title.ilike(like, escape="\\"),
            Case.id.in_(select(Party.case_id).where(or_(
                Party.name.ilike(like, escape="\\"),
                Party.credit_code == f.q.upper(),
                Party.id_number == f.q.upper(),
            ))),
        ))
    return cond


def _escape_like(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def encode_cursor(case: Case) -> str:
    raw = json.dumps([case.created_at.isoformat(), case.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, message) -> tuple[dt.datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, case_id = json.loads(raw)
        created = dt.datetime.fromisoformat(created)
        if created.tzinfo is None or not isinstance(case_id, int) or not 0 <= case_id <= MAX_ID:
            raise ValueError("bad cursor")
        return created, case_id
    except (ValueError, TypeError, OverflowError, json.JSONDecodeError) as exc:
        raise InvalidInput({"cursor": message("cursor")}) from exc


def list_cases(user, f: CaseFilters, cursor: str | None, limit: int, message) -> tuple[list[Case], str | None]:
    """Newest first; keyset pagination on (created_at, id) so every page costs the same."""
    after = decode_cursor(cursor, message) if cursor else None
    parts = _visible_parts(user, f)
    if parts is None:
        return [], None
    rows: list[Case] = []
    if "own" in parts:
        keyset = [tuple_(Case.created_at, Case.id) < tuple_(*after)] if after else []
        # row-value comparison: one index range scan on (agency, created_at, id); list rows
        # show no parties or officers: do not load them
        rows += db.session.scalars(
            select(Case).where(Case.owner_agency_id == user.agency_id, *_filter_conditions(user, f),
                               *keyset)
            .options(lazyload(Case.parties), lazyload(Case.officers))
            .order_by(Case.created_at.desc(), Case.id.desc()).limit(limit + 1))
    if "shared" in parts:
        rows += _shared_page(user, f, after, limit + 1)
    if len(parts) > 1:  # disjoint parts, each newest first: merge them
        rows.sort(key=lambda c: (c.created_at, c.id), reverse=True)
        rows = rows[:limit + 1]
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor


def state_counts(user, f: CaseFilters) -> dict[str, int]:
    """Visible cases per state under the filters (the state filter aside)."""
    from caseflow.sharing.models import ShareGrant as G

    parts = _visible_parts(user, f)
    if parts is None:
        return {}
    filters = _filter_conditions(user, f, include_state=False)
    out: dict[str, int] = {}

    def add(counts):
        for state, n in counts:
            out[state] = out.get(state, 0) + n

    if "own" in parts:
        if not filters and tally.kept():
            # the agency's own cases, unfiltered: the tally the database keeps (PostgreSQL)
            add(tally.own_counts(user.agency_id).items())
        else:
            add(db.session.execute(select(Case.state, func.count()).where(
                Case.owner_agency_id == user.agency_id, *filters).group_by(Case.state)))
    if "shared" in parts:
        if not filters:
            # from the grants alone (an index-only scan on PostgreSQL); no grant names the
            # case's own agency (sharing.operations.grant_share refuses it), so no join to
            # test owner_agency_id as the list does
            add(db.session.execute(select(G.case_state, func.count(G.case_id.distinct()))
                                   .where(*_active_grants(user)).group_by(G.case_state)))
        else:
            add(db.session.execute(
                select(Case.state, func.count(Case.id.distinct())).join(G, G.case_id == Case.id)
                .where(*_active_grants(user), Case.owner_agency_id != user.agency_id, *filters)
                .group_by(Case.state)))
    return out
