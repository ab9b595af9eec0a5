import datetime as dt

from hypothesis import given, strategies as st

from caseflow.core.calendar import WorkCalendar
from caseflow.core.clocks import ClockSpec, Pause, Unit, evaluate

D = dt.date
cal = WorkCalendar()


def test_spec_example_national_day_2025():
    # Fri 2025-09-26 + 15 WD: Sun 09-28 and Sat 10-11 are make-up working days,
    # 10-01..10-08 holidays → ends Thu 2025-10-23.
    assert cal.add_working_days(D(2025, 9, 26), 15) == D(2025, 10, 23)


def test_make_up_days_and_holidays():
    assert cal.is_workday(D(2025, 9, 28))  # Sunday, make-up working day
    assert cal.is_workday(D(2025, 10, 11))  # Saturday, make-up working day
    assert not cal.is_workday(D(2025, 10, 8))  # holiday
    assert not cal.is_workday(D(2025, 10, 4))


def test_event_day_not_counted():
    assert cal.add_working_days(D(2025, 9, 26), 1) == D(2025, 9, 28)
    assert cal.add_working_days(D(2025, 9, 26), 0) == D(2025, 9, 26)


def test_calendar_period_ending_on_holiday_moves_to_next_working_day():
    # 2025-09-21 + 10 d = 10-01 (National Day) → next working day 10-09
    assert cal.add_calendar_days(D(2025, 9, 21), 10) == D(2025, 10, 9)
    # ends on a working day: unchanged
    assert cal.add_calendar_days(D(2025, 3, 1), 9) == D(2025, 3, 10)


def test_spring_festival_2026():
    # 2026 Spring Festival: 02-15..02-23 off; 02-14 (Sat) and 02-28 (Sat) make-up days
    assert not cal.is_workday(D(2026, 2, 18))
    assert cal.is_workday(D(2026, 2, 14))


def test_uncovered_year_falls_back_to_weekdays_and_is_flagged():
    assert not cal.is_covered(D(2030, 5, 6))
    assert cal.is_workday(D(2030, 5, 6))  # Monday
    assert not cal.is_workday(D(2030, 5, 4))  # Saturday
    assert cal.uncovered_between(D(2029, 12, 1), D(2030, 1, 5))


def test_admin_overrides_take_precedence_and_cover_their_year():
    custom = WorkCalendar({D(2030, 5, 6): False, D(2030, 5, 4): True})
    assert not custom.is_workday(D(2030, 5, 6))
    assert custom.is_workday(D(2030, 5, 4))
    assert custom.is_covered(D(2030, 8, 1))


def test_working_days_between():
    assert cal.working_days_between(D(2025, 9, 26), D(2025, 10, 23)) == 15
    assert cal.working_days_between(D(2025, 10, 23), D(2025, 9, 26)) == -15
    assert cal.working_days_between(D(2025, 10, 1), D(2025, 10, 1)) == 0


@given(st.dates(min_value=D(2005, 1, 1), max_value=D(2026, 6, 30)), st.integers(0, 40))
def test_add_working_days_inverse(start, n):
    end = cal.add_working_days(start, n)
    assert cal.working_days_between(start, end) == n
    if n:
        assert cal.is_workday(end)


@given(st.dates(min_value=D(2005, 1, 1), max_value=D(2026, 6, 30)), st.integers(0, 120))
def test_calendar_period_ends_on_working_day_within_limit(start, n):
    end = cal.add_calendar_days(start, n)
    assert cal.is_workday(end)
    assert end >= start + dt.timedelta(days=n)
    assert (end - (start + dt.timedelta(days=n))).days <= 10  # longest holiday run


def test_clock_pause_and_extension():
    spec = ClockSpec("decision", D(2025, 3, 3), 90, Unit.CALENDAR_DAYS, "§60",
                     extensions=[30], pauses=[Pause(D(2025, 4, 1), D(2025, 4, 11))])
    state = evaluate(spec, D(2025, 5, 1), cal)
    # 3-3 + 130 d = 2025-07-11 (Friday, a working day)
    assert state.due == D(2025, 7, 11)
    assert state.paused_days == 10 and not state.paused and not state.overdue


def test_running_pause_is_reported_and_never_overdue():
    spec = ClockSpec("decision", D(2025, 1, 2), 90, Unit.CALENDAR_DAYS, "§60",
                     pauses=[Pause(D(2025, 2, 3))])
    state = evaluate(spec, D(2025, 12, 31), cal)
    assert state.paused and not state.overdue


def test_stopped_clock_met_or_late():
    spec = ClockSpec("verification", D(2025, 9, 26), 15, Unit.WORKING_DAYS, "§18",
                     stopped_on=D(2025, 10, 23))
    assert evaluate(spec, D(2026, 1, 1), cal).met is True
    spec.stopped_on = D(2025, 10, 24)
    s = evaluate(spec, D(2026, 1, 1), cal)
    assert s.met is False and s.overdue


def test_days_left_and_overdue():
    spec = ClockSpec("verification", D(2025, 9, 26), 15, Unit.WORKING_DAYS, "§18")
    assert evaluate(spec, D(2025, 10, 20), cal).days_left == 3
    late = evaluate(spec, D(2025, 10, 24), cal)
    assert late.overdue and late.days_left == -1
