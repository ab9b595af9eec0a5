"""The workflow through the operations layer, on the real database."""
import datetime as dt

import pytest
from sqlalchemy import func, select

from caseflow.cases import operations as ops
from caseflow.cases.models import Case, CaseEvent
from caseflow.cases.rules import TRANSITIONS
from caseflow.cases.schemas import CaseUpdateIn, TransitionIn
from caseflow.core.audit import AuditEvent
from caseflow.core.errors import InvalidInput, InvalidTransition, PermissionDenied, StaleVersion
from caseflow.extensions import db
from tests.conftest import clue_payload
from caseflow.core.timeutil import today_local  # legal dates are Beijing dates

YEAR = today_local().year

PATHS = {
    "penalty": (["accept", "file", "investigate", "submit_review", "pass_review", "notify",
                 "record_statement", "decide_penalty", "serve", "record_payment", "close"], "closed"),
    "no_review_minor": (["accept", "file", "investigate", "notify", "record_statement",
                         "decide_no_penalty", "close"], "closed"),
    "rejected": (["accept", "reject", "notify_reporter"], "rejected"),
    "reject_clue": (["reject"], "rejected"),
    "returned_review": (["accept", "file", "investigate", "submit_review", "return_review"],
                        "investigating"),
    "suspension": (["accept", "file", "investigate", "suspend", "resume"], "investigating"),
    "pauses": (["accept", "extend_verification", "file", "pause_clock", "resume_clock",
                "extend_decision"], "filed"),
    "terminated": (["accept", "file", "terminate"], "terminated"),
    "suspended_terminated": (["accept", "file", "suspend", "terminate"], "terminated"),
}


@pytest.mark.parametrize("name", sorted(PATHS))
def test_paths(name, make_case, drive, world):
    actions, final = PATHS[name]
    case = make_case(reporter_name="张三")
    drive(case, *actions)
    assert case.state == final
    recorded = [e.action for e in case.events if e.action in TRANSITIONS]
    assert recorded == list(actions)
    # every step wrote an audit row in the same transaction
    n_audit = db.session.scalar(select(func.count()).select_from(AuditEvent)
                                .where(AuditEvent.object_id == str(case.id),
                                       AuditEvent.action.like("case.%")))
    assert n_audit == len(case.events)


def test_every_transition_is_exercised_by_a_path():
    used = {a for actions, _ in PATHS.values() for a in actions}
    used |= {"request_hearing", "conclude_hearing"}  # test_hearing_path
    assert used == set(TRANSITIONS)


def test_hearing_path(make_case, drive, world):
    case = make_case()
    drive(case, "accept", "file", "investigate")
    drive(case, "notify", proposed_fine="150000")
    hearing = (today_local() + dt.timedelta(days=30)).isoformat()
    drive(case, "request_hearing", hearing_date=hearing)
    assert case.state == "hearing"
    decision = next(c for c in ops.case_clocks(case) if c.name == "decision")
    assert decision.paused
    drive(case, "conclude_hearing")
    assert case.state == "legal_review"  # 行政处罚法 §58: heard cases need legal review
    with pytest.raises(InvalidTransition):
        drive(case, "decide_penalty")
    drive(case, "pass_review", "decide_penalty", "serve", "record_payment", "close")
    assert case.state == "closed"


def test_hearing_date_must_be_7_working_days_ahead(make_case, drive):
    case = make_case()
    drive(case, "accept", "file", "investigate")
    drive(case, "notify", proposed_fine="150000")
    with pytest.raises(InvalidInput) as exc:
        drive(case, "request_hearing", hearing_date=today_local().isoformat())
    assert "hearing_date" in exc.value.errors
    db.session.rollback()
    assert case.state == "notified"


def test_filing_assigns_sequential_numbers_per_agency_and_year(make_case, drive, world):
    a, b = make_case(), make_case()
    drive(a, "accept", "file")
    drive(b, "accept", "file")
    assert a.number == f"沪市监松处〔{YEAR}〕0001号"
    assert b.number == f"沪市监松处〔{YEAR}〕0002号"
    assert a.filed_on == today_local()


def test_filing_needs_approval_and_two_officers(make_case, world):
    case = make_case(officers=False)
    ops.perform(world.officer, case, TransitionIn(action="accept"))
    with pytest.raises(InvalidTransition) as exc:
        ops.perform(world.officer, case, TransitionIn(action="file"))
    assert "第四十二条" in exc.value.message  # Chinese by default


def test_approval_flow(make_case, world):
    case = make_case()
    ops.perform(world.officer, case, TransitionIn(action="accept"))
    ops.perform(world.officer, case, TransitionIn(action="file"))
    db.session.commit()
    assert case.state == "verifying" and case.pending_action == "file"
    # the requester cannot approve; nobody can act while approval is pending
    with pytest.raises(PermissionDenied):
        ops.perform(world.officer, case, TransitionIn(action="approve"))
    with pytest.raises(InvalidTransition):
        ops.perform(world.officer, case, TransitionIn(action="reject", reason="不立案"))
    assert ops.allowed_actions(world.officer, case) == []
    assert ops.allowed_actions(world.approver, case) == ["approve", "deny"]
    with pytest.raises(InvalidInput):
        ops.perform(world.approver, case, TransitionIn(action="deny"))
    ops.perform(world.approver, case, TransitionIn(action="deny", reason="证据不足，继续核查"))
    db.session.commit()
    assert case.pending_action is None and case.state == "verifying"
    ops.perform(world.officer, case, TransitionIn(action="file"))
    ops.perform(world.approver, case, TransitionIn(action="approve"))
    db.session.commit()
    assert case.state == "filed" and case.number
    file_event = next(e for e in case.events if e.action == "file")
    assert file_event.data["approved_by"] == world.approver.id
    assert file_event.data["requested_by"] == world.officer.id


def test_roles_are_enforced(make_case, world):
    case = make_case()
    with pytest.raises(PermissionDenied):
        ops.perform(world.inspector, case, TransitionIn(action="accept"))
    with pytest.raises(PermissionDenied):
        ops.perform(world.reviewer, case, TransitionIn(action="accept"))
    with pytest.raises(InvalidTransition):
        ops.perform(world.approver, case, TransitionIn(action="approve"))  # nothing pending
    with pytest.raises(PermissionDenied):
        ops.perform(world.other, case, TransitionIn(action="accept"))  # other agency


def test_refused_transition_writes_nothing(make_case, world):
    case = make_case()
    before = (case.version, len(case.events))
    with pytest.raises(InvalidTransition):
        ops.perform(world.officer, case, TransitionIn(action="close"))
    db.session.rollback()
    db.session.refresh(case)
    assert (case.version, len(case.events)) == before and case.state == "clue"


def test_reason_required(make_case, world):
    case = make_case()
    with pytest.raises(InvalidInput) as exc:
        ops.perform(world.officer, case, TransitionIn(action="reject", reason=" "))
    assert set(exc.value.errors) == {"reason"}


def test_stale_version_on_transition_and_edit(make_case, world):
    case = make_case()
    old = case.version
    ops.perform(world.officer, case, TransitionIn(action="accept", version=old))
    db.session.commit()
    with pytest.raises(StaleVersion):
        ops.perform(world.officer, case, TransitionIn(action="reject", reason="x" * 3, version=old))
    db.session.rollback()
    payload = clue_payload(title="改过的标题", version=old)
    with pytest.raises(StaleVersion):
        ops.update_case(world.officer2, case, CaseUpdateIn.model_validate(payload))


def test_edit_records_changes_in_timeline(make_case, world):
    case = make_case()
    payload = clue_payload(title="新标题：某商行销售假冒商品", version=case.version)
    ops.update_case(world.officer2, case, CaseUpdateIn.model_validate(payload))
    db.session.commit()
    edit = [e for e in case.events if e.action == "edit"][-1]
    assert edit.data["changes"]["title"][1] == "新标题：某商行销售假冒商品"
    assert edit.user_id == world.officer2.id


def test_inspector_edits_own_clue_only_until_accepted(make_case, world, drive):
    case = make_case(user=world.inspector, officers=False)
    payload = clue_payload(title="巡查发现：某店销售假冒商品", version=case.version)
    ops.update_case(world.inspector, case, CaseUpdateIn.model_validate(payload))
    db.session.commit()
    ops.perform(world.officer, case, TransitionIn(action="accept"))
    db.session.commit()
    with pytest.raises(PermissionDenied):
        ops.update_case(world.inspector, case,
                        CaseUpdateIn.model_validate(clue_payload(version=case.version)))


def test_payment_records_late_surcharge(make_case, drive, world):
    case = make_case()
    drive(case, "accept", "file", "investigate", "notify", "record_statement", "decide_penalty")
    drive(case, "serve")
    served = next(e for e in case.events if e.action == "serve").effective_on
    assert served == today_local()
    with pytest.raises(InvalidInput) as exc:
        drive(case, "record_payment", paid_amount="100")
    assert "paid_amount" in exc.value.errors
    db.session.rollback()
    drive(case, "record_payment")
    pay = next(e for e in case.events if e.action == "record_payment")
    assert pay.data["surcharge"] == "0.00"


def test_decision_requires_kinds_and_consistent_fine(make_case, drive, world):
    case = make_case()
    drive(case, "accept", "file", "investigate", "notify", "record_statement")
    with pytest.raises(InvalidInput) as exc:
        ops.perform(world.officer, case, TransitionIn(action="decide_penalty", fine_amount=500,
                                                       penalty_kinds=["警告"], decision_summary="x"))
    assert set(exc.value.errors) == {"penalty_kinds", "decision_summary"}


def test_effective_date_cannot_be_in_future_or_before_last_step(make_case, drive, world):
    case = make_case()
    drive(case, "accept", "file", "investigate", "notify", "record_statement", "decide_penalty")
    tomorrow = today_local() + dt.timedelta(days=1)
    with pytest.raises(InvalidInput) as exc:
        ops.perform(world.officer, case, TransitionIn(action="serve", effective_on=tomorrow))
    assert "effective_on" in exc.value.errors
    with pytest.raises(InvalidInput):
        ops.perform(world.officer, case, TransitionIn(action="serve",
                                                       effective_on=dt.date(2001, 1, 1)))


def test_next_due_on_tracks_running_clocks(make_case, drive):
    case = make_case()
    assert case.next_due_on is not None
    drive(case, "accept", "file", "investigate", "suspend")
    assert case.next_due_on is None  # decision clock paused
    drive(case, "resume")
    assert case.next_due_on is not None


def test_create_clue_writes_case_parties_event_and_audit(make_case, world):
    case = make_case()
    assert case.state == "clue" and case.owner_agency_id == world.amr.id
    assert case.parties[0].credit_code
    assert [e.action for e in case.events] == ["create", "assign_officers"]
    assert db.session.scalar(select(func.count()).select_from(Case)) == 1
    assert db.session.scalar(select(func.count()).select_from(CaseEvent)) == 2
