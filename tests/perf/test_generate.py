"""The bulk generator (caseflow.perf.generate, ``flask caseflow generate``): data the app
itself accepts — every state, numbers, valid codes, the app's own due dates, logins that
work, agency isolation, an intact audit chain — deterministic by seed, only into an empty
database."""
from __future__ import annotations

import hashlib
import re

import pytest
from sqlalchemy import func, select, text

from caseflow.cases.rules import NUMBERED_STATES, State
from caseflow.core import ids
from caseflow.perf.generate import DatabaseNotEmpty, credit_code, generate, org_code_check_char

N_CASES, N_BUSINESSES = 300, 500
PASSWORD = "Gen-Bench-pass-42"


def _generate(db, seed=7, cases=N_CASES, businesses=N_BUSINESSES):
    from caseflow.accounts.operations import hash_password

    db.session.remove()  # the generator writes on its own connection
    return generate(db.engine, cases, businesses, seed=seed, password=PASSWORD,
                    hash_password=hash_password)


@pytest.fixture()
def generated(db):
    return _generate(db)


def _login(client, username, password=PASSWORD):
    r = client.post("/login", data={"username": username, "password": password})
    assert r.status_code == 302, r.text[:500]
    assert "/login" not in r.headers["Location"]  # no second factor or password change due
    return client


def test_credit_code_of_the_specification():
    # SPEC §8: 11230500001755309F; its organisation code 00175530-9 (GB 11714)
    assert org_code_check_char("00175530") == "9"
    assert credit_code("11", "230500", "00175530") == "11230500001755309F"


def test_counts_every_state_numbers_and_timelines(db, generated):
    from caseflow.cases.models import Case, CaseEvent, StageExit

    assert generated["case_record"] == N_CASES
    assert generated["business"] == N_BUSINESSES
    assert db.session.scalar(select(func.count(Case.id))) == N_CASES
    cases = db.session.scalars(select(Case)).all()
    assert {c.state for c in cases} == {s.value for s in State}
    for c in cases:
        assert (c.number is not None) == (c.filed_on is not None)
        if State(c.state) in NUMBERED_STATES:
            assert c.number and c.number.startswith(c.owner_agency.case_prefix), c.number
    numbers = [(c.owner_agency_id, c.number) for c in cases if c.number]
    assert len(numbers) == len(set(numbers))

    events = db.session.execute(select(CaseEvent.case_id, CaseEvent.from_state, CaseEvent.to_state,
                                       CaseEvent.effective_on).order_by(CaseEvent.id)).all()
    last_state, changes = {}, 0
    for case_id, from_state, to_state, _on in events:
        if to_state:
            last_state[case_id] = to_state
            if from_state and from_state != to_state:
                changes += 1
    assert all(last_state[c.id] == c.state for c in cases)
    # one stage exit per change of state, as the operations write them
    assert db.session.scalar(select(func.count(StageExit.id))) == changes
    assert generated["case_event"] == len(events)
    # each exit names the case's previous exit of the same stage, as the operations do
    left: dict = {}
    repeats = 0
    for case_id, stage, on, prev in db.session.execute(select(
            StageExit.case_id, StageExit.stage, StageExit.left_on, StageExit.prev_left_on)
            .order_by(StageExit.case_id, StageExit.left_on, StageExit.id)):
        assert prev == left.get((case_id, stage)), (case_id, stage, on, prev)
        repeats += prev is not None
        left[(case_id, stage)] = on
    assert repeats > 0


def test_decisions_referrals_shares(db, generated):
    from caseflow.cases.models import Case
    from caseflow.penalties.models import PenaltyDecision
    from caseflow.referrals.models import Referral
    from caseflow.sharing.models import ShareGrant

    decided = db.session.scalars(select(Case).where(Case.state.in_(("decided", "executing")))).all()
    with_decision = set(db.session.scalars(select(PenaltyDecision.case_id)))
    assert decided and all(c.id in with_decision for c in decided)
    assert db.session.scalar(select(func.count()).where(
        PenaltyDecision.platform_published_on.is_not(None))) > 0
    referred = db.session.scalars(select(Case.id).where(Case.state == "referred")).all()
    referral_cases = set(db.session.scalars(select(Referral.case_id)))
    assert referred and set(referred) <= referral_cases
    # a sent referral shares the case with the police and the procuratorate
    shared_by_referral = set(db.session.scalars(select(ShareGrant.case_id).where(
        ShareGrant.referral_id.is_not(None))))
    assert set(referred) <= shared_by_referral
    assert db.session.scalar(select(func.count()).where(ShareGrant.referral_id.is_(None))) > 0


def test_codes_are_valid(db, generated):
    from caseflow.accounts.models import Agency
    from caseflow.cases.models import Party
    from caseflow.inspections.models import Business

    codes = db.session.execute(select(Business.agency_id, Business.credit_code)).all()
    assert len(codes) == N_BUSINESSES
    assert all(ids.is_valid_credit_code(code) for _a, code in codes)
    assert all(org_code_check_char(code[8:16]) == code[16] for _a, code in codes)
    assert len(set(codes)) == len(codes)
    assert all(ids.is_valid_credit_code(a.credit_code) for a in db.session.scalars(select(Agency)))
    for p in db.session.scalars(select(Party)):
        if p.kind == "business":
            assert ids.is_valid_credit_code(p.credit_code), p.credit_code
        else:
            assert ids.is_valid_id_number(p.id_number), p.id_number
    kinds = db.session.execute(select(Agency.kind).distinct()).scalars().all()
    assert {"market_supervision", "police_econ", "cultural_enforcement", "ip_office",
            "procuratorate"} <= set(kinds)


def test_next_due_is_what_the_app_computes(db, generated):
    from caseflow.cases import operations as ops
    from caseflow.cases.models import Case
    from caseflow.core.models import load_calendar

    calendar = load_calendar()
    cases = db.session.scalars(select(Case).order_by(Case.id)).all()
    stored = {c.id: c.next_due_on for c in cases}
    assert any(stored.values()) and not all(stored.values())
    for c in cases[::3] + [c for c in cases if c.next_due_on]:
        ops.refresh_due(c, calendar=calendar)  # the app's own computation
        assert c.next_due_on == stored[c.id], (c.id, c.state)
    db.session.rollback()


def test_users_log_in_and_see_their_cases(app, db, generated):
    from caseflow.accounts.models import Agency, User
    from caseflow.accounts.operations import RESERVED_USERNAMES

    usernames = [u for u, _a, _r in generated.users]
    assert not set(usernames) & RESERVED_USERNAMES
    assert set(generated.logins) >= {"inspector", "case_officer", "legal_reviewer", "approver",
                                     "coordinator", "publisher", "agency_admin", "sys_admin",
                                     "sec_admin", "auditor"}
    username, agency_code = generated.logins["case_officer"]
    client = _login(app.test_client(), username)
    page = client.get("/cases/")
    assert page.status_code == 200
    agency = db.session.scalar(select(Agency).where(Agency.code == agency_code))
    listed = {int(i) for i in re.findall(r'href="/cases/(\d+)"', page.text)}
    assert listed
    user = db.session.scalar(select(User).where(User.username == username))
    assert user.agency_id == agency.id


def test_agency_isolation(app, db, generated):
    from caseflow.accounts.models import Agency, User
    from caseflow.cases.models import Case
    from caseflow.sharing.operations import active_grant_exists

    culture = db.session.scalar(select(Agency).where(Agency.code == "sj-culture"))
    officer = db.session.scalar(select(User).where(User.agency_id == culture.id,
                                                   User.username.like("%officer%")))
    client = _login(app.test_client(), officer.username)
    page = client.get("/cases/")
    assert page.status_code == 200
    listed = {int(i) for i in re.findall(r'href="/cases/(\d+)"', page.text)}
    assert listed
    visible = set(db.session.scalars(select(Case.id).where(
        (Case.owner_agency_id == culture.id) | active_grant_exists(culture.id, Case.id))))
    assert listed <= visible
    foreign = db.session.scalar(select(Case.id).where(
        Case.owner_agency_id != culture.id, ~active_grant_exists(culture.id, Case.id)).limit(1))
    assert foreign is not None and foreign not in listed
    assert client.get(f"/cases/{foreign}").status_code == 404


def test_audit_chain_still_verifies(app, db, generated):
    from caseflow.core.audit import verify_chain

    assert verify_chain().ok
    result = app.test_cli_runner().invoke(args=["caseflow", "audit", "verify"])
    assert result.exit_code == 0, result.output


def _fingerprint(db) -> str:
    h = hashlib.sha256()
    for table, cols in (
            ("case_record", "id, owner_agency_id, number, title, state, channel, ip_type, "
                            "received_on, filed_on, next_due_on, fine_amount"),
            ("case_event", "case_id, action, from_state, to_state, effective_on"),
            ("business", "agency_id, credit_code, name, district, risk_class"),
            ("penalty_decision", "case_id, number, decision_date, platform_published_on"),
            ("user_account", "username, display_name")):
        sql = f"SELECT {cols} FROM {table} ORDER BY id"
        for row in db.session.execute(text(sql)):
            h.update(repr(tuple(str(v) for v in row)).encode())
    db.session.rollback()
    return h.hexdigest()


def test_same_seed_same_data(db):
    from tests.conftest import _truncate

    _generate(db, seed=3, cases=120, businesses=200)
    first = _fingerprint(db)
    db.session.remove()
    _truncate()
    _generate(db, seed=3, cases=120, businesses=200)
    assert _fingerprint(db) == first
    db.session.remove()
    _truncate()
    _generate(db, seed=4, cases=120, businesses=200)
    assert _fingerprint(db) != first


def test_refuses_a_database_that_holds_data(db, make_agency):
    make_agency()
    with pytest.raises(DatabaseNotEmpty):
        _generate(db, cases=10, businesses=10)
    db.session.remove()
    assert db.session.scalar(text("SELECT count(*) FROM case_record")) == 0


def test_cli(app, db):
    runner = app.test_cli_runner()
    db.session.remove()
    result = runner.invoke(args=["caseflow", "generate", "--cases", "150", "--businesses", "250",
                                 "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    assert re.search(r"case_record\s+150\b", result.output)
    assert re.search(r"business\s+250\b", result.output)
    assert "rows/s" in result.output and "elapsed:" in result.output
    assert "ja_amr_officer1" in result.output and PASSWORD in result.output
    # the generation itself is on record, and the chain holds
    verify = runner.invoke(args=["caseflow", "audit", "verify"])
    assert verify.exit_code == 0, verify.output
    assert "1 audit records checked" in verify.output
    # a second run refuses the non-empty database
    again = runner.invoke(args=["caseflow", "generate", "--cases", "5", "--businesses", "5"])
    assert again.exit_code == 1
    assert "not empty" in again.output
    db.session.remove()
    assert db.session.scalar(text("SELECT count(*) FROM case_record")) == 150
