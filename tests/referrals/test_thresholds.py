"""The criminal-threshold table and the guard against 以罚代刑."""
import datetime as dt
from decimal import Decimal

import pytest

from caseflow.referrals import thresholds as th

D = dt.date


def rules():
    return [th.Rule(i, verified=r.pop("verified"), **r) for i, r in enumerate(th.seed_rows(), 1)]


def test_seed_covers_every_crime_with_sources():
    rows = th.seed_rows()
    assert {r["crime"] for r in rows} == set(th.CRIMES)
    assert all(r["source"] for r in rows)
    assert any(not r["verified"] for r in rows) and any(r["verified"] for r in rows)


@pytest.mark.parametrize("ip_type,amounts,conditions,expected", [
    ("trademark", {"sales_amount": 50000}, set(), {"214"}),
    ("trademark", {"sales_amount": 49999}, set(), set()),
    ("trademark", {"illegal_business_volume": 50000}, set(), {"213", "215"}),
    ("trademark", {"illegal_business_volume": 30000}, {"multiple_marks"}, {"213"}),
    ("trademark", {"illegal_business_volume": 30000}, set(), set()),
    ("copyright", {"copies": 500}, set(), {"217"}),
    ("copyright", {"copies": 1000}, set(), {"217", "218"}),
    ("copyright", {"sales_amount": 50000}, {"repeat_offence"}, {"218"}),
    ("patent", {"illegal_gains": 100000}, set(), {"216"}),
    ("trade_secret", {"rights_holder_loss": 300000}, set(), {"219"}),
    ("geographical_indication", {"illegal_business_volume": 10**7}, set(), set()),
])
def test_matching(ip_type, amounts, conditions, expected):
    amounts = {k: Decimal(v) for k, v in amounts.items()}
    got = th.matching_rules(ip_type, amounts, conditions, rules(), D(2026, 1, 1))
    assert {m.rule.crime for m in got} == expected


def test_rule_versions_by_effective_date():
    base = rules()
    newer = th.Rule(999, "214", "sales_amount", "entry", Decimal(30000), "", D(2027, 1, 1),
                    "假设的新解释", False)
    amounts = {"sales_amount": Decimal(40000)}
    assert not th.matching_rules("trademark", amounts, set(), base + [newer], D(2026, 6, 1))
    got = th.matching_rules("trademark", amounts, set(), base + [newer], D(2027, 1, 1))
    assert [m.rule.id for m in got] == [999]


def test_214_before_2025_uses_the_2004_row():
    amounts = {"illegal_gains": Decimal(40000)}
    crimes = lambda on: {m.rule.crime for m in th.matching_rules("trademark", amounts, set(),  # noqa
                                                                  rules(), on)}
    # the 违法所得 ≥3万 row of 214 exists only from 2025-04-26 (213 and 215 have had theirs since 2004)
    assert crimes(D(2025, 4, 25)) == {"213", "215"}
    assert crimes(D(2025, 4, 26)) == {"213", "214", "215"}
