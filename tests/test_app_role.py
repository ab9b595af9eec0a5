"""PostgreSQL: the application's database role cannot change or delete audit records
(等保2.0 8.1.4.3 c), while the application works normally as that role."""
from __future__ import annotations

import os
import secrets

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from caseflow.core.dbroles import app_role_statements
from caseflow.extensions import db as _db


def test_statements_refuse_bad_role_names():
    for bad in ("App", "x; DROP TABLE case_record", "", "a" * 64, '"q"'):
        with pytest.raises(ValueError):
            app_role_statements(bad)
    assert any("REVOKE UPDATE, DELETE, TRUNCATE" in s and "audit_event" in s
               for s in app_role_statements("caseflow_app"))


def test_cli_prints_the_grants(app):
    r = app.test_cli_runner().invoke(args=["caseflow", "grant-app-role", "caseflow_app",
                                           "--print-only"])
    assert r.exit_code == 0 and "audit_event" in r.output
    r = app.test_cli_runner().invoke(args=["caseflow", "grant-app-role", "Bad Name"])
    assert r.exit_code == 2 and "role names" in r.output


@pytest.mark.skipif(not os.environ.get("CASEFLOW_TEST_DATABASE_URL"), reason="PostgreSQL only")
def test_app_role_cannot_touch_audit_records(app, db, world, make_case):
    from caseflow.core import audit

    role = f"cf_app_{secrets.token_hex(4)}"
    password = secrets.token_hex(12)
    make_case()  # some audit records exist
    owner = _db.engine
    with owner.begin() as conn:
        conn.execute(text(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}'"))
    r = app.test_cli_runner().invoke(args=["caseflow", "grant-app-role", role])
    assert r.exit_code == 0, r.output
    url = make_url(str(owner.url)).set(username=role, password=password)
    engine = create_engine(url)
    refused = []
    try:
        with engine.connect() as conn:
            # the application's own work goes through: reading, writing cases, appending audit
            assert conn.execute(text("SELECT count(*) FROM audit_event")).scalar() > 0
            conn.execute(text("UPDATE case_record SET title = title"))
            conn.commit()
        attempts = ["UPDATE audit_event SET action = 'x'", "DELETE FROM audit_event",
                    "TRUNCATE audit_event", "ALTER TABLE audit_event DISABLE TRIGGER ALL",
                    "DROP TRIGGER IF EXISTS audit_event_guard ON audit_event",
                    "CREATE TABLE sneaky (id int)", "DELETE FROM alembic_version"]
        for stmt in attempts:
            with engine.connect() as conn:
                try:
                    conn.execute(text(stmt))
                    conn.commit()
                except Exception as e:  # psycopg InsufficientPrivilege
                    if "permission denied" in str(e) or "must be owner" in str(e):
                        refused.append(stmt)
                    else:
                        raise
        print(f"app role: {len(refused)} of {len(attempts)} tampering statements refused")
        assert refused == attempts
        # the app itself, connected as the role, writes audit records (chain and head)
        with engine.begin() as conn:
            before = conn.execute(text("SELECT max(seq) FROM audit_event")).scalar()
        from flask import current_app

        old = current_app.config["SQLALCHEMY_DATABASE_URI"]
        from caseflow import create_app

        role_app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI":
                               url.render_as_string(hide_password=False),
                               "SECRET_KEY": "x", "INSTANCE_PATH": app.instance_path})
        with role_app.app_context():
            audit.record("test.app_role")
            _db.session.commit()
            assert audit.verify_chain().ok
            _db.engine.dispose()
        with engine.begin() as conn:
            assert conn.execute(text("SELECT max(seq) FROM audit_event")).scalar() == before + 1
        assert current_app.config["SQLALCHEMY_DATABASE_URI"] == old
    finally:
        engine.dispose()
        with owner.begin() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))
