"""Criminal referral through the operations: the package, approval, the police, the
procuratorate, and the case's return to the administrative workflow."""
import datetime as dt

import pytest
from sqlalchemy import select

from caseflow.cases import operations as cops
from caseflow.cases.schemas import TransitionIn
from caseflow.core.errors import InvalidInput, InvalidTransition, NotFound, PermissionDenied
from caseflow.extensions import db
from caseflow.referrals import operations as rops
from caseflow.sharing.models import ShareGrant
from tests.referrals.conftest import FULL_PACKAGE, step

OVER = {"amounts": {"sales_amount": "60000", "illegal_gains": "20000"}}


@pytest.fixture()
def filed_case(make_case, drive):
    case = make_case(**OVER)
    drive(case, "accept", "file", "investigate")
    return case


def decision_clock(case):
    return next(c for c in cops.case_clocks(case) if c.name == "decision")


def test_threshold_warning_and_reason_to_decide_without_referral(filed_case, drive, agencies):
    assert {m.rule.crime for m in rops.threshold_matches(filed_case)} == {"214"}
    drive(filed_case, "notify", "record_statement")
    with pytest.raises(InvalidInput) as exc:
        drive(filed_case, "decide_penalty")
    assert "no_referral_reason" in exc.value.errors
    db.session.rollback()
    drive(filed_case, "decide_penalty", no_referral_reason="经鉴定涉案商品实际销售金额未达标准，证据见鉴定意见书。")
    assert filed_case.state == "decided" and filed_case.no_referral_reason
    # the procuratorate sees the case and the reason in its oversight view
    from caseflow.referrals.oversight import oversight_figures

    seen = oversight_figures(agencies.prosecutor)["without_referral"]
    assert [c.id for c, _m in seen] == [filed_case.id]


def test_below_threshold_needs_no_reason(make_case, drive):
    case = make_case()
    drive(case, "accept", "file", "investigate", "notify", "record_statement", "decide_penalty")
    assert case.state == "decided" and case.no_referral_reason is None


def test_package_must_be_complete_and_team_of_two(filed_case, referral_of, agencies):
    r = referral_of(filed_case, package={"transfer_letter": {"done": True}})
    with pytest.raises(InvalidTransition) as exc:
        step(agencies.officer, r, "submit")
    assert "调查报告" in exc.value.message and "涉案物品清单" in exc.value.message
    db.session.rollback()
    # inspection report may be marked not applicable, with a reason
    pkg = dict(FULL_PACKAGE, inspection_report={"done": False, "na_reason": "权利人已出具鉴定意见"})
    rops.update_referral(agencies.officer, r, version=r.version, team_ids=[agencies.officer.id],
                         report=r.report, suspected_crime="214", police_agency_id=agencies.police.id,
                         procuratorate_id=agencies.proc.id, package=pkg)
    db.session.commit()
    with pytest.raises(InvalidTransition):
        step(agencies.officer, r, "submit")  # team of one
    db.session.rollback()


def test_full_path_police_decline_returns_case_with_clock_running(filed_case, referral_of,
                                                                 agencies):
    r = referral_of(filed_case)
    # nobody outside the agency sees a referral before it is sent
    with pytest.raises(NotFound):
        rops.get_referral(agencies.cop, r.id)
    step(agencies.officer, r, "submit")
    with pytest.raises(PermissionDenied):
        step(agencies.officer, r, "approve")  # the head approves
    db.session.rollback()
    step(agencies.approver, r, "approve")
    step(agencies.officer, r, "send")
    assert filed_case.state == "referred" and decision_clock(filed_case).paused
    grants = db.session.scalars(select(ShareGrant).where(ShareGrant.referral_id == r.id)).all()
    assert {g.agency_id for g in grants} == {agencies.police.id, agencies.proc.id}
    assert all("complainant" not in g.parts for g in grants)
    # the police see it; another police agency does not
    assert rops.get_referral(agencies.cop, r.id)
    with pytest.raises(NotFound):
        rops.get_referral(agencies.cop2, r.id)
    assert cops.get_case(agencies.cop, filed_case.id)
    with pytest.raises(NotFound):
        cops.get_case(agencies.cop2, filed_case.id)
    # the procuratorate cannot act for the police
    with pytest.raises(PermissionDenied):
        step(agencies.prosecutor, r, "receive")
    db.session.rollback()
    step(agencies.cop, r, "receive")
    with pytest.raises(InvalidInput):
        step(agencies.cop, r, "police_decline")  # reasons required
    db.session.rollback()
    step(agencies.cop, r, "police_decline", reason="现有证据不足以证明销售金额达到立案标准。")
    step(agencies.officer, r, "accept_decline")
    db.session.refresh(filed_case)
    assert r.state == "returned" and filed_case.state == "investigating"
    clock = decision_clock(filed_case)
    assert not clock.paused and clock.days_left is not None
    # having referred, the agency may decide administratively without a written reason
    assert rops.referral_answered_by_police(filed_case)


def test_reconsideration_supervision_and_filing(filed_case, referral_of, agencies):
    r = referral_of(filed_case)
    for user, action in ((agencies.officer, "submit"), (agencies.approver, "approve"),
                         (agencies.officer, "send"), (agencies.cop, "receive")):
        step(user, r, action)
    step(agencies.cop, r, "police_decline", reason="不构成犯罪")
    step(agencies.officer, r, "request_reconsideration", reason="销售金额有账册为证")
    step(agencies.cop_boss, r, "uphold", reason="维持")
    step(agencies.officer, r, "propose_supervision", reason="建议检察机关监督")
    step(agencies.prosecutor, r, "require_explanation", reason="请说明不立案理由")
    names = {c.name for c in rops.clocks_of(r) if c.done_at is None}
    assert "police_explanation" in names
    step(agencies.cop, r, "explain", reason="理由如前")
    step(agencies.prosecutor, r, "require_filing", reason="理由不成立，通知立案")
    step(agencies.cop, r, "police_file", police_case_number="松公经立字〔2026〕88号")
    assert r.state == "filed" and r.police_case_number
    step(agencies.officer, r, "hand_over")
    assert r.state == "handed_over" and filed_case.state == "referred"


def test_rights_expire(filed_case, referral_of, agencies):
    r = referral_of(filed_case)
    for user, action in ((agencies.officer, "submit"), (agencies.approver, "approve"),
                         (agencies.officer, "send"), (agencies.cop, "receive")):
        step(user, r, action)
    step(agencies.cop, r, "police_decline", reason="不构成犯罪")
    late = r.events[-1].at + dt.timedelta(days=3, minutes=1)
    with pytest.raises(InvalidTransition) as exc:
        rops.act(agencies.officer, r, "request_reconsideration", reason="迟到的复议", now=late)
    assert "期限" in exc.value.message or "deadline" in exc.value.message
    db.session.rollback()
    assert r.state == "not_filed"


def test_forward_to_competent_police(filed_case, referral_of, agencies):
    r = referral_of(filed_case)
    for user, action in ((agencies.officer, "submit"), (agencies.approver, "approve"),
                         (agencies.officer, "send"), (agencies.cop, "receive")):
        step(user, r, action)
    step(agencies.cop, r, "forward", reason="不属本局管辖", police_agency_id=agencies.police2.id)
    assert r.state == "sent" and r.police_agency_id == agencies.police2.id
    with pytest.raises(NotFound):
        cops.get_case(agencies.cop, filed_case.id)
    assert cops.get_case(agencies.cop2, filed_case.id)
    step(agencies.cop2, r, "receive")


def test_one_open_referral_per_case_and_refusal(filed_case, referral_of, agencies):
    r = referral_of(filed_case)
    with pytest.raises(InvalidTransition):
        referral_of(filed_case)
    db.session.rollback()
    step(agencies.officer, r, "submit")
    step(agencies.approver, r, "refuse", reason="证据尚不充分，继续调查")
    assert r.state == "refused" and filed_case.state == "investigating"
    referral_of(filed_case)  # a new one is possible


def test_reverse_transfer_creates_a_clue_for_the_agency(agencies):
    from caseflow.cases.schemas import ClueIn
    from tests.conftest import clue_payload

    case = rops.reverse_transfer(agencies.cop, agencies.amr.id, ClueIn.model_validate(
        clue_payload(title="公安反向移送：某商行销售假冒商品", channel="agency_transfer")))
    db.session.commit()
    assert case.owner_agency_id == agencies.amr.id and case.channel == "police_reverse"
    assert cops.get_case(agencies.officer, case.id)
    assert cops.get_case(agencies.cop, case.id)  # the police keep track of it
    with pytest.raises(PermissionDenied):
        rops.reverse_transfer(agencies.officer, agencies.culture.id, ClueIn.model_validate(
            clue_payload()))
