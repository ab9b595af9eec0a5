"""Case numbers are never duplicated, also when officers file at the same moment."""
import threading

from sqlalchemy import select

from caseflow.cases.models import Case
from caseflow.cases.operations import next_case_number
from caseflow.cases.schemas import TransitionIn
from caseflow.extensions import db

N = 8


def test_concurrent_filing_gets_distinct_numbers(app, make_case, drive, world):
    cases = [make_case() for _ in range(N)]
    for c in cases:
        drive(c, "accept")
        # the officer's request is pending; N approvers approve at the same moment
        from caseflow.cases import operations as ops

        ops.perform(world.officer, c, TransitionIn(action="file"))
        db.session.commit()
    ids = [c.id for c in cases]
    approver_id = world.approver.id
    db.session.remove()

    barrier = threading.Barrier(N)
    errors = []

    def approve(case_id):
        from caseflow.accounts.models import User
        from caseflow.cases import operations as ops

        with app.app_context():
            try:
                barrier.wait(timeout=30)  # all start together (SQLite serialises writers)
                user = db.session.get(User, approver_id)
                case = db.session.get(Case, case_id)
                ops.perform(user, case, TransitionIn(action="approve"))
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(repr(exc))
                db.session.rollback()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=approve, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    numbers = db.session.scalars(select(Case.number).where(Case.id.in_(ids))).all()
    assert len(numbers) == N and None not in numbers
    assert len(set(numbers)) == N
    seqs = sorted(int(n.split("〕")[1].removesuffix("号")) for n in numbers)
    assert seqs == list(range(1, N + 1))


def test_numbers_are_per_agency_and_year(world, db):
    a = next_case_number(world.amr, 2026)
    b = next_case_number(world.amr, 2026)
    c = next_case_number(world.culture, 2026)
    d = next_case_number(world.amr, 2027)
    db.session.commit()
    assert (a, b) == ("沪市监松处〔2026〕0001号", "沪市监松处〔2026〕0002号")
    assert c == "沪松文执〔2026〕0001号"
    assert d == "沪市监松处〔2027〕0001号"
