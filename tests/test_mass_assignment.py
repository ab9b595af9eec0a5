"""Mass assignment: no form or API endpoint lets a caller set a protected column.

Every state-changing endpoint of ``app.url_map`` (POST/PUT/PATCH/DELETE, screens and
/api/v1) is in exactly one of three tables:

* ``SPECS`` — exercised: a user who may use it sends a *valid* body (the request must
  succeed, or for the strict JSON API be refused with 422 naming the injected keys) plus the
  protected fields of ``injected()`` (owner agency, agency, state, a wrong version, number,
  creator, user, roles, active, id, secrets, hashes, seq, dates …) as form fields or JSON keys.
  Every table is snapshotted before and after (tables from ``db.metadata``); in every row the
  request created or changed, no column may have taken an injected value.
* ``ALLOWED`` — per endpoint, the protected-looking fields that ARE part of that form, each
  with the reason (e.g. the optimistic-lock version the client saw, the share's target agency,
  the roles on the security administrator's account screen). A body may only carry a
  protected field listed there; those fields are not overridden by the injection.
* ``SKIPPED`` — endpoints that cannot be exercised meaningfully, with the reason.

A new endpoint in none of them fails the test by name.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import time
from types import SimpleNamespace

import pytest
from sqlalchemy import Boolean, select

from caseflow.core.timeutil import today_local
from caseflow.extensions import db as _db
from tests.conftest import PASSWORD, clue_payload, valid_credit_code
from tests.test_route_permissions import (  # noqa: F401  (seeded is a fixture)
    BUSINESS_CODE, bearer, routes, seeded, session_client)

STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")

# ----------------------------------------------------------------------------- sentinels

BAD_VERSION = 4242
BAD_ID = 999_999
BAD_SEQ = 99_999
BAD_STATE = "closed"
BAD_ROLE = "sys_admin"
BAD_NUMBER = "伪造〔2026〕9999号"
BAD_SECRET = "INJECTEDTOTPSECRETZQX"
BAD_PWHASH = "INJECTEDPASSWORDHASHZQX"
BAD_HASH = "0" * 64
BAD_DAY = dt.date(2001, 2, 3)
BAD_YEAR = 2099  # locked_until and friends
STRINGS = {BAD_NUMBER, BAD_SECRET, BAD_PWHASH, BAD_HASH}

#: Tables written by every request's bookkeeping (audit chain, sessions): not business rows.
# bookkeeping: the audit trail, sessions, and the case list's change counter (a row per
# write, for every agency the write reaches: a forged agency shows in the written rows)
UNCHECKED_TABLES = {"audit_event", "audit_head", "login_session", "list_version"}


def injected(evil_agency: int, mallory: int, *, as_json: bool) -> dict:
    """The protected fields an attacker adds to a valid body."""
    v = {
        "owner_agency_id": evil_agency, "agency_id": evil_agency, "lead_agency_id": evil_agency,
        "state": BAD_STATE, "version": BAD_VERSION, "number": BAD_NUMBER,
        "created_by_id": mallory, "created_by": mallory, "user_id": mallory, "owner_id": mallory,
        "roles": BAD_ROLE, "role": BAD_ROLE, "is_admin": True, "active": False, "id": BAD_ID,
        "totp_secret": BAD_SECRET, "password_hash": BAD_PWHASH,
        "locked_until": f"{BAD_YEAR}-01-01T00:00:00", "published_on": BAD_DAY.isoformat(),
        "sha256": BAD_HASH, "hash": BAD_HASH, "seq": BAD_SEQ,
    }
    if as_json:
        return v
    return {k: ("1" if x is True else "0" if x is False else str(x)) for k, x in v.items()}


# ----------------------------------------------------------------------------- tables

#: Endpoints exercised elsewhere or not meaningfully here, each with the reason.
SKIPPED = {
    "accounts.logout": "no body at all: ends the caller's own session (nothing to assign)",
    "core.set_language": "writes only the session's / the caller's own locale from the URL; "
                         "no form fields are read but 'next'",
    "accounts.second_factor": "login step 2 reads only the one-time code of the pending login "
                              "(covered by tests/accounts/test_second_factor.py)",
    "accounts.enrol_second_factor": "first-login enrolment: reads only the code; the secret "
                                    "comes from the server-side session, never the form",
    "api.issue_token": "API login: a strict schema (username, password, otp, label) refuses "
                       "unknown keys; writes only the token row of the authenticated user",
    "mediation.public_status": "receipt-code lookup: reads 'code' only, writes a throttle "
                               "counter keyed by the caller's IP",
}

#: Protected-looking fields that are legitimately part of an endpoint's form, with the reason.
LOCK = "optimistic lock: the client sends back the version it saw (a stale one is refused)"
ALLOWED: dict[str, dict[str, str]] = {
    "cases.edit": {"version": LOCK},
    "cases.officers": {"version": LOCK},
    "cases.act": {"version": LOCK},
    "actions.edit": {"version": LOCK},
    "actions.complete": {"version": LOCK},
    "actions.cancel": {"version": LOCK},
    "actions.task_step": {"version": LOCK},
    "actions.report": {"version": LOCK},
    "actions.review": {"version": LOCK},
    "referrals.edit": {"version": LOCK},
    "mediation.step": {"version": LOCK},
    "api.update_case": {"version": LOCK},
    "api.transition": {"version": LOCK},
    "referrals.act": {"version": LOCK},
    "penalties.decision": {"number": "the decision's document number (行政处罚决定书文号) is what "
                                     "the officer types on the form (unique per agency, checked "
                                     "in record_decision)"},
    "sharing.grant": {"agency_id": "the agency the case is shared WITH (a form field, checked "
                                   "against the agencies; the grant's owner is the case's)"},
    "inspections.add_participant": {"agency_id": "the participating agency to add to the plan"},
    "mediation.public_request": {"agency_id": "the IP office the public addresses the request "
                                              "to (a choice among ip_office agencies)"},
    "inspections.roster_active": {"active": "the roster entry's on/off switch is the form"},
    "security.users": {"agency_id": "the security administrator creates an account IN an agency",
                       "roles": "…with its roles (三员分立 checks in create_account)"},
    "security.user": {"roles": "the security administrator's own screen: action=roles sets "
                               "roles, action=disable/enable sets active (the test sends "
                               "action=unlock and injects roles/active: not taken)"},
    "evidence.upload": {"sha256": "the device's SHA-256 of the file, checked against the bytes"},
    "api.add_evidence": {"sha256": "the device's SHA-256 of the file, checked against the bytes"},
    "mobile.evidence": {"sha256": "the device's SHA-256 of the file, checked against the bytes"},
}

PROTECTED_NAMES = set(injected(1, 1, as_json=True))


# ----------------------------------------------------------------------------- snapshot / diff


def snapshot() -> dict:
    """{table: {primary key: {column: value}}} of every table but the bookkeeping ones."""
    _db.session.rollback()
    out = {}
    for table in _db.metadata.sorted_tables:
        if table.name in UNCHECKED_TABLES:
            continue
        pk = [c.name for c in table.primary_key.columns] or [c.name for c in table.columns]
        rows = {}
        for r in _db.session.execute(select(table)).mappings():
            rows[tuple(r[k] for k in pk)] = dict(r)
        out[table.name] = rows
    _db.session.rollback()
    return out


def _fk_targets(col) -> set[str]:
    return {fk.column.table.name for fk in col.foreign_keys}


def taken(before: dict, after: dict, evil_agency: int, mallory: int,
          allowed: dict[str, str]) -> tuple[list[str], int]:
    """([table.column=value of a touched row that took an injected value], rows touched)."""
    tables = {t.name: t for t in _db.metadata.sorted_tables}
    out = []
    touched = sum(len(set(before[t]) - set(after[t])) for t in before)  # deleted rows
    for name, rows in after.items():
        cols = {c.name: c for c in tables[name].columns}
        for key, row in rows.items():
            old = before[name].get(key)
            if old == row:
                continue
            touched += 1
            for col, val in row.items():
                if val is None or (old is not None and old.get(col) == val):
                    continue
                c = cols[col]
                targets = _fk_targets(c)
                hit = False
                if isinstance(val, bool) or isinstance(c.type, Boolean):
                    # an account switched off/on (other tables' "active" flags are what
                    # their endpoints do, e.g. removing a key trademark)
                    hit = name == "user_account" and col in ("active", "is_admin") \
                        and old is not None and col not in allowed
                elif isinstance(val, int):
                    hit = (val == BAD_ID or val == BAD_SEQ or val == BAD_VERSION
                           or (("agency" in col or "agency" in targets) and val == evil_agency)
                           or (("user_account" in targets or col.endswith("_by_id")
                                or col in ("user_id", "owner_id", "created_by"))
                               and val == mallory))
                elif isinstance(val, str):
                    hit = (val in STRINGS or (col == "state" and val == BAD_STATE
                                             and "state" not in allowed)
                           or (col in ("role", "roles") and BAD_ROLE in val
                               and "roles" not in allowed)
                           or (col == "created_by" and val == str(mallory)))
                elif isinstance(val, dt.datetime):
                    hit = val.year == BAD_YEAR or val.date() == BAD_DAY
                elif isinstance(val, dt.date):
                    hit = val == BAD_DAY or val.year == BAD_YEAR
                if hit:
                    out.append(f"{name}.{col}={val!r} (row {key}, "
                               f"{'new' if old is None else 'changed'})")
    return out, touched


# ----------------------------------------------------------------------------- context


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))


def png(tag: str = "") -> tuple[bytes, str]:
    data = PNG + tag.encode()
    return data, hashlib.sha256(data).hexdigest()


class Ctx(SimpleNamespace):
    """The seeded world plus lazily created objects for the specs."""

    def commit(self):
        _db.session.commit()


def _new_action(c, **over):
    from caseflow.actions import operations as aops

    today = today_local()
    data = {"name": "专项行动（质量测试）", "kind": "special", "objectives": "检查",
            "participants": [], "period_start": (today - dt.timedelta(days=5)).isoformat(),
            "period_end": (today + dt.timedelta(days=60)).isoformat(), **over}
    a = aops.create_action(c.w.coord, data)
    _db.session.commit()
    return a


def _task(c, state="assigned"):
    """A task of a fresh action, assigned to the officer (accepted / reported on request)."""
    from caseflow.actions import operations as aops

    a = _new_action(c)
    t = aops.assign_tasks(c.w.coord, a, {"title": "检查任务", "assignees": [f"user:{c.w.officer.id}"],
                                         "due_on": (today_local() + dt.timedelta(days=10)).isoformat()})[0]
    if state in ("accepted", "reported"):
        aops.task_action(c.w.officer, t, "accept", {})
    if state == "reported":
        aops.submit_report(c.w.officer, t, {"narrative": "检查了三家门店", "final": "1",
                                            "places_inspected": "3"})
    _db.session.commit()
    return a, t


def _drawn_inspection(c):
    """A committed and drawn inspection (item, plan, plan item, roster of the seeded world)."""
    from caseflow.inspections import operations as iops
    from caseflow.inspections.models import Inspection, InspectionItem

    if getattr(c, "_insp", None) is not None:
        return c._insp
    year = today_local().year
    item = _db.session.scalar(select(InspectionItem).where(InspectionItem.code == "PERM-1"))
    plan = iops.create_plan(c.w.approver, {"name": "抽查计划", "period_start": f"{year}-01-01",
                                           "period_end": f"{year}-12-31"})
    pi = iops.add_plan_item(c.w.approver, plan, {"item_id": str(item.id), "count": "1",
                                                 "due_date": f"{year}-12-31"})
    d = iops.commit_draw(c.w.approver, pi)
    iops.run_draw(c.w.approver, d)
    _db.session.commit()
    c._insp = _db.session.scalars(select(Inspection).where(Inspection.draw_id == d.id)).first()
    return c._insp


def _reminder(c, user):
    from caseflow.reminders.models import Reminder
    from caseflow.core.timeutil import utcnow

    r = Reminder(key=f"test:{time.monotonic_ns()}", user_id=user.id, kind="test",
                 subject="提醒", due_at=utcnow(), sent_at=utcnow())
    _db.session.add(r)
    _db.session.commit()
    return r


# ----------------------------------------------------------------------------- specs
#
# Each spec: fn(c) -> dict(user=<User or None for anonymous>, path=..., method="POST",
#   form=... | json=..., files={name: (bytes, filename)}, ok=(statuses)).
# ``ok`` defaults to 2xx/3xx; the strict JSON API may answer 422 naming the injected keys.

API_REFUSES = (422,)


def _edit_form(case):
    from tests.test_route_permissions import edit_form

    return edit_form(case)


def s_cases_new_clue(c):
    p = clue_payload(title="表单登记的线索")
    return dict(user=c.w.officer, path="/cases/new", form={
        "title": p["title"], "channel": p["channel"], "ip_type": p["ip_type"],
        "received_at": p["received_at"], "description": p["description"],
        "parties-0-kind": "business", "parties-0-name": "某商行",
        "parties-0-credit_code": valid_credit_code(21)})


def s_cases_edit(c):
    _db.session.refresh(c.case)
    return dict(user=c.w.officer, path=f"/cases/{c.case.id}/edit",
                form={**_edit_form(c.case), "title": "改过的标题"})


def s_cases_officers(c):
    _db.session.refresh(c.case)
    return dict(user=c.w.officer, path=f"/cases/{c.case.id}/officers",
                form={"version": str(c.case.version),
                      "officer_ids": [str(c.w.officer.id), str(c.w.officer2.id)],
                      "lead_officer_id": str(c.w.officer.id)})


def s_cases_act(c):
    case = c.make_case(title="流程动作")
    return dict(user=c.w.officer, path=f"/cases/{case.id}/actions",
                form={"action": "accept", "version": str(case.version)}, ok=(302, 303, 422))


def s_sharing_grant(c):
    return dict(user=c.w.officer, path=f"/cases/{c.case.id}/shares",
                form={"agency_id": str(c.w.culture.id), "purpose": "协查：核实当事人经营情况",
                      "parts": ["parties"],
                      "expires_on": (today_local() + dt.timedelta(days=30)).isoformat()})


def s_sharing_revoke(c):
    from caseflow.sharing import operations as sops

    g = sops.grant_share(c.w.officer, c.case, c.w.culture.id, "协查：核实当事人经营情况",
                         ["parties"], today_local() + dt.timedelta(days=30))
    _db.session.commit()
    return dict(user=c.w.officer, path=f"/cases/{c.case.id}/shares/{g.id}/revoke", form={})


def s_evidence_upload(c):
    data, sha = png("form")
    return dict(user=c.w.officer, path=f"/cases/{c.case.id}/evidence",
                form={"sha256": sha, "captured_at": "2026-01-05T09:00:00+08:00",
                      "description": "现场照片"}, files={"file": (data, "p.png")})


def s_api_create_case(c):
    return dict(user=c.w.officer, path="/api/v1/cases", json=clue_payload(title="API线索"),
                ok=(201, *API_REFUSES))


def s_api_update_case(c):
    h = bearer(c.w.officer)
    cur = c.app.test_client().get(f"/api/v1/cases/{c.case.id}", headers=h).json
    body = {k: cur[k] for k in ("title", "channel", "ip_type", "description", "location",
                                "infringement_kind", "trademark_numbers", "is_major",
                                "received_at", "parties", "amounts")}
    c.api_version = cur["version"]
    return dict(user=c.w.officer, path=f"/api/v1/cases/{c.case.id}", method="PUT",
                json={**body, "version": cur["version"]}, ok=(200, *API_REFUSES))


def s_api_transition(c):
    case = c.make_case(title="API动作")
    return dict(user=c.w.officer, path=f"/api/v1/cases/{case.id}/transitions",
                json={"action": "accept", "version": case.version}, ok=(200, 201, *API_REFUSES))


def s_api_add_evidence(c):
    data, sha = png("api")
    return dict(user=c.w.officer, path=f"/api/v1/cases/{c.case.id}/evidence",
                form={"sha256": sha, "captured_at": "2026-01-05T09:00:00+08:00"},
                files={"file": (data, "a.png")}, ok=(200, 201, *API_REFUSES))


def s_api_revoke_token(c):
    from caseflow.accounts.operations import issue_api_token

    _t, row = issue_api_token(c.w.officer)
    _db.session.commit()
    return dict(user=c.w.officer, path=f"/api/v1/tokens/{row.id}", method="DELETE", json={},
                ok=(200, 204, *API_REFUSES))


def s_api_inbox_read(c):
    r = _reminder(c, c.w.officer)
    return dict(user=c.w.officer, path=f"/api/v1/me/inbox/{r.id}/read", json={},
                ok=(200, 204, *API_REFUSES))


def s_api_inspection_result(c):
    insp = _drawn_inspection(c)
    who = insp.inspectors[0]
    return dict(user=who, path=f"/api/v1/inspections/{insp.id}/result",
                json={"result": "未发现问题", "note": "API", "inspected_on": today_local().isoformat()},
                ok=(200, 201, *API_REFUSES))


def s_mobile_clue(c):
    return dict(user=c.w.officer, path="/m/clues", json=clue_payload(title="移动端线索"),
                ok=(201, *API_REFUSES))


def s_mobile_evidence(c):
    data, sha = png("mobile")
    return dict(user=c.w.officer, path=f"/m/cases/{c.case.id}/evidence",
                form={"sha256": sha, "captured_at": "2026-01-05T09:00:00+08:00"},
                files={"file": (data, "m.png")}, ok=(200, 201, *API_REFUSES))


def s_mobile_inspection_result(c):
    insp = _drawn_inspection(c)
    return dict(user=insp.inspectors[0], path=f"/m/inspections/{insp.id}/result",
                json={"result": "未发现问题", "note": "移动端",
                      "inspected_on": today_local().isoformat()}, ok=(200, 201, *API_REFUSES))


def s_accounts_change_password(c):
    return dict(user=c.w.officer2, path="/account/password",
                form={"current": PASSWORD, "new": "Another-Horse-77x", "repeat": "Another-Horse-77x"})


def s_accounts_revoke_token(c):
    from caseflow.accounts.operations import issue_api_token

    _t, row = issue_api_token(c.w.officer)
    _db.session.commit()
    return dict(user=c.w.officer, path=f"/account/tokens/{row.id}/revoke", form={})


def s_accounts_login(c):
    return dict(user=None, path="/login", form={"username": "inspector", "password": PASSWORD})


def s_actions_create(c):
    today = today_local()
    return dict(user=c.w.coord, path="/actions/", form={
        "name": "专项行动（表单）", "kind": "special", "objectives": "检查",
        "period_start": (today - dt.timedelta(days=5)).isoformat(),
        "period_end": (today + dt.timedelta(days=60)).isoformat()})


def s_actions_edit(c):
    a = _new_action(c)
    return dict(user=c.w.coord, path=f"/actions/{a.id}/edit", form={
        "version": str(a.version), "name": "专项行动（改名）", "kind": "special",
        "objectives": "检查", "period_start": a.period_start.isoformat(),
        "period_end": a.period_end.isoformat()})


def s_actions_complete(c):
    a = _new_action(c)
    return dict(user=c.w.coord, path=f"/actions/{a.id}/complete",
                form={"version": str(a.version), "summary": "行动已按计划完成，未发现问题。"})


def s_actions_cancel(c):
    a = _new_action(c)
    return dict(user=c.w.coord, path=f"/actions/{a.id}/cancel",
                form={"version": str(a.version), "summary": "上级通知取消本次专项行动。"})


def s_actions_add_target(c):
    a = _new_action(c)
    return dict(user=c.w.coord, path=f"/actions/{a.id}/targets",
                form={"kind": "market", "target_name": "松江小商品市场", "target_detail": "一楼"})


def s_actions_remove_target(c):
    from caseflow.actions import operations as aops

    a = _new_action(c)
    t = aops.add_target(c.w.coord, a, {"kind": "market", "target_name": "某市场"})
    _db.session.commit()
    return dict(user=c.w.coord, path=f"/actions/{a.id}/targets/{t.id}/remove", form={})


def s_actions_assign(c):
    a = _new_action(c)
    return dict(user=c.w.coord, path=f"/actions/{a.id}/tasks", form={
        "title": "检查任务", "assignees": [f"user:{c.w.officer.id}"],
        "due_on": (today_local() + dt.timedelta(days=10)).isoformat()})


def s_actions_reassign(c):
    a, t = _task(c)
    return dict(user=c.w.coord, path=f"/actions/{a.id}/tasks/reassign", form={
        "task_ids": [str(t.id)], "assignee": f"user:{c.w.officer2.id}"})


def s_actions_reassign_one(c):
    a, t = _task(c)
    return dict(user=c.w.coord, path=f"/actions/tasks/{t.id}/reassign",
                form={"assignee": f"user:{c.w.officer2.id}"})


def s_actions_task_step(c):
    a, t = _task(c)
    return dict(user=c.w.officer, path=f"/actions/tasks/{t.id}/accept",
                form={"version": str(t.version)})


def s_actions_report(c):
    a, t = _task(c, "accepted")
    return dict(user=c.w.officer, path=f"/actions/tasks/{t.id}/report",
                form={"version": str(t.version), "narrative": "检查了三家门店", "final": "1",
                      "places_inspected": "3"})


def s_actions_review(c):
    a, t = _task(c, "reported")
    return dict(user=c.w.coord, path=f"/actions/tasks/{t.id}/verify",
                form={"version": str(t.version)})


def s_actions_add_trademark(c):
    return dict(user=c.w.coord, path="/actions/trademarks", form={
        "reg_number": "12345678", "mark": "测试商标", "holder": "某公司", "classes": "25"})


def s_actions_remove_trademark(c):
    from caseflow.actions import operations as aops

    tm = aops.add_trademark(c.w.coord, {"reg_number": "23456789", "mark": "待删商标",
                                        "holder": "某公司", "classes": "25"})
    _db.session.commit()
    return dict(user=c.w.coord, path=f"/actions/trademarks/{tm.id}/remove",
                form={"reason": "权利人申请移出名录"})


def s_actions_import_trademarks(c):
    from caseflow.actions.operations import TRADEMARK_HEADERS

    csv_ = ",".join(TRADEMARK_HEADERS[:4]) + "\n34567890,导入商标,某公司,25\n"
    return dict(user=c.w.coord, path="/actions/trademarks/import", form={},
                files={"file": (csv_.encode("utf-8"), "tm.csv")})


def s_admin_calendar(c):
    return dict(user=c.w.sysadmin, path="/admin/calendar",
                form={"day": f"{today_local().year}-10-09", "kind": "holiday", "note": "调休"})


def s_admin_delete_day(c):
    from caseflow.admin import operations as adops

    day = dt.date(today_local().year, 10, 12)
    while day.weekday() >= 5:  # a working day made a holiday: a row to delete
        day += dt.timedelta(days=1)
    adops.set_calendar_day(c.w.sysadmin, day, False, "调休")
    _db.session.commit()
    return dict(user=c.w.sysadmin, path=f"/admin/calendar/{day.isoformat()}/delete", form={})


def s_security_audit_verify(c):
    return dict(user=c.w.auditor, path="/audit/verify", form={}, no_write=True)


def s_security_users(c):
    return dict(user=c.w.secadmin, path="/security/users", form={
        "agency_id": str(c.w.amr.id), "username": "newclerk", "display_name": "新办事员",
        "roles": ["inspector"]})


def s_security_user(c):
    from caseflow.core.timeutil import utcnow

    c.w.inspector.locked_until = utcnow() + dt.timedelta(hours=1)
    c.w.inspector.failed_logins = 5
    _db.session.commit()
    return dict(user=c.w.secadmin, path=f"/security/users/{c.w.inspector.id}",
                form={"action": "unlock"})


def s_reminders_mark_read(c):
    r = _reminder(c, c.w.officer)
    return dict(user=c.w.officer, path=f"/inbox/{r.id}/read", form={})


def s_reports_yearly(c):
    return dict(user=c.w.approver, path="/reports/yearly", form={"year": str(today_local().year)})


def s_inspections_add_item(c):
    return dict(user=c.w.approver, path="/inspections/items",
                form={"code": "MA-1", "name": "商标使用检查", "kind": "general",
                      "ratio_cap": "0.5"})


def s_inspections_add_roster(c):
    return dict(user=c.w.approver, path="/inspections/roster",
                form={"username": "insp3", "qualifications": "行政执法证"})


def s_inspections_roster_active(c):
    return dict(user=c.w.approver, path=f"/inspections/roster/{c.ids['entry_id']}/active",
                form={"active": "0"})


def s_inspections_conflict(c):
    return dict(user=c.w.inspector, path="/inspections/conflicts",
                form={"business": BUSINESS_CODE, "reason": "曾任该企业法律顾问"})


def s_inspections_import_businesses(c):
    csv_ = f"统一社会信用代码,名称,信用风险分类\n{valid_credit_code(31)},导入企业,A\n"
    return dict(user=c.w.approver, path="/inspections/businesses/import", form={},
                files={"file": (csv_.encode("utf-8"), "b.csv")})


def s_inspections_create_plan(c):
    y = today_local().year
    return dict(user=c.w.approver, path="/inspections/plans", form={
        "plan_name": "表单抽查计划", "period_start": f"{y}-01-01", "period_end": f"{y}-12-31"})


def _plan(c):
    from caseflow.inspections import operations as iops

    y = today_local().year
    p = iops.create_plan(c.w.approver, {"name": "计划", "period_start": f"{y}-01-01",
                                        "period_end": f"{y}-12-31"})
    _db.session.commit()
    return p


def s_inspections_plan(c):
    from caseflow.inspections.models import InspectionItem

    p = _plan(c)
    item = _db.session.scalar(select(InspectionItem).where(InspectionItem.code == "PERM-1"))
    return dict(user=c.w.approver, path=f"/inspections/plans/{p.id}", form={
        "item_id": str(item.id), "count": "1", "due_date": f"{today_local().year}-12-31"})


def s_inspections_add_participant(c):
    p = _plan(c)
    return dict(user=c.w.approver, path=f"/inspections/plans/{p.id}/participants",
                form={"agency_id": str(c.w.culture.id)})


def s_inspections_commit(c):
    from caseflow.inspections import operations as iops
    from caseflow.inspections.models import InspectionItem

    p = _plan(c)
    item = _db.session.scalar(select(InspectionItem).where(InspectionItem.code == "PERM-1"))
    pi = iops.add_plan_item(c.w.approver, p, {"item_id": str(item.id), "count": "1",
                                              "due_date": f"{today_local().year}-12-31"})
    _db.session.commit()
    return dict(user=c.w.approver, path=f"/inspections/plan-items/{pi.id}/commit", form={})


def s_inspections_draw(c):
    from caseflow.inspections import operations as iops
    from caseflow.inspections.models import InspectionItem

    p = _plan(c)
    item = _db.session.scalar(select(InspectionItem).where(InspectionItem.code == "PERM-1"))
    pi = iops.add_plan_item(c.w.approver, p, {"item_id": str(item.id), "count": "1",
                                              "due_date": f"{today_local().year}-12-31"})
    d = iops.commit_draw(c.w.approver, pi)
    _db.session.commit()
    return dict(user=c.w.approver, path=f"/inspections/draws/{d.id}", form={})


def s_inspections_inspection(c):
    insp = _drawn_inspection(c)
    return dict(user=insp.inspectors[0], path=f"/inspections/{insp.id}", form={
        "action": "result", "result": "未发现问题", "note": "表单",
        "inspected_on": today_local().isoformat()})


def s_mediation_register(c):
    from tests.mediation.conftest import request_data

    return dict(user=c.w.clerk, path="/mediation/", form={**request_data(), "channel": "counter",
                                                     "received_on": today_local().isoformat()})


def s_mediation_add_mediator(c):
    return dict(user=c.w.clerk, path="/mediation/mediators",
                form={"name": "张调解", "mediator_kind": "professional", "expertise": "专利"})


def s_mediation_declare_conflict(c):
    from caseflow.mediation import operations as mops

    m = mops.add_mediator(c.w.clerk, {"name": "赵调解", "mediator_kind": "volunteer"})
    _db.session.commit()
    return dict(user=c.w.clerk, path=f"/mediation/mediators/{m.id}/conflicts",
                form={"party": "松江某商行", "conflict_reason": "曾为该商行代理人"})


def s_mediation_step(c):
    from caseflow.mediation.models import AssistanceRequest

    req = _db.session.get(AssistanceRequest, c.ids["request_id"])
    return dict(user=c.w.clerk, path=f"/mediation/{req.id}/accept",
                form={"jurisdiction": "1", "version": str(req.version)})


def s_mediation_add_document(c):
    data, _sha = png("med")
    return dict(user=c.w.clerk, path=f"/mediation/{c.ids['request_id']}/documents", form={},
                files={"file": (data, "d.png")})


def s_mediation_public_request(c):
    from tests.mediation.conftest import request_data

    from caseflow.accounts.models import Agency

    office = _db.session.scalar(select(Agency).where(Agency.code == "sj-ipo"))
    return dict(user=None, path="/public/assistance", form=request_data(
        summary="公开申请：请求调解商标侵权纠纷一事", agency_id=str(office.id)))


def s_referrals_edit(c):
    from caseflow.referrals.models import Referral

    ref = _db.session.get(Referral, c.ids["referral_id"])
    return dict(user=c.w.officer, path=f"/referrals/{ref.id}/edit", form={
        "version": str(ref.version), "team": [str(c.w.officer.id), str(c.w.officer2.id)],
        "report": "移送报告（修改）", "suspected_crime": ref.suspected_crime,
        "police_agency_id": str(ref.police_agency_id),
        "procuratorate_id": str(ref.procuratorate_id or ""),
        **{f"package-{i}-done": "y" for i in ("transfer_letter", "investigation_report",
                                              "items_list", "inspection_report")}})


def s_referrals_upload(c):
    return dict(user=c.w.officer, path=f"/referrals/{c.ids['referral_id']}/documents",
                form={"item": "items_list"}, files={"file": (b"%PDF-1.4 list", "list.pdf")})


def _agency(code):
    from caseflow.accounts.models import Agency

    return _db.session.scalar(select(Agency).where(Agency.code == code))


def _over_threshold_case(c, title):
    """A trademark case over the 214 threshold (sales of 60 000 yuan), under investigation."""
    from caseflow.referrals import operations as rops

    case = c.make_case(title=title, amounts={"sales_amount": "60000"})
    c.drive(case, "accept", "file", "investigate")
    assert {m.rule.crime for m in rops.threshold_matches(case)} >= {"214"}
    return case


def _referral_package_form():
    return {f"package-{i}-done": "y" for i in ("transfer_letter", "investigation_report",
                                                "items_list", "inspection_report")}


def s_referrals_propose(c):
    case = _over_threshold_case(c, "拟移送：销售金额六万元")
    return dict(user=c.w.officer, path=f"/referrals/new/{case.id}", form={
        "team": [str(c.w.officer.id), str(c.w.officer2.id)],
        "report": "当事人销售假冒注册商标的商品，销售金额六万元，涉嫌销售假冒注册商标的商品罪。",
        "suspected_crime": "214", "police_agency_id": str(_agency("sj-police").id),
        "procuratorate_id": str(_agency("sj-proc").id), **_referral_package_form()})


def s_referrals_act(c):
    """send: the step that writes the most (referral, case state and event, the shares and
    evidence hand-overs to the police and the procuratorate)."""
    from caseflow.referrals import operations as rops

    from werkzeug.datastructures import FileStorage

    from caseflow.evidence.operations import add_evidence

    case = _over_threshold_case(c, "移送：已批准待移送")
    data, sha = png("referral")  # handed over to the police and the procuratorate on send
    add_evidence(c.w.officer, case, FileStorage(io.BytesIO(data), filename="r.png"),
                 {"sha256": sha, "captured_at": "2026-01-05T09:00:00+08:00",
                  "description": "扣押物品照片"})
    ref = rops.propose_referral(
        c.w.officer, case, team_ids=[c.w.officer.id, c.w.officer2.id],
        report="当事人销售假冒注册商标的商品，销售金额达六万元，涉嫌犯罪。", suspected_crime="214",
        police_agency_id=_agency("sj-police").id, procuratorate_id=_agency("sj-proc").id,
        package={i: {"done": True} for i in ("transfer_letter", "investigation_report",
                                             "items_list", "inspection_report")})
    _db.session.commit()
    rops.act(c.w.officer, ref, "submit")
    _db.session.commit()
    rops.act(c.w.approver, ref, "approve")
    _db.session.commit()
    return dict(user=c.w.officer, path=f"/referrals/{ref.id}/actions",
                form={"action": "send", "version": str(ref.version)})


def _decided_case(c, title):
    case = c.make_case(title=title)
    c.drive(case, "accept", "file", "investigate", "notify", "record_statement", "decide_penalty")
    return case


def s_penalties_decision(c):
    from tests.penalties.test_publication import decision_form

    case = _decided_case(c, "处罚决定：表单记录")
    return dict(user=c.w.officer, path=f"/cases/{case.id}/decision",
                form=decision_form(case, number="沪市监松处罚〔2026〕21号"))


def s_penalties_act(c):
    from caseflow.penalties import operations as pops
    from tests.penalties.test_publication import decision_form

    case = _decided_case(c, "处罚决定：待公示")
    d = pops.record_decision(c.w.officer, case, decision_form(case, number="沪市监松处罚〔2026〕22号"))
    _db.session.commit()
    return dict(user=c.w.publisher, path=f"/publications/{d.id}/actions",
                form={"action": "publish_platform"})


def s_penalties_start_pdf_job(c):
    today = today_local()
    return dict(user=c.w.publisher, path="/publications/export-jobs", form={
        "from": (today - dt.timedelta(days=90)).isoformat(), "to": today.isoformat()})


def s_admin_thresholds(c):
    return dict(user=c.w.sysadmin, path="/admin/thresholds", form={
        "crime": "214", "metric": "sales_amount", "level": "entry", "condition": "",
        "amount": "40000", "effective_from": f"{today_local().year + 1}-01-01",
        "source": "测试用新解释", "verified": "y", "note": "质量测试"})


def s_inspections_join(c):
    """联合抽查: the lead (Songjiang AMR) has drawn a joint item; the participating culture
    squad's approver commits to drawing its own inspectors."""
    from caseflow.inspections import operations as iops
    from caseflow.inspections.models import InspectionItem

    boss = c.make_user(c.w.culture, "culture_boss", ["approver"])
    for n in range(2):
        c.make_user(c.w.culture, f"cul{n}", ["inspector"])
        iops.add_to_roster(boss, f"cul{n}", "文化执法证")
    p = _plan(c)
    iops.add_participant(c.w.approver, p, c.w.culture.id)
    item = _db.session.scalar(select(InspectionItem).where(InspectionItem.code == "PERM-1"))
    pi = iops.add_plan_item(c.w.approver, p, {"item_id": str(item.id), "count": "1",
                                              "due_date": f"{today_local().year}-12-31"})
    lead = iops.commit_draw(c.w.approver, pi)
    iops.run_draw(c.w.approver, lead)
    _db.session.commit()
    assert iops.joint_draws_to_staff(boss) == [lead]
    return dict(user=boss, path=f"/inspections/draws/{lead.id}/join", form={})


SPECS = {
    "cases.new_clue": s_cases_new_clue,
    "cases.edit": s_cases_edit,
    "cases.officers": s_cases_officers,
    "cases.act": s_cases_act,
    "sharing.grant": s_sharing_grant,
    "sharing.revoke": s_sharing_revoke,
    "evidence.upload": s_evidence_upload,
    "api.create_case": s_api_create_case,
    "api.update_case": s_api_update_case,
    "api.transition": s_api_transition,
    "api.add_evidence": s_api_add_evidence,
    "api.revoke_token": s_api_revoke_token,
    "api.inbox_read": s_api_inbox_read,
    "api.inspection_result": s_api_inspection_result,
    "mobile.clue": s_mobile_clue,
    "mobile.evidence": s_mobile_evidence,
    "mobile.inspection_result": s_mobile_inspection_result,
    "accounts.change_password": s_accounts_change_password,
    "accounts.revoke_token": s_accounts_revoke_token,
    "accounts.login": s_accounts_login,
    "actions.create": s_actions_create,
    "actions.edit": s_actions_edit,
    "actions.complete": s_actions_complete,
    "actions.cancel": s_actions_cancel,
    "actions.add_target": s_actions_add_target,
    "actions.remove_target": s_actions_remove_target,
    "actions.assign": s_actions_assign,
    "actions.reassign": s_actions_reassign,
    "actions.reassign_one": s_actions_reassign_one,
    "actions.task_step": s_actions_task_step,
    "actions.report": s_actions_report,
    "actions.review": s_actions_review,
    "actions.add_trademark": s_actions_add_trademark,
    "actions.remove_trademark": s_actions_remove_trademark,
    "actions.import_trademarks": s_actions_import_trademarks,
    "admin.calendar": s_admin_calendar,
    "admin.delete_day": s_admin_delete_day,
    "security.audit_verify": s_security_audit_verify,
    "security.users": s_security_users,
    "security.user": s_security_user,
    "reminders.mark_read": s_reminders_mark_read,
    "reports.yearly": s_reports_yearly,
    "inspections.add_item": s_inspections_add_item,
    "inspections.add_roster": s_inspections_add_roster,
    "inspections.roster_active": s_inspections_roster_active,
    "inspections.conflict": s_inspections_conflict,
    "inspections.import_businesses": s_inspections_import_businesses,
    "inspections.create_plan": s_inspections_create_plan,
    "inspections.plan": s_inspections_plan,
    "inspections.add_participant": s_inspections_add_participant,
    "inspections.commit": s_inspections_commit,
    "inspections.draw": s_inspections_draw,
    "inspections.inspection": s_inspections_inspection,
    "mediation.register": s_mediation_register,
    "mediation.add_mediator": s_mediation_add_mediator,
    "mediation.declare_conflict": s_mediation_declare_conflict,
    "mediation.step": s_mediation_step,
    "mediation.add_document": s_mediation_add_document,
    "mediation.public_request": s_mediation_public_request,
    "referrals.edit": s_referrals_edit,
    "referrals.upload": s_referrals_upload,
    "referrals.propose": s_referrals_propose,
    "referrals.act": s_referrals_act,
    "penalties.decision": s_penalties_decision,
    "penalties.act": s_penalties_act,
    "penalties.start_pdf_job": s_penalties_start_pdf_job,
    "admin.thresholds": s_admin_thresholds,
    "inspections.join": s_inspections_join,
}


# ----------------------------------------------------------------------------- runner


def _prepare(c, spec: dict):
    """The client and headers of the spec's user (made before the snapshot: a session or a
    token row is not the request's doing)."""
    user = spec.get("user")
    api = spec["path"].startswith("/api/")
    headers = bearer(user) if api and user is not None else {}
    client = session_client(c.app, user) if user is not None and not api else c.app.test_client()
    return client, headers


def _send(c, spec: dict, extra: dict, prepared=None):
    method = spec.get("method", "POST")
    path = spec["path"]
    client, headers = prepared or _prepare(c, spec)
    if "json" in spec:
        return client.open(path, method=method, json={**extra, **spec["json"]}, headers=headers)
    data = {**extra, **spec.get("form", {})}
    for name, (raw, filename) in spec.get("files", {}).items():
        data[name] = (io.BytesIO(raw), filename)
    return client.open(path, method=method, data=data, headers=headers,
                       content_type="multipart/form-data" if spec.get("files") else None)


@pytest.fixture()
def ctx(app, seeded, make_user, make_case, make_agency, drive):
    world, case, ids = seeded
    from caseflow.accounts.models import User

    world.clerk = _db.session.scalar(select(User).where(User.username == "clerk"))
    world.publisher = make_user(world.amr, "publisher", ["publisher"])
    evil = make_agency("evil", "other", "伪造机关", "伪")
    mallory = make_user(evil, "mallory", ["case_officer"])
    make_user(world.amr, "insp3", ["inspector"])  # added to the roster by the form
    from caseflow.inspections import operations as iops

    for who in ("officer", "officer2"):  # a draw needs two inspectors per target
        iops.add_to_roster(world.approver, who, "行政执法证")
    _db.session.commit()
    return Ctx(app=app, w=world, case=case, ids=ids, make_case=make_case, drive=drive,
               make_user=make_user, evil=evil.id, mallory=mallory.id, _insp=None)


def _figure(n_endpoints, n_requests, n_taken):
    return f"mass assignment: {n_endpoints} endpoints, {n_requests} requests with protected " \
           f"fields, {n_taken} taken"


def test_every_state_changing_endpoint_is_classified(app):
    changing = {e for e, _r, m in routes(app) if set(m) & set(STATE_CHANGING)}
    both = sorted(set(SPECS) & set(SKIPPED))
    assert not both, f"endpoints both exercised and skipped: {both}"
    missing = sorted(changing - set(SPECS) - set(SKIPPED))
    assert not missing, ("state-changing endpoints not classified for mass assignment (add a "
                         "spec to SPECS, or list them in SKIPPED with the reason): "
                         f"{missing}")
    stale = sorted((set(SPECS) | set(SKIPPED) | set(ALLOWED)) - changing)
    assert not stale, f"tables list endpoints that no longer change state: {stale}"


def test_mass_assignment_is_ignored_everywhere(app, ctx):
    c = ctx
    changing = {e: m for e, _r, m in routes(app) if set(m) & set(STATE_CHANGING)}
    problems, takes, refused = [], [], []
    n_requests = 0
    for endpoint in sorted(SPECS):
        if endpoint not in changing:
            continue
        spec = SPECS[endpoint](c)
        allowed = ALLOWED.get(endpoint, {})
        body = spec.get("json", spec.get("form", {}))
        undeclared = sorted(k for k in body if k in PROTECTED_NAMES and k not in allowed)
        if undeclared:
            problems.append(f"{endpoint}: the valid body carries protected fields "
                            f"{undeclared}: list them in ALLOWED with the reason")
        as_json = "json" in spec
        extra = {k: v for k, v in injected(c.evil, c.mallory, as_json=as_json).items()
                 if k not in allowed and k not in body}
        prepared = _prepare(c, spec)
        before = snapshot()
        r = _send(c, spec, extra, prepared)
        after = snapshot()
        n_requests += 1
        ok = spec.get("ok")
        good = r.status_code in ok if ok else 200 <= r.status_code < 400
        if r.status_code in API_REFUSES and good:
            # refused (strict schema): the same body without the extra fields must pass, or
            # the refusal had another cause and the endpoint was not exercised
            n_requests += 0
            if after != before:
                takes.append(f"{endpoint}: refused ({r.status_code}) but wrote rows")
            clean = _send(c, spec, {})
            good = 200 <= clean.status_code < 400
            if not good:
                r = clean
            else:
                refused.append(endpoint)
        if r.status_code in API_REFUSES and not as_json and "files" in spec \
                and spec["path"].startswith(("/api/", "/m/")):
            good = False
        if not good:
            import re as _re
            text = r.get_data(as_text=True)
            errs = _re.findall(r'id="([\w-]+-error)"[^>]*>([^<]*)<', text) or \
                _re.findall(r'class="[^"]*(?:flash|message)[^"]*"[^>]*>([^<]+)<', text)
            problems.append(f"{endpoint} {spec['path']}: {r.status_code} {errs or text[:300]!r}")
        hits, touched = taken(before, after, c.evil, c.mallory, allowed)
        if r.status_code < 300 or r.status_code in (302, 303):
            if touched == 0 and not spec.get("no_write"):
                problems.append(f"{endpoint}: accepted ({r.status_code}) but changed no row")
        takes += [f"{endpoint} {spec['path']}: {h}" for h in hits]
    figure = _figure(len(SPECS), n_requests, len(takes))
    print("\n" + figure)
    print(f"  refused outright (strict schema, 422; the clean body then passed): {refused}")
    assert not takes, figure + "\nprotected columns took injected values:\n" + "\n".join(takes)
    assert not problems, figure + ("\nrequests that did not run the endpoint (fix the spec's "
                                   "body):\n") + "\n".join(problems)


def test_the_detector_notices_a_taken_value(app, ctx):
    """The guard itself: a row whose protected column took an injected value is reported, one
    that changed otherwise is not."""
    from caseflow.cases.models import Case

    c = ctx
    before = snapshot()
    case = _db.session.get(Case, c.case.id)
    case.title = "只改了标题"
    _db.session.commit()
    hits, touched = taken(before, snapshot(), c.evil, c.mallory, {})
    assert (hits, touched) == ([], 1)
    before = snapshot()
    case = _db.session.get(Case, c.case.id)
    case.owner_agency_id, case.created_by_id = c.evil, c.mallory
    _db.session.commit()
    hits, _n = taken(before, snapshot(), c.evil, c.mallory, {})
    # (on PostgreSQL the state tally's trigger row for the forged agency is reported too)
    assert {h.split("=")[0] for h in hits} >= {"case_record.created_by_id",
                                               "case_record.owner_agency_id"}, hits
