"""Pure tests of caseflow/actions/rules.py: the task state machine, the overdue flag, the
figures of a report and their totals, Nice classes, registration numbers and G60 cities."""
import datetime as dt
from decimal import Decimal

import pytest

from caseflow.actions import rules as r
from caseflow.actions.rules import Figures, RuleViolation, TaskState

# The state machine of SPEC §6, written out independently of TASK_TRANSITIONS:
# action → {source state: target state}
EXPECTED = {
    "accept": {"assigned": "accepted"},
    "decline": {"assigned": "declined"},
    "start": {"accepted": "in_progress"},
    "report": {"accepted": "reported", "in_progress": "reported"},
    "verify": {"reported": "verified"},  # with a final report; see the verify tests
    "return": {"reported": "in_progress"},
    "reassign": {"assigned": "assigned", "accepted": "assigned", "declined": "assigned",
                 "in_progress": "assigned"},
    "cancel": {"assigned": "cancelled", "accepted": "cancelled", "declined": "cancelled",
               "in_progress": "cancelled", "reported": "cancelled"},
}
ALL_STATES = ["assigned", "accepted", "declined", "in_progress", "reported", "verified",
              "cancelled"]
ALL_ACTIONS = list(EXPECTED)
ALLOWED = [(s, a, EXPECTED[a][s]) for a in ALL_ACTIONS for s in ALL_STATES if s in EXPECTED[a]]
REFUSED = [(s, a) for a in ALL_ACTIONS for s in ALL_STATES if s not in EXPECTED[a]]


def test_the_tables_cover_every_state_and_action():
    assert sorted(s.value for s in TaskState) == sorted(ALL_STATES)
    assert sorted(r.TASK_TRANSITIONS) == sorted(ALL_ACTIONS)
    assert len(ALLOWED) + len(REFUSED) == len(ALL_STATES) * len(ALL_ACTIONS) == 56
    assert len(ALLOWED) == 16


@pytest.mark.parametrize("state,action,target", ALLOWED)
def test_allowed_transition(state, action, target):
    got = r.task_target_state(state, action, final_report=True)
    assert got == TaskState(target)
    assert isinstance(got, TaskState)
    assert action in r.task_actions(state)


@pytest.mark.parametrize("state,action", REFUSED)
def test_refused_transition(state, action):
    with pytest.raises(RuleViolation) as e:
        r.task_target_state(state, action, final_report=True)
    assert e.value.code == "task_action_not_allowed"
    assert e.value.params == {"action": action, "state": state}
    assert action not in r.task_actions(state)


@pytest.mark.parametrize("state,expected", [
    ("assigned", ["accept", "decline", "reassign", "cancel"]),
    ("accepted", ["start", "report", "reassign", "cancel"]),
    ("declined", ["reassign", "cancel"]),
    ("in_progress", ["report", "reassign", "cancel"]),
    ("reported", ["verify", "return", "cancel"]),
    ("verified", []),
    ("cancelled", []),
])
def test_task_actions_per_state(state, expected):
    assert r.task_actions(state) == expected


def test_verify_closes_the_task_only_for_a_final_report():
    assert r.task_target_state("reported", "verify", final_report=True) == TaskState.VERIFIED
    assert r.task_target_state("reported", "verify", final_report=False) == TaskState.IN_PROGRESS
    assert r.task_target_state("reported", "verify") == TaskState.IN_PROGRESS  # default
    # the flag never opens verify in another state
    with pytest.raises(RuleViolation):
        r.task_target_state("in_progress", "verify", final_report=True)


def test_unknown_action_and_unknown_state():
    with pytest.raises(RuleViolation) as e:
        r.task_target_state("assigned", "approve")
    assert e.value.code == "unknown_action" and e.value.params == {"action": "approve"}
    with pytest.raises(ValueError):
        r.task_target_state("overdue", "accept")  # overdue is derived, never a state


@pytest.mark.parametrize("action,who", [
    ("accept", "assignee"), ("decline", "assignee"), ("start", "assignee"),
    ("report", "assignee"), ("verify", "lead"), ("return", "lead"), ("reassign", "lead"),
    ("cancel", "lead")])
def test_performer(action, who):
    assert r.performer(action) == who


def test_actions_that_need_a_reason():
    assert r.NEEDS_REASON == {"decline", "return", "cancel"}
    assert r.TASK_FINAL == {"verified", "declined", "cancelled"}


# ----------------------------------------------------------------------------- overdue

TODAY = dt.date(2026, 5, 20)
YESTERDAY = TODAY - dt.timedelta(days=1)


@pytest.mark.parametrize("state", ["verified", "declined", "cancelled"])
def test_final_states_are_never_overdue(state):
    assert r.is_overdue(state, dt.date(2020, 1, 1), TODAY) is False
    assert r.is_overdue(state, YESTERDAY, TODAY) is False


@pytest.mark.parametrize("state", ["assigned", "accepted", "in_progress", "reported"])
def test_running_states_overdue_from_the_day_after_due(state):
    assert r.is_overdue(state, TODAY, TODAY) is False  # due today: not yet
    assert r.is_overdue(state, TODAY + dt.timedelta(days=1), TODAY) is False
    assert r.is_overdue(state, YESTERDAY, TODAY) is True
    assert r.is_overdue(state, dt.date(2025, 12, 31), dt.date(2026, 1, 1)) is True


# ----------------------------------------------------------------------------- figures


def parse(**data):
    errors = {}
    figs = r.parse_figures(data, errors)
    return figs, errors


def test_parse_figures_all_blank_is_zero():
    figs, errors = parse()
    assert errors == {}
    assert figs == Figures(0, 0, 0, Decimal("0"), 0)
    figs, errors = parse(places_inspected="", cases_filed="  ", goods_seized=None,
                         goods_value="", referrals=None)
    assert errors == {} and figs.as_dict() == {
        "places_inspected": 0, "cases_filed": 0, "goods_seized": 0,
        "goods_value": Decimal("0"), "referrals": 0}


def test_parse_figures_good_values():
    figs, errors = parse(places_inspected=" 12 ", cases_filed="2", goods_seized=300,
                         goods_value="45000.50", referrals="1")
    assert errors == {}
    assert figs == Figures(12, 2, 300, Decimal("45000.50"), 1)
    assert isinstance(figs.places_inspected, int) and isinstance(figs.goods_value, Decimal)


@pytest.mark.parametrize("field", ["places_inspected", "cases_filed", "goods_seized", "referrals"])
@pytest.mark.parametrize("raw,code", [
    ("-1", "int_non_negative"),
    ("1.5", "int_non_negative"),
    ("１２", "int_non_negative"),  # full-width digits
    ("١٢", "int_non_negative"),  # Arabic-Indic digits
    ("²", "int_non_negative"),
    ("abc", "int_non_negative"),
    ("1,200", "int_non_negative"),
    ("1e3", "int_non_negative"),
    ("10000001", "number_too_large"),
    ("99999999999999999999", "number_too_large"),
])
def test_parse_figures_bad_int(field, raw, code):
    figs, errors = parse(**{field: raw, "goods_value": "5"})
    assert errors == {field: code}
    assert getattr(figs, field) == 0
    assert figs.goods_value == Decimal("5")


def test_parse_figures_int_limit_itself_is_accepted():
    figs, errors = parse(places_inspected=str(r.INT_LIMIT))
    assert errors == {} and figs.places_inspected == 10_000_000


@pytest.mark.parametrize("raw,value", [
    ("12,500.50", Decimal("12500.50")),
    ("1,000", Decimal("1000")),
    ("0.5", Decimal("0.5")),
    ("0.05", Decimal("0.05")),
    ("7", Decimal("7")),
    ("999999999999.99", Decimal("999999999999.99")),
])
def test_parse_goods_value_accepted(raw, value):
    figs, errors = parse(goods_value=raw)
    assert errors == {} and figs.goods_value == value


@pytest.mark.parametrize("raw,code", [
    ("12.345", "amount_invalid"),  # three decimals
    ("-5", "amount_invalid"),
    ("abc", "amount_invalid"),
    ("１２", "amount_invalid"),
    ("1e5", "amount_invalid"),
    (".5", "amount_invalid"),
    ("12.", "amount_invalid"),
    ("1000000000000", "number_too_large"),
    ("1,000,000,000,000.00", "number_too_large"),
])
def test_parse_goods_value_refused(raw, code):
    figs, errors = parse(goods_value=raw, places_inspected="3")
    assert errors == {"goods_value": code}
    assert figs.goods_value == Decimal("0") and figs.places_inspected == 3


def test_parse_figures_every_bad_field_named():
    _figs, errors = parse(places_inspected="-1", cases_filed="x", goods_seized="1.5",
                          goods_value="1.234", referrals="99999999")
    assert errors == {"places_inspected": "int_non_negative", "cases_filed": "int_non_negative",
                      "goods_seized": "int_non_negative", "goods_value": "amount_invalid",
                      "referrals": "number_too_large"}


def test_figures_add_up():
    a = Figures(1, 2, 3, Decimal("10.50"), 1)
    b = Figures(10, 0, 7, Decimal("0.75"), 2)
    s = a + b
    assert s == Figures(11, 2, 10, Decimal("11.25"), 3)
    assert (a, b) == (Figures(1, 2, 3, Decimal("10.50"), 1), Figures(10, 0, 7, Decimal("0.75"), 2))
    assert s.as_dict() == {"places_inspected": 11, "cases_filed": 2, "goods_seized": 10,
                           "goods_value": Decimal("11.25"), "referrals": 3}
    assert list(s.as_dict()) == list(r.FIGURE_FIELDS)


def test_total():
    assert r.total([]) == Figures(0, 0, 0, Decimal("0"), 0)
    figs = [Figures(1, 1, 1, Decimal("0.01"), 0), Figures(2, 0, 5, Decimal("100"), 1),
            Figures(0, 3, 0, Decimal("0.99"), 4)]
    assert r.total(figs) == Figures(3, 4, 6, Decimal("101.00"), 5)
    assert r.total(f for f in figs) == Figures(3, 4, 6, Decimal("101.00"), 5)  # any iterable
    assert r.total([figs[0]]) == figs[0]


# ----------------------------------------------------------------------------- trademarks


@pytest.mark.parametrize("raw,expected", [
    ("9, 25；35", [9, 25, 35]),
    ("35 9 25", [9, 25, 35]),
    ("9，25、35;1", [1, 9, 25, 35]),
    ("1,45", [1, 45]),
    ("25,9,25,9", [9, 25]),  # duplicates once, sorted
    ("", []),
    ("  ", []),
    (None, []),
])
def test_parse_classes_valid(raw, expected):
    assert r.parse_classes(raw) == expected


@pytest.mark.parametrize("raw", ["0", "46", "abc", "9,abc", "9, 0", "-1", "9.5", "２５", "100"])
def test_parse_classes_invalid(raw):
    assert r.parse_classes(raw) is None


@pytest.mark.parametrize("raw,expected", [
    ("1234567", ["1234567"]),
    ("第1234567号, 7654321", ["1234567", "7654321"]),
    ("1234567，7654321、42", ["1234567", "7654321", "42"]),
    ("", []),
    (None, []),
    ("无", []),
])
def test_trademark_numbers(raw, expected):
    assert r.trademark_numbers(raw) == expected


def test_g60_cities_of():
    assert r.g60_cities_of(["浙江省嘉兴市", "上海市松江区"]) == {"嘉兴", "松江"}
    assert r.g60_cities_of(["上海市松江区", "上海市松江区"]) == {"松江"}
    assert r.g60_cities_of(["上海市嘉定区", "", None]) == set()
    assert r.g60_cities_of([]) == set()
    assert r.g60_cities_of(["安徽省合肥市", "安徽省芜湖市", "安徽省宣城市", "浙江省湖州市",
                            "江苏省苏州市", "浙江省金华市", "浙江省杭州市"]) == {
        "合肥", "芜湖", "宣城", "湖州", "苏州", "金华", "杭州"}
    assert len(r.G60_CITIES) == 9
