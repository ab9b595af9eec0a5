"""Joint actions (专项行动 / 联合执法 / G60 cross-region actions): the task state machine,
the figures of a progress report and their totals. Plain Python, no Flask (SPEC §6).

A task goes assigned → accepted / declined (with a reason) → in progress → reported →
verified. A report carries figures *for the period it covers* (they add up); the coordinator
verifies it (a final report closes the task) or returns it with a reason (the task goes back
to in progress). A task that is not verified, declined or cancelled by its due date is
overdue — a derived flag, never a stored state, so it cannot go stale.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


class ActionKind(StrEnum):
    SPECIAL = "special"  # 专项行动
    JOINT = "joint"  # 联合执法
    G60 = "g60"  # G60 科创走廊跨区域联合执法


class ActionState(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class TaskState(StrEnum):
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    IN_PROGRESS = "in_progress"
    REPORTED = "reported"
    VERIFIED = "verified"
    CANCELLED = "cancelled"


class TargetKind(StrEnum):
    MARKET = "market"  # 重点市场（小商品、批发、农贸）
    PLATFORM = "platform"  # 电商平台 / 网店
    TRADEMARK = "trademark"  # 重点商标保护名录上的商标
    OTHER = "other"


#: The cities of the Yangtze Delta G60 science-and-technology corridor.
G60_CITIES = ("松江", "嘉兴", "杭州", "金华", "苏州", "湖州", "宣城", "芜湖", "合肥")

#: Task states that no longer run (not overdue, not reassignable).
TASK_FINAL = frozenset({TaskState.VERIFIED, TaskState.DECLINED, TaskState.CANCELLED})

# who performs a task action: "assignee" (the assigned agency/unit/user) or "lead" (the
# lead agency's coordinator)
TASK_TRANSITIONS: dict[str, tuple[frozenset[TaskState], TaskState | None, str]] = {
    "accept": (frozenset({TaskState.ASSIGNED}), TaskState.ACCEPTED, "assignee"),
    "decline": (frozenset({TaskState.ASSIGNED}), TaskState.DECLINED, "assignee"),
    "start": (frozenset({TaskState.ACCEPTED}), TaskState.IN_PROGRESS, "assignee"),
    "report": (frozenset({TaskState.ACCEPTED, TaskState.IN_PROGRESS}), TaskState.REPORTED,
               "assignee"),
    "verify": (frozenset({TaskState.REPORTED}), None, "lead"),  # → verified or in progress
    "return": (frozenset({TaskState.REPORTED}), TaskState.IN_PROGRESS, "lead"),
    "reassign": (frozenset({TaskState.ASSIGNED, TaskState.ACCEPTED, TaskState.DECLINED,
                            TaskState.IN_PROGRESS}), TaskState.ASSIGNED, "lead"),
    "cancel": (frozenset({TaskState.ASSIGNED, TaskState.ACCEPTED, TaskState.DECLINED,
                          TaskState.IN_PROGRESS, TaskState.REPORTED}), TaskState.CANCELLED,
               "lead"),
}
#: actions that need a written reason
NEEDS_REASON = frozenset({"decline", "return", "cancel"})


class RuleViolation(Exception):
    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params


def task_target_state(state: str, action: str, *, final_report: bool = False) -> TaskState:
    """The state after ``action``; RuleViolation when the action is not open in ``state``."""
    t = TASK_TRANSITIONS.get(action)
    if t is None:
        raise RuleViolation("unknown_action", action=action)
    sources, target, _who = t
    if TaskState(state) not in sources:
        raise RuleViolation("task_action_not_allowed", action=action, state=state)
    if action == "verify":
        return TaskState.VERIFIED if final_report else TaskState.IN_PROGRESS
    return target


def task_actions(state: str) -> list[str]:
    """Actions open in a state (before the permission check)."""
    return [a for a, (sources, _t, _w) in TASK_TRANSITIONS.items() if TaskState(state) in sources]


def performer(action: str) -> str:
    return TASK_TRANSITIONS[action][2]


def is_overdue(state: str, due_on: dt.date, today: dt.date) -> bool:
    return TaskState(state) not in TASK_FINAL and due_on < today


# ----------------------------------------------------------------------------- figures

FIGURE_FIELDS = ("places_inspected", "cases_filed", "goods_seized", "goods_value", "referrals")
INT_LIMIT = 10_000_000
VALUE_LIMIT = Decimal("1e12")


@dataclass
class Figures:
    """What a report (or a sum of reports / linked cases) counts."""

    places_inspected: int = 0  # 检查场所（户次）
    cases_filed: int = 0  # 立案
    goods_seized: int = 0  # 查扣物品（件）
    goods_value: Decimal = field(default_factory=lambda: Decimal("0"))  # 涉案货值（元）
    referrals: int = 0  # 移送公安

    def __add__(self, other: Figures) -> Figures:
        return Figures(*(getattr(self, f) + getattr(other, f) for f in FIGURE_FIELDS))

    def as_dict(self) -> dict:
        return {f: getattr(self, f) for f in FIGURE_FIELDS}


def total(figures) -> Figures:
    out = Figures()
    for f in figures:
        out = out + f
    return out


def parse_figures(data: dict, errors: dict) -> Figures:
    """Validate the figures of a report: whole numbers ≥ 0, a value in yuan with at most
    two decimals. Every bad field gets its own error code in ``errors``."""
    values = {}
    for name in ("places_inspected", "cases_filed", "goods_seized", "referrals"):
        raw = str(data.get(name) if data.get(name) is not None else "").strip()
        if raw == "":
            values[name] = 0
        elif not raw.isascii() or not raw.isdigit():
            errors[name] = "int_non_negative"
        elif int(raw) > INT_LIMIT:
            errors[name] = "number_too_large"
        else:
            values[name] = int(raw)
    raw = str(data.get("goods_value") if data.get("goods_value") is not None else "").strip()
    raw = raw.replace(",", "")
    if raw == "":
        values["goods_value"] = Decimal("0")
    elif not re.fullmatch(r"[0-9]+(\.[0-9]{1,2})?", raw):
        errors["goods_value"] = "amount_invalid"
    elif Decimal(raw) >= VALUE_LIMIT:
        errors["goods_value"] = "number_too_large"
    else:
        values["goods_value"] = Decimal(raw)
    return Figures(**{k: values.get(k, 0) for k in FIGURE_FIELDS})


# ----------------------------------------------------------------------------- key trademarks

REG_NUMBER = re.compile(r"[0-9]{1,12}")


def parse_classes(raw: str) -> list[int] | None:
    """Nice classes 1–45, given as "9, 25；35" or "9 25"; None when any is not a class."""
    parts = [p for p in re.split(r"[\s,，;；、]+", (raw or "").strip()) if p]
    out = []
    for p in parts:
        if not p.isascii() or not p.isdigit() or not 1 <= int(p) <= 45:
            return None
        out.append(int(p))
    return sorted(set(out))


def trademark_numbers(raw: str) -> list[str]:
    """The registration numbers written in a case's trademark field."""
    return [n for n in re.split(r"[^0-9]+", raw or "") if n]


def g60_cities_of(regions: list[str]) -> set[str]:
    """The G60 cities named in agency regions ("浙江省嘉兴市" → 嘉兴)."""
    return {c for r in regions for c in G60_CITIES if c in (r or "")}
