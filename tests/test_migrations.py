"""`flask db upgrade` from an empty database yields exactly the models' schema."""
import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from caseflow import create_app
from caseflow.extensions import db
from tests.conftest import FAST_ARGON2


@pytest.fixture()
def empty_db_url(tmp_path, worker_id):
    base = os.environ.get("CASEFLOW_TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    url = make_url(base.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"{url.database}_mig_{worker_id}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _app(url, tmp_path):
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url,
                       "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x",
                       "ARGON2_PARAMS": FAST_ARGON2})


def test_upgrade_from_empty_matches_models_and_downgrades(empty_db_url, tmp_path):
    from flask_migrate import downgrade, upgrade

    app = _app(empty_db_url, tmp_path)
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "compare_server_default": False})
            diff = compare_metadata(ctx, db.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        tables = set(inspect(db.engine).get_table_names())
        assert {"case_record", "case_event", "party", "user_account", "agency"} <= tables
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        db.session.remove()
        db.engine.dispose()


def test_share_grant_copies_are_backfilled_and_kept(empty_db_url, tmp_path):
    """Migration 5d1e0c7a9b42 fills the grants' copies of their case's creation time and
    state for the rows already there, and its trigger keeps the state afterwards."""
    from flask_migrate import downgrade, upgrade

    from caseflow.accounts.operations import create_agency, create_user
    from caseflow.cases import operations as ops
    from caseflow.cases.schemas import ClueIn
    from caseflow.sharing.operations import grant_share
    from tests.conftest import PASSWORD, clue_payload

    app = _app(empty_db_url, tmp_path)
    with app.app_context():
        upgrade()
        amr = create_agency("sj-amr", "market_supervision", "上海市松江区市场监督管理局", "沪市监松处")
        culture = create_agency("sj-culture", "cultural_enforcement", "上海市松江区文化市场行政执法大队",
                                "沪松文执")
        officer = create_user(amr, "officer", PASSWORD, ["case_officer"], display_name="officer")
        cases = [ops.create_clue(officer, ClueIn.model_validate(clue_payload(title=f"共享案件{i}")))
                 for i in range(2)]
        for c in cases:
            grant_share(officer, c, culture.id, "串案线索核查", ["details"], None)
        db.session.commit()
        created = {c.id: c.created_at for c in cases}
        db.session.remove()

        downgrade(revision="aba0e3d6ec81")  # the columns and the trigger go
        assert "case_state" not in {c["name"] for c in inspect(db.engine).get_columns("share_grant")}
        with db.engine.begin() as conn:  # meanwhile a case moved on
            conn.execute(text("UPDATE case_record SET state = 'rejected', state_reason = 'x' "
                              "WHERE id = :i"), {"i": cases[0].id})
        upgrade()
        with db.engine.begin() as conn:
            rows = conn.execute(text("SELECT case_id, case_created_at, case_state FROM share_grant "
                                     "ORDER BY case_id")).all()
        assert [(r[0], r[2]) for r in rows] == [(cases[0].id, "rejected"), (cases[1].id, "clue")]
        from caseflow.sharing.models import ShareGrant

        for g in db.session.scalars(db.select(ShareGrant)):
            assert g.case_created_at == created[g.case_id]
        db.session.remove()  # its transaction ends before the next writer begins (SQLite)
        with db.engine.begin() as conn:  # the trigger is back
            conn.execute(text("UPDATE case_record SET state = 'rejected', state_reason = 'x' "
                              "WHERE id = :i"), {"i": cases[1].id})
            assert conn.execute(text("SELECT case_state FROM share_grant WHERE case_id = :i"),
                                {"i": cases[1].id}).scalar() == "rejected"
        db.session.remove()
        db.engine.dispose()


def test_stage_exit_history_and_dashboard_tallies_are_backfilled(empty_db_url, tmp_path):
    """Migration c03c2e817bdf fills each stage exit's previous exit of the same case and stage
    for the rows already there and, on PostgreSQL, the monthly tallies, whose triggers then
    keep them."""
    import datetime as dt

    from flask_migrate import downgrade, upgrade

    from caseflow.accounts.operations import create_agency, create_user
    from caseflow.cases import operations as ops
    from caseflow.cases.schemas import ClueIn, OfficersIn, TransitionIn
    from caseflow.core.timeutil import today_local
    from tests.conftest import PASSWORD, clue_payload

    app = _app(empty_db_url, tmp_path)
    with app.app_context():
        upgrade()
        amr = create_agency("sj-amr", "market_supervision", "上海市松江区市场监督管理局", "沪市监松处")
        officer = create_user(amr, "officer", PASSWORD, ["case_officer"], display_name="officer")
        boss = create_user(amr, "boss", PASSWORD, ["approver"], display_name="boss")
        officer2 = create_user(amr, "officer2", PASSWORD, ["case_officer"], display_name="officer2")
        day = today_local() - dt.timedelta(days=120)
        case = ops.create_clue(officer, ClueIn.model_validate(clue_payload(received_at=day.isoformat())))
        ops.assign_officers(officer, case, OfficersIn(version=case.version,
                                                      officer_ids=[officer.id, officer2.id]))
        for action, gap in (("accept", 3), ("file", 4), ("investigate", 1), ("suspend", 20),
                            ("resume", 15), ("suspend", 30), ("resume", 25)):
            day += dt.timedelta(days=gap)
            extra = {"reason": "等待鉴定"} if action == "suspend" else {}
            ops.perform(officer, case, TransitionIn.model_validate(
                {"action": action, "effective_on": day.isoformat(), **extra}))
            if case.pending_action:
                ops.perform(boss, case, TransitionIn(action="approve"))
        db.session.commit()
        written = db.session.execute(text(
            "SELECT id, prev_left_on FROM case_stage_exit ORDER BY id")).all()
        assert sum(1 for _, prev in written if prev is not None) == 2
        db.session.remove()

        downgrade(revision="5d1e0c7a9b42")
        assert "prev_left_on" not in {c["name"] for c in inspect(db.engine).get_columns("case_stage_exit")}
        upgrade()
        with db.engine.begin() as conn:
            assert conn.execute(text("SELECT id, prev_left_on FROM case_stage_exit ORDER BY id")
                                ).all() == written
            if conn.dialect.name == "postgresql":
                assert conn.execute(text(
                    "SELECT month, state, sum(n) FROM case_month_tally GROUP BY 1, 2")).all() == \
                    conn.execute(text("SELECT date_trunc('month', received_on)::date, state, count(*) "
                                      "FROM case_record GROUP BY 1, 2")).all()
                exits = conn.execute(text("SELECT count(*) FROM case_stage_exit")).scalar()
                assert conn.execute(text("SELECT sum(n) FROM stage_exit_tally")).scalar() == exits
                conn.execute(text("DELETE FROM case_record"))  # the triggers are back
                assert conn.execute(text("SELECT sum(n) FROM case_month_tally")).scalar() == 0
                assert conn.execute(text("SELECT sum(n) FROM stage_exit_tally")).scalar() == 0
        db.session.remove()
        db.engine.dispose()
