"""The one way a form POST runs an operation: commit on success; on refusal roll back and
re-render the page with that form open, its errors and what the user typed."""
from __future__ import annotations

from flask import abort, flash

from caseflow.core.errors import CaseFlowError, InvalidInput, NotFound
from caseflow.extensions import db


def attempt(fn, render, form_name: str, success: str, values: dict):
    """Returns (result, None) after a commit, or (None, response) when refused.
    ``render(errors=…, values=…, form=…, message=…, status=…)`` draws the page again."""
    try:
        result = fn(values)
    except InvalidInput as e:
        db.session.rollback()
        return None, render(errors=e.errors, values=values, form=form_name, status=422)
    except NotFound:
        db.session.rollback()
        abort(404)
    except CaseFlowError as e:
        db.session.rollback()
        return None, render(values=values, form=form_name, message=e.message, status=e.status)
    db.session.commit()
    flash(success, "success")
    return result, None
