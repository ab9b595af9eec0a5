"""串案/并案: other cases about the same party, trademark or place, across agencies.

A related case the user may see is listed; one the user may not see is only announced by
its agency's name ("another agency has a related case; ask it to share"), never by its
number, title or parties.
"""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import or_, select

from caseflow.accounts.models import Agency
from caseflow.cases.models import Case, Party
from caseflow.cases.permissions import visibility_clause
from caseflow.extensions import db

LIMIT = 50


def linked_cases(user, case: Case) -> dict:
    codes = {p.credit_code for p in case.parties if p.credit_code}
    ids = {p.id_number for p in case.parties if p.id_number}
    why: dict[int, set[str]] = defaultdict(set)
    if codes or ids:
        conds = []
        if codes:
            conds.append(Party.credit_code.in_(codes))
        if ids:
            conds.append(Party.id_number.in_(ids))
        for case_id, code, idn in db.session.execute(
                select(Party.case_id, Party.credit_code, Party.id_number)
                .where(or_(*conds), Party.case_id != case.id).limit(LIMIT)):
            why[case_id].add("party")
    numbers = [n for n in (case.trademark_numbers or "").split(",") if n]
    if numbers:
        # stored as "1234567,7654321": match a number between the list's separators
        padded = "," + Case.trademark_numbers + ","
        for (case_id,) in db.session.execute(
                select(Case.id).where(or_(*[padded.contains(f",{n},") for n in numbers]),
                                      Case.id != case.id).limit(LIMIT)):
            why[case_id].add("trademark")
    location = (case.location or "").strip()
    if len(location) >= 6:  # a real address, not "松江区"
        for (case_id,) in db.session.execute(
                select(Case.id).where(Case.location == location, Case.id != case.id).limit(LIMIT)):
            why[case_id].add("address")
    if not why:
        return {"visible": [], "hidden": []}
    visible = {c.id: c for c in db.session.scalars(
        select(Case).where(Case.id.in_(why), visibility_clause(user)))}
    hidden_agencies = db.session.execute(
        select(Agency.name, Case.id).join(Case, Case.owner_agency_id == Agency.id)
        .where(Case.id.in_([i for i in why if i not in visible]))).all()
    by_agency: dict[str, int] = defaultdict(int)
    for name, _id in hidden_agencies:
        by_agency[name] += 1
    return {
        "visible": [(visible[i], sorted(why[i])) for i in sorted(visible, reverse=True)],
        "hidden": sorted(by_agency.items()),
    }
