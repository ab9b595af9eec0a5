"""PostgreSQL: the application's connections run without JIT compilation (see
config.postgres_engine_options): on the dashboard's aggregates it cost more than it saved."""
from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from caseflow.config import postgres_engine_options
from caseflow.extensions import db as _db


@pytest.mark.skipif(not os.environ.get("CASEFLOW_TEST_DATABASE_URL"), reason="PostgreSQL only")
def test_app_connections_run_without_jit(app, db):
    assert _db.session.execute(text("SHOW jit")).scalar() == "off"


def test_jit_option_added_once_and_kept_beside_others():
    given = {"pool_size": 5, "connect_args": {"options": "-c statement_timeout=5000"}}
    opts = postgres_engine_options(given)
    assert opts == {"pool_size": 5,
                    "connect_args": {"options": "-c statement_timeout=5000 -c jit=off"}}
    assert given["connect_args"]["options"] == "-c statement_timeout=5000"  # not changed
    assert postgres_engine_options(opts) == opts  # a second pass adds nothing
    assert postgres_engine_options(None) == {"connect_args": {"options": "-c jit=off"}}
    # an operator's own choice stays
    assert postgres_engine_options({"connect_args": {"options": "-c jit=on"}}) == \
        {"connect_args": {"options": "-c jit=on"}}
