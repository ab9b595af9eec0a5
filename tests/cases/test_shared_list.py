"""The case list's shared half: read from the agency's grants in the order of their case.

Each grant carries a copy of its case's creation time and state (``share_grant.case_created_at``,
``case_state``; the state is kept by a trigger on case_record), so the list and its counts can
read a range of the grants instead of every shared case. What must hold whatever the copies:
the list shows exactly what the detail page allows (``visibility_clause``), each case once, in
(created_at, id) order across pages, and the counts match the rows.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select, text, update

from caseflow.cases import messages, queries
from caseflow.cases.models import Case
from caseflow.cases.permissions import visible_cases
from caseflow.core.timeutil import utcnow
from caseflow.extensions import db as _db
from caseflow.sharing import operations as sharing
from caseflow.sharing.models import ShareGrant


def _share(world, case, agency, **over):
    g = sharing.grant_share(world.officer, case, agency.id, over.pop("purpose", "串案线索核查"),
                            ["details"], over.pop("expires_on", None))
    _db.session.commit()
    return g


def _walk(user, f=None, page=3) -> list[int]:
    """Every page of the list, following the cursors."""
    f = f or queries.CaseFilters()
    out, cursor = [], None
    while True:
        items, cursor = queries.list_cases(user, f, cursor, page, messages.text)
        out += [c.id for c in items]
        if not cursor:
            return out


def _expected(user, state=None) -> list[int]:
    stmt = visible_cases(user).order_by(Case.created_at.desc(), Case.id.desc())
    if state:
        stmt = stmt.where(Case.state == state)
    return list(_db.session.scalars(stmt.with_only_columns(Case.id)))


def test_shared_cases_listed_once_in_order_with_counts(world, make_case, drive):
    other = world.other  # culture squad: owns some cases, sees what market supervision shares
    own = [make_case(user=other, officers=False, title=f"文化执法自有案件{i}") for i in range(4)]
    shared = [make_case(title=f"共享给文化执法的案件{i}") for i in range(7)]
    hidden = [make_case(title=f"未共享案件{i}") for i in range(3)]
    for c in shared:
        _share(world, c, world.culture)
    _share(world, shared[2], world.culture, purpose="再次共享：补充当事人")  # twice: listed once
    gone = _share(world, hidden[0], world.culture)
    sharing.revoke_share(world.officer, gone.id)
    _db.session.commit()
    # an expired grant stays in the table but shows nothing
    late = _share(world, hidden[1], world.culture, expires_on=dt.date.today() + dt.timedelta(days=30))
    _db.session.execute(update(ShareGrant).where(ShareGrant.id == late.id)
                        .values(expires_at=utcnow() - dt.timedelta(minutes=1)))
    _db.session.commit()

    expected = _expected(other)
    assert set(expected) == {c.id for c in own + shared}
    for page in (1, 2, 3, 50):
        assert _walk(other, page=page) == expected
    counts = queries.state_counts(other, queries.CaseFilters())
    assert counts == {"clue": len(own) + len(shared)}

    # a shared case moves on: the grant's copy of its state follows (trigger) and so do the
    # counts and the state filter
    drive(shared[0], "accept")
    drive(shared[1], "accept", "reject")
    rows = dict(_db.session.execute(select(ShareGrant.case_id, ShareGrant.case_state)
                                    .where(ShareGrant.case_id.in_([shared[0].id, shared[1].id]))).all())
    assert rows == {shared[0].id: shared[0].state, shared[1].id: "rejected"}
    assert shared[0].state != "clue"
    counts = queries.state_counts(other, queries.CaseFilters())
    assert counts == {"clue": len(own) + len(shared) - 2, shared[0].state: 1, "rejected": 1}
    for state in ("clue", shared[0].state, "rejected"):
        f = queries.CaseFilters(state=state)
        assert _walk(other, f, page=2) == _expected(other, state)
    # filters on the case's own columns go through the join: same answer
    f = queries.CaseFilters(q="共享给文化执法的案件")
    assert _walk(other, f, page=2) == [i for i in expected if i in {c.id for c in shared}]
    assert sum(queries.state_counts(other, f).values()) == len(shared)
    # own-only filters leave the shared half out
    assert _walk(other, queries.CaseFilters(own=True)) == [c.id for c in sorted(
        own, key=lambda c: (c.created_at, c.id), reverse=True)]


def test_grant_copies_its_case_and_follows_raw_sql_updates(world, make_case, drive):
    case = make_case()
    drive(case, "accept")
    g = _share(world, case, world.culture)
    assert (g.case_created_at, g.case_state) == (case.created_at, case.state)
    # a state written by raw SQL (no ORM) still reaches the grant
    _db.session.execute(text("UPDATE case_record SET state = 'rejected', state_reason = 'x' "
                             "WHERE id = :i"), {"i": case.id})
    _db.session.commit()
    assert _db.session.scalar(select(ShareGrant.case_state).where(ShareGrant.id == g.id)) == "rejected"


def test_many_duplicate_grants_do_not_shorten_a_page(world, make_case):
    """A run of grants of one case longer than a page must not end the page early."""
    cases = [make_case(title=f"共享案件{i}") for i in range(4)]
    for c in cases:
        _share(world, c, world.culture)
    for _ in range(6):
        _share(world, cases[-1], world.culture, purpose="重复共享")
    items, cursor = queries.list_cases(world.other, queries.CaseFilters(), None, 3, messages.text)
    assert [c.id for c in items] == _expected(world.other)[:3]
    assert cursor
    assert _walk(world.other, page=3) == _expected(world.other)
