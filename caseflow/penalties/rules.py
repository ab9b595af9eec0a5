"""Penalty decisions and credit publication (信用公示): deadlines, periods, the 双公示 CSV row.

Plain Python, no Flask. SPEC §4. Rules tagged [S]/[M] in SPEC take their numbers from
``PublicationParams`` so an administrator can correct them in configuration.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal

from caseflow.core.calendar import WorkCalendar

# 行政处罚法 §9
CATEGORIES = ("警告", "通报批评", "罚款", "没收违法所得", "没收非法财物", "暂扣许可证件", "降低资质等级",
              "吊销许可证件", "限制开展生产经营活动", "责令停产停业", "责令关闭", "限制从业", "行政拘留", "其他")
#: penalties whose publicity never ends early (总局令第45号 §14)
NO_EARLY_END = frozenset({"吊销许可证件", "责令关闭", "限制开展生产经营活动", "责令停产停业", "限制从业"})
SEVERITIES = ("minor", "general", "serious")  # 轻微 / 一般 / 严重
SUBJECT_KINDS = ("法人及非法人组织", "自然人", "个体工商户")
ID_TYPES = ("身份证", "护照号", "港澳居民来往内地通行证", "台湾居民来往大陆通行证", "外国人永久居留身份证")

RULE_CHANGE = dt.date(2026, 4, 1)  # credit-platform publicity periods change [S]
LONG_TERM = dt.date(2099, 12, 31)  # 处罚有效期 "long-term" [M]


@dataclass
class PublicationParams:
    platform_wd: int = 7  # 信用中国/双公示: 7 WD from the decision [S]
    enterprise_wd: int = 20  # 企业信用信息公示系统: 20 WD [V §9]
    other_province_wd: tuple[int, int] = (10, 10)  # party in another province: 10 + 10 WD [V §10]
    withdraw_wd: int = 3  # withdraw within 3 WD of a change or revocation [V §11]
    lower_amount_person: Decimal = Decimal("10000")  # "lower amount" fine, set by province [S]
    lower_amount_organisation: Decimal = Decimal("100000")
    repair_months: int = 6  # credit repair after 6 months of publicity [S]
    repair_months_special: int = 12  # food, drugs, special equipment [S]
    # credit-platform publicity periods in months [S]: before the rule change (NDRC Order 58)
    # min/max, then 一般 and 严重 ranges from RULE_CHANGE
    rule_change: dt.date = RULE_CHANGE
    old_months: tuple[int, int] = (3, 36)
    general_months: tuple[int, int] = (3, 12)
    serious_months: tuple[int, int] = (12, 36)


@dataclass
class DecisionFacts:
    decision_date: dt.date
    categories: tuple[str, ...]
    fine: Decimal = Decimal(0)
    severity: str = "general"
    lower_amount: bool = False
    other_province: bool = False
    special_sector: bool = False  # food, drugs, special equipment
    simple_procedure: bool = False  # 当场处罚: not published


def is_published(f: DecisionFacts) -> bool:
    """General-procedure decisions are published; warning-only ones never (总局令第45号)."""
    if f.simple_procedure or not f.categories:
        return False
    return set(f.categories) != {"警告"}


def is_lower_amount(fine: Decimal, organisation: bool, p: PublicationParams) -> bool:
    limit = p.lower_amount_organisation if organisation else p.lower_amount_person
    return Decimal(0) < fine < limit


@dataclass
class Deadlines:
    platform: dt.date
    enterprise: dt.date
    enterprise_handover: dt.date | None  # other province: hand to its authority first


def publication_deadlines(f: DecisionFacts, cal: WorkCalendar, p: PublicationParams) -> Deadlines:
    platform = cal.add_working_days(f.decision_date, p.platform_wd)
    if f.other_province:
        handover = cal.add_working_days(f.decision_date, p.other_province_wd[0])
        return Deadlines(platform, cal.add_working_days(handover, p.other_province_wd[1]), handover)
    return Deadlines(platform, cal.add_working_days(f.decision_date, p.enterprise_wd), None)


def add_months(day: dt.date, months: int) -> dt.date:
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    import calendar

    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def enterprise_publicity_end(f: DecisionFacts, published_on: dt.date) -> dt.date:
    """总局令第45号 §13: 3 months for 通报批评 or a lower-amount fine only; 3 years otherwise."""
    light = set(f.categories) <= {"警告", "通报批评", "罚款"} and (
        "罚款" not in f.categories or f.lower_amount)
    return add_months(published_on, 3 if light else 36)


@dataclass
class PlatformPeriod:
    published: bool
    min_end: dt.date | None
    max_end: dt.date | None
    rule: str


def platform_period(f: DecisionFacts, p: PublicationParams | None = None) -> PlatformPeriod:
    """Credit-platform publicity, counted from the decision date by the rules in force on it."""
    p = p or PublicationParams()
    d = f.decision_date
    if d < p.rule_change:
        lo, hi = p.old_months
        return PlatformPeriod(True, add_months(d, lo), add_months(d, hi), "发改委令第58号（规则变更前）")
    if f.severity == "minor":
        return PlatformPeriod(False, None, None, "规则变更后：轻微失信不公示")
    lo, hi = p.serious_months if f.severity == "serious" else p.general_months
    label = "严重" if f.severity == "serious" else "一般"
    return PlatformPeriod(True, add_months(d, lo), add_months(d, hi), f"规则变更后：{label}失信")


def withdraw_deadline(changed_on: dt.date, cal: WorkCalendar, p: PublicationParams) -> dt.date:
    return cal.add_working_days(changed_on, p.withdraw_wd)


def repair_allowed_from(f: DecisionFacts, published_on: dt.date, p: PublicationParams) -> dt.date:
    return add_months(published_on, p.repair_months_special if f.special_sector else p.repair_months)


def early_end_problems(f: DecisionFacts, *, paid: bool, corrected: bool, committed: bool,
                       published_on: dt.date | None, today: dt.date, no_repeat: bool = True,
                       not_listed: bool = True) -> list[str]:
    """What stops ending publicity early; empty when every condition holds (§14 [M]):
    obligations performed, harm removed, a credit commitment, no later penalty for the same
    kind of act, not in the abnormal-operation or serious-dishonesty lists."""
    problems = []
    if set(f.categories) & NO_EARLY_END:
        problems.append("penalty_excludes_early_end")
    if published_on is None:
        problems.append("not_published")
    elif today < add_months(published_on, 3):
        problems.append("published_less_than_3_months")
    if "罚款" in f.categories and not paid:
        problems.append("fine_unpaid")
    if not corrected:
        problems.append("not_corrected")
    if not committed:
        problems.append("no_commitment")
    if not no_repeat:
        problems.append("repeat_penalty")
    if not not_listed:
        problems.append("on_dishonesty_list")
    return problems


# ----------------------------------------------------------------------------- the CSV

CSV_HEADER = [
    "行政相对人名称", "行政相对人类别", "行政相对人代码_1(统一社会信用代码)", "行政相对人代码_2(工商注册号)",
    "行政相对人代码_3(组织机构代码)", "行政相对人代码_4(税务登记号)", "行政相对人代码_5(事业单位证书号)",
    "行政相对人代码_6(社会组织登记证号)", "法定代表人", "法定代表人证件类型", "法定代表人证件号码", "证件类型",
    "证件号码", "行政处罚决定书文号", "违法行为类型", "违法事实", "处罚依据", "处罚类别", "处罚内容",
    "罚款金额（万元）", "没收违法所得、没收非法财物的金额（万元）", "暂扣或吊销证照名称及编号", "处罚决定日期",
    "处罚有效期", "公示截止期", "处罚机关", "处罚机关统一社会信用代码", "数据来源单位", "数据来源单位统一社会信用代码",
    "备注",
]


@dataclass
class CsvRecord:
    subject_name: str
    subject_kind: str  # one of SUBJECT_KINDS
    credit_code: str = ""
    legal_rep: str = ""
    legal_rep_id_type: str = ""
    legal_rep_id_number: str = ""
    id_type: str = ""
    id_number: str = ""
    number: str = ""  # 文号
    violation_type: str = ""
    facts: str = ""
    basis: str = ""
    categories: tuple[str, ...] = ()
    content: str = ""
    fine: Decimal = Decimal(0)
    confiscated: Decimal = Decimal(0)
    licence: str = ""
    decision_date: dt.date | None = None
    valid_until: dt.date | None = None
    publicity_end: dt.date | None = None
    authority: str = ""
    authority_code: str = ""
    source: str = ""
    source_code: str = ""
    note: str = ""
    extra: dict = field(default_factory=dict)


class RowRefused(Exception):
    def __init__(self, missing: list[str]):
        super().__init__(", ".join(missing))
        self.missing = missing


def wan(amount: Decimal) -> str:
    """Yuan → 万元 without trailing zeros: 2000 → 0.2, 150000 → 15, 0 → 0."""
    v = (Decimal(amount) / Decimal(10000)).normalize()
    text = format(v, "f")
    return text


def ymd(day: dt.date | None) -> str:
    return day.strftime("%Y/%m/%d") if day else ""


_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")  # ASCII digits only; fullmatch, no "\n"
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "\n")


def cell(value: str) -> str:
    """Formula-injection safe: a text starting with = + - @ tab CR LF gets a leading
    apostrophe, unless it is a plain number (a negative amount stays a number)."""
    value = "" if value is None else str(value)
    if value.startswith(_DANGEROUS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_row(r: CsvRecord) -> list[str]:
    """One 双公示 row, or RowRefused with every missing required field (never half-filled)."""
    missing = []
    person = r.subject_kind == "自然人"
    req = {"行政相对人名称": r.subject_name, "行政相对人类别": r.subject_kind,
           "行政处罚决定书文号": r.number, "违法行为类型": r.violation_type, "违法事实": r.facts,
           "处罚依据": r.basis, "处罚类别": "、".join(r.categories), "处罚内容": r.content,
           "处罚决定日期": ymd(r.decision_date), "处罚机关": r.authority,
           "处罚机关统一社会信用代码": r.authority_code, "数据来源单位": r.source,
           "数据来源单位统一社会信用代码": r.source_code}
    if r.subject_kind not in SUBJECT_KINDS:
        missing.append("行政相对人类别")
    if person:
        req.update({"证件类型": r.id_type, "证件号码": r.id_number})
    else:
        req.update({"行政相对人代码_1(统一社会信用代码)": r.credit_code})
        if r.subject_kind == "法人及非法人组织":
            req["法定代表人"] = r.legal_rep
    if "罚款" in r.categories and not r.fine:
        missing.append("罚款金额（万元）")
    if any(c in r.categories for c in ("暂扣许可证件", "吊销许可证件")) and not r.licence:
        missing.append("暂扣或吊销证照名称及编号")
    missing = [k for k, v in req.items() if not (v or "").strip()] + missing
    if missing:
        raise RowRefused(list(dict.fromkeys(missing)))
    values = [
        r.subject_name, r.subject_kind,
        "" if person else r.credit_code, "", "", "", "", "",
        "" if person else r.legal_rep,
        "" if person else r.legal_rep_id_type, "" if person else r.legal_rep_id_number,
        r.id_type if person else "", r.id_number if person else "",
        r.number, r.violation_type, r.facts, r.basis, "、".join(r.categories), r.content,
        wan(r.fine), wan(r.confiscated), r.licence, ymd(r.decision_date),
        ymd(r.valid_until or LONG_TERM), ymd(r.publicity_end), r.authority, r.authority_code,
        r.source, r.source_code, r.note,
    ]
    return [cell(v) for v in values]
