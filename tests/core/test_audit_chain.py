"""The audit log's hash chain: chaining by real operations, detection of tampering (a property
test over random edits, deletions, insertions, reorderings and head edits), the ORM and
database guards, retention (prune), the CLI, and concurrent writers.

Runs on SQLite and on PostgreSQL (scripts/with-postgres.sh). Tampering needs the triggers
lifted: inside a transaction (``_lift_guards``), which the rollback undoes on both dialects.
"""
from __future__ import annotations

import collections
import datetime as dt
import hashlib
import random
import threading

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from caseflow.core import audit
from caseflow.core.audit import (GENESIS, RETENTION_DAYS, AuditEvent, AuditHead, AuditTampering,
                                 digest, drop_guard_statements, guard_statements, prune, record,
                                 verify_chain)
from caseflow.core.timeutil import utcnow

EV = AuditEvent.__table__
HEAD = AuditHead.__table__
CONTENT = ("at", "user_id", "agency_id", "action", "object_type", "object_id", "ip", "data")


# ----------------------------------------------------------------------------- helpers

def _lift_guards(conn) -> None:
    """Lift the triggers for the rest of this connection's transaction (a rollback restores
    them on both dialects: DDL is transactional in SQLite and PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_guard"))
        conn.execute(text("ALTER TABLE audit_head DISABLE TRIGGER audit_head_guard"))
    else:
        for stmt in drop_guard_statements("sqlite"):
            conn.execute(text(stmt))


def _restore_guards(conn) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE audit_event ENABLE TRIGGER audit_event_guard"))
        conn.execute(text("ALTER TABLE audit_head ENABLE TRIGGER audit_head_guard"))
    else:
        for stmt in guard_statements("sqlite"):
            conn.execute(text(stmt))


def _guards_present(conn) -> bool:
    if conn.dialect.name == "postgresql":
        enabled = conn.scalar(text("SELECT tgenabled FROM pg_trigger "
                                   "WHERE tgname = 'audit_event_guard'"))
        return enabled == "O"
    names = set(conn.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
    return {"audit_event_no_update", "audit_event_keep"} <= names


def _rows(conn) -> list[dict]:
    return [dict(r) for r in conn.execute(select(EV).order_by(EV.c.seq)).mappings()]


def _head(conn) -> dict | None:
    r = conn.execute(select(HEAD).where(HEAD.c.id == 1)).mappings().first()
    return dict(r) if r else None


def _hash_of(row: dict) -> str:
    return digest(row["seq"], row["prev_hash"], row["at"], row["user_id"], row["agency_id"],
                  row["action"], row["object_type"], row["object_id"], row["ip"], row["data"])


def _verify(conn):
    """verify_chain in a session of its own on ``conn`` (sees the uncommitted tampering, no
    identity map left over from earlier)."""
    with Session(bind=conn) as s:
        return verify_chain(s)


def _shift_up(conn, from_seq: int) -> None:
    """seq += 1 for every record at or after ``from_seq``, past the unique constraint (two
    steps through negative numbers: PostgreSQL checks uniqueness row by row)."""
    conn.execute(EV.update().where(EV.c.seq >= from_seq).values(seq=-EV.c.seq))
    conn.execute(EV.update().where(EV.c.seq < 0).values(seq=-EV.c.seq + 1))


def _set_seq(conn, pairs: dict[int, int]) -> None:
    """Give records (by id) new seqs, via temporary negative ones."""
    for i, (rid, _) in enumerate(pairs.items(), start=1):
        conn.execute(EV.update().where(EV.c.id == rid).values(seq=-1000000 - i))
    for rid, seq in pairs.items():
        conn.execute(EV.update().where(EV.c.id == rid).values(seq=seq))


def _release(db) -> None:
    """End the test session's transaction: on SQLite it holds the write lock (BEGIN
    IMMEDIATE), which another connection would wait 30 s for."""
    db.session.commit()
    db.session.close()


def _invoke(app, *args):
    """Run ``flask caseflow audit …``. The command runs in the test's app context (one is
    pushed already), so in its session: end the transaction it leaves open (verify only
    reads and does not commit)."""
    from caseflow.extensions import db

    result = app.test_cli_runner().invoke(args=["caseflow", "audit", *args])
    db.session.rollback()
    db.session.close()
    return result


def _count(db) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


def _assert_chained(conn):
    rows = _rows(conn)
    head = _head(conn)
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)  # seq order = id order
    prev = GENESIS
    for r in rows:
        assert r["prev_hash"] == prev, r
        assert r["hash"] == _hash_of(r), r
        prev = r["hash"]
    assert head is not None
    assert (head["seq"], head["hash"]) == (rows[-1]["seq"], rows[-1]["hash"])
    assert (head["pruned_seq"], head["pruned_hash"]) == (0, GENESIS)
    return rows


@pytest.fixture()
def chain(app, db, world, make_case, drive):
    """About 40 records: real operations (agencies, users, cases driven through the
    workflow) and direct record() calls, several per transaction."""
    case = make_case()
    drive(case, "accept", "file")
    case2 = make_case(title="另一条线索")
    drive(case2, "reject")
    i = 0
    while _count(db) < 40:
        for _ in range(3):  # several per transaction
            record("test.chain", user=world.officer if i % 3 else None, obj_type="thing",
                   obj_id=i, ip=f"10.0.0.{i % 250}", n=i, note="审计记录",
                   nested={"k": [i, "v"]})
            i += 1
        db.session.commit()
    return case


# ----------------------------------------------------------------------------- 1. chaining

def test_real_operations_write_a_gap_free_chain(app, db, chain):
    n = _count(db)
    assert n >= 40
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert any(a.startswith("case.") for a in actions), actions  # real operations took part
    _release(db)
    with db.engine.connect() as conn:
        rows = _assert_chained(conn)
        conn.rollback()
    assert len(rows) == n
    result = verify_chain()
    assert result.ok, result.problems
    assert result.checked == n
    head = db.session.get(AuditHead, 1)
    assert (head.seq, head.hash) == (rows[-1]["seq"], rows[-1]["hash"])


def test_records_of_one_transaction_get_consecutive_seqs_in_call_order(app, db, world):
    record("first.before", user=world.officer)
    db.session.commit()
    before = db.session.get(AuditHead, 1).seq
    evs = [record(f"batch.{k}", user=world.approver, obj_type="batch", obj_id=k, k=k)
           for k in range(7)]
    db.session.commit()
    assert [e.seq for e in evs] == list(range(before + 1, before + 8))
    for a, b in zip(evs, evs[1:]):
        assert b.prev_hash == a.hash
    # a flush in between (autoflush by a query) continues the same chain
    e1 = record("mid.1")
    db.session.flush()
    e2 = record("mid.2")
    db.session.scalar(select(func.count()).select_from(AuditEvent))  # autoflush
    e3 = record("mid.3")
    db.session.commit()
    assert [e1.seq, e2.seq, e3.seq] == [before + 8, before + 9, before + 10]
    assert e1.prev_hash == evs[-1].hash and e3.prev_hash == e2.hash
    head = db.session.get(AuditHead, 1)
    assert (head.seq, head.hash) == (e3.seq, e3.hash)
    # a rolled-back transaction leaves no hole
    record("rolled.back")
    db.session.flush()
    db.session.rollback()
    e4 = record("after.rollback")
    db.session.commit()
    assert e4.seq == e3.seq + 1 and e4.prev_hash == e3.hash
    assert verify_chain().ok
    _release(db)
    with db.engine.connect() as conn:
        _assert_chained(conn)
        conn.rollback()


# ----------------------------------------------------------------------------- 2. tampering

def _other(rng, values, current):
    choices = [v for v in values if v != current]
    return rng.choice(choices)


def _edit_value(rng, row, field, user_ids, agency_ids):
    v = row[field]
    if field == "action":
        return v + rng.choice(["x", ".forged", "_"])
    if field in ("object_id", "object_type"):
        return _other(rng, [v + "0", "999", "", "x", "forged"], v)
    if field == "ip":
        return _other(rng, ["10.0.0.1", "192.168.1.1", "", "127.0.0.1", v + "1"], v)
    if field == "user_id":
        return _other(rng, user_ids, v)
    if field == "agency_id":
        return _other(rng, agency_ids, v)
    if field == "at":
        return v + dt.timedelta(microseconds=rng.choice([1, -1, 999, -1000000, 86400000000]))
    if field == "data":
        d = dict(v or {})
        choice = rng.randrange(3)
        if choice == 0 or not d:
            d["forged"] = rng.randrange(1000)
        elif choice == 1:
            d.pop(rng.choice(sorted(d)))
        else:
            k = rng.choice(sorted(d))
            d[k] = [d[k], "x"]
        return d
    if field in ("hash", "prev_hash"):
        return hashlib.sha256(str(rng.random()).encode()).hexdigest()
    raise AssertionError(field)


def _forged(rng, seq, prev_hash, user_ids):
    row = {"seq": seq, "prev_hash": prev_hash,
           "at": utcnow().replace(microsecond=rng.randrange(1000000)),
           "user_id": rng.choice(user_ids), "agency_id": None,
           "action": rng.choice(["case.delete", "user.grant", "login"]), "object_type": "case",
           "object_id": str(rng.randrange(1000)), "ip": "10.9.9.9", "data": {"forged": True}}
    row["hash"] = _hash_of(row)
    return row


def _tamper(conn, rng, kind, rows, head, user_ids, agency_ids) -> None:
    n = len(rows)
    by_seq = {r["seq"]: r for r in rows}
    pick = lambda: rng.choice(rows)  # noqa: E731
    if kind == "edit":
        r = pick()
        field = rng.choice(CONTENT)
        conn.execute(EV.update().where(EV.c.id == r["id"])
                     .values({field: _edit_value(rng, r, field, user_ids, agency_ids)}))
    elif kind == "edit-link":  # the chain fields themselves
        r = pick()
        field = rng.choice(["hash", "prev_hash"])
        conn.execute(EV.update().where(EV.c.id == r["id"])
                     .values({field: _edit_value(rng, r, field, user_ids, agency_ids)}))
    elif kind == "edit+rehash":  # a self-consistent record: the next link (or the head) breaks
        r = dict(pick())
        field = rng.choice(CONTENT)
        r[field] = _edit_value(rng, r, field, user_ids, agency_ids)
        r["hash"] = _hash_of(r)
        conn.execute(EV.update().where(EV.c.id == r["id"])
                     .values({field: r[field], "hash": r["hash"]}))
    elif kind == "edit+rehash-tail":  # rewrite the rest of the chain, but not the head
        k = rng.randrange(n)
        prev = rows[k - 1]["hash"] if k else GENESIS
        for j, old in enumerate(rows[k:]):
            r = dict(old)
            if j == 0:
                field = rng.choice(CONTENT)
                r[field] = _edit_value(rng, r, field, user_ids, agency_ids)
            r["prev_hash"] = prev
            r["hash"] = prev = _hash_of(r)
            conn.execute(EV.update().where(EV.c.id == r["id"])
                         .values({c: r[c] for c in (*CONTENT, "prev_hash", "hash")}))
    elif kind == "edit-seq":
        r = pick()
        conn.execute(EV.update().where(EV.c.id == r["id"]).values(seq=n + rng.randrange(1, 50)))
    elif kind == "delete":
        r = rows[-1] if rng.random() < 0.3 else pick()
        conn.execute(EV.delete().where(EV.c.id == r["id"]))
    elif kind == "delete+renumber":  # close the gap the deletion leaves
        k = rng.randrange(1, n)  # not the last
        conn.execute(EV.delete().where(EV.c.id == rows[k - 1]["id"]))
        conn.execute(EV.update().where(EV.c.seq > k).values(seq=-EV.c.seq))
        conn.execute(EV.update().where(EV.c.seq < 0).values(seq=-EV.c.seq - 1))
        if rng.random() < 0.5:
            conn.execute(HEAD.update().values(seq=n - 1))
    elif kind in ("insert-middle", "insert-middle+head"):
        k = rng.randrange(1, n + 1)  # the forged record takes seq k, the rest move up
        prev = by_seq[k - 1]["hash"] if k > 1 else GENESIS
        _shift_up(conn, k)
        conn.execute(EV.insert().values(_forged(rng, k, prev, user_ids)))
        if kind == "insert-middle+head":  # the head moved along: an earlier link still breaks
            conn.execute(HEAD.update().values(seq=n + 1, hash=rows[-1]["hash"]))
    elif kind == "insert-end":  # a self-consistent record after the last, head not updated
        conn.execute(EV.insert().values(_forged(rng, n + 1, rows[-1]["hash"], user_ids)))
    elif kind == "swap-seq":
        a, b = rng.sample(rows, 2)
        _set_seq(conn, {a["id"]: b["seq"], b["id"]: a["seq"]})
    elif kind == "swap-content":
        a, b = rng.sample(rows, 2)
        conn.execute(EV.update().where(EV.c.id == a["id"]).values({c: b[c] for c in CONTENT}))
        conn.execute(EV.update().where(EV.c.id == b["id"]).values({c: a[c] for c in CONTENT}))
    elif kind == "swap-rows":  # everything but the id: the chain reads right, the ids do not
        a, b = rng.sample(rows, 2)
        cols = (*CONTENT, "prev_hash", "hash")
        _set_seq(conn, {a["id"]: b["seq"], b["id"]: a["seq"]})
        conn.execute(EV.update().where(EV.c.id == a["id"]).values({c: b[c] for c in cols}))
        conn.execute(EV.update().where(EV.c.id == b["id"]).values({c: a[c] for c in cols}))
    elif kind == "head":
        field = rng.choice(["seq", "hash", "pruned_seq", "pruned_hash"])
        if field == "seq":
            value = head["seq"] + rng.choice([-3, -1, 1, 2, 100])
        elif field == "pruned_seq":
            value = rng.randrange(1, n)
        else:
            value = hashlib.sha256(str(rng.random()).encode()).hexdigest()
        conn.execute(HEAD.update().where(HEAD.c.id == 1).values({field: value}))
    else:
        raise AssertionError(kind)


KINDS = ["edit", "edit-link", "edit+rehash", "edit+rehash-tail", "edit-seq", "delete",
         "delete+renumber", "insert-middle", "insert-middle+head", "insert-end", "swap-seq",
         "swap-content", "swap-rows", "head"]
N_TAMPERINGS = 420


def test_random_tampering_is_always_detected(app, db, world, chain):
    from caseflow.accounts.models import User

    user_ids = [None, *db.session.scalars(select(User.id))]
    agency_ids = [None, world.amr.id, world.culture.id]
    _release(db)
    rng = random.Random(20261122)
    detected, kinds, missed = 0, collections.Counter(), []
    with db.engine.connect() as conn:
        rows = _assert_chained(conn)
        head = _head(conn)
        conn.rollback()
        assert len(rows) >= 40
        # every record's content differs from every other's (a swap always changes something)
        assert len({tuple(repr(r[c]) for c in CONTENT) for r in rows}) == len(rows)
        for i in range(N_TAMPERINGS):
            kind = KINDS[i % len(KINDS)]
            conn.begin()
            try:
                _lift_guards(conn)
                _tamper(conn, rng, kind, rows, head, user_ids, agency_ids)
                result = _verify(conn)
            finally:
                conn.rollback()
            kinds[kind] += 1
            if result.problems:
                detected += 1
            else:
                missed.append(kind)
        # all rolled back: the chain and the triggers are as they were
        conn.begin()
        assert _rows(conn) == rows and _head(conn) == head
        assert _guards_present(conn)
        assert _verify(conn).ok
        conn.rollback()
    n = N_TAMPERINGS
    print(f"audit tampering: {detected} of {n} detected ({dict(sorted(kinds.items()))})")
    assert detected == n, collections.Counter(missed)
    assert verify_chain().ok


def test_verify_names_the_tampered_record(app, db, chain):
    _release(db)
    with db.engine.connect() as conn:
        rows = _rows(conn)
        conn.rollback()
        target = rows[10]
        cases = {
            "edited": lambda: conn.execute(EV.update().where(EV.c.id == target["id"])
                                           .values(ip="6.6.6.6")),
            "missing": lambda: conn.execute(EV.delete().where(EV.c.id == target["id"])),
        }
        for kind, apply in cases.items():
            conn.begin()
            _lift_guards(conn)
            apply()
            result = _verify(conn)
            conn.rollback()
            assert result.problems, kind
            assert any(p.kind == kind for p in result.problems), (kind, result.problems)
            if kind == "edited":
                assert [(p.seq, p.id) for p in result.problems] == [(target["seq"], target["id"])]
            else:
                assert result.problems[0].seq == target["seq"] + 1


def test_deleting_the_head_row_is_detected(app, db, chain):
    """The head records where the chain ends: without it, cutting off the last records
    leaves a chain that reads as complete. A missing head (with records present) must be
    reported."""
    _release(db)
    with db.engine.connect() as conn:
        rows = _rows(conn)
        conn.rollback()
        results = {}
        for label, cut in (("head deleted", 0), ("head and last 3 records deleted", 3)):
            conn.begin()
            _lift_guards(conn)
            conn.execute(HEAD.delete())
            if cut:
                conn.execute(EV.delete().where(EV.c.seq > len(rows) - cut))
            results[label] = _verify(conn)
            conn.rollback()
    assert all(not r.ok for r in results.values()), {k: r.problems for k, r in results.items()}


# ----------------------------------------------------------------------------- 3. guards

def test_orm_refuses_changing_or_deleting_a_record(app, db, chain):
    ev = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).first()
    ev.action = "forged"
    with pytest.raises(AuditTampering):
        db.session.flush()
    db.session.rollback()
    ev = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).first()
    ev.data = {"forged": True}
    with pytest.raises(AuditTampering):
        db.session.commit()
    db.session.rollback()
    ev = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    db.session.delete(ev)
    with pytest.raises(AuditTampering):
        db.session.flush()
    db.session.rollback()
    assert db.session.scalar(text("SELECT count(*) FROM audit_event WHERE id = :i"),
                             {"i": ev.id}) == 1
    assert verify_chain().ok


@pytest.mark.parametrize("stmt", [
    "UPDATE audit_event SET action = 'forged' WHERE seq = 3",
    "UPDATE audit_event SET ip = ip",  # even an update that changes nothing
    "UPDATE audit_event SET seq = seq + 1000",
    "UPDATE audit_event SET hash = prev_hash WHERE seq = (SELECT max(seq) FROM audit_event)",
    "DELETE FROM audit_event WHERE seq = 3",
    "DELETE FROM audit_event WHERE seq = (SELECT max(seq) FROM audit_event)",
    "DELETE FROM audit_event",
])
def test_database_refuses_raw_update_and_delete(app, db, chain, stmt):
    n = _count(db)
    with pytest.raises(DBAPIError):
        db.session.execute(text(stmt))
        db.session.flush()
    db.session.rollback()
    assert _count(db) == n
    assert verify_chain().ok


def test_database_refuses_orm_bulk_update_and_delete(app, db, chain):
    with pytest.raises(DBAPIError):
        db.session.execute(sa.update(AuditEvent).where(AuditEvent.seq == 2).values(ip="1.2.3.4"))
    db.session.rollback()
    with pytest.raises(DBAPIError):
        db.session.execute(sa.delete(AuditEvent).where(AuditEvent.seq == 2))
    db.session.rollback()
    assert verify_chain().ok


def _old_and_young(db, pattern: str, now: dt.datetime):
    """Write records in chain order: 'o' = 200 days old, 'b' = just inside the retention
    period (RETENTION_DAYS - 1 days old), 'y' = now."""
    evs = []
    for k, c in enumerate(pattern):
        ev = record(f"retention.{c}", obj_type="retention", obj_id=k, k=k)
        if c == "o":
            ev.at = now - dt.timedelta(days=200, seconds=-k)
        elif c == "b":
            ev.at = now - dt.timedelta(days=RETENTION_DAYS - 1)
        evs.append(ev)
        if k % 2:
            db.session.commit()
    db.session.commit()
    return evs


def test_prune_deletes_old_records_and_the_chain_stays_valid(app, db):
    now = utcnow()
    evs = _old_and_young(db, "ooooyyy", now)
    assert [e.seq for e in evs] == list(range(1, 8))
    assert db.session.get(AuditEvent, evs[0].id).at == evs[0].at  # a given `at` is kept
    assert verify_chain().ok
    cut_hash = evs[3].hash
    assert prune(before=now) == 4
    db.session.commit()
    assert sorted(db.session.scalars(select(AuditEvent.seq))) == [5, 6, 7]
    head = db.session.get(AuditHead, 1)
    assert (head.pruned_seq, head.pruned_hash) == (4, cut_hash)
    assert (head.seq, head.hash) == (7, evs[-1].hash)
    result = verify_chain()
    assert result.ok and result.checked == 3, result.problems
    # the chain goes on after the cut
    record("after.prune")
    db.session.commit()
    assert verify_chain().ok and db.session.get(AuditHead, 1).seq == 8
    # nothing young is deleted, however late `before` is
    assert prune(before=now + dt.timedelta(days=1)) == 0
    db.session.commit()
    assert _count(db) == 4


def test_prune_never_deletes_a_record_younger_than_retention(app, db):
    now = utcnow()
    _old_and_young(db, "oobooy", now)
    # only the prefix of old records: the one just inside retention stops the cut
    assert prune(before=now + dt.timedelta(days=1)) == 2
    db.session.commit()
    assert sorted(db.session.scalars(select(AuditEvent.seq))) == [3, 4, 5, 6]
    assert verify_chain().ok
    assert prune(before=now + dt.timedelta(days=365)) == 0
    db.session.commit()
    assert _count(db) == 4 and verify_chain().ok
    # an old `before` deletes nothing younger than itself either
    assert prune(before=now - dt.timedelta(days=400)) == 0


def test_database_lets_old_records_go_and_keeps_young_ones(app, db):
    now = utcnow()
    evs = _old_and_young(db, "oby", now)
    with pytest.raises(DBAPIError):  # just inside the retention period
        db.session.execute(text("DELETE FROM audit_event WHERE seq = 2"))
    db.session.rollback()
    with pytest.raises(DBAPIError):  # an old record may be deleted, never changed
        db.session.execute(text("UPDATE audit_event SET ip = 'x' WHERE seq = 1"))
    db.session.rollback()
    assert db.session.execute(text("DELETE FROM audit_event WHERE seq = 1")).rowcount == 1
    db.session.rollback()
    assert _count(db) == len(evs)


# ----------------------------------------------------------------------------- 4. CLI

def test_cli_verify_ok_then_names_the_tampered_record(app, db, chain):
    n = _count(db)
    _release(db)
    r = _invoke(app, "verify")
    assert r.exit_code == 0, r.output
    assert f"{n} audit records checked, 0 problems" in r.output
    with db.engine.begin() as conn:  # a tampering, committed
        target = _rows(conn)[7]
        _lift_guards(conn)
        conn.execute(EV.update().where(EV.c.id == target["id"]).values(action="case.nothing"))
        _restore_guards(conn)
        assert _guards_present(conn)
    r = _invoke(app, "verify")
    assert r.exit_code == 1, r.output
    assert f"audit record seq={target['seq']} id={target['id']}: edited" in r.output
    assert f"{n} audit records checked, 1 problems" in r.output


def test_cli_prune(app, db):
    now = utcnow()
    _old_and_young(db, "oooy", now)
    _release(db)
    r = _invoke(app, "prune", "--before", "2000-13-01")
    assert r.exit_code == 2, r.output
    assert "--before" in r.output
    r = _invoke(app, "prune")
    assert r.exit_code == 2, r.output
    tomorrow = (now + dt.timedelta(days=1)).date().isoformat()
    r = _invoke(app, "prune", "--before", tomorrow)
    assert r.exit_code == 0, r.output
    assert "3 audit records deleted" in r.output
    r = _invoke(app, "verify")
    assert r.exit_code == 0 and "1 audit records checked, 0 problems" in r.output, r.output


# ----------------------------------------------------------------------------- 5. concurrency

def test_concurrent_writers_never_fork_the_chain(app, db):
    postgres = db.engine.dialect.name == "postgresql"
    threads_n, per = (8, 25) if postgres else (4, 10)
    # a migrated database has the head row (seq 0); the fixture's truncation removed it
    db.session.execute(sa.insert(AuditHead).values(id=1, seq=0, hash=GENESIS, pruned_seq=0,
                                                   pruned_hash=GENESIS))
    _release(db)
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def writer(t: int) -> None:
        try:
            barrier.wait(timeout=30)
            with app.app_context():
                for i in range(per):
                    record("thread.write", obj_type="thread", obj_id=t, i=i)
                    audit.db.session.commit()
        except BaseException as e:  # noqa: BLE001 — reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(threads_n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not any(th.is_alive() for th in threads)
    assert not errors, errors
    total = threads_n * per
    seqs = sorted(db.session.scalars(select(AuditEvent.seq)))
    assert seqs == list(range(1, total + 1))
    per_thread = collections.Counter(db.session.scalars(select(AuditEvent.object_id)))
    assert per_thread == {str(t): per for t in range(threads_n)}
    result = verify_chain()
    assert result.ok and result.checked == total, result.problems
    _release(db)
    with db.engine.connect() as conn:
        _assert_chained(conn)
        conn.rollback()


def test_the_head_cannot_be_removed_and_no_second_chain_starts(app, db, chain):
    """The database refuses deleting the head; and were it gone, no record would start a
    second chain at 1 (the next audited change is refused instead)."""
    _release(db)
    with db.engine.connect() as conn:
        with pytest.raises(DBAPIError):
            with conn.begin():
                conn.execute(HEAD.delete())
    with db.engine.connect() as conn:
        trans = conn.begin()
        _lift_guards(conn)
        conn.execute(HEAD.delete())
        session = Session(bind=conn)
        session.add(AuditEvent(action="after.head.removed"))
        with pytest.raises(AuditTampering):
            session.flush()
        session.close()
        trans.rollback()
    db.session.rollback()
    assert verify_chain().ok
