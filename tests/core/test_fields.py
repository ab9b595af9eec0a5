"""Shared field checks of the form-dict operations (joint actions, mediation)."""
import datetime as dt

import pytest

from caseflow.core import fields


@pytest.mark.parametrize("raw, kw, error", [
    ("  好的文字  ", {}, None), ("", {"required": True}, "field_required"),
    ("x" * 201, {}, "string_too_long"), ("短", {"min_len": 4}, "reason_too_short"),
    ("a\x00b", {}, "control_characters"), ("第一行\n第二行", {}, None), (None, {}, None),
])
def test_text(app, raw, kw, error):
    from caseflow.cases import messages

    with app.test_request_context():
        errors: dict = {}
        value = fields.text({"f": raw}, "f", errors, **kw)
        if error is None:
            assert errors == {} and value == ("" if raw is None else raw.strip())
        else:
            assert errors == {"f": messages.text(error, max_length=200, n=4)}


def test_date(app):
    errors: dict = {}
    assert fields.date({"d": "2026-01-05"}, "d", errors) == dt.date(2026, 1, 5) and not errors
    for raw, code in (("", "field_required"), ("2026-13-01", "date_parsing")):
        errors = {}
        assert fields.date({"d": raw}, "d", errors) is None and "d" in errors
    errors = {}
    fields.date({"d": "2026-01-06"}, "d", errors, latest=dt.date(2026, 1, 5))
    assert "d" in errors
