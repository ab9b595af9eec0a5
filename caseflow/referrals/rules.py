"""Criminal referral (行刑衔接) rules: states, transitions and clocks. Plain Python, no Flask.

行政执法机关移送涉嫌犯罪案件的规定 (国务院令第310号, 2020 revision), SPEC §3.
Periods here are calendar days (3日) or hours (24小时), counted from the event.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from caseflow.cases.rules import RuleViolation as ReferralViolation  # noqa: F401 (same shape)


class RState(StrEnum):
    PROPOSED = "proposed"  # 拟移送：组成专案组，准备移送材料
    PENDING_APPROVAL = "pending_approval"  # 报请负责人审批
    REFUSED = "refused"  # 负责人决定不移送
    APPROVED = "approved"  # 批准移送（24小时内移送）
    SENT = "sent"  # 已移送公安机关，待签收
    RECEIVED = "received"  # 公安机关已签收
    FILED = "filed"  # 公安机关立案
    HANDED_OVER = "handed_over"  # 涉案物品和材料已移交
    NOT_FILED = "not_filed"  # 公安机关不予立案
    RECONSIDERATION = "reconsideration"  # 行政机关提请复议
    UPHELD = "upheld"  # 复议维持不予立案
    SUPERVISION = "supervision"  # 建议检察机关立案监督
    RETURNED = "returned"  # 未立案，案件回到行政程序


#: package items of §6; "inspection_report" may be marked not applicable with a reason
PACKAGE_ITEMS = ("transfer_letter", "investigation_report", "items_list", "inspection_report",
                 "other_materials")
REQUIRED_ITEMS = ("transfer_letter", "investigation_report", "items_list", "inspection_report")

AGENCY = "agency"  # the referring agency
POLICE = "police"  # the police agency the referral is addressed to
PROCURATORATE = "procuratorate"

OFFICER = "case_officer"
APPROVER = "approver"


@dataclass(frozen=True)
class RTransition:
    action: str
    sources: frozenset[RState]
    target: RState | None
    party: str  # whose users act: agency, police, procuratorate
    roles: frozenset[str]
    reason_required: bool = False


def _t(action, sources, target, party, roles, reason=False):
    return RTransition(action, frozenset(sources), target, party, frozenset(roles), reason)


S = RState
ACT = (OFFICER, APPROVER)
#: procuratorate users work oversight whatever their case role (SPEC §1)
OVERSEE = (OFFICER, APPROVER, "inspector")
TRANSITIONS: dict[str, RTransition] = {t.action: t for t in [
    _t("submit", [S.PROPOSED], S.PENDING_APPROVAL, AGENCY, [OFFICER]),
    _t("withdraw", [S.PROPOSED, S.PENDING_APPROVAL], S.REFUSED, AGENCY, [OFFICER], reason=True),
    _t("approve", [S.PENDING_APPROVAL], S.APPROVED, AGENCY, [APPROVER]),
    _t("refuse", [S.PENDING_APPROVAL], S.REFUSED, AGENCY, [APPROVER], reason=True),
    _t("send", [S.APPROVED], S.SENT, AGENCY, [OFFICER]),
    _t("receive", [S.SENT], S.RECEIVED, POLICE, ACT),
    _t("forward", [S.RECEIVED], S.SENT, POLICE, ACT, reason=True),
    _t("police_file", [S.RECEIVED, S.RECONSIDERATION, S.SUPERVISION], S.FILED, POLICE, ACT),
    _t("police_decline", [S.RECEIVED], S.NOT_FILED, POLICE, ACT, reason=True),
    _t("request_reconsideration", [S.NOT_FILED], S.RECONSIDERATION, AGENCY, ACT, reason=True),
    _t("uphold", [S.RECONSIDERATION], S.UPHELD, POLICE, ACT, reason=True),
    _t("propose_supervision", [S.UPHELD], S.SUPERVISION, AGENCY, ACT, reason=True),
    _t("require_explanation", [S.SUPERVISION], None, PROCURATORATE, OVERSEE, reason=True),
    _t("explain", [S.SUPERVISION], None, POLICE, ACT, reason=True),
    _t("require_filing", [S.SUPERVISION], None, PROCURATORATE, OVERSEE, reason=True),
    _t("close_supervision", [S.SUPERVISION], S.RETURNED, PROCURATORATE, OVERSEE, reason=True),
    _t("accept_decline", [S.NOT_FILED, S.UPHELD], S.RETURNED, AGENCY, ACT),
    _t("hand_over", [S.FILED], S.HANDED_OVER, AGENCY, [OFFICER]),
]}

FINAL = frozenset({S.REFUSED, S.HANDED_OVER, S.RETURNED})


@dataclass
class REvent:
    action: str
    at: dt.datetime
    data: dict = field(default_factory=dict)


@dataclass
class ReferralFacts:
    state: RState
    team_size: int
    report: str
    package: dict  # item -> {"done": bool, "na_reason": str}
    events: list[REvent] = field(default_factory=list)

    def last(self, *actions) -> REvent | None:
        for e in reversed(self.events):
            if e.action in actions:
                return e
        return None


def package_missing(package: dict) -> list[str]:
    """Required items neither provided nor (inspection report only) marked not applicable."""
    missing = []
    for item in REQUIRED_ITEMS:
        entry = package.get(item) or {}
        if entry.get("done"):
            continue
        if item == "inspection_report" and (entry.get("na_reason") or "").strip():
            continue
        missing.append(item)
    return missing


#: rights of the referring agency that expire (§9): acting later is refused
RIGHT_DEADLINES = {
    "request_reconsideration": ("police_decline", dt.timedelta(days=3)),
    "propose_supervision": ("uphold", dt.timedelta(days=3)),
    "forward": ("receive", dt.timedelta(hours=24)),  # §7: wrong jurisdiction, within 24 h
}


def check_guards(action: str, facts: ReferralFacts, now: dt.datetime) -> None:
    t = TRANSITIONS[action]
    if facts.state not in t.sources:
        raise ReferralViolation("referral_wrong_state", action=action, state=facts.state.value)
    if action == "submit":
        if facts.team_size < 2:
            raise ReferralViolation("referral_team_too_small", field="team")  # §5: ≥2 officers
        if len((facts.report or "").strip()) < 10:
            raise ReferralViolation("referral_report_missing", field="report")
        missing = package_missing(facts.package)
        if missing:
            raise ReferralViolation("referral_package_incomplete", field="package",
                                    items=missing)
    if action in RIGHT_DEADLINES:
        start_action, period = RIGHT_DEADLINES[action]
        start = facts.last(start_action)
        if start is not None and now > start.at + period:
            raise ReferralViolation("referral_deadline_passed", due=(start.at + period))


# ----------------------------------------------------------------------------- clocks


@dataclass
class RClock:
    name: str
    start: dt.datetime
    due: dt.datetime
    done_at: dt.datetime | None
    source: str
    party: str  # who must act

    def overdue(self, now: dt.datetime) -> bool:
        return (self.done_at or now) > self.due

    def remaining(self, now: dt.datetime) -> dt.timedelta | None:
        return None if self.done_at else self.due - now


CLOCK_DEFS = [
    # name, started by, stopped by, period, source, party
    ("approval", ("submit",), ("approve", "refuse", "withdraw"), dt.timedelta(days=3), "§5", AGENCY),
    ("sending", ("approve",), ("send",), dt.timedelta(hours=24), "§5", AGENCY),
    ("police_decision", ("receive",), ("police_file", "police_decline", "forward"),
     dt.timedelta(days=3), "§8", POLICE),
    ("reconsideration_request", ("police_decline",), ("request_reconsideration", "accept_decline"),
     dt.timedelta(days=3), "§9", AGENCY),
    ("reconsideration_decision", ("request_reconsideration",), ("uphold", "police_file"),
     dt.timedelta(days=3), "§9", POLICE),
    ("supervision_proposal", ("uphold",), ("propose_supervision", "accept_decline"),
     dt.timedelta(days=3), "§9", AGENCY),
    ("police_explanation", ("require_explanation",), ("explain", "police_file", "close_supervision"),
     dt.timedelta(days=7), "刑事诉讼法 §113", POLICE),
    ("police_filing_ordered", ("require_filing",), ("police_file", "close_supervision"),
     dt.timedelta(days=15), "刑事诉讼法 §113", POLICE),
    ("handover", ("police_file",), ("hand_over",), dt.timedelta(days=3), "§12", AGENCY),
]


def referral_clocks(facts: ReferralFacts) -> list[RClock]:
    """The latest run of each clock (a forward restarts receipt and decision clocks)."""
    clocks = []
    for name, starts, stops, period, source, party in CLOCK_DEFS:
        start = facts.last(*starts)
        if start is None:
            continue
        idx = facts.events.index(start)
        done = next((e for e in facts.events[idx + 1:] if e.action in stops), None)
        clocks.append(RClock(name, start.at, start.at + period, done.at if done else None,
                             source, party))
    return clocks
