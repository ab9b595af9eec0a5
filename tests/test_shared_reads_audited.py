"""SPEC §1: "every read of a shared case … is audited" — proved over every case-scoped route.

Set-up: agency A (Songjiang AMR, the owner) takes one case through most of its life: clue with
a party and amounts over the criminal threshold, evidence, accept → file → investigate, a
criminal referral with a package document that is submitted, approved, sent, received and
declined by the police, accepted back, then notify → statement → penalty decision and the
decision document (行政处罚决定书). The case is then shared with ALL parts
(``sharing.operations.grant_share``) with three recipients:

* ``B`` — the police economic-crime unit the referral went to (it also holds the referral's
  own grant, so the referral screens are open to it);
* ``P`` — the procuratorate that received the copy (抄送);
* ``C`` — a peer agency (the culture squad) that holds only the explicit grant.

Every recipient has one user per case role (``CASE_ROLES``: inspector, case_officer,
legal_reviewer, approver, coordinator, publisher) plus two role-less users (agency_admin,
auditor) who must be refused. The owner has one user per case role.

The sweep: every GET rule of ``app.url_map`` with a case-scoped argument (``CASE_ARGS``:
the case itself or an object that belongs to one — evidence, referral, referral document,
penalty decision) is requested with the ids of the shared case's objects, by every user.
Screens get a server-side session set directly (no login form, so a second factor at the form
cannot break the test); ``/api/`` routes get a bearer token. A rule with an argument that is
neither in ``CASE_ARGS`` nor in ``OTHER_ARGS`` fails the test until someone classifies it.

For each request the audit records written by it are read back (``AuditEvent.id`` above the
previous maximum):

* a recipient's 2xx answer with a body is a read: it must write at least one
  ``case.shared_*`` record naming the case (``object_type == "case"``,
  ``object_id == case id``) for that user. Sub-objects have no separate equivalent: the
  product's ``record_read`` always names the case (evidence downloads write
  ``evidence.access`` *and* ``case.shared_evidence``; referral files write
  ``referral.<what>`` *and* ``case.shared_export``), so that is what is required;
* a recipient's non-2xx answer (403, 404, redirect) writes no ``case.shared_*`` record
  ("request.denied" and the like are fine);
* the owner's users never write a ``case.shared_*`` record.

Lists are not reads (a choice, documented here): ``/cases/``, ``/api/v1/cases``, the
referral board and the ledgers show a line per case (number, title, state) — the same
columns as the owner's other list pages — and SPEC §1 audits the read of "a shared case",
which is opening it. Auditing every list render would also bury the owner's "reads by other
agencies" panel (``sharing.operations.reads_of``) under one row per page view.
``test_shared_case_lists_are_not_reads`` checks the shared case is on the recipients' case
list (so the sweep's ids really are visible to them) and prints whether a list audits.

Run with ``-s`` to see the figure: ``shared reads: N routes × M users, K reads, K audited``
(also in the assertion message).
"""
from __future__ import annotations

import hashlib
import io
import re

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from caseflow.accounts.models import CASE_ROLES
from caseflow.core.audit import AuditEvent
from caseflow.extensions import db as _db
from tests.test_route_permissions import bearer, session_client

#: URL arguments naming the case or an object that belongs to exactly one case.
CASE_ARGS = {
    "case_id": "the case",
    "evidence_id": "an evidence item (Evidence.case_id)",
    "referral_id": "a criminal referral (Referral.case_id)",
    "doc_id": "a referral package document (with its referral_id)",
    "decision_id": "the penalty decision (PenaltyDecision.case_id)",
}

#: URL arguments that do not name a case's object, each with the reason.
OTHER_ARGS = {
    "user_id": "an account (security administrator: names and roles, no case data)",
    "token_id": "an API token of a user",
    "action_id": "a joint action (its board shows counts per agency, no case's contents)",
    "target_id": "a joint action's target business",
    "task_id": "a joint action task (a target business, not a case)",
    "attachment_id": "a joint action task's attachment",
    "tm_id": "a key-protection trademark list entry",
    "day": "a calendar day (admin)",
    "inspection_id": "a dual-random inspection (business, not a case)",
    "draw_id": "a dual-random draw",
    "item_id": "an inspection item",
    "plan_id": "an inspection plan",
    "entry_id": "an inspector roster entry",
    "reminder_id": "a reminder in the user's own inbox",
    "code": "a language code",
    "request_id": "a 维权援助 request of the IP office (shows only the handed-over case's number)",
    "document_id": "a 维权援助 request's document",
    "mediator_id": "a mediator",
    "grant_id": "a share grant (POST only: revoke)",
    "report_id": "a yearly report (agency figures)",
    "job_id": "an export job of the publication list (the publishing agency's own decisions)",
    "verb": "a step name",
    "verdict": "a review verdict",
    "filename": "a static file",
}

#: Case roles, one user each (CASE_ROLES is the product's own list of roles that see cases).
ROLES = sorted(r.value for r in CASE_ROLES)
#: Roles without case data: every case route must refuse them and write no shared read.
NO_CASE_ROLES = ("agency_admin", "auditor")

_ARG = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")
OVER = {"amounts": {"sales_amount": "60000", "illegal_gains": "20000"}}  # 214: referable
FULL_PACKAGE = {item: {"done": True} for item in
                ("transfer_letter", "investigation_report", "items_list", "inspection_report")}


# ----------------------------------------------------------------------------- helpers


def rule_args(rule) -> list[str]:
    return [m.group(3) for m in _ARG.finditer(rule.rule)]


def case_routes(app) -> tuple[list, list[str]]:
    """[(endpoint, rule)] of every GET rule with a case-scoped argument, and the rules whose
    arguments nobody has classified yet."""
    out, unknown = [], []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or "GET" not in rule.methods:
            continue
        args = rule_args(rule)
        strange = [a for a in args if a not in CASE_ARGS and a not in OTHER_ARGS]
        if strange:
            unknown.append(f"{rule.endpoint} {rule.rule}: classify {strange} in CASE_ARGS or "
                           "OTHER_ARGS")
        elif any(a in CASE_ARGS for a in args):
            out.append((rule.endpoint, rule))
    return sorted(out, key=lambda x: (x[1].rule, x[0])), unknown


def build(rule, ids: dict) -> str:
    def value(m):
        conv, args, name = m.group(1), m.group(2), m.group(3)
        if name in ids:
            return str(ids[name])
        if conv == "any":
            return args.split(",")[0].strip().strip("'\"")
        raise AssertionError(f"no id for <{name}> in {rule.rule}")

    return _ARG.sub(value, rule.rule)


def last_audit_id() -> int:
    _db.session.rollback()  # see what the request committed
    return _db.session.scalar(select(func.coalesce(func.max(AuditEvent.id), 0)))


def audits_since(audit_id: int) -> list[AuditEvent]:
    _db.session.rollback()
    return list(_db.session.scalars(select(AuditEvent).where(AuditEvent.id > audit_id)
                                    .order_by(AuditEvent.id)))


def shared_reads(events, case_id: int, user_id: int) -> list[AuditEvent]:
    return [e for e in events if e.action.startswith("case.shared_") and e.object_type == "case"
            and e.object_id == str(case_id) and e.user_id == user_id]


class Caller:
    """One user with both credentials: a session for the screens, a token for the API."""

    def __init__(self, app, user, agency_label: str, role: str):
        self.user, self.label = user, f"{agency_label}:{role}"
        self.client = session_client(app, user)
        self.api = app.test_client()
        self.headers = bearer(user)

    def get(self, path: str):
        if path.startswith("/api/"):
            return self.api.get(path, headers=self.headers)
        return self.client.get(path)


# ----------------------------------------------------------------------------- the case


@pytest.fixture()
def shared_case(app, world, make_agency, make_user, make_case, drive):
    """A's case with evidence, a sent-and-returned referral with a document, a penalty
    decision; shared with ALL parts with the police (B), the procuratorate (P) and the
    culture squad (C). Users per role in every agency."""
    from caseflow.evidence.operations import add_evidence
    from caseflow.penalties import operations as pops
    from caseflow.referrals import operations as rops
    from caseflow.sharing.operations import ALL_PARTS, grant_share
    from tests.penalties.test_publication import decision_form

    police = make_agency("sj-police", "police_econ", "上海市公安局松江分局经济犯罪侦查支队", "沪公松经")
    proc = make_agency("sj-proc", "procuratorate", "上海市松江区人民检察院", "沪松检")
    peer = world.culture
    cop = make_user(police, "cop", ["case_officer"])

    case = make_case(**OVER)
    data = b"\x89PNG\r\n\x1a\n" + b"shared-read-evidence"
    ev = add_evidence(world.officer, case, FileStorage(io.BytesIO(data), filename="photo.png"),
                      {"sha256": hashlib.sha256(data).hexdigest(),
                       "captured_at": "2026-01-05T09:00:00+08:00", "description": "现场照片"})
    _db.session.commit()
    drive(case, "accept", "file", "investigate")
    referral = rops.propose_referral(
        world.officer, case, team_ids=[world.officer.id, world.officer2.id],
        report="当事人销售假冒注册商标的商品，销售金额达六万元，涉嫌犯罪。", suspected_crime="214",
        police_agency_id=police.id, procuratorate_id=proc.id, package=FULL_PACKAGE)
    doc = rops.add_document(world.officer, referral, "transfer_letter", FileStorage(
        io.BytesIO(b"%PDF-1.4 transfer letter"), filename="移送书.pdf"))
    _db.session.commit()
    for user, action, kw in ((world.officer, "submit", {}), (world.approver, "approve", {}),
                             (world.officer, "send", {}), (cop, "receive", {}),
                             (cop, "police_decline", {"reason": "现有证据不足以证明达到立案标准"}),
                             (world.officer, "accept_decline", {})):
        rops.act(user, referral, action, **kw)
        _db.session.commit()
    _db.session.refresh(case)
    drive(case, "notify", "record_statement", "decide_penalty")
    decision = pops.record_decision(world.officer, case, decision_form(case))
    _db.session.commit()
    for agency in (police, proc, peer):
        grant_share(world.officer, case, agency.id, "案情信息共享（测试：全部内容）",
                    sorted(ALL_PARTS), None)
    _db.session.commit()

    owners = {role: make_user(world.amr, f"a-{role}", [role]) for role in ROLES}
    recipients = {}
    for label, agency in (("B-police", police), ("P-proc", proc), ("C-peer", peer)):
        for role in ROLES + list(NO_CASE_ROLES):
            recipients[(label, role)] = make_user(agency, f"{label.lower()}-{role}", [role])
    ids = {"case_id": case.id, "evidence_id": ev.id, "referral_id": referral.id,
           "doc_id": doc.id, "decision_id": decision.id}
    assert case.events and case.parties and case.state == "decided", case.state
    return case, ids, owners, recipients


# ----------------------------------------------------------------------------- the sweep


def test_every_read_of_a_shared_case_writes_a_shared_read_record(app, shared_case):
    case, ids, owners, recipients = shared_case
    routes, unknown = case_routes(app)
    assert not unknown, "URL arguments nobody classified:\n" + "\n".join(unknown)
    assert routes, "no case-scoped GET route found"

    callers = [Caller(app, u, label, role) for (label, role), u in recipients.items()]
    owner_callers = [Caller(app, u, "A-owner", role) for role, u in owners.items()]

    n_reads = n_audited = 0
    gaps, leaks, owner_leaks, doubles = [], [], [], []
    rows = []  # (endpoint, path, caller, status, shared records)
    owner_ok: dict[str, int] = {}  # endpoint → owner 2xx answers (the owner check is not empty)
    for endpoint, rule in routes:
        path = build(rule, ids)
        for caller in callers:
            before = last_audit_id()
            r = caller.get(path)
            body = r.get_data()
            records = shared_reads(audits_since(before), case.id, caller.user.id)
            rows.append((endpoint, path, caller.label, r.status_code, len(records)))
            if 200 <= r.status_code < 300 and body:
                n_reads += 1
                if records:
                    n_audited += 1
                    if len(records) > 1:
                        doubles.append(f"{endpoint} as {caller.label}: "
                                       + ", ".join(e.action for e in records))
                else:
                    gaps.append((endpoint, path, caller.label, r.status_code))
            elif records:
                leaks.append(f"{endpoint} {path} as {caller.label} → {r.status_code}, but wrote "
                             + ", ".join(e.action for e in records))
        for caller in owner_callers:
            before = last_audit_id()
            r = caller.get(path)
            if 200 <= r.status_code < 300 and r.get_data():
                owner_ok[endpoint] = owner_ok.get(endpoint, 0) + 1
            own = [e for e in audits_since(before) if e.action.startswith("case.shared_")]
            if own:
                owner_leaks.append(f"{endpoint} {path} as {caller.label} → {r.status_code}: "
                                   + ", ".join(e.action for e in own))

    users = len(callers)
    figure = (f"shared reads: {len(routes)} routes × {users} users, {n_reads} reads, "
              f"{n_audited} audited")
    print()
    print(figure)
    print("per route (recipient answers):")
    for endpoint, rule in routes:
        path = build(rule, ids)
        statuses: dict[int, int] = {}
        for e, p, _c, status, _n in rows:
            if e == endpoint:
                statuses[status] = statuses.get(status, 0) + 1
        audited = sum(1 for e, _p, _c, s, n in rows if e == endpoint and n and 200 <= s < 300)
        print(f"  {endpoint:28} {path:44} "
              + " ".join(f"{s}×{n}" for s, n in sorted(statuses.items()))
              + f"  audited {audited}  (owner 2xx: {owner_ok.get(endpoint, 0)}"
              f"/{len(owner_callers)})")
    if doubles:  # not a failure: "at least one" record per read
        print("reads that wrote more than one case.shared_* record:\n  " + "\n  ".join(doubles))
    gap_lines = []
    for endpoint in sorted({g[0] for g in gaps}):
        mine = [g for g in gaps if g[0] == endpoint]
        path, status = mine[0][1], mine[0][3]
        gap_lines.append(f"{endpoint} {path} → {status}, no audit "
                         f"({len(mine)} users: {', '.join(g[2] for g in mine)})")
    problems = []
    if gap_lines:
        problems.append("2xx reads of the shared case with no case.shared_* record:\n  "
                        + "\n  ".join(gap_lines))
    if leaks:
        problems.append("refused requests that wrote a case.shared_* record:\n  "
                        + "\n  ".join(leaks))
    if owner_leaks:
        problems.append("the owner's own reads wrote case.shared_* records:\n  "
                        + "\n  ".join(owner_leaks))
    for p in problems:
        print(p)
    assert n_reads > 0, figure + ": no recipient could read anything — the share is broken"
    assert owner_ok.get("cases.detail"), figure + ": the owner cannot open its own case"
    assert not problems, figure + "\n" + "\n".join(problems)


# ----------------------------------------------------------------------------- lists


LIST_PAGES = ("/cases/", "/api/v1/cases", "/referrals/", "/reports/ledgers")


def test_shared_case_lists_are_not_reads(app, shared_case):
    """The recipients' case list shows the shared case (the sweep above is meaningful); a list
    is not a read (module docstring), so whether it audits is only reported."""
    case, _ids, _owners, recipients = shared_case
    notes = []
    for (label, role), user in recipients.items():
        if role != "case_officer":
            continue
        caller = Caller(app, user, label, role)
        for path in LIST_PAGES:
            before = last_audit_id()
            r = caller.get(path)
            text = r.get_data(as_text=True)
            records = shared_reads(audits_since(before), case.id, user.id)
            shows = case.number in text or f"/cases/{case.id}" in text \
                or f'"id": {case.id}' in text or f'"id":{case.id}' in text
            notes.append(f"{path} as {caller.label}: {r.status_code}, shows the case: {shows}, "
                         f"shared-read records: {len(records)}")
            if path in ("/cases/", "/api/v1/cases"):
                assert r.status_code == 200 and shows, notes[-1]
    print()
    print("lists (not reads):")
    for n in notes:
        print("  " + n)
