"""Input and output shapes for cases, shared by the HTML forms and the JSON API.

The HTML views feed the same models as the API, so a rule holds in both or in neither.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (BaseModel, ConfigDict, Field, StringConstraints, ValidationError,
                      field_validator, model_validator)
from pydantic_core import PydanticCustomError

from caseflow.cases.rules import ACTIONS, PENALTY_KINDS, Channel, IPType, PartyKind, PauseKind
from caseflow.core import ids

MAX_MONEY = Decimal("1000000000000")  # 1e12 元: larger means a typing error
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Text300 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20000)]
Money = Annotated[Decimal, Field(ge=0, le=MAX_MONEY, max_digits=16, decimal_places=2)]


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, v):
        # NUL and other control characters (newline and tab allowed) are never real input;
        # PostgreSQL refuses NUL outright.
        if isinstance(v, str) and _CONTROL.search(v):
            raise PydanticCustomError("control_characters", "control_characters")
        return v


class PartyIn(_In):
    kind: PartyKind
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    credit_code: str | None = Field(default=None, description="统一社会信用代码 (business)")
    id_number: str | None = Field(default=None, description="居民身份证号码 (person)")
    address: Text300 = ""

    @field_validator("credit_code", "id_number", mode="before")
    @classmethod
    def _normalize(cls, v):
        return ids.normalize_code(v) or None if isinstance(v, str) else v

    @model_validator(mode="after")
    def _check_identifier(self):
        if self.kind == PartyKind.BUSINESS:
            if not self.credit_code:
                raise _field_error("credit_code", "credit_code_required")
            problem = ids.check_credit_code(self.credit_code)
            if problem:
                raise _field_error("credit_code", f"credit_code_{problem}")
            self.id_number = None
        else:
            if not self.id_number:
                raise _field_error("id_number", "id_number_required")
            problem = ids.check_id_number(self.id_number)
            if problem:
                raise _field_error("id_number", f"id_number_{problem}")
            self.credit_code = None
        return self


class GoodsIn(_In):
    """涉案物品: a kind of goods, how many, in which unit, worth how much."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    quantity: Money
    unit: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] = ""
    value: Money = Decimal(0)


class AmountsIn(_In):
    illegal_business_volume: Money = Decimal(0)  # 非法经营数额 (元)
    illegal_gains: Money = Decimal(0)  # 违法所得
    sales_amount: Money = Decimal(0)  # 销售金额
    unsold_goods_value: Money = Decimal(0)  # 未销售货值
    copies: Annotated[int, Field(ge=0, le=10**9)] = 0  # 复制品数量 / 标识件数
    rights_holder_loss: Money = Decimal(0)  # 权利人损失


class CaseFieldsIn(_In):
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]
    channel: Channel
    ip_type: IPType
    received_at: dt.date = Field(description="Date the clue was received (YYYY-MM-DD)")
    description: LongText = ""
    location: Text300 = ""
    infringement_kind: Text200 = ""
    trademark_numbers: list[str] = Field(default_factory=list, max_length=10,
                                         description="商标注册号, digits only (e.g. 1234567)")
    reporter_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""
    reporter_contact: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""
    is_major: bool = False
    joint_action_id: Annotated[int, Field(ge=1, lt=2**31)] | None = Field(
        default=None, description="The joint action (专项行动) the case was opened during")
    multiple_marks: bool = Field(default=False, description="两种以上注册商标 (lower thresholds)")
    repeat_offence: bool = Field(default=False, description="二年内因同类行为受过行政处罚")
    parties: list[PartyIn] = Field(default_factory=list, max_length=50)
    goods: list[GoodsIn] = Field(default_factory=list, max_length=100)
    amounts: AmountsIn = Field(default_factory=AmountsIn)

    @field_validator("received_at")
    @classmethod
    def _received_past(cls, v: dt.date):
        from caseflow.core.timeutil import today_local

        if v > today_local():
            raise PydanticCustomError("date_in_future", "date_in_future")
        if v < dt.date(2000, 1, 1):
            raise PydanticCustomError("date_too_old", "date_too_old")
        return v

    @field_validator("trademark_numbers", mode="before")
    @classmethod
    def _split_numbers(cls, v):
        if isinstance(v, str):  # the form sends "1234567, 7654321"
            v = [x for x in re.split(r"[\s,，、;；]+", v) if x]
        return v

    @field_validator("trademark_numbers", mode="after")
    @classmethod
    def _check_numbers(cls, v: list[str]):
        out = []
        for n in v:
            n = n.strip().removeprefix("第").removesuffix("号")
            if not (n.isascii() and n.isdigit() and 1 <= len(n) <= 12):
                raise PydanticCustomError("trademark_number", "trademark_number")
            if n not in out:
                out.append(n)
        return out

    @model_validator(mode="after")
    def _unique_parties(self):
        seen = set()
        for i, p in enumerate(self.parties):
            key = p.credit_code or p.id_number
            if key in seen:
                raise _field_error(f"parties.{i}.{'credit_code' if p.credit_code else 'id_number'}",
                                   "duplicate_party")
            seen.add(key)
        return self


class ClueIn(CaseFieldsIn):
    """A new clue (线索登记)."""


class CaseUpdateIn(CaseFieldsIn):
    version: int = Field(description="The case version the edit is based on (optimistic lock)")


class TransitionIn(_In):
    action: Literal[ACTIONS]  # type: ignore[valid-type]
    version: int | None = Field(default=None, description="Expected case version; stale → 409")
    reason: LongText = ""
    effective_on: dt.date | None = Field(default=None, description="Date the step happened, if earlier")
    pause_kind: PauseKind | None = None
    days: Annotated[int, Field(ge=1, le=365)] | None = None
    proposed_fine: Money | None = None
    proposed_penalties: list[Literal[PENALTY_KINDS]] = Field(default_factory=list)  # type: ignore
    hearing_date: dt.date | None = None
    fine_amount: Money | None = None
    confiscated_amount: Money | None = None
    penalty_kinds: list[Literal[PENALTY_KINDS]] = Field(default_factory=list)  # type: ignore
    decision_summary: LongText = ""
    paid_amount: Money | None = None
    no_referral_reason: LongText = Field(
        default="", description="Why a case meeting a criminal threshold is decided without referral")


class OfficersIn(_In):
    version: int
    officer_ids: list[int] = Field(min_length=1, max_length=20)
    lead_officer_id: int | None = None


# ----------------------------------------------------------------------------- output


class ClockOut(BaseModel):
    name: str
    label: str
    due: dt.date
    paused: bool
    overdue: bool
    days_left: int | None
    stopped_on: dt.date | None
    unit: str
    source: str
    party_clock: bool


class EventOut(BaseModel):
    id: int
    at: dt.datetime
    effective_on: dt.date
    user: str
    action: str
    label: str
    from_state: str | None
    to_state: str | None
    reason: str | None
    data: dict


class TimelineOut(BaseModel):
    items: list[EventOut]


class GoodsOut(BaseModel):
    name: str
    quantity: Decimal
    unit: str
    value: Decimal


class PartyOut(BaseModel):
    kind: str
    name: str
    credit_code: str | None
    id_number: str | None
    address: str


class CaseSummaryOut(BaseModel):
    id: int
    number: str | None
    title: str
    state: str
    channel: str
    ip_type: str
    received_at: dt.date
    version: int
    overdue: bool


class CaseListOut(BaseModel):
    items: list[CaseSummaryOut]
    next_cursor: str | None
    counts: dict[str, int]


class CaseOut(BaseModel):
    id: int
    number: str | None
    title: str
    state: str
    channel: str
    ip_type: str
    infringement_kind: str
    trademark_numbers: list[str] = Field(default_factory=list)
    received_at: dt.date
    description: str
    location: str
    is_major: bool
    joint_action_id: int | None = Field(default=None, description="The joint action the case is linked to")
    version: int
    parties: list[PartyOut]
    goods: list[GoodsOut] = Field(default_factory=list)
    amounts: AmountsIn | None = Field(description="null when the share does not include amounts")
    officers: list[str]
    pending_action: str | None
    allowed_actions: list[str]
    clocks: list[ClockOut]
    timeline: list[EventOut]
    shared: bool = Field(default=False, description="true when another agency shares the case with you")


class CustodyOut(BaseModel):
    at: dt.datetime
    action: str = Field(description="captured, received, accessed or handed_over")
    agency: str
    user: str
    data: dict


class EvidenceOut(BaseModel):
    id: int
    case_id: int
    kind: str = Field(description="photo, video or document")
    filename: str
    content_type: str
    size: int
    sha256: str
    captured_at: dt.datetime
    latitude: Decimal | None
    longitude: Decimal | None
    place: str
    description: str
    uploaded_by: str
    uploaded_at: dt.datetime
    custody: list[CustodyOut]


class EvidenceListOut(BaseModel):
    items: list[EvidenceOut]


class TokenIn(_In):
    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    label: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = Field(
        default="", description="What to call the token, e.g. the phone it is on")
    otp: Annotated[str, StringConstraints(strip_whitespace=True, max_length=12)] = Field(
        default="", description="The 6-digit one-time code of the user's authenticator app; "
                                "required for accounts with a second factor (administrators, "
                                "approvers)")


class TokenOut(BaseModel):
    token: str
    expires_at: dt.datetime


class TokenInfoOut(BaseModel):
    id: int
    user: str
    label: str
    created_at: dt.datetime
    expires_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenListOut(BaseModel):
    items: list[TokenInfoOut]


class TaskOut(BaseModel):
    id: int
    action_id: int
    action: str
    title: str
    description: str
    state: str
    due_on: dt.date
    overdue: bool
    target: str | None
    version: int


class InspectionOut(BaseModel):
    id: int
    business: str
    credit_code: str
    address: str
    item: str
    due_date: dt.date
    state: str = Field(description="scheduled, done or published")
    result: str | None
    inspected_on: dt.date | None


class InspectionResultIn(_In):
    result: str = Field(description="one of the result options of the inspection screen")
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] = ""
    inspected_on: dt.date


class ReminderOut(BaseModel):
    id: int
    kind: str
    subject: str
    body: str
    link: str
    due_at: dt.datetime
    read: bool


class MyWorkOut(BaseModel):
    tasks: list[TaskOut]
    inspections: list[InspectionOut]
    inbox: list[ReminderOut]


# ----------------------------------------------------------------------------- errors


class _FieldError(ValueError):
    pass


def _field_error(path: str, code: str) -> PydanticCustomError:
    """A model-level error that still names its field (``loc`` suffix in the context)."""
    return PydanticCustomError(code, code, {"field": path})


def error_map(exc: ValidationError, translate) -> dict[str, str]:
    """Flatten pydantic errors to {"parties.0.credit_code": message}.

    ``translate(code, ctx)`` turns an error type into a user message.
    """
    out: dict[str, str] = {}
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"]]
        ctx = err.get("ctx") or {}
        if "field" in ctx:
            loc = loc + str(ctx["field"]).split(".")
        path = ".".join(loc) or "__root__"
        out.setdefault(path, translate(err["type"], ctx))
    return out
