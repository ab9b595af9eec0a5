"""Cases per agency and state, kept by the database (PostgreSQL) so that the case list's
state counts do not count a city district's 400,000 cases on every page.

``case_state_tally`` holds signed deltas: statement-level triggers on ``case_record`` (see the
migration ``20261122_…_case_state_tally``) append ``(agency, state, +n)`` for inserted rows,
``-n`` for deleted ones, and both for updates that change a case's state or agency — whatever
writes the table (operations, Core inserts, COPY, raw SQL), inside the writer's transaction,
so a count is exact and consistent with the rows it describes. Appending (never updating a
counter row) means concurrent writers never wait on, or deadlock over, a shared row.
``compact()`` (the scheduler, every few minutes) folds the deltas into one row per
(agency, state) so the sum stays cheap.

SQLite (one district, tens of thousands of cases) has no triggers for it: the list counts the
rows there, which costs little at that size.
"""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, text

from caseflow.extensions import db

case_state_tally = Table(
    "case_state_tally", db.metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("agency_id", Integer, nullable=False),
    Column("state", String(32), nullable=False),
    Column("n", BigInteger, nullable=False),
    Index("ix_case_state_tally_agency_state", "agency_id", "state", "n"),
)

#: the PostgreSQL DDL of the triggers (run by the migration; dropped by its downgrade)
PG_TRIGGERS = [
    """CREATE FUNCTION case_state_tally_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO case_state_tally (agency_id, state, n)
  SELECT owner_agency_id, state, count(*) FROM tally_new GROUP BY owner_agency_id, state;
  RETURN NULL;
END $$""",
    """CREATE FUNCTION case_state_tally_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO case_state_tally (agency_id, state, n)
  SELECT owner_agency_id, state, -count(*) FROM tally_old GROUP BY owner_agency_id, state;
  RETURN NULL;
END $$""",
    """CREATE FUNCTION case_state_tally_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO case_state_tally (agency_id, state, n)
  SELECT agency_id, state, sum(d) FROM (
    SELECT owner_agency_id AS agency_id, state, -1 AS d FROM tally_old
    UNION ALL SELECT owner_agency_id, state, 1 FROM tally_new) AS moves
  GROUP BY agency_id, state HAVING sum(d) <> 0;
  RETURN NULL;
END $$""",
    """CREATE TRIGGER case_state_tally_insert AFTER INSERT ON case_record
  REFERENCING NEW TABLE AS tally_new FOR EACH STATEMENT EXECUTE FUNCTION case_state_tally_insert()""",
    """CREATE TRIGGER case_state_tally_delete AFTER DELETE ON case_record
  REFERENCING OLD TABLE AS tally_old FOR EACH STATEMENT EXECUTE FUNCTION case_state_tally_delete()""",
    """CREATE TRIGGER case_state_tally_update AFTER UPDATE ON case_record
  REFERENCING OLD TABLE AS tally_old NEW TABLE AS tally_new
  FOR EACH STATEMENT EXECUTE FUNCTION case_state_tally_update()""",
    # TRUNCATE fires no row triggers: the tally is emptied with the table
    """CREATE FUNCTION case_state_tally_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM case_state_tally;
  RETURN NULL;
END $$""",
    """CREATE TRIGGER case_state_tally_truncate AFTER TRUNCATE ON case_record
  FOR EACH STATEMENT EXECUTE FUNCTION case_state_tally_truncate()""",
]

PG_DROP = [
    "DROP TRIGGER IF EXISTS case_state_tally_truncate ON case_record",
    "DROP TRIGGER IF EXISTS case_state_tally_update ON case_record",
    "DROP TRIGGER IF EXISTS case_state_tally_delete ON case_record",
    "DROP TRIGGER IF EXISTS case_state_tally_insert ON case_record",
    "DROP FUNCTION IF EXISTS case_state_tally_truncate()",
    "DROP FUNCTION IF EXISTS case_state_tally_update()",
    "DROP FUNCTION IF EXISTS case_state_tally_delete()",
    "DROP FUNCTION IF EXISTS case_state_tally_insert()",
]

#: the tally of the rows already there (the migration, after creating the triggers)
PG_BACKFILL = ("INSERT INTO case_state_tally (agency_id, state, n) SELECT owner_agency_id, "
               "state, count(*) FROM case_record GROUP BY owner_agency_id, state")


def kept(session=None) -> bool:
    """Does this database keep the tally (PostgreSQL)?"""
    return (session or db.session).get_bind().dialect.name == "postgresql"


def own_counts(agency_id: int) -> dict[str, int]:
    """The agency's own cases per state (states with none left out), from the tally."""
    rows = db.session.execute(text(
        "SELECT state, sum(n) FROM case_state_tally WHERE agency_id = :a "
        "GROUP BY state HAVING sum(n) <> 0"), {"a": agency_id})
    return {state: int(n) for state, n in rows}


def compact(session=None) -> int:
    """Fold the deltas into one row per (agency, state); the rows removed. Safe beside
    writers: only the rows this statement sees are replaced, by their sums."""
    s = session or db.session
    if not kept(s):
        return 0
    before = s.execute(text("SELECT count(*) FROM case_state_tally")).scalar()
    s.execute(text(
        "WITH gone AS (DELETE FROM case_state_tally RETURNING agency_id, state, n) "
        "INSERT INTO case_state_tally (agency_id, state, n) "
        "SELECT agency_id, state, sum(n) FROM gone GROUP BY agency_id, state HAVING sum(n) <> 0"))
    after = s.execute(text("SELECT count(*) FROM case_state_tally")).scalar()
    return before - after
