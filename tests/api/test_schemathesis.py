"""The API against its own OpenAPI document, exercised by schemathesis: no server errors and
no response that violates the documented schema, for every operation."""
import os

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance,
                                                response_schema_conformance,
                                                status_code_conformance)

from caseflow.accounts.operations import issue_api_token
from caseflow.extensions import db

MAX_EXAMPLES = int(os.environ.get("ST_EXAMPLES", 50))  # ST_EXAMPLES=500 for a longer hunt
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance,
          content_type_conformance]


def test_api_conforms_to_its_schema(app, world, make_case, capsys):
    make_case()  # something to find
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    calls: dict[str, int] = {}
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        label = operation.label

        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            token, _row = issue_api_token(world.officer)  # fresh: DELETE /tokens may revoke one
            db.session.commit()
            calls[label] = calls.get(label, 0) + 1
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # noqa: BLE001 — collect every operation's failure
            import traceback

            failures.append(f"{label}: {exc}\n{''.join(traceback.format_exception(exc)[-6:])}")
    with capsys.disabled():
        print(f"\nschemathesis: {sum(calls.values())} requests over {len(calls)} operations, "
              f"{len(failures)} failing operations")
    assert len(calls) >= 15
    assert not failures, "\n\n".join(failures)
