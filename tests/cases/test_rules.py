"""Pure rule tests: the transition table, guards and clocks (no database)."""
import datetime as dt
from decimal import Decimal

import pytest

from caseflow.cases.rules import (TRANSITIONS, CaseFacts, Channel, EventFact, Params, PartyKind,
                                  RuleViolation, State, check_state_guards, compute_clocks,
                                  decision_extension_days, hearing_eligible, late_surcharge,
                                  resume_target)
from caseflow.core.calendar import WorkCalendar

D = dt.date
cal = WorkCalendar()
P = Params()
TODAY = D(2025, 11, 3)


def facts(state, events=(), **kw):
    kw.setdefault("officer_count", 2)
    return CaseFacts(state=state, channel=kw.pop("channel", Channel.REPORT),
                     received_on=kw.pop("received_on", D(2025, 9, 26)), events=list(events), **kw)


@pytest.mark.parametrize("action", sorted(TRANSITIONS))
@pytest.mark.parametrize("state", list(State))
def test_every_action_refused_outside_its_source_states(action, state):
    t = TRANSITIONS[action]
    if state in t.sources:
        return
    with pytest.raises(RuleViolation) as exc:
        check_state_guards(action, facts(state), TODAY, cal, P)
    assert exc.value.code == "wrong_state"


def test_every_state_but_referred_is_reachable_or_initial():
    targets = {t.target for t in TRANSITIONS.values() if t.target} | {State.CLUE}
    # resume returns to the suspended-from state; referred arrives with criminal referral
    assert set(State) - targets == {State.REFERRED}


def test_terminal_states_have_no_way_out():
    for state in (State.CLOSED, State.TERMINATED):
        assert not [a for a, t in TRANSITIONS.items() if state in t.sources]
    assert [a for a, t in TRANSITIONS.items() if State.REJECTED in t.sources] == ["notify_reporter"]


def test_file_needs_two_officers():
    with pytest.raises(RuleViolation, match="two_officers_required"):
        check_state_guards("file", facts(State.VERIFYING, officer_count=1), TODAY, cal, P)
    check_state_guards("file", facts(State.VERIFYING), TODAY, cal, P)


def test_verification_extends_once():
    f = facts(State.VERIFYING, [EventFact("extend_verification", D(2025, 10, 1))])
    with pytest.raises(RuleViolation, match="verification_already_extended"):
        check_state_guards("extend_verification", f, TODAY, cal, P)


def test_major_case_must_pass_review_before_notice_and_decision():
    f = facts(State.INVESTIGATING, is_major=True)
    with pytest.raises(RuleViolation, match="major_needs_review"):
        check_state_guards("notify", f, TODAY, cal, P)
    f = facts(State.LEGAL_REVIEW, [EventFact("submit_review", D(2025, 10, 1))], is_major=True)
    with pytest.raises(RuleViolation, match="review_not_passed"):
        check_state_guards("notify", f, TODAY, cal, P)
    f.events.append(EventFact("pass_review", D(2025, 10, 2)))
    check_state_guards("notify", f, TODAY, cal, P)


def test_decision_waits_for_statement_window_unless_statement_recorded():
    notified = EventFact("notify", D(2025, 10, 27))  # Monday; +5 WD = 2025-11-03
    f = facts(State.NOTIFIED, [notified])
    with pytest.raises(RuleViolation, match="statement_window_open"):
        check_state_guards("decide_penalty", f, D(2025, 11, 3), cal, P)
    check_state_guards("decide_penalty", f, D(2025, 11, 4), cal, P)
    f.events.append(EventFact("record_statement", D(2025, 10, 28)))
    check_state_guards("decide_penalty", f, D(2025, 10, 28), cal, P)


def test_hearing_request_window_and_eligibility():
    small = EventFact("notify", D(2025, 10, 27), {"proposed_fine": "5000"})
    f = facts(State.NOTIFIED, [small], party_kinds=(PartyKind.BUSINESS,))
    with pytest.raises(RuleViolation, match="hearing_not_eligible"):
        check_state_guards("request_hearing", f, D(2025, 10, 28), cal, P)
    big = EventFact("notify", D(2025, 10, 27), {"proposed_fine": "100000"})
    f = facts(State.NOTIFIED, [big], party_kinds=(PartyKind.BUSINESS,))
    check_state_guards("request_hearing", f, D(2025, 11, 3), cal, P)
    with pytest.raises(RuleViolation, match="hearing_request_late"):
        check_state_guards("request_hearing", f, D(2025, 11, 4), cal, P)


def test_hearing_eligibility_thresholds():
    assert hearing_eligible(Decimal(10000), [], [PartyKind.PERSON], P)
    assert not hearing_eligible(Decimal(9999), [], [PartyKind.PERSON], P)
    assert not hearing_eligible(Decimal(99999), [], [PartyKind.BUSINESS], P)
    assert hearing_eligible(Decimal(0), ["吊销许可证件"], [PartyKind.BUSINESS], P)


def test_late_surcharge_capped_at_fine():
    assert late_surcharge(Decimal(1000), D(2025, 1, 10), D(2025, 1, 12), P) == Decimal("60.00")
    assert late_surcharge(Decimal(1000), D(2025, 1, 10), D(2025, 3, 12), P) == Decimal("1000.00")
    assert late_surcharge(Decimal(1000), D(2025, 1, 10), D(2025, 1, 9), P) == 0


def test_close_needs_payment_of_a_fine():
    f = facts(State.EXECUTING, [EventFact("decide_penalty", D(2025, 10, 1), {"fine_amount": "500"})])
    with pytest.raises(RuleViolation, match="fine_unpaid"):
        check_state_guards("close", f, TODAY, cal, P)
    f.events.append(EventFact("record_payment", D(2025, 10, 5)))
    check_state_guards("close", f, TODAY, cal, P)


def test_resume_returns_to_suspended_state():
    f = facts(State.SUSPENDED, [EventFact("suspend", D(2025, 10, 1), {"from_state": "legal_review"})])
    assert resume_target(f) == State.LEGAL_REVIEW


def test_decision_extension_days():
    assert decision_extension_days(facts(State.INVESTIGATING), None, P) == 30
    second = facts(State.INVESTIGATING, [EventFact("extend_decision", D(2025, 10, 1), {"days": 30})])
    with pytest.raises(RuleViolation, match="extension_days_required"):
        decision_extension_days(second, None, P)
    assert decision_extension_days(second, 45, P) == 45


def test_paused_clock_blocks_review_and_suspension():
    f = facts(State.INVESTIGATING, [EventFact("pause_clock", D(2025, 10, 1))])
    for action in ("submit_review", "suspend", "pause_clock"):
        with pytest.raises(RuleViolation):
            check_state_guards(action, f, TODAY, cal, P)
    check_state_guards("resume_clock", f, TODAY, cal, P)


# ----------------------------------------------------------------------------- clocks


def clock(clocks, name):
    return next(c for c in clocks if c.name == name)


def test_verification_clock_spans_national_day_2025():
    f = facts(State.VERIFYING, [EventFact("accept", D(2025, 9, 27))], received_on=D(2025, 9, 26))
    c = clock(compute_clocks(f, D(2025, 10, 20), cal, P), "verification")
    assert c.due == D(2025, 10, 23) and c.days_left == 3 and not c.overdue
    assert clock(compute_clocks(f, D(2025, 10, 24), cal, P), "verification").overdue


def test_extension_moves_verification_due():
    f = facts(State.VERIFYING, [EventFact("extend_verification", D(2025, 10, 9))],
              received_on=D(2025, 9, 26))
    c = clock(compute_clocks(f, D(2025, 10, 24), cal, P), "verification")
    assert c.due == cal.add_working_days(D(2025, 9, 26), 30) and not c.overdue


def test_complaint_has_acceptance_clock():
    f = facts(State.CLUE, channel=Channel.COMPLAINT, received_on=D(2025, 9, 26))
    c = clock(compute_clocks(f, D(2025, 9, 30), cal, P), "acceptance")
    # 7 WD: 09-28, 09-29, 09-30, 10-09, 10-10, 10-11 (Sat, make-up), 10-13
    assert c.due == D(2025, 10, 13)


def test_decision_clock_paused_while_suspended_and_extended():
    ev = [EventFact("file", D(2025, 3, 3)), EventFact("investigate", D(2025, 3, 4)),
          EventFact("suspend", D(2025, 4, 1), {"from_state": "investigating"}),
          EventFact("resume", D(2025, 4, 21)), EventFact("extend_decision", D(2025, 5, 20), {"days": 30})]
    f = facts(State.INVESTIGATING, ev)
    c = clock(compute_clocks(f, D(2025, 5, 25), cal, P), "decision")
    # 90 + 30 + 20 paused = 140 days after 03-03 = 2025-07-21 (Monday)
    assert c.due == D(2025, 7, 21) and c.paused_days == 20 and c.extended_by == 30


def test_decision_clock_shows_paused_during_suspension():
    ev = [EventFact("file", D(2025, 3, 3)), EventFact("suspend", D(2025, 4, 1), {"from_state": "filed"})]
    c = clock(compute_clocks(facts(State.SUSPENDED, ev), D(2025, 9, 1), cal, P), "decision")
    assert c.paused and not c.overdue


def test_hearing_pauses_decision_clock():
    ev = [EventFact("file", D(2025, 3, 3)), EventFact("notify", D(2025, 5, 6)),
          EventFact("request_hearing", D(2025, 5, 7)), EventFact("conclude_hearing", D(2025, 5, 27))]
    c = clock(compute_clocks(facts(State.LEGAL_REVIEW, ev), D(2025, 6, 1), cal, P), "decision")
    assert c.paused_days == 20


def test_service_and_payment_clocks():
    ev = [EventFact("file", D(2025, 3, 3)),
          EventFact("decide_penalty", D(2025, 5, 6), {"fine_amount": "3000"}),
          EventFact("serve", D(2025, 5, 8))]
    clocks = compute_clocks(facts(State.EXECUTING, ev), D(2025, 5, 10), cal, P)
    assert clock(clocks, "service").stopped_on == D(2025, 5, 8)
    assert clock(clocks, "service").met
    pay = clock(clocks, "payment")
    assert pay.due == D(2025, 5, 23) and pay.party_clock
    assert clock(clocks, "decision").stopped_on == D(2025, 5, 6)


def test_reporter_notice_clock_only_for_named_reporter():
    ev = [EventFact("reject", D(2025, 9, 26))]
    named = compute_clocks(facts(State.REJECTED, ev, has_named_reporter=True), D(2025, 10, 1), cal, P)
    assert clock(named, "reporter_notice").due == D(2025, 10, 10)
    anon = compute_clocks(facts(State.REJECTED, ev), D(2025, 10, 1), cal, P)
    assert not [c for c in anon if c.name == "reporter_notice"]


def test_closed_case_has_no_running_clock():
    ev = [EventFact("file", D(2025, 3, 3)), EventFact("terminate", D(2025, 3, 9))]
    for c in compute_clocks(facts(State.TERMINATED, ev), D(2026, 1, 1), cal, P):
        assert not c.overdue


def test_overlapping_pauses_keep_the_clock_stopped_until_the_last_ends():
    ev = [EventFact("file", D(2025, 3, 3)), EventFact("notify", D(2025, 5, 6)),
          EventFact("request_hearing", D(2025, 5, 7)),
          EventFact("suspend", D(2025, 5, 10), {"from_state": "hearing"}),
          EventFact("resume", D(2025, 5, 20)),
          EventFact("conclude_hearing", D(2025, 5, 27))]
    during = clock(compute_clocks(facts(State.HEARING, ev[:5]), D(2025, 5, 22), cal, P), "decision")
    assert during.paused  # resumed from the suspension, but the hearing goes on
    c = clock(compute_clocks(facts(State.LEGAL_REVIEW, ev), D(2025, 6, 1), cal, P), "decision")
    assert c.paused_days == 20 and not c.paused
