"""Criminal thresholds (立案追诉标准) and the guard against 以罚代刑. Plain Python, no Flask.

The rule rows live in the ``criminal_threshold`` table (seeded from SPEC §3, each with its
source and a ``verified`` flag, editable by the system administrator as new versions).
This module decides which rows are in force on a day and which a case's amounts meet.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

#: Metrics a threshold can measure; each is a field of the case.
METRICS = ("illegal_business_volume", "illegal_gains", "sales_amount", "unsold_goods_value",
           "copies", "rights_holder_loss")
LEVELS = ("entry", "serious")
#: Conditions under which a lower threshold applies; each is a yes/no fact of the case.
CONDITIONS = ("", "multiple_marks", "repeat_offence")

CRIMES = {
    "213": ("假冒注册商标罪", ("trademark",)),
    "214": ("销售假冒注册商标的商品罪", ("trademark",)),
    "215": ("非法制造、销售非法制造的注册商标标识罪", ("trademark",)),
    "216": ("假冒专利罪", ("patent",)),
    "217": ("侵犯著作权罪", ("copyright",)),
    "218": ("销售侵权复制品罪", ("copyright",)),
    "219": ("侵犯商业秘密罪", ("trade_secret",)),
}


@dataclass(frozen=True)
class Rule:
    id: int | None
    crime: str
    metric: str
    level: str
    amount: Decimal
    condition: str
    effective_from: dt.date
    source: str
    verified: bool
    note: str = ""

    @property
    def key(self) -> tuple:
        return (self.crime, self.metric, self.level, self.condition)


@dataclass(frozen=True)
class Match:
    rule: Rule
    value: Decimal

    @property
    def crime_name(self) -> str:
        return CRIMES[self.rule.crime][0]


def rules_in_force(rules: list[Rule], on: dt.date) -> list[Rule]:
    """For each (crime, metric, level, condition) the newest version effective on ``on``."""
    best: dict[tuple, Rule] = {}
    for r in rules:
        if r.effective_from > on:
            continue
        cur = best.get(r.key)
        if cur is None or (r.effective_from, r.id or 0) > (cur.effective_from, cur.id or 0):
            best[r.key] = r
    return sorted(best.values(), key=lambda r: (r.crime, r.level, r.condition, r.metric))


def matching_rules(ip_type: str, amounts: dict[str, Decimal], conditions: set[str],
                   rules: list[Rule], on: dt.date) -> list[Match]:
    """Thresholds the case's amounts meet, for crimes that its IP type can constitute.

    Any one metric at or above its amount suffices (the interpretations say "或").
    A conditioned row (two or more marks, repeat offence) applies only when the case has
    that fact. 行政执法机关移送涉嫌犯罪案件的规定 §3: reasonable suspicion is enough; the
    threshold need not be proven.
    """
    out = []
    for r in rules_in_force(rules, on):
        if ip_type not in CRIMES[r.crime][1]:
            continue
        if r.condition and r.condition not in conditions:
            continue
        value = Decimal(amounts.get(r.metric) or 0)
        if value > 0 and value >= r.amount:
            out.append(Match(r, value))
    return out


def seed_rows() -> list[dict]:
    """SPEC §3 as table rows (amounts in yuan; copies in pieces)."""
    v2004 = ("法释〔2004〕19号", True)
    v2007 = ("法释〔2007〕6号", True)
    v2020 = ("法释〔2020〕10号；2020年修正的立案追诉标准", True)
    s2025 = ("法释〔2025〕5号（二手资料，待核对原文）", False)
    m2025 = ("法释〔2025〕5号下调（未核实）", False)
    d2004 = dt.date(2004, 12, 22)
    d2007 = dt.date(2007, 4, 5)
    d2020 = dt.date(2020, 9, 14)
    d2025 = dt.date(2025, 4, 26)
    rows = []

    def add(crime, metric, level, amount, src, since, condition="", note=""):
        rows.append(dict(crime=crime, metric=metric, level=level, amount=Decimal(amount),
                         condition=condition, effective_from=since, source=src[0],
                         verified=src[1], note=note))

    # 213 假冒注册商标罪
    add("213", "illegal_business_volume", "entry", 50000, v2004, d2004)
    add("213", "illegal_gains", "entry", 30000, v2004, d2004)
    add("213", "illegal_business_volume", "entry", 30000, v2004, d2004, "multiple_marks")
    add("213", "illegal_gains", "entry", 20000, v2004, d2004, "multiple_marks")
    add("213", "illegal_business_volume", "serious", 250000, v2004, d2004)
    add("213", "illegal_gains", "serious", 150000, v2004, d2004)
    add("213", "illegal_business_volume", "serious", 150000, v2004, d2004, "multiple_marks")
    add("213", "illegal_gains", "serious", 100000, v2004, d2004, "multiple_marks")
    # 214 销售假冒注册商标的商品罪
    add("214", "sales_amount", "entry", 50000, v2004, d2004)
    add("214", "illegal_gains", "entry", 30000, s2025, d2025)
    add("214", "sales_amount", "entry", 50000, s2025, d2025)
    add("214", "unsold_goods_value", "entry", 150000, s2025, d2025, note="未销售货值达15万元以上的，以未遂论")
    add("214", "sales_amount", "serious", 250000, s2025, d2025)
    # 215 非法制造、销售非法制造的注册商标标识罪
    add("215", "copies", "entry", 20000, v2004, d2004, note="标识件数")
    add("215", "illegal_business_volume", "entry", 50000, v2004, d2004)
    add("215", "illegal_gains", "entry", 30000, v2004, d2004)
    add("215", "copies", "entry", 10000, v2004, d2004, "multiple_marks", note="标识件数")
    add("215", "copies", "serious", 100000, v2004, d2004, note="标识件数")
    add("215", "illegal_business_volume", "serious", 250000, v2004, d2004)
    add("215", "illegal_gains", "serious", 150000, v2004, d2004)
    # 216 假冒专利罪
    add("216", "illegal_business_volume", "entry", 200000, v2004, d2004)
    add("216", "illegal_gains", "entry", 100000, v2004, d2004)
    add("216", "rights_holder_loss", "entry", 500000, v2004, d2004)
    # 217 侵犯著作权罪
    add("217", "illegal_gains", "entry", 30000, v2004, d2004)
    add("217", "illegal_business_volume", "entry", 50000, v2004, d2004)
    add("217", "copies", "entry", 500, v2007, d2007)
    add("217", "illegal_gains", "serious", 150000, v2004, d2004)
    add("217", "illegal_business_volume", "serious", 250000, v2004, d2004)
    add("217", "copies", "serious", 2500, v2007, d2007)
    # 218 销售侵权复制品罪
    add("218", "illegal_gains", "entry", 50000, s2025, d2025)
    add("218", "sales_amount", "entry", 100000, s2025, d2025)
    add("218", "copies", "entry", 1000, s2025, d2025)
    add("218", "illegal_gains", "entry", 30000, s2025, d2025, "repeat_offence")
    add("218", "sales_amount", "entry", 50000, s2025, d2025, "repeat_offence")
    # 219 侵犯商业秘密罪
    add("219", "rights_holder_loss", "entry", 300000, v2020, d2020)
    add("219", "illegal_gains", "entry", 300000, v2020, d2020)
    add("219", "rights_holder_loss", "serious", 2500000, v2020, d2020)
    add("219", "illegal_gains", "serious", 2500000, v2020, d2020)
    return rows
