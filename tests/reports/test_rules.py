"""Reporting rules (caseflow.reports.rules): periods, weeks, percentiles, referral outcome
groups, publication timeliness, plan targets and the yearly report's first working day."""
import datetime as dt

import pytest
from hypothesis import example, given, settings, strategies as st

from caseflow.core.calendar import WorkCalendar
from caseflow.referrals.rules import RState
from caseflow.reports import rules as r
from caseflow.reports.rules import Period, PeriodError, Target
from tests.reports.conftest import months_of, reference_percentile

D = dt.date


# ----------------------------------------------------------------------------- periods

def test_months_are_cut_to_the_period_across_a_year_boundary():
    p = Period(D(2025, 11, 15), D(2026, 2, 10))
    assert [(m.start, m.end) for m in p.months()] == [
        (D(2025, 11, 15), D(2025, 11, 30)), (D(2025, 12, 1), D(2025, 12, 31)),
        (D(2026, 1, 1), D(2026, 1, 31)), (D(2026, 2, 1), D(2026, 2, 10))]


@pytest.mark.parametrize("start, end, expected", [
    (D(2026, 3, 5), D(2026, 3, 5), [(D(2026, 3, 5), D(2026, 3, 5))]),  # one day
    (D(2026, 1, 1), D(2026, 1, 31), [(D(2026, 1, 1), D(2026, 1, 31))]),  # one whole month
    (D(2024, 2, 28), D(2024, 3, 1), [(D(2024, 2, 28), D(2024, 2, 29)),  # leap year
                                     (D(2024, 3, 1), D(2024, 3, 1))]),
    (D(2025, 12, 31), D(2026, 1, 1), [(D(2025, 12, 31), D(2025, 12, 31)),
                                      (D(2026, 1, 1), D(2026, 1, 1))]),
])
def test_months_edges(start, end, expected):
    assert [(m.start, m.end) for m in Period(start, end).months()] == expected


@given(st.dates(D(2000, 1, 1), D(2030, 12, 31)), st.integers(0, 3 * 366))
def test_months_cover_the_period_without_gaps(start, length):
    end = start + dt.timedelta(days=length)
    months = Period(start, end).months()
    assert [(m.start, m.end) for m in months] == months_of(start, end)
    assert sum(m.days for m in months) == Period(start, end).days == length + 1
    for a, b in zip(months, months[1:]):
        assert b.start == a.end + dt.timedelta(days=1) and b.start.day == 1


def test_period_basics():
    p = Period.year(2024)
    assert (p.start, p.end, p.days) == (D(2024, 1, 1), D(2024, 12, 31), 366)
    assert D(2024, 2, 29) in p and D(2025, 1, 1) not in p and D(2023, 12, 31) not in p


def test_check_period_defaults_to_this_year_up_to_today():
    today = D(2026, 11, 23)
    assert r.check_period(None, None, today) == Period(D(2026, 1, 1), today)
    assert r.check_period(D(2025, 6, 1), None, today) == Period(D(2025, 6, 1), today)
    assert r.check_period(None, D(2026, 3, 31), today) == Period(D(2026, 1, 1), D(2026, 3, 31))
    # an end alone, in an earlier year: that year from 1 January
    assert r.check_period(None, D(2025, 12, 31), today) == Period(D(2025, 1, 1), D(2025, 12, 31))
    # a start after today and no end: the one day
    assert r.check_period(D(2026, 12, 5), None, today) == Period(D(2026, 12, 5), D(2026, 12, 5))


@pytest.mark.parametrize("start, end, code, field", [
    (D(2026, 5, 1), D(2026, 1, 1), "period_reversed", "to"),
    (D(2026, 5, 2), D(2026, 5, 1), "period_reversed", "to"),
    (D(2020, 1, 1), D(2024, 1, 1), "period_too_long", "to"),
    (D(2021, 1, 1), D(2021, 1, 1) + dt.timedelta(days=r.MAX_PERIOD_DAYS), "period_too_long", "to"),
    (D(1999, 12, 31), D(2000, 6, 30), "period_too_early", "from"),
])
def test_check_period_errors_name_their_field(start, end, code, field):
    with pytest.raises(PeriodError) as exc:
        r.check_period(start, end, D(2026, 11, 23))
    assert (exc.value.code, exc.value.field) == (code, field)
    assert isinstance(exc.value, ValueError)


def test_three_years_is_the_longest_period():
    start = D(2021, 1, 1)
    longest = start + dt.timedelta(days=r.MAX_PERIOD_DAYS - 1)
    assert r.check_period(start, longest, D(2026, 1, 1)).days == r.MAX_PERIOD_DAYS
    assert r.check_period(D(2023, 1, 1), D(2025, 12, 31), D(2026, 1, 1)).days == 1096
    assert r.check_period(r.EARLIEST, r.EARLIEST, D(2026, 1, 1)).days == 1


@pytest.mark.parametrize("day", [D(2026, 11, 23) + dt.timedelta(days=i) for i in range(7)])
def test_week_of_is_monday_to_sunday(day):
    w = r.week_of(day)
    assert (w.start, w.end) == (D(2026, 11, 23), D(2026, 11, 29))  # Mon 23 … Sun 29
    assert w.start.weekday() == 0 and w.end.weekday() == 6 and day in w


def test_week_across_a_year_boundary():
    w = r.week_of(D(2026, 1, 1))  # a Thursday
    assert (w.start, w.end) == (D(2025, 12, 29), D(2026, 1, 4))


# ----------------------------------------------------------------------------- percentiles

def expand(histogram):
    return [v for v, n in histogram.items() for _ in range(max(n, 0))]


@pytest.mark.parametrize("values, p, expected", [
    ([1, 2, 3, 4], 0, 1), ([1, 2, 3, 4], 0.5, 2.5), ([1, 2, 3, 4], 0.9, 3.7), ([1, 2, 3, 4], 1, 4),
    ([7], 0.5, 7), ([7], 0.9, 7), ([0, 10], 0.9, 9), ([5, 5, 5, 100], 0.5, 5),
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 0.9, 10),
])
def test_percentile_known_values(values, p, expected):
    hist = {}
    for v in values:
        hist[v] = hist.get(v, 0) + 1
    assert r.percentile(hist, p) == pytest.approx(expected)
    assert reference_percentile(values, p) == pytest.approx(expected)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.integers(0, 400), st.integers(0, 30), max_size=12),
       st.one_of(st.sampled_from([0, 0.5, 0.9, 1]), st.floats(0, 1)))
@example({3: 1}, 0.9)
@example({0: 0, 4: 2, 9: 1}, 0.5)
def test_percentile_matches_the_reference(histogram, p):
    values = expand(histogram)
    got = r.percentile(histogram, p)
    if not values:
        assert got is None
    else:
        assert got == pytest.approx(reference_percentile(values, p), abs=1e-9)
        assert min(values) <= got <= max(values)


@given(st.dictionaries(st.integers(0, 400), st.integers(1, 30), min_size=1, max_size=12))
def test_percentile_is_monotonic(histogram):
    ps = [0, 0.25, 0.5, 0.9, 1]
    got = [r.percentile(histogram, p) for p in ps]
    assert got == sorted(got)
    assert got[0] == min(histogram) and got[-1] == max(histogram)


def test_percentile_of_nothing_is_none_and_p_out_of_range_is_refused():
    assert r.percentile({}, 0.5) is None
    assert r.percentile({3: 0, 8: 0}, 0.9) is None
    assert r.percentile({3: -2}, 0.9) is None  # no negative counts
    for p in (-0.1, 1.1):
        with pytest.raises(ValueError):
            r.percentile({1: 1}, p)


# ----------------------------------------------------------------------------- referrals

OUTCOME = {
    RState.PROPOSED: "preparing", RState.PENDING_APPROVAL: "preparing",
    RState.APPROVED: "preparing", RState.REFUSED: "refused", RState.SENT: "with_police",
    RState.RECEIVED: "with_police", RState.FILED: "police_filed",
    RState.HANDED_OVER: "police_filed", RState.NOT_FILED: "not_filed",
    RState.RECONSIDERATION: "not_filed", RState.UPHELD: "not_filed",
    RState.SUPERVISION: "not_filed", RState.RETURNED: "returned",
}


@pytest.mark.parametrize("state", list(RState))
def test_every_referral_state_has_exactly_one_outcome(state):
    assert r.referral_outcome(state.value) == OUTCOME[state]
    groups = [g for g, states in r.REFERRAL_OUTCOMES.items() if state.value in states]
    assert groups == [OUTCOME[state]]


def test_outcome_groups_hold_only_referral_states():
    listed = [s for states in r.REFERRAL_OUTCOMES.values() for s in states]
    assert sorted(listed) == sorted(s.value for s in RState)
    with pytest.raises(ValueError):
        r.referral_outcome("lost")


# ----------------------------------------------------------------------------- publication

@pytest.mark.parametrize("published, today, expected", [
    (D(2026, 3, 10), D(2026, 5, 1), "on_time"),  # on the deadline day
    (D(2026, 3, 2), D(2026, 3, 2), "on_time"),
    (D(2026, 3, 11), D(2026, 5, 1), "late"),  # a day late
    (None, D(2026, 3, 11), "overdue"),  # the day after the deadline
    (None, D(2026, 3, 10), "pending"),  # the deadline is today
    (None, D(2026, 3, 1), "pending"),
])
def test_timeliness(published, today, expected):
    assert r.timeliness(published, D(2026, 3, 10), today) == expected


def test_on_time_share():
    assert r.on_time_share({}) is None
    assert r.on_time_share({"pending": 5}) is None  # nothing due yet
    assert r.on_time_share({"on_time": 3, "late": 1, "overdue": 0, "pending": 7}) == 0.75
    assert r.on_time_share({"on_time": 1, "overdue": 2}) == pytest.approx(1 / 3)
    assert r.on_time_share({"late": 2}) == 0
    assert r.on_time_share({"on_time": 4}) == 1


# ----------------------------------------------------------------------------- targets

@pytest.mark.parametrize("target, actual, met, share", [
    (10, 12, True, 1.0), (10, 10, True, 1.0), (10, 4, False, 0.4), (10, 0, False, 0.0),
    (100, 99.5, False, 0.995), (10, None, None, None), (0, 3, True, None),
])
def test_target_met_and_share(target, actual, met, share):
    t = Target("k", target, actual, "count")
    assert t.met is met
    assert t.share == (None if share is None else pytest.approx(share))


# ----------------------------------------------------------------------------- yearly report

def test_first_working_day_after_new_year_holidays():
    # 2026: 1–3 January off, Sunday 4 January a make-up working day (official calendar)
    cal = WorkCalendar()
    assert r.first_working_day(2026, cal) == D(2026, 1, 4)
    assert r.yearly_report_due(D(2026, 1, 1), cal) is None
    assert r.yearly_report_due(D(2026, 1, 3), cal) is None
    assert r.yearly_report_due(D(2026, 1, 4), cal) == 2025
    assert r.yearly_report_due(D(2026, 11, 23), cal) == 2025


def test_first_working_day_from_calendar_rows():
    # an administrator entered 2027's arrangement: 1 January (a Friday) is a holiday
    cal = WorkCalendar({D(2027, 1, 1): False})
    assert r.first_working_day(2027, cal) == D(2027, 1, 4)  # then the weekend
    assert r.yearly_report_due(D(2027, 1, 1), cal) is None
    assert r.yearly_report_due(D(2027, 1, 3), cal) is None
    assert r.yearly_report_due(D(2027, 1, 4), cal) == 2026
    assert r.yearly_report_due(D(2027, 12, 31), cal) == 2026
    # without the row, 1 January 2027 falls back to a weekday: due that day
    assert r.first_working_day(2027, WorkCalendar()) == D(2027, 1, 1)
    assert r.yearly_report_due(D(2027, 1, 1), WorkCalendar()) == 2026
    # a make-up working day on 1 January itself
    assert r.first_working_day(2028, WorkCalendar({D(2028, 1, 1): True})) == D(2028, 1, 1)
