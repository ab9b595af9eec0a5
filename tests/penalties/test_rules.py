"""Pure rule tests for credit publication (SPEC §4): deadlines, periods, early end.

Every date below was counted by hand from the State Council's holiday arrangements
(and checked against ``chinese_calendar``); the working-day count never includes the
start day.
"""
import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from caseflow.core.calendar import WorkCalendar
from caseflow.penalties.rules import (CATEGORIES, NO_EARLY_END, DecisionFacts, PublicationParams,
                                      add_months, early_end_problems, enterprise_publicity_end,
                                      is_lower_amount, is_published, platform_period,
                                      publication_deadlines, repair_allowed_from,
                                      withdraw_deadline)

D = dt.date
cal = WorkCalendar()
P = PublicationParams()


def facts(*categories, **kw):
    kw.setdefault("decision_date", D(2025, 11, 3))
    return DecisionFacts(categories=tuple(categories), **kw)


# ----------------------------------------------------------------- the calendar we rely on


def test_holiday_calendar_assumptions():
    # National Day 2025: 10-01..10-08 off; Sun 09-28 and Sat 10-11 are make-up working days
    assert cal.is_workday(D(2025, 9, 28)) and cal.is_workday(D(2025, 10, 11))
    assert not any(cal.is_workday(D(2025, 10, d)) for d in range(1, 9))
    # Spring Festival 2026: 02-15..02-23 off; Sat 02-14 and Sat 02-28 make-up days
    assert cal.is_workday(D(2026, 2, 14)) and cal.is_workday(D(2026, 2, 28))
    assert not any(cal.is_workday(D(2026, 2, d)) for d in range(15, 24))
    # Labour Day 2026: 05-01..05-05 off; Sat 05-09 make-up day
    assert not any(cal.is_workday(D(2026, 5, d)) for d in range(1, 6))
    assert cal.is_workday(D(2026, 5, 9))
    # New Year 2026: 01-01..01-03 off; Sun 01-04 make-up day
    assert not cal.is_workday(D(2026, 1, 2)) and cal.is_workday(D(2026, 1, 4))


# ----------------------------------------------------------------- publication deadlines


def test_deadlines_ordinary_weeks():
    # Mon 2025-11-03: +7 WD = Wed 11-12; +20 WD = Mon 12-01
    d = publication_deadlines(facts("罚款", decision_date=D(2025, 11, 3)), cal, P)
    assert (d.platform, d.enterprise) == (D(2025, 11, 12), D(2025, 12, 1))
    assert d.enterprise_handover is None


def test_deadlines_across_national_day_2025():
    # Fri 09-26: 09-28(1) 09-29(2) 09-30(3) | 10-01..08 off |
    #   10-09(4) 10-10(5) 10-11 Sat(6) 10-13(7)
    # then 10-14..10-17 (8-11), 10-20..24 (12-16), 10-27..30 (17-20)
    d = publication_deadlines(facts("罚款", decision_date=D(2025, 9, 26)), cal, P)
    assert d.platform == D(2025, 10, 13)
    assert d.enterprise == D(2025, 10, 30)
    assert d.enterprise_handover is None


def test_deadlines_decision_on_a_holiday():
    # decided on 2025-10-01 (holiday): 10-09(1) 10-10(2) 10-11(3) 10-13(4) 14(5) 15(6) 16(7)
    d = publication_deadlines(facts("罚款", decision_date=D(2025, 10, 1)), cal, P)
    assert d.platform == D(2025, 10, 16)


def test_deadlines_across_spring_festival_2026():
    # Wed 02-11: 02-12(1) 02-13(2) 02-14 Sat(3) | 02-15..23 off | 02-24(4) 25(5) 26(6) 27(7)
    # 02-28 Sat(8) 03-02(9) 03-03(10) 04(11) 05(12) 06(13) 09(14) 10(15) 11(16) 12(17) 13(18)
    # 16(19) 17(20)
    d = publication_deadlines(facts("罚款", decision_date=D(2026, 2, 11)), cal, P)
    assert d.platform == D(2026, 2, 27)
    assert d.enterprise == D(2026, 3, 17)


def test_deadlines_other_province_party_national_day():
    # handover 10 WD after 09-26 = 10-16; publication 10 WD after the handover:
    # 10-17(1) 20(2) 21(3) 22(4) 23(5) 24(6) 27(7) 28(8) 29(9) 30(10)
    d = publication_deadlines(facts("罚款", decision_date=D(2025, 9, 26), other_province=True),
                              cal, P)
    assert d.enterprise_handover == D(2025, 10, 16)
    assert d.enterprise == D(2025, 10, 30)
    assert d.platform == D(2025, 10, 13)  # the credit platform is unaffected


def test_deadlines_other_province_party_spring_festival():
    # handover: 10 WD after 02-11 = 03-03; publication: 03-04(1) .. 03-17(10)
    d = publication_deadlines(facts("罚款", decision_date=D(2026, 2, 11), other_province=True),
                              cal, P)
    assert d.enterprise_handover == D(2026, 3, 3)
    assert d.enterprise == D(2026, 3, 17)


def test_other_province_second_leg_counts_from_the_handover():
    # distinct legs (3 + 2) make a wrong anchor visible: handover Mon 09-29, then
    # 2 WD after the handover = Thu 10-09 (not 2 WD after the decision = 09-29)
    p = PublicationParams(other_province_wd=(3, 2))
    d = publication_deadlines(facts("罚款", decision_date=D(2025, 9, 25), other_province=True),
                              cal, p)
    # Thu 09-25: 09-26(1) 09-28 Sun(2) 09-29(3)
    assert d.enterprise_handover == D(2025, 9, 29)
    assert d.enterprise == D(2025, 10, 9)  # 09-30(1) | holidays | 10-09(2)


def test_deadlines_follow_configured_parameters():
    p = PublicationParams(platform_wd=1, enterprise_wd=2)
    d = publication_deadlines(facts("罚款", decision_date=D(2025, 9, 26)), cal, p)
    assert (d.platform, d.enterprise) == (D(2025, 9, 28), D(2025, 9, 29))


# ----------------------------------------------------------------- what is published


@pytest.mark.parametrize("cats, expected", [
    (("警告",), False),
    (("警告", "警告"), False),
    ((), False),
    (("罚款",), True),
    (("通报批评",), True),
    (("警告", "罚款"), True),
    (("没收违法所得",), True),
    (("吊销许可证件",), True),
])
def test_is_published_by_category(cats, expected):
    assert is_published(facts(*cats)) is expected


@pytest.mark.parametrize("category", [c for c in CATEGORIES if c != "警告"])
def test_every_non_warning_category_published_unless_simple_procedure(category):
    assert is_published(facts(category)) is True
    assert is_published(facts(category, simple_procedure=True)) is False


# ----------------------------------------------------------------- lower amount


@pytest.mark.parametrize("fine, organisation, expected", [
    (Decimal("9999.99"), False, True),
    (Decimal("10000"), False, False),  # strictly below 1万
    (Decimal("10000.01"), False, False),
    (Decimal("1"), False, True),
    (Decimal("0"), False, False),  # no fine is not a "lower-amount fine"
    (Decimal("-5"), False, False),
    (Decimal("99999.99"), True, True),
    (Decimal("100000"), True, False),  # strictly below 10万
    (Decimal("10000"), True, True),  # 1万 is lower for an organisation
    (Decimal("0"), True, False),
    (Decimal("0.01"), True, True),
])
def test_is_lower_amount_thresholds(fine, organisation, expected):
    assert is_lower_amount(fine, organisation, P) is expected


def test_is_lower_amount_uses_configured_thresholds():
    p = PublicationParams(lower_amount_person=Decimal("5000"),
                          lower_amount_organisation=Decimal("50000"))
    assert not is_lower_amount(Decimal("5000"), False, p)
    assert is_lower_amount(Decimal("4999"), False, p)
    assert not is_lower_amount(Decimal("50000"), True, p)


# ----------------------------------------------------------------- enterprise publicity end


PUB = D(2025, 11, 30)
THREE_MONTHS = D(2026, 2, 28)  # 11-30 + 3 months, clamped to February's end
THREE_YEARS = D(2028, 11, 30)


@pytest.mark.parametrize("f, expected", [
    (facts("通报批评"), THREE_MONTHS),
    (facts("罚款", fine=Decimal(5000), lower_amount=True), THREE_MONTHS),
    (facts("通报批评", "罚款", fine=Decimal(5000), lower_amount=True), THREE_MONTHS),
    (facts("警告", "罚款", fine=Decimal(5000), lower_amount=True), THREE_MONTHS),
    (facts("警告", "通报批评"), THREE_MONTHS),
    (facts("罚款", fine=Decimal(500000)), THREE_YEARS),
    (facts("通报批评", "罚款", fine=Decimal(500000)), THREE_YEARS),
    (facts("警告", "罚款", fine=Decimal(500000)), THREE_YEARS),
    (facts("没收违法所得"), THREE_YEARS),
    (facts("罚款", "没收违法所得", fine=Decimal(5000), lower_amount=True), THREE_YEARS),
    (facts("通报批评", "没收非法财物"), THREE_YEARS),
    (facts("吊销许可证件"), THREE_YEARS),
    (facts("暂扣许可证件"), THREE_YEARS),
    (facts("责令停产停业"), THREE_YEARS),
    (facts("其他"), THREE_YEARS),
])
def test_enterprise_publicity_end(f, expected):
    assert enterprise_publicity_end(f, PUB) == expected


@pytest.mark.parametrize("category", [c for c in CATEGORIES if c not in ("警告", "通报批评", "罚款")])
def test_any_other_category_is_three_years_even_with_a_lower_fine(category):
    f = facts(category, "罚款", fine=Decimal(100), lower_amount=True)
    assert enterprise_publicity_end(f, D(2025, 3, 15)) == D(2028, 3, 15)


@pytest.mark.parametrize("day, months, expected", [
    (D(2025, 11, 30), 3, D(2026, 2, 28)),
    (D(2024, 2, 29), 36, D(2027, 2, 28)),
    (D(2024, 2, 29), 48, D(2028, 2, 29)),
    (D(2025, 8, 31), 6, D(2026, 2, 28)),
    (D(2023, 8, 31), 6, D(2024, 2, 29)),
    (D(2025, 1, 31), 1, D(2025, 2, 28)),
    (D(2025, 3, 31), 3, D(2025, 6, 30)),
    (D(2025, 10, 15), 3, D(2026, 1, 15)),
    (D(2025, 12, 31), 12, D(2026, 12, 31)),
    (D(2025, 5, 20), 0, D(2025, 5, 20)),
])
def test_add_months_month_ends(day, months, expected):
    assert add_months(day, months) == expected


# ----------------------------------------------------------------- credit-platform period


@pytest.mark.parametrize("severity", ["minor", "general", "serious"])
def test_platform_period_old_rule_until_2026_03_31(severity):
    p = platform_period(facts("罚款", decision_date=D(2026, 3, 31), severity=severity))
    assert p.published is True  # even a minor one under the old rule
    assert (p.min_end, p.max_end) == (D(2026, 6, 30), D(2029, 3, 31))


def test_platform_period_new_rule_minor_not_published():
    p = platform_period(facts("罚款", decision_date=D(2026, 4, 1), severity="minor"))
    assert p.published is False
    assert (p.min_end, p.max_end) == (None, None)


def test_platform_period_new_rule_general_three_months_to_one_year():
    p = platform_period(facts("罚款", decision_date=D(2026, 4, 1), severity="general"))
    assert p.published is True
    assert (p.min_end, p.max_end) == (D(2026, 7, 1), D(2027, 4, 1))


def test_platform_period_new_rule_serious_one_to_three_years():
    p = platform_period(facts("罚款", decision_date=D(2026, 4, 1), severity="serious"))
    assert p.published is True
    assert (p.min_end, p.max_end) == (D(2027, 4, 1), D(2029, 4, 1))


def test_platform_period_counts_from_decision_date_with_month_end_clamp():
    p = platform_period(facts("罚款", decision_date=D(2026, 5, 31), severity="general"))
    assert (p.min_end, p.max_end) == (D(2026, 8, 31), D(2027, 5, 31))
    p = platform_period(facts("罚款", decision_date=D(2025, 11, 30), severity="serious"))
    assert (p.min_end, p.max_end) == (D(2026, 2, 28), D(2028, 11, 30))  # old rule


def test_platform_period_rule_label_says_which_rule():
    old = platform_period(facts("罚款", decision_date=D(2026, 3, 31), severity="serious")).rule
    new = platform_period(facts("罚款", decision_date=D(2026, 4, 1), severity="serious")).rule
    assert old != new


# ----------------------------------------------------------------- withdrawal


@pytest.mark.parametrize("changed, expected", [
    (D(2025, 9, 30), D(2025, 10, 11)),  # 10-09(1) 10-10(2) Sat 10-11 make-up(3)
    (D(2025, 9, 26), D(2025, 9, 30)),  # Sun 09-28(1) 09-29(2) 09-30(3)
    (D(2026, 2, 12), D(2026, 2, 24)),  # 02-13(1) Sat 02-14(2) | 02-15..23 off | 02-24(3)
    (D(2026, 4, 30), D(2026, 5, 8)),  # 05-01..05 off: 05-06(1) 05-07(2) 05-08(3)
    (D(2026, 5, 7), D(2026, 5, 11)),  # 05-08(1) Sat 05-09(2) 05-11(3)
    (D(2025, 12, 31), D(2026, 1, 6)),  # 01-01..03 off, Sun 01-04(1) 01-05(2) 01-06(3)
    (D(2025, 11, 6), D(2025, 11, 11)),  # Thu: 11-07(1) 11-10(2) 11-11(3)
])
def test_withdraw_deadline_three_working_days(changed, expected):
    assert withdraw_deadline(changed, cal, P) == expected


# ----------------------------------------------------------------- credit repair


def test_repair_allowed_after_six_months():
    assert repair_allowed_from(facts("罚款"), D(2025, 8, 31), P) == D(2026, 2, 28)
    assert repair_allowed_from(facts("罚款"), D(2025, 10, 9), P) == D(2026, 4, 9)


def test_repair_allowed_after_twelve_months_for_special_sectors():
    special = facts("罚款", special_sector=True)
    assert repair_allowed_from(special, D(2025, 8, 31), P) == D(2026, 8, 31)
    assert repair_allowed_from(special, D(2024, 2, 29), P) == D(2025, 2, 28)


def test_repair_months_configurable():
    p = PublicationParams(repair_months=3, repair_months_special=9)
    assert repair_allowed_from(facts("罚款"), D(2025, 1, 15), p) == D(2025, 4, 15)
    special = facts("罚款", special_sector=True)
    assert repair_allowed_from(special, D(2025, 1, 15), p) == D(2025, 10, 15)


# ----------------------------------------------------------------- early end of publicity


OK = dict(paid=True, corrected=True, committed=True, published_on=D(2025, 6, 1),
          today=D(2025, 9, 1))


def early(f, **over):
    return early_end_problems(f, **{**OK, **over})


def test_early_end_all_conditions_met():
    assert early(facts("罚款", fine=Decimal(5000))) == []
    assert early(facts("通报批评")) == []
    assert early(facts("没收违法所得", "罚款", fine=Decimal(5000))) == []


def test_early_end_fine_paid_only_matters_with_a_fine():
    assert early(facts("通报批评"), paid=False) == []
    assert early(facts("没收违法所得"), paid=False) == []
    assert early(facts("罚款"), paid=False) == ["fine_unpaid"]


@pytest.mark.parametrize("over, code", [
    ({"paid": False}, "fine_unpaid"),
    ({"corrected": False}, "not_corrected"),
    ({"committed": False}, "no_commitment"),
    ({"published_on": None}, "not_published"),
    ({"today": D(2025, 8, 31)}, "published_less_than_3_months"),  # one day short
    ({"today": D(2025, 6, 1)}, "published_less_than_3_months"),
])
def test_early_end_each_condition_alone(over, code):
    assert early(facts("罚款", fine=Decimal(5000)), **over) == [code]


def test_early_end_three_months_boundary_with_month_end():
    f = facts("罚款", fine=Decimal(5000))
    # published 11-30: three months end on 2026-02-28
    assert early(f, published_on=D(2025, 11, 30), today=D(2026, 2, 27)) == [
        "published_less_than_3_months"]
    assert early(f, published_on=D(2025, 11, 30), today=D(2026, 2, 28)) == []


@pytest.mark.parametrize("category", sorted(NO_EARLY_END))
def test_closure_revocation_restriction_never_end_early(category):
    assert early(facts(category)) == ["penalty_excludes_early_end"]
    assert early(facts("罚款", category, fine=Decimal(5000))) == ["penalty_excludes_early_end"]


def test_no_early_end_set_covers_the_spec_categories():
    assert {"吊销许可证件", "责令关闭", "限制开展生产经营活动", "责令停产停业", "限制从业"} <= NO_EARLY_END


def test_early_end_reports_every_problem():
    got = early(facts("罚款", "吊销许可证件"), paid=False, corrected=False, committed=False,
                published_on=None)
    assert set(got) == {"penalty_excludes_early_end", "not_published", "fine_unpaid",
                        "not_corrected", "no_commitment"}


# ----------------------------------------------------------------- properties


category_sets = st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=4, unique=True)


@settings(max_examples=300, deadline=None)
@given(st.dates(min_value=D(2005, 1, 1), max_value=D(2026, 12, 31)), category_sets,
       st.booleans(), st.booleans(), st.decimals(0, 10**6, places=2))
def test_deadline_properties(day, cats, other_province, lower, fine):
    f = DecisionFacts(decision_date=day, categories=tuple(cats), fine=fine, lower_amount=lower,
                      other_province=other_province)
    d = publication_deadlines(f, cal, P)
    assert day < d.platform <= d.enterprise
    assert cal.is_workday(d.platform) and cal.is_workday(d.enterprise)
    assert cal.working_days_between(day, d.platform) == 7
    assert cal.working_days_between(day, d.enterprise) == 20
    if other_province:
        assert day < d.enterprise_handover < d.enterprise
        assert cal.is_workday(d.enterprise_handover)
        assert cal.working_days_between(day, d.enterprise_handover) == 10
    else:
        assert d.enterprise_handover is None
    end = enterprise_publicity_end(f, day)
    assert end > day
    assert end in (add_months(day, 3), add_months(day, 36))


@settings(max_examples=300, deadline=None)
@given(st.dates(min_value=D(2005, 1, 1), max_value=D(2026, 12, 31)), category_sets,
       st.sampled_from(["minor", "general", "serious"]))
def test_platform_period_properties(day, cats, severity):
    p = platform_period(DecisionFacts(decision_date=day, categories=tuple(cats), severity=severity))
    if p.published:
        assert day < p.min_end < p.max_end
        assert p.max_end <= add_months(day, 36)
    else:
        assert day >= D(2026, 4, 1) and severity == "minor"
