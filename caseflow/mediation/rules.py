"""Rights-protection assistance and IP dispute mediation (维权援助, 知识产权调解): the request's
states and its legal clocks. Plain Python, no Flask.

Deadlines (投诉举报处理暂行办法, for complaints handled by market supervision, applied to every
mediation request here): accept or reject within 7 working days of receipt; the mediation
ends 45 working days after acceptance; the parties are told within 7 working days after it
ends. The day of the event is not counted (the period starts the next day).
"""
from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from enum import StrEnum

ACCEPT_WD = 7
MEDIATION_WD = 45
NOTIFY_WD = 7


class RState(StrEnum):
    RECEIVED = "received"  # 已登记，待受理
    ACCEPTED = "accepted"  # 已受理，待指派调解员
    MEDIATING = "mediating"  # 调解中
    REJECTED = "rejected"  # 不予受理
    AGREEMENT = "agreement"  # 达成调解协议
    NO_AGREEMENT = "no_agreement"  # 调解不成
    WITHDRAWN = "withdrawn"  # 撤回
    SERVED = "served"  # 援助服务已完成（仅维权援助）


CLOSED = frozenset({RState.REJECTED, RState.AGREEMENT, RState.NO_AGREEMENT, RState.WITHDRAWN,
                    RState.SERVED})

TRANSITIONS: dict[str, tuple[frozenset[RState], RState]] = {
    "accept": (frozenset({RState.RECEIVED}), RState.ACCEPTED),
    "reject": (frozenset({RState.RECEIVED}), RState.REJECTED),
    "assign": (frozenset({RState.ACCEPTED, RState.MEDIATING}), RState.MEDIATING),
    "agreement": (frozenset({RState.MEDIATING}), RState.AGREEMENT),
    "no_agreement": (frozenset({RState.MEDIATING}), RState.NO_AGREEMENT),
    "withdraw": (frozenset({RState.RECEIVED, RState.ACCEPTED, RState.MEDIATING}), RState.WITHDRAWN),
    "serve": (frozenset({RState.ACCEPTED}), RState.SERVED),  # assistance without mediation
}
NEEDS_REASON = frozenset({"reject", "no_agreement", "withdraw"})


class RuleViolation(Exception):
    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params


def next_state(state: str, action: str) -> RState:
    t = TRANSITIONS.get(action)
    if t is None or RState(state) not in t[0]:
        raise RuleViolation("mediation_action_not_allowed", action=action, state=state)
    return t[1]


def allowed_actions(state: str) -> list[str]:
    return [a for a, (sources, _t) in TRANSITIONS.items() if RState(state) in sources]


@dataclass(frozen=True)
class Clock:
    name: str  # accept | mediation | notify
    started: dt.date
    due: dt.date
    stopped_on: dt.date | None

    def overdue(self, today: dt.date) -> bool:
        return self.stopped_on is None and today > self.due

    def met(self) -> bool | None:
        return None if self.stopped_on is None else self.stopped_on <= self.due


def clocks(cal, received_on: dt.date, accepted_on: dt.date | None, decided_on: dt.date | None,
           closed_on: dt.date | None, notified_on: dt.date | None) -> list[Clock]:
    """The request's clocks from its dates: acceptance (stopped by the accept/reject
    decision), the mediation period (stopped when it ends), telling the parties."""
    out = [Clock("accept", received_on, cal.add_working_days(received_on, ACCEPT_WD), decided_on)]
    if accepted_on is not None:
        out.append(Clock("mediation", accepted_on, cal.add_working_days(accepted_on, MEDIATION_WD),
                         closed_on))
    if closed_on is not None and accepted_on is not None:
        out.append(Clock("notify", closed_on, cal.add_working_days(closed_on, NOTIFY_WD),
                         notified_on))
    return out


def current_deadline(all_clocks: list[Clock]) -> Clock | None:
    """The running clock (the one a requester sees next to the stage)."""
    running = [c for c in all_clocks if c.stopped_on is None]
    return running[-1] if running else None


# receipt codes: 12 characters from an unambiguous alphabet, shown as XXXX-XXXX-XXXX
# (32^12 ≈ 1.2e18 codes: not guessable, and lookups are rate-limited)
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def new_receipt_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalize_receipt_code(raw: str) -> str | None:
    """Accept lower case, spaces and missing dashes; None when it cannot be a code."""
    s = "".join(c for c in (raw or "").upper() if c.isalnum())
    if len(s) != 12 or any(c not in ALPHABET for c in s):
        return None
    return f"{s[:4]}-{s[4:8]}-{s[8:]}"
