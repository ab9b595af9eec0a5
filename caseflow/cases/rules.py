"""Administrative case rules: states, the transition table, guards and legal clocks.

Plain Python (no Flask, no database). The operations module feeds these functions plain
facts and turns a ``RuleViolation`` into a translated message.

Procedure: 市场监督管理行政处罚程序规定 and 行政处罚法 (2021), see ../shared/SPEC.md §2.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from caseflow.core.calendar import WorkCalendar
from caseflow.core.clocks import ClockSpec, ClockState, Pause, Unit, evaluate


class State(StrEnum):
    CLUE = "clue"  # 线索登记
    VERIFYING = "verifying"  # 核查
    REJECTED = "rejected"  # 不予立案
    FILED = "filed"  # 立案
    INVESTIGATING = "investigating"  # 调查取证
    LEGAL_REVIEW = "legal_review"  # 法制审核
    NOTIFIED = "notified"  # 告知
    HEARING = "hearing"  # 听证
    DECIDED = "decided"  # 处罚决定
    NO_PENALTY = "no_penalty"  # 不予处罚
    EXECUTING = "executing"  # 执行
    CLOSED = "closed"  # 结案
    SUSPENDED = "suspended"  # 中止
    TERMINATED = "terminated"  # 终止
    REFERRED = "referred"  # 移送公安 (criminal referral workflow)


class Channel(StrEnum):
    COMPLAINT = "complaint"  # 投诉
    REPORT = "report"  # 举报
    INSPECTION = "inspection"  # 检查发现
    HOTLINE_12315 = "hotline_12315"  # 12315转办
    ONLINE_MONITORING = "online_monitoring"  # 网络监测
    AGENCY_TRANSFER = "agency_transfer"  # 其他机关移送
    POLICE_REVERSE = "police_reverse"  # 公安反向移送
    RIGHTS_HOLDER = "rights_holder"  # 权利人请求
    G60_PARTNER = "g60_partner"  # G60伙伴城市


class IPType(StrEnum):
    TRADEMARK = "trademark"
    PATENT = "patent"
    COPYRIGHT = "copyright"
    TRADE_SECRET = "trade_secret"
    GEOGRAPHICAL_INDICATION = "geographical_indication"
    COMMERCIAL_MARK_CONFUSION = "commercial_mark_confusion"


class PartyKind(StrEnum):
    BUSINESS = "business"
    PERSON = "person"


class PauseKind(StrEnum):
    """Periods not counted in the 90-day decision clock (SPEC §2, [S])."""

    TESTING = "testing"  # 检测、检验、鉴定
    PUBLIC_NOTICE = "public_notice"  # 公告
    RIGHTS_HOLDER_IDENTIFICATION = "rights_holder_identification"  # 权利人辨认鉴别


# 行政处罚法 §9
PENALTY_KINDS = (
    "警告", "通报批评", "罚款", "没收违法所得", "没收非法财物", "暂扣许可证件", "降低资质等级",
    "吊销许可证件", "限制开展生产经营活动", "责令停产停业", "责令关闭", "限制从业", "行政拘留", "其他",
)
# 行政处罚法 §63: penalties that give the party a right to a hearing regardless of amount.
HEARING_PENALTIES = frozenset(
    {"吊销许可证件", "降低资质等级", "责令停产停业", "责令关闭", "限制从业", "没收非法财物"}
)

OPEN_STATES = frozenset(State) - {State.REJECTED, State.CLOSED, State.TERMINATED}
NUMBERED_STATES = frozenset(
    {State.FILED, State.INVESTIGATING, State.LEGAL_REVIEW, State.NOTIFIED, State.HEARING,
     State.DECIDED, State.NO_PENALTY, State.EXECUTING, State.CLOSED}
)
DECISION_CLOCK_STATES = frozenset(
    {State.FILED, State.INVESTIGATING, State.LEGAL_REVIEW, State.NOTIFIED, State.HEARING}
)

INSPECTOR = "inspector"
CASE_OFFICER = "case_officer"
LEGAL_REVIEWER = "legal_reviewer"
APPROVER = "approver"


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[State]
    target: State | None  # None: the state does not change (a recorded step)
    roles: frozenset[str]
    needs_approval: bool = False
    reason_required: bool = False


def _t(action, sources, target, roles=(CASE_OFFICER,), **kw) -> Transition:
    return Transition(action, frozenset(sources), target, frozenset(roles), **kw)


S = State
_WORKING = (S.FILED, S.INVESTIGATING, S.LEGAL_REVIEW, S.NOTIFIED, S.HEARING)

#: The one transition table. ``resume`` returns to the state recorded at suspension.
TRANSITIONS: dict[str, Transition] = {t.action: t for t in [
    _t("accept", [S.CLUE], S.VERIFYING),
    _t("reject", [S.CLUE, S.VERIFYING], S.REJECTED, reason_required=True),
    _t("extend_verification", [S.VERIFYING], None, needs_approval=True, reason_required=True),
    _t("file", [S.VERIFYING], S.FILED, needs_approval=True),
    _t("investigate", [S.FILED], S.INVESTIGATING),
    _t("pause_clock", [S.FILED, S.INVESTIGATING, S.LEGAL_REVIEW, S.NOTIFIED], None,
       reason_required=True),
    _t("resume_clock", [S.FILED, S.INVESTIGATING, S.LEGAL_REVIEW, S.NOTIFIED], None),
    _t("submit_review", [S.INVESTIGATING], S.LEGAL_REVIEW),
    _t("pass_review", [S.LEGAL_REVIEW], None, roles=(LEGAL_REVIEWER,)),
    _t("return_review", [S.LEGAL_REVIEW], S.INVESTIGATING, roles=(LEGAL_REVIEWER,),
       reason_required=True),
    _t("notify", [S.INVESTIGATING, S.LEGAL_REVIEW], S.NOTIFIED),
    _t("record_statement", [S.NOTIFIED], None, reason_required=True),
    _t("request_hearing", [S.NOTIFIED], S.HEARING),
    _t("conclude_hearing", [S.HEARING], S.LEGAL_REVIEW, reason_required=True),
    _t("decide_penalty", [S.NOTIFIED, S.LEGAL_REVIEW], S.DECIDED, needs_approval=True),
    _t("decide_no_penalty", [S.NOTIFIED, S.LEGAL_REVIEW], S.NO_PENALTY, needs_approval=True,
       reason_required=True),
    _t("serve", [S.DECIDED], S.EXECUTING),
    _t("record_payment", [S.EXECUTING], None),
    _t("close", [S.EXECUTING, S.NO_PENALTY], S.CLOSED),
    _t("suspend", _WORKING, S.SUSPENDED, needs_approval=True, reason_required=True),
    _t("resume", [S.SUSPENDED], None),
    _t("terminate", [S.CLUE, S.VERIFYING, *_WORKING, S.SUSPENDED, S.DECIDED, S.EXECUTING],
       S.TERMINATED, needs_approval=True, reason_required=True),
    _t("extend_decision", [*_WORKING, S.SUSPENDED], None, needs_approval=True,
       reason_required=True),
    _t("notify_reporter", [S.REJECTED], None),
]}

#: Approval of a pending request; handled by ``approve``/``deny`` in operations.
APPROVAL_ACTIONS = ("approve", "deny")
ACTIONS = tuple(TRANSITIONS) + APPROVAL_ACTIONS


class RuleViolation(Exception):
    """A rule refused the action. ``code`` names the message; ``field`` the input at fault."""

    def __init__(self, code: str, field: str | None = None, **params):
        super().__init__(code)
        self.code = code
        self.field = field
        self.params = params


@dataclass
class Params:
    """Configurable legal parameters ([S]/[M] values live in configuration)."""

    hearing_fine_person: Decimal = Decimal("10000")  # 听证: person ≥1万 [M]
    hearing_fine_organisation: Decimal = Decimal("100000")  # organisation ≥10万 [M]
    late_surcharge_rate: Decimal = Decimal("0.03")  # 行政处罚法 §72: 3% a day
    first_decision_extension_days: int = 30  # 行政处罚法 §60 / 程序规定: +30 d
    verification_extension_wd: int = 15  # 程序规定 §18: +15 WD


@dataclass
class EventFact:
    action: str
    on: dt.date
    data: dict = field(default_factory=dict)


@dataclass
class CaseFacts:
    """What the rules need to know about a case."""

    state: State
    channel: Channel
    received_on: dt.date
    officer_count: int = 0
    is_major: bool = False
    has_named_reporter: bool = False
    party_kinds: tuple[PartyKind, ...] = ()
    events: list[EventFact] = field(default_factory=list)

    # Derived facts -----------------------------------------------------------
    def last(self, *actions: str) -> EventFact | None:
        for ev in reversed(self.events):
            if ev.action in actions:
                return ev
        return None

    def count(self, action: str) -> int:
        return sum(1 for ev in self.events if ev.action == action)

    @property
    def clock_paused(self) -> bool:
        last = self.last("pause_clock", "resume_clock")
        return last is not None and last.action == "pause_clock"

    @property
    def review_passed(self) -> bool:
        """The latest legal review (after the latest submission or hearing) passed."""
        last = self.last("pass_review", "submit_review", "conclude_hearing", "return_review")
        return last is not None and last.action == "pass_review"

    @property
    def notified(self) -> EventFact | None:
        return self.last("notify")

    @property
    def heard(self) -> bool:
        return self.last("conclude_hearing") is not None

    @property
    def statement_recorded(self) -> bool:
        return self.last("record_statement") is not None

    @property
    def fine_amount(self) -> Decimal:
        ev = self.last("decide_penalty")
        return Decimal(str(ev.data.get("fine_amount") or 0)) if ev else Decimal(0)

    @property
    def paid(self) -> bool:
        return self.last("record_payment") is not None


def hearing_eligible(proposed_fine: Decimal, proposed_penalties, party_kinds, params: Params) -> bool:
    """行政处罚法 §63: large fines, confiscation of large value, licence revocation, closure…"""
    if set(proposed_penalties or ()) & HEARING_PENALTIES:
        return True
    if proposed_fine is None:
        return False
    organisation = PartyKind.BUSINESS in set(party_kinds)
    limit = params.hearing_fine_organisation if organisation else params.hearing_fine_person
    return proposed_fine >= limit


def late_surcharge(fine: Decimal, due: dt.date, paid_on: dt.date, params: Params) -> Decimal:
    """行政处罚法 §72: 3% of the fine per day late, never more than the fine itself."""
    days_late = max((paid_on - due).days, 0)
    return min(fine * params.late_surcharge_rate * days_late, fine).quantize(Decimal("0.01"))


def check_state_guards(action: str, facts: CaseFacts, today: dt.date, calendar: WorkCalendar,
                       params: Params) -> None:
    """Guards that depend only on the case (not on what the user typed). Raises RuleViolation."""
    t = TRANSITIONS[action]
    if facts.state not in t.sources:
        raise RuleViolation("wrong_state", action=action, state=facts.state.value)
    if action == "extend_verification" and facts.count("extend_verification") >= 1:
        raise RuleViolation("verification_already_extended")
    if action == "file" and facts.officer_count < 2:
        # 行政处罚法 §42: at least two law-enforcement officers
        raise RuleViolation("two_officers_required")
    if action == "pause_clock" and facts.clock_paused:
        raise RuleViolation("already_paused")
    if action == "resume_clock" and not facts.clock_paused:
        raise RuleViolation("not_paused")
    if action in ("submit_review", "notify", "decide_penalty", "decide_no_penalty", "suspend",
                  "request_hearing") and facts.clock_paused:
        raise RuleViolation("clock_paused")
    if action == "pass_review" and facts.review_passed:
        raise RuleViolation("review_already_passed")
    if action == "notify":
        if facts.state == State.INVESTIGATING and facts.is_major:
            # 行政处罚法 §58: major cases need legal review before the decision
            raise RuleViolation("major_needs_review")
        if facts.state == State.LEGAL_REVIEW:
            if not facts.review_passed:
                raise RuleViolation("review_not_passed")
            if facts.notified is not None:
                raise RuleViolation("already_notified")
    if action == "request_hearing":
        n = facts.notified
        if n is not None and today > calendar.add_working_days(n.on, 5):
            raise RuleViolation("hearing_request_late",
                                due=calendar.add_working_days(n.on, 5).isoformat())
        if n is not None and not hearing_eligible(
                _dec(n.data.get("proposed_fine")), n.data.get("proposed_penalties"),
                facts.party_kinds, params):
            raise RuleViolation("hearing_not_eligible")
    if action in ("decide_penalty", "decide_no_penalty"):
        if facts.state == State.LEGAL_REVIEW:
            if not facts.review_passed:
                raise RuleViolation("review_not_passed")
            if facts.notified is None:
                raise RuleViolation("not_notified")
        else:  # NOTIFIED
            if facts.is_major and not facts.review_passed:
                raise RuleViolation("major_needs_review")
            n = facts.notified
            window_end = calendar.add_working_days(n.on, 5) if n else today
            # 行政处罚法 §64: the party has 5 working days to state a case or ask a hearing
            if not facts.statement_recorded and today <= window_end:
                raise RuleViolation("statement_window_open", due=window_end.isoformat())
    if action == "record_payment":
        if facts.fine_amount <= 0:
            raise RuleViolation("no_fine")
        if facts.paid:
            raise RuleViolation("already_paid")
    if action == "close" and facts.state == State.EXECUTING and facts.fine_amount > 0 \
            and not facts.paid:
        raise RuleViolation("fine_unpaid")
    if action == "notify_reporter":
        if not facts.has_named_reporter:
            raise RuleViolation("no_named_reporter")
        if facts.count("notify_reporter"):
            raise RuleViolation("reporter_already_notified")


def _dec(value) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else Decimal(0)


def resume_target(facts: CaseFacts) -> State:
    ev = facts.last("suspend")
    return State(ev.data["from_state"]) if ev else State.INVESTIGATING


def decision_extension_days(facts: CaseFacts, requested: int | None, params: Params) -> int:
    """First extension is +30 d; later ones (集体讨论决定) take the days the approver set."""
    if facts.count("extend_decision") == 0:
        return params.first_decision_extension_days
    if requested is None or requested < 1:
        raise RuleViolation("extension_days_required", field="days")
    if requested > 365:
        raise RuleViolation("extension_days_too_long", field="days")
    return requested


# ---------------------------------------------------------------------------
# Legal clocks

#: events that stop the 90-day decision clock, and those that end each stop (行政处罚法 §60 [S])
PAUSE_STARTS = frozenset({"suspend", "pause_clock", "request_hearing", "refer"})
PAUSE_ENDS = frozenset({"resume", "resume_clock", "conclude_hearing", "referral_returned"})

CLOCK_SOURCES = {
    "acceptance": "投诉举报处理暂行办法 §14",
    "verification": "市场监督管理行政处罚程序规定 §18",
    "reporter_notice": "投诉举报处理暂行办法 §31",
    "decision": "行政处罚法 §60",
    "legal_review": "行政处罚法 §58",
    "statement": "行政处罚法 §64",
    "service": "行政处罚法 §61",
    "payment": "行政处罚法 §67",
}


def clock_specs(facts: CaseFacts, params: Params) -> list[ClockSpec]:
    """Every legal clock the case's history has started, recomputed from its events."""
    specs: list[ClockSpec] = []
    ev = facts.last
    stop = lambda *a: (e.on if (e := ev(*a)) else None)  # noqa: E731

    if facts.channel == Channel.COMPLAINT:
        specs.append(ClockSpec("acceptance", facts.received_on, 7, Unit.WORKING_DAYS,
                               CLOCK_SOURCES["acceptance"], stopped_on=stop("accept", "reject")))
    specs.append(ClockSpec(
        "verification", facts.received_on, 15, Unit.WORKING_DAYS, CLOCK_SOURCES["verification"],
        extensions=[params.verification_extension_wd] * facts.count("extend_verification"),
        stopped_on=stop("file", "reject", "terminate")))

    rejected = ev("reject")
    if rejected and facts.has_named_reporter:
        specs.append(ClockSpec("reporter_notice", rejected.on, 5, Unit.WORKING_DAYS,
                               CLOCK_SOURCES["reporter_notice"], stopped_on=stop("notify_reporter")))

    filed = ev("file")
    if filed:
        # Reasons to stop the clock can overlap (a suspension during a hearing): the clock
        # stands still from the first start until the last of them has ended.
        pauses: list[Pause] = []
        depth = 0
        for e in facts.events:
            if e.action in PAUSE_STARTS:
                depth += 1
                if depth == 1:
                    pauses.append(Pause(e.on))
            elif e.action in PAUSE_ENDS and depth > 0:
                depth -= 1
                if depth == 0:
                    pauses[-1].end = e.on
        extensions = [int(e.data.get("days", 0)) for e in facts.events if e.action == "extend_decision"]
        specs.append(ClockSpec("decision", filed.on, 90, Unit.CALENDAR_DAYS, CLOCK_SOURCES["decision"],
                               extensions=extensions, pauses=pauses,
                               stopped_on=stop("decide_penalty", "decide_no_penalty", "terminate")))

    submitted = ev("submit_review", "conclude_hearing")
    if submitted:
        done = ev("pass_review", "return_review")
        specs.append(ClockSpec("legal_review", submitted.on, 10, Unit.WORKING_DAYS,
                               CLOCK_SOURCES["legal_review"],
                               stopped_on=done.on if done and _after(facts, done, submitted) else None))

    notified = ev("notify")
    if notified:
        done = ev("record_statement", "request_hearing", "decide_penalty", "decide_no_penalty")
        specs.append(ClockSpec("statement", notified.on, 5, Unit.WORKING_DAYS,
                               CLOCK_SOURCES["statement"], party_clock=True,
                               stopped_on=done.on if done else None))

    decided = ev("decide_penalty")
    if decided:
        specs.append(ClockSpec("service", decided.on, 7, Unit.WORKING_DAYS, CLOCK_SOURCES["service"],
                               stopped_on=stop("serve")))
        served = ev("serve")
        if served and facts.fine_amount > 0:
            specs.append(ClockSpec("payment", served.on, 15, Unit.CALENDAR_DAYS,
                                   CLOCK_SOURCES["payment"], party_clock=True,
                                   stopped_on=stop("record_payment")))
    return specs


def _after(facts: CaseFacts, later: EventFact, earlier: EventFact) -> bool:
    return facts.events.index(later) > facts.events.index(earlier)


def compute_clocks(facts: CaseFacts, today: dt.date, calendar: WorkCalendar,
                   params: Params) -> list[ClockState]:
    states = [evaluate(s, today, calendar) for s in clock_specs(facts, params)]
    if facts.state in (State.CLOSED, State.TERMINATED):
        # A closed case has no running clocks; what was never stopped is shown as not running.
        for c in states:
            if c.stopped_on is None:
                c.days_left = None
                c.overdue = False
    return states
