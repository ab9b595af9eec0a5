"""Agency isolation across every route: nobody reads or changes what is not theirs.

Every agency gets cases whose restricted text carries unique markers. Then every role of
every agency requests every HTML and API route with the ids of objects it may not see.
No marker may appear in any response, and nothing may change. Shared parts appear exactly
as granted and vanish when the grant is revoked.
"""
import re
import time

import pytest
from sqlalchemy import func, select

from caseflow.accounts.models import Role
from caseflow.accounts.operations import issue_api_token, start_session
from caseflow.cases import operations as cops
from caseflow.cases.models import Case, CaseEvent, Party
from caseflow.cases.schemas import ClueIn, OfficersIn
from caseflow.evidence.models import Evidence
from caseflow.extensions import db
from caseflow.referrals import operations as rops
from caseflow.referrals.models import Referral, ReferralEvent
from caseflow.sharing.models import ShareGrant
from caseflow.sharing.operations import grant_share
from tests.conftest import clue_payload, valid_credit_code

AGENCIES = [
    ("amr", "market_supervision", "沪市监松处"),
    ("culture", "cultural_enforcement", "沪松文执"),
    ("ipo", "ip_office", "沪松知"),
    ("police", "police_econ", "沪公松经"),
    ("proc", "procuratorate", "沪松检"),
]
ROLES = [r.value for r in Role]


def marker(agency: str, n: int, part: str) -> str:
    return f"MK{agency.upper()}{n}{part.upper()}Z"


MARKER_RE = re.compile(r"MK([A-Z]+)(\d+)([A-Z]+)Z")


@pytest.fixture()
def seeded(db, make_agency, make_user):
    agencies, users = {}, {}
    for code, kind, prefix in AGENCIES:
        agencies[code] = make_agency(f"iso-{code}", kind, f"隔离测试{code}", prefix)
        for role in ROLES:
            users[(code, role)] = make_user(agencies[code], f"{code}_{role}", [role])
        make_user(agencies[code], f"{code}_officer2", ["case_officer", "inspector"])
    cases = {}
    for code in ("amr", "culture", "ipo", "police"):
        officer = users[(code, "case_officer")]
        for n in range(2):
            payload = clue_payload(
                title=f"案件{marker(code, n, 'title')}",
                description=f"描述{marker(code, n, 'desc')}",
                location=f"松江区{marker(code, n, 'loc')}路1号",
                reporter_name=f"举报人{marker(code, n, 'rep')}",
                parties=[{"kind": "business", "name": f"商行{marker(code, n, 'party')}",
                          "credit_code": valid_credit_code(hash((code, n)) % 10**6)}],
                amounts={"sales_amount": "60000"})
            case = cops.create_clue(officer, ClueIn.model_validate(payload))
            second = db.session.scalar(select(type(officer)).where(
                type(officer).username == f"{code}_officer2"))
            cops.assign_officers(officer, case, OfficersIn(version=case.version,
                                                           officer_ids=[officer.id, second.id]))
            cases[(code, n)] = case
            _evidence(officer, case, marker(code, n, "evid"))
    db.session.commit()
    # amr case 0 is referred to the police (with the procuratorate's copy);
    # amr case 1 is shared with culture showing parties only.
    from caseflow.cases.schemas import TransitionIn

    amr0 = cases[("amr", 0)]
    off, appr = users[("amr", "case_officer")], users[("amr", "approver")]
    cops.perform(off, amr0, TransitionIn(action="accept"))
    referral = rops.propose_referral(
        off, amr0, team_ids=[u.id for u in amr0.officers],
        report=f"移送报告{marker('amr', 0, 'report')}", suspected_crime="214",
        police_agency_id=agencies["police"].id, procuratorate_id=agencies["proc"].id,
        package={i: {"done": True} for i in ("transfer_letter", "investigation_report",
                                             "items_list", "inspection_report")})
    import io

    from werkzeug.datastructures import FileStorage

    rops.add_document(off, referral, "transfer_letter", FileStorage(
        io.BytesIO(b"%PDF-1.4 test"), filename=f"{marker('amr', 0, 'doc')}.pdf"))
    for user, action in ((off, "submit"), (appr, "approve"), (off, "send")):
        rops.act(user, referral, action)
    grant_share(off, cases[("amr", 1)], agencies["culture"].id, "联合执法", ["parties"], None)
    db.session.commit()
    return agencies, users, cases, referral


def _evidence(user, case, mark: str):
    """A photo of the case whose description carries the marker."""
    import hashlib
    import io

    from werkzeug.datastructures import FileStorage

    from caseflow.evidence.operations import add_evidence

    data = b"\x89PNG\r\n\x1a\n" + mark.encode()
    return add_evidence(user, case, FileStorage(io.BytesIO(data), filename="photo.png"), {
        "sha256": hashlib.sha256(data).hexdigest(), "captured_at": "2026-01-05T09:00:00+08:00",
        "description": f"现场照片{mark}"})


def evidence_id(case) -> int:
    from caseflow.evidence.models import Evidence

    return db.session.scalar(select(Evidence.id).where(Evidence.case_id == case.id))


def may_see(agency: str, case_key, referral_case_key=("amr", 0)) -> set[str]:
    """The marker parts an agency may legitimately see for a case."""
    owner, _n = case_key
    everything = {"TITLE", "DESC", "LOC", "REP", "PARTY", "REPORT", "DOC", "EVID"}
    if agency == owner:
        return everything
    if case_key == referral_case_key and agency in ("police", "proc"):
        return {"TITLE", "DESC", "LOC", "PARTY", "REPORT", "DOC", "EVID"}  # complainant masked
    if case_key == ("amr", 1) and agency == "culture":
        return {"TITLE", "PARTY"}  # the grant shows parties only
    return set()


def leaked(body: str, agency: str) -> list[str]:
    out = []
    for m in MARKER_RE.finditer(body):
        owner, n, part = m.group(1).lower(), int(m.group(2)), m.group(3)
        if part not in may_see(agency, (owner, n)):
            out.append(m.group(0))
    return out


def snapshot():
    return (
        db.session.scalar(select(func.count()).select_from(CaseEvent)),
        db.session.scalar(select(func.count()).select_from(ReferralEvent)),
        db.session.scalar(select(func.count()).select_from(ShareGrant)),
        db.session.scalar(select(func.count()).select_from(Case)),
        db.session.scalar(select(func.count()).select_from(Party)),
        tuple(db.session.scalars(select(Case.version).order_by(Case.id))),
        tuple(db.session.scalars(select(Referral.state).order_by(Referral.id))),
        db.session.scalar(select(func.count()).select_from(Evidence)),
    )


def urls_for(case_id, referral_id, grant_id, evidence=None):
    gets = [f"/cases/{case_id}", f"/cases/{case_id}/edit", f"/referrals/new/{case_id}",
            f"/api/v1/cases/{case_id}/evidence", f"/evidence/{evidence}/download",
            f"/api/v1/evidence/{evidence}/content",
            f"/referrals/{referral_id}", f"/api/v1/cases/{case_id}",
            f"/api/v1/cases/{case_id}/timeline", f"/cases/{case_id}/decision",
            f"/cases/{case_id}/decision.pdf"]
    posts = [
        (f"/cases/{case_id}/edit", {"title": "改", "version": "1"}),
        (f"/cases/{case_id}/actions", {"action": "accept"}),
        (f"/cases/{case_id}/actions", {"action": "approve"}),
        (f"/cases/{case_id}/officers", {"officer_ids": ["1"], "version": "1"}),
        (f"/cases/{case_id}/shares", {"agency_id": "1", "purpose": "x", "parts": ["details"]}),
        (f"/cases/{case_id}/shares/{grant_id}/revoke", {}),
        (f"/referrals/new/{case_id}", {"report": "x"}),
        (f"/referrals/{referral_id}/actions", {"action": "receive"}),
        (f"/referrals/{referral_id}/actions", {"action": "police_decline", "reason": "不立案"}),
        (f"/referrals/{referral_id}/edit", {"report": "x"}),
        (f"/cases/{case_id}/decision", {"number": "x"}),
        (f"/cases/{case_id}/evidence", {"sha256": "0" * 64, "captured_at": "2026-01-05T09:00:00+08:00"}),
    ]
    api_posts = [(f"/api/v1/cases/{case_id}/transitions", {"action": "accept"}),
                 (f"/api/v1/cases/{case_id}/evidence", {"sha256": "0" * 64}),
                 (f"/api/v1/cases/{case_id}", {"title": "改"})]
    return gets, posts, api_posts


def test_no_marker_leaks_and_nothing_changes(app, seeded, capsys):
    agencies, users, cases, referral = seeded
    grant = db.session.scalar(select(ShareGrant).where(ShareGrant.case_id == cases[("amr", 1)].id))
    before = snapshot()
    attempts = 0
    problems = []
    for (code, role), user in users.items():
        sess = start_session(user)
        token, _row = issue_api_token(user)
        db.session.commit()
        client = app.test_client()
        with client.session_transaction() as s:
            s["_user_id"] = sess.id
            s["seen"] = int(time.time())  # signed in just now (idle timeout)
            s["_fresh"] = True
        headers = {"Authorization": f"Bearer {token}"}
        # lists, search, boards
        doc = referral.documents[0]
        party_to_referral = code in ("amr", "police", "proc") and user.works_cases
        referral_files = [f"/referrals/{referral.id}/manifest.csv",
                          f"/referrals/{referral.id}/documents/{doc.id}"]
        if not party_to_referral:  # rendering the PDF for those who may is tested elsewhere
            referral_files.append(f"/referrals/{referral.id}/dossier.pdf")
        for url in ["/cases/", "/cases/?q=MK", "/referrals/", "/api/v1/cases",
                    "/api/v1/cases?q=MK", "/admin/calendar", "/admin/thresholds",
                    "/publications/", "/public/penalties?q=MK",
                    # dashboards, the district view and ledgers: counts and own records only
                    "/reports/?from=2020-01-01", "/reports/district?from=2020-01-01",
                    *[f"/reports/ledgers/export?kind={k}&format=csv&from=2020-01-01"
                      for k in ("cases", "referrals", "penalties", "inspections", "actions")],
                    *[f"/cases/?{f}&from=2020-01-01" for f in (
                        "own=1&received_from=2000-01-01", "referral=with_police&referred_from=2000-01-01",
                        "referral=police_filed&referred_from=2000-01-01", "stage=clue&stage_from=2000-01-01",
                        "publication=platform_pending&decided_from=2000-01-01", "due=week")],
                    *referral_files]:
            r = client.get(url, headers=headers if url.startswith("/api") else None)
            attempts += 1
            problems += [(code, role, url, m) for m in leaked(r.get_data(as_text=True), code)]
            if url in referral_files and not party_to_referral and r.status_code != 404:
                problems.append((code, role, url, f"status {r.status_code}"))
        for (owner, n), case in cases.items():
            visible_to_me = bool(may_see(code, (owner, n)))
            gets, posts, api_posts = urls_for(case.id, referral.id, grant.id, evidence_id(case))
            for url in gets:
                r = client.get(url, headers=headers if url.startswith("/api") else None)
                attempts += 1
                problems += [(code, role, url, m)
                             for m in leaked(r.get_data().decode("utf-8", "replace"), code)]
                if not visible_to_me and r.status_code == 200 and "/referrals/" not in url:
                    problems.append((code, role, url, f"status {r.status_code}"))
            if visible_to_me and code == owner:
                continue  # the owner's own writes are tested elsewhere
            for url, data in posts:
                if url.startswith("/referrals/") and code in ("amr", "police", "proc"):
                    continue  # parties to the referral: their steps are tested in tests/referrals
                r = client.post(url, data=data)
                attempts += 1
                problems += [(code, role, url, m) for m in leaked(r.get_data(as_text=True), code)]
            for url, data in api_posts:
                method = client.put if url.endswith(str(case.id)) else client.post
                r = method(url, json=data, headers=headers)
                attempts += 1
                problems += [(code, role, url, m) for m in leaked(r.get_data(as_text=True), code)]
            db.session.expire_all()
    after = snapshot()
    print(f"\nisolation: {attempts} requests by {len(users)} users of {len(agencies)} agencies, "
          f"{len(problems)} problems")
    assert not problems, problems[:20]
    assert after == before, "a request by someone without the right changed data"


def test_shared_parts_vanish_when_revoked(app, seeded):
    agencies, users, cases, referral = seeded
    user = users[("culture", "case_officer")]
    sess = start_session(user)
    db.session.commit()
    client = app.test_client()
    with client.session_transaction() as s:
        s["_user_id"] = sess.id
        s["seen"] = int(time.time())  # signed in just now (idle timeout)
    case = cases[("amr", 1)]
    body = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert marker("amr", 1, "party") in body and marker("amr", 1, "desc") not in body
    grant = db.session.scalar(select(ShareGrant).where(ShareGrant.case_id == case.id))
    from caseflow.sharing.operations import revoke_share

    revoke_share(users[("amr", "case_officer")], grant.id)
    db.session.commit()
    r = client.get(f"/cases/{case.id}")
    assert r.status_code == 404 and marker("amr", 1, "party") not in r.get_data(as_text=True)


# ----------------------------------------------------------------------------- joint actions

#: markers in a joint action led by amr with culture taking part, and who may see each
ACTION_MARKERS = {"AXOBJZ": {"amr", "culture"}, "AXAMRTASKZ": {"amr"},
                  "AXCULTASKZ": {"amr", "culture"}, "AXCULREPZ": {"amr", "culture"}}


@pytest.fixture()
def action_world(seeded):
    import datetime as dt
    import io

    from werkzeug.datastructures import FileStorage

    from caseflow.actions import operations as aops
    from caseflow.core.timeutil import today_local

    agencies, users, cases, referral = seeded
    today = today_local()
    coord = users[("amr", "coordinator")]
    action = aops.create_action(coord, {
        "name": "联合行动", "kind": "joint", "objectives": "目标AXOBJZ",
        "period_start": today.isoformat(), "period_end": (today + dt.timedelta(days=30)).isoformat(),
        "participants": [str(agencies["culture"].id)]})
    due = (today + dt.timedelta(days=10)).isoformat()
    (own,) = aops.assign_tasks(coord, action, {"title": "本局任务AXAMRTASKZ", "due_on": due,
                                               "assignees": [f"agency:{agencies['amr'].id}"]})
    (theirs,) = aops.assign_tasks(coord, action, {"title": "文化任务AXCULTASKZ", "due_on": due,
                                                  "assignees": [f"agency:{agencies['culture'].id}"]})
    worker = users[("culture", "inspector")]
    aops.task_action(worker, theirs, "accept", {})
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    report = aops.submit_report(worker, theirs, {"places_inspected": "3", "narrative": "进展AXCULREPZ"},
                                [FileStorage(io.BytesIO(png), filename="AXCULREPZ.png")])
    # a case of amr opened during the action: counted on the board, never shown to culture
    case = cases[("amr", 1)]
    case.joint_action_id = action.id
    db.session.commit()
    return action, own, theirs, report.attachments[0]


def action_snapshot():
    from caseflow.actions.models import ActionEvent, ActionTask, JointAction, TaskReport

    return (db.session.scalar(select(func.count()).select_from(ActionEvent)),
            db.session.scalar(select(func.count()).select_from(TaskReport)),
            tuple(db.session.execute(select(ActionTask.id, ActionTask.state, ActionTask.version,
                                            ActionTask.assignee_agency_id).order_by(ActionTask.id))),
            tuple(db.session.execute(select(JointAction.id, JointAction.state,
                                            JointAction.version))))


def test_joint_action_isolation(app, seeded, action_world, capsys):
    agencies, users, cases, _referral = seeded
    action, own, theirs, attachment = action_world
    before = action_snapshot()
    gets = ["/actions/", f"/actions/{action.id}", f"/actions/tasks/{own.id}",
            f"/actions/tasks/{theirs.id}", f"/actions/{action.id}/figures.csv",
            f"/actions/attachments/{attachment.id}", f"/cases/?joint_action={action.id}"]
    posts = [(f"/actions/{action.id}/tasks", {"title": "新任务", "due_on": "2099-01-01",
                                              "assignees": [f"agency:{agencies['culture'].id}"]}),
             (f"/actions/{action.id}/tasks/reassign", {"task_ids": [str(own.id), str(theirs.id)],
                                                       "assignee": f"agency:{agencies['ipo'].id}"}),
             (f"/actions/{action.id}/edit", {"name": "改名", "participants": []}),
             (f"/actions/{action.id}/complete", {"summary": "完成完成完成完成完成"}),
             (f"/actions/{action.id}/cancel", {"summary": "撤销撤销撤销撤销撤销"}),
             (f"/actions/{action.id}/targets", {"kind": "market", "target_name": "市场"}),
             (f"/actions/tasks/{own.id}/accept", {}),
             (f"/actions/tasks/{theirs.id}/verify", {}),
             (f"/actions/tasks/{theirs.id}/return", {"reason": "退回退回"}),
             (f"/actions/tasks/{theirs.id}/report", {"narrative": "报告报告", "places_inspected": "1"})]
    attempts, problems = 0, []
    for (code, role), user in users.items():
        sess = start_session(user)
        db.session.commit()
        client = app.test_client()
        with client.session_transaction() as s:
            s["_user_id"] = sess.id
            s["seen"] = int(time.time())  # signed in just now (idle timeout)
        member = code in ("amr", "culture") and user.works_cases
        for url in gets:
            r = client.get(url)
            attempts += 1
            body = r.get_data().decode("utf-8", "replace")
            problems += [(code, role, url, m) for m in leaked(body, code)]
            for mk, allowed in ACTION_MARKERS.items():
                if mk in body and not (user.works_cases and code in allowed):
                    problems.append((code, role, url, mk))
            if url.startswith(f"/actions/{action.id}") and not member and r.status_code == 200:
                problems.append((code, role, url, f"status {r.status_code}"))
            if "/attachments/" in url and r.status_code == 200 and not member:
                problems.append((code, role, url, "attachment served"))
        for url, data in posts:
            lead = code == "amr" and role == "coordinator"
            assignee = (code == "amr" and f"/tasks/{own.id}/" in url) or \
                (code == "culture" and f"/tasks/{theirs.id}/report" in url)
            if lead or assignee:
                continue  # the lead's and the assignees' own steps are tested in tests/actions
            r = client.post(url, data=data)
            attempts += 1
            body = r.get_data(as_text=True)
            for mk, allowed in ACTION_MARKERS.items():
                if mk in body and not (user.works_cases and code in allowed):
                    problems.append((code, role, url, mk))
            if r.status_code < 400:
                problems.append((code, role, url, f"status {r.status_code}"))
        db.session.expire_all()
    after = action_snapshot()
    print(f"\naction isolation: {attempts} requests by {len(users)} users, {len(problems)} problems")
    assert not problems, problems[:20]
    assert after == before, "a request by someone without the right changed a joint action"
