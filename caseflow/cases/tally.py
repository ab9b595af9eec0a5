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

The dashboard's tallies work the same way: ``case_month_tally`` (cases per agency, month
received, state, IP type and channel) and ``stage_exit_tally`` (stage exits per agency, month
left, stage and days spent), added by the migration ``20261123_…_dashboard_tallies``. A
dashboard period reads its whole months from them and counts the rows of its cut months at
either end.

SQLite (one district, tens of thousands of cases) has no triggers for them: the list and the
dashboard count the rows there, which costs little at that size.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, Date, Index, Integer, String, Table, text

from caseflow.extensions import db

case_state_tally = Table(
    "case_state_tally", db.metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("agency_id", Integer, nullable=False),
    Column("state", String(32), nullable=False),
    Column("n", BigInteger, nullable=False),
    Index("ix_case_state_tally_agency_state", "agency_id", "state", "n"),
)

# ----------------------------------------------------------------------------- monthly tallies

@dataclass(frozen=True)
class Tally:
    """A tally of signed deltas kept by statement-level triggers on ``source``: each row of
    ``source`` counts once under its key, the key columns ``columns`` being computed from the
    row by the SQL expressions ``exprs``."""

    table: str
    source: str
    columns: tuple[str, ...]
    exprs: tuple[str, ...]

    def _select(self, aliased: bool) -> str:
        return ", ".join(f"{e} AS {c}" if aliased and e != c else e
                         for c, e in zip(self.columns, self.exprs))

    def pg_triggers(self) -> list[str]:
        t, cols = self.table, ", ".join(self.columns)
        exprs = ", ".join(self.exprs)
        return [
            f"""CREATE FUNCTION {t}_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO {t} ({cols}, n)
  SELECT {exprs}, count(*) FROM tally_new GROUP BY {exprs};
  RETURN NULL;
END $$""",  # nosec B608 (table and column names are this module's constants)
            f"""CREATE FUNCTION {t}_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO {t} ({cols}, n)
  SELECT {exprs}, -count(*) FROM tally_old GROUP BY {exprs};
  RETURN NULL;
END $$""",  # nosec B608 (table and column names are this module's constants)
            f"""CREATE FUNCTION {t}_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO {t} ({cols}, n)
  SELECT {cols}, sum(d) FROM (
    SELECT {self._select(True)}, -1 AS d FROM tally_old
    UNION ALL SELECT {exprs}, 1 FROM tally_new) AS moves
  GROUP BY {cols} HAVING sum(d) <> 0;
  RETURN NULL;
END $$""",  # nosec B608 (table and column names are this module's constants)
            f"""CREATE TRIGGER {t}_insert AFTER INSERT ON {self.source}
  REFERENCING NEW TABLE AS tally_new FOR EACH STATEMENT EXECUTE FUNCTION {t}_insert()""",
            f"""CREATE TRIGGER {t}_delete AFTER DELETE ON {self.source}
  REFERENCING OLD TABLE AS tally_old FOR EACH STATEMENT EXECUTE FUNCTION {t}_delete()""",
            f"""CREATE TRIGGER {t}_update AFTER UPDATE ON {self.source}
  REFERENCING OLD TABLE AS tally_old NEW TABLE AS tally_new
  FOR EACH STATEMENT EXECUTE FUNCTION {t}_update()""",
            f"""CREATE FUNCTION {t}_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM {t};
  RETURN NULL;
END $$""",  # nosec B608 (table and column names are this module's constants)
            f"""CREATE TRIGGER {t}_truncate AFTER TRUNCATE ON {self.source}
  FOR EACH STATEMENT EXECUTE FUNCTION {t}_truncate()""",
        ]

    def pg_drop(self) -> list[str]:
        return ([f"DROP TRIGGER IF EXISTS {self.table}_{w} ON {self.source}"
                 for w in ("truncate", "update", "delete", "insert")]
                + [f"DROP FUNCTION IF EXISTS {self.table}_{w}()"
                   for w in ("truncate", "update", "delete", "insert")])

    def pg_backfill(self) -> str:
        exprs = ", ".join(self.exprs)
        return (f"INSERT INTO {self.table} ({', '.join(self.columns)}, n) "  # nosec B608 (constants)
                f"SELECT {exprs}, count(*) FROM {self.source} GROUP BY {exprs}")


def _tally_table(name: str, *columns: Column) -> Table:
    keys = [c.name for c in columns]
    return Table(name, db.metadata,
                 Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
                 *columns, Column("n", BigInteger, nullable=False),
                 Index(f"ix_{name}_key", *keys, "n"))


#: cases per agency, month received, state, IP type and channel (the dashboard's case counts)
case_month_tally = _tally_table(
    "case_month_tally", Column("agency_id", Integer, nullable=False),
    Column("month", Date, nullable=False), Column("state", String(32), nullable=False),
    Column("ip_type", String(32), nullable=False), Column("channel", String(32), nullable=False))
CASE_MONTH = Tally("case_month_tally", "case_record",
                   ("agency_id", "month", "state", "ip_type", "channel"),
                   ("owner_agency_id", "date_trunc('month', received_on::timestamp)::date", "state", "ip_type",
                    "channel"))

#: stage exits per agency, month left, stage and days spent (the time-in-stage histograms)
stage_exit_tally = _tally_table(
    "stage_exit_tally", Column("agency_id", Integer, nullable=False),
    Column("month", Date, nullable=False), Column("stage", String(32), nullable=False),
    Column("days", Integer, nullable=False))
STAGE_EXIT = Tally("stage_exit_tally", "case_stage_exit", ("agency_id", "month", "stage", "days"),
                   ("agency_id", "date_trunc('month', left_on::timestamp)::date", "stage", "days"))

#: cases per agency and state (the case list's counts)
CASE_STATE = Tally("case_state_tally", "case_record", ("agency_id", "state"),
                   ("owner_agency_id", "state"))
#: the PostgreSQL DDL of the triggers (run by the migration; dropped by its downgrade). TRUNCATE
#: fires no row triggers: a tally is emptied with its table
PG_TRIGGERS, PG_DROP = CASE_STATE.pg_triggers(), CASE_STATE.pg_drop()
#: the tally of the rows already there (the migration, after creating the triggers)
PG_BACKFILL = CASE_STATE.pg_backfill()

#: the case list's change counter per agency (agency 0: every agency), kept by the triggers
#: of caseflow.cases.listcache; only ever grows
list_version = _tally_table("list_version", Column("agency_id", Integer, nullable=False))

#: every tally the scheduler compacts, with its key columns
TALLIES = {CASE_STATE.table: CASE_STATE.columns,
           CASE_MONTH.table: CASE_MONTH.columns, STAGE_EXIT.table: STAGE_EXIT.columns,
           "list_version": ("agency_id",)}


def month_counts(agency_id: int, first: dt.date, last: dt.date):
    """(state, ip_type, channel, month, n) of the agency's cases received in the whole months
    from ``first`` to ``last``, from the tally."""
    return db.session.execute(text(
        "SELECT state, ip_type, channel, month, sum(n) FROM case_month_tally "
        "WHERE agency_id = :a AND month BETWEEN :f AND :l "
        "GROUP BY state, ip_type, channel, month HAVING sum(n) <> 0"),
        {"a": agency_id, "f": first, "l": last}).all()


def stage_exit_counts(agency_id: int, first: dt.date, last: dt.date):
    """(stage, days, n) of the agency's stage exits in the whole months from ``first`` to
    ``last``, from the tally."""
    return db.session.execute(text(
        "SELECT stage, days, sum(n) FROM stage_exit_tally "
        "WHERE agency_id = :a AND month BETWEEN :f AND :l "
        "GROUP BY stage, days HAVING sum(n) <> 0"),
        {"a": agency_id, "f": first, "l": last}).all()


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
    """Fold each tally's deltas into one row per key; the rows removed. Only the keys with
    more than one row are rewritten (a quiet night rewrites nothing). Safe beside writers:
    only the rows this statement sees are replaced, by their sums."""
    s = session or db.session
    if not kept(s):
        return 0
    folded = 0
    for table, columns in TALLIES.items():
        cols = ", ".join(columns)
        before = s.execute(text(f"SELECT count(*) FROM {table}")).scalar()  # nosec B608 (constant names)
        same = " AND ".join(f"t.{c} = d.{c}" for c in columns)
        fold = (f"WITH d AS (SELECT {cols} FROM {table} GROUP BY {cols} "  # nosec B608 (constants)
                f"HAVING count(*) > 1), "
                f"gone AS (DELETE FROM {table} AS t USING d WHERE {same} "
                f"RETURNING {', '.join(f't.{c}' for c in columns)}, t.n) "
                f"INSERT INTO {table} ({cols}, n) "
                f"SELECT {cols}, sum(n) FROM gone GROUP BY {cols} HAVING sum(n) <> 0")
        s.execute(text(fold))
        after = s.execute(text(f"SELECT count(*) FROM {table}")).scalar()  # nosec B608 (constant names)
        folded += before - after
    return folded
