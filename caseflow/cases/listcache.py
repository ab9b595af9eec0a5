"""What the case list's page cache needs from the database (PostgreSQL): a change counter per
agency that every write to what a list page shows makes grow, and the next moment a page can
change without any write (a share grant expiring).

``list_version`` holds +1 deltas (a tally, compacted with the others): statement-level
triggers append one row per agency whose list a statement may have changed — inside the
writer's transaction, whatever writes (operations, Core, COPY, raw SQL). A page rendered after
reading a sum stays right for as long as the sum is the same, the day the same and no grant of
the agency has expired since: the cache (``caseflow.cases.pages``) serves it only then.

What a list page shows, and which agencies' lists a change reaches:

- a case (``case_record``): its owner's and every agency holding a grant on it;
- a share grant: the agency it is granted to;
- a case's officers and parties (the officer filter, the search): as the case;
- a user's name, agency or active flag, and a user's roles (the officer filter, the header,
  which links the header shows): the user's agency;
- an agency's name or kind (the header): that agency;
- the key-trademark list (the badge on a row): every agency (agency 0).

TRUNCATE of any of them counts for every agency. SQLite keeps no counter; the cache is off.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from caseflow.extensions import db

GLOBAL = 0  # the counter every agency adds to its own


@dataclass(frozen=True)
class Watch:
    """A table whose writes reach the lists of the agencies ``agencies`` selects from the
    changed rows (``{rows}``: the statement's transition table). With ``columns``, an update
    counts only for rows where one of them changed (the table has an ``id``)."""

    source: str
    agencies: str
    columns: tuple[str, ...] = ()

    def _bump(self, *sides: str) -> str:
        agencies = " UNION ".join(f"({self.agencies.format(rows=rows)})" for rows in sides)
        return (f"INSERT INTO list_version (agency_id, n) "  # nosec B608 (constants)
                f"SELECT DISTINCT a, 1 FROM ({agencies}) AS s(a)")

    def _changed(self, side: str) -> str:
        """The rows of one side of an update that count: all of them, or (with ``columns``)
        those where one of the columns changed."""
        if not self.columns:
            return side
        other = "lv_old" if side == "lv_new" else "lv_new"
        mine = ", ".join(f"{side}.{c}" for c in self.columns)
        theirs = ", ".join(f"{other}.{c}" for c in self.columns)
        return (f"(SELECT {side}.* FROM {side} JOIN {other} ON {other}.id = {side}.id "  # nosec B608 (constants)
                f"WHERE ({mine}) IS DISTINCT FROM ({theirs})) AS lv_rows")

    def pg_triggers(self) -> list[str]:
        f = f"list_version_{self.source}"
        update = self._bump(self._changed("lv_old"), self._changed("lv_new"))
        out = []
        for what, body, ref in (
                ("insert", self._bump("lv_new"), "NEW TABLE AS lv_new"),
                ("delete", self._bump("lv_old"), "OLD TABLE AS lv_old"),
                ("update", update, "OLD TABLE AS lv_old NEW TABLE AS lv_new"),
                ("truncate", f"INSERT INTO list_version (agency_id, n) VALUES ({GLOBAL}, 1)", None)):  # nosec B608 (constants)
            out.append(f"""CREATE FUNCTION {f}_{what}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  {body};
  RETURN NULL;
END $$""")
            out.append(f"CREATE TRIGGER {f}_{what} AFTER {what.upper()} ON {self.source}"
                       + (f"\n  REFERENCING {ref}" if ref else "")
                       + f"\n  FOR EACH STATEMENT EXECUTE FUNCTION {f}_{what}()")
        return out

    def pg_drop(self) -> list[str]:
        f = f"list_version_{self.source}"
        whats = ("truncate", "update", "delete", "insert")
        return ([f"DROP TRIGGER IF EXISTS {f}_{w} ON {self.source}" for w in whats]
                + [f"DROP FUNCTION IF EXISTS {f}_{w}()" for w in whats])


_OF_CASES = ("SELECT c.owner_agency_id FROM case_record c "
             "WHERE c.id IN (SELECT case_id FROM {rows}) "
             "UNION SELECT g.agency_id FROM share_grant g WHERE g.case_id IN (SELECT case_id FROM {rows})")

WATCHES = (
    Watch("case_record", "SELECT owner_agency_id FROM {rows} UNION SELECT g.agency_id "
                         "FROM share_grant g WHERE g.case_id IN (SELECT id FROM {rows})"),
    Watch("share_grant", "SELECT agency_id FROM {rows}"),
    Watch("case_officer", _OF_CASES),
    Watch("party", _OF_CASES),
    Watch("user_account", "SELECT agency_id FROM {rows}", ("agency_id", "display_name", "active")),
    Watch("user_role", "SELECT u.agency_id FROM user_account u "
                       "WHERE u.id IN (SELECT user_id FROM {rows})"),
    Watch("agency", "SELECT id FROM {rows}", ("name", "kind")),
    Watch("key_trademark", f"SELECT {GLOBAL} FROM {{rows}}"),  # nosec B608 (constants)
)


def pg_triggers() -> list[str]:
    return [stmt for w in WATCHES for stmt in w.pg_triggers()]


def pg_drop() -> list[str]:
    return [stmt for w in WATCHES for stmt in w.pg_drop()]


def stamp_columns(with_unread: bool) -> list:
    """The stamp as columns over ``User`` (the user a request is for): the user's agency's
    change counter and, ``with_unread`` (the HTML header shows it), the user's unread
    reminders. The login loader reads them with the user, in the same statement."""
    from sqlalchemy import func, literal, select

    from caseflow.accounts.models import User
    from caseflow.cases.tally import list_version as v
    from caseflow.reminders.models import Reminder as R
    from caseflow.reminders.operations import unread_conditions

    cols = [select(func.coalesce(func.sum(v.c.n), 0))
            .where(v.c.agency_id.in_([User.agency_id, literal(GLOBAL)]))
            .correlate(User).scalar_subquery()]
    if with_unread:
        cols.append(select(func.count()).select_from(R).where(*unread_conditions(User.id))
                    .correlate(User).scalar_subquery())
    return cols


def stamp(user, with_unread: bool) -> tuple[int, ...]:
    """The stamp of ``user``'s list page, read now."""
    from sqlalchemy import select

    from caseflow.accounts.models import User

    return tuple(int(x) for x in db.session.execute(
        select(*stamp_columns(with_unread)).where(User.id == user.id)).one())


def next_expiry(agency_id: int) -> dt.datetime | None:
    """When the agency's next active grant expires, or None: its list can change then without
    any write. The grants are those ``active_grant_conditions`` lets the list show."""
    from sqlalchemy import func, select

    from caseflow.sharing.models import ShareGrant as G
    from caseflow.sharing.operations import active_grant_conditions

    return db.session.scalar(select(func.min(G.expires_at)).where(
        *active_grant_conditions(agency_id), G.expires_at.is_not(None)))
