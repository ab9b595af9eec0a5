"""`flask caseflow backup` / `flask caseflow restore` (SQLite online backup API; pg_dump /
pg_restore on PostgreSQL): a round trip gives back every table's rows, a verifying audit chain
and verifying evidence files; bad input is refused with a clear message and the database is
left alone. Prints the time the restore took."""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text
from werkzeug.datastructures import FileStorage

from caseflow.cases.models import Case
from caseflow.core import backup as bk
from caseflow.core.audit import verify_chain
from caseflow.core.timeutil import utcnow
from caseflow.evidence import operations as evops
from caseflow.evidence.models import Evidence
from caseflow.evidence.operations import verify_all
from caseflow.extensions import db

BEIJING = dt.timezone(dt.timedelta(hours=8))
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8
PDF = b"%PDF-1.7\n" + b"1 0 obj << >> endobj\n" * 50


def invoke(app, *args):
    return app.test_cli_runner().invoke(args=["caseflow", *args])


def uploads(app) -> Path:
    return Path(app.instance_path) / "uploads"


@pytest.fixture(autouse=True)
def clean_uploads(app):
    """The instance folder lives for the whole session: start and end without upload files."""
    shutil.rmtree(uploads(app), ignore_errors=True)
    yield
    shutil.rmtree(uploads(app), ignore_errors=True)


def row_counts() -> dict[str, int]:
    db.session.rollback()
    with db.engine.connect() as conn:
        return {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one()
                for t in sorted(inspect(conn).get_table_names())}


def files_of(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def add_evidence(user, case, content: bytes, name: str) -> Evidence:
    captured = (utcnow() - dt.timedelta(minutes=90)).astimezone(BEIJING).replace(microsecond=0)
    data = {"sha256": hashlib.sha256(content).hexdigest(), "captured_at": captured.isoformat(),
            "place": "松江区中山中路100号店内", "latitude": "31.03", "longitude": "121.22",
            "description": "货架上的涉嫌侵权运动鞋"}
    ev = evops.add_evidence(user, case, FileStorage(io.BytesIO(content), filename=name), data)
    evops.commit_or_discard(ev)
    return ev


def delete_with_dependants(table_name: str, ids: list[int]) -> int:
    """Delete rows by primary key through SQL, first every row that refers to them (what a
    careless administrator with a SQL prompt would do to remove a case)."""
    tables = {t.name: t for t in db.metadata.sorted_tables}
    removed = 0

    def purge(name: str, pk_ids: list[int]) -> None:
        nonlocal removed
        if not pk_ids:
            return
        table = tables[name]
        pk = list(table.primary_key.columns)[0]
        for other in tables.values():
            for fk in other.foreign_keys:
                if fk.column.table is table and other is not table:
                    other_pk = list(other.primary_key.columns)[0]
                    purge(other.name, db.session.execute(
                        select(other_pk).where(fk.parent.in_(pk_ids))).scalars().all())
        removed += db.session.execute(table.delete().where(pk.in_(pk_ids))).rowcount

    purge(table_name, ids)
    db.session.commit()
    return removed


@pytest.fixture()
def seeded(app, world, make_case, drive):
    """Cases in several states, evidence files, a report-like upload, audit records."""
    filed = make_case(title="某商行销售假冒运动鞋案")
    drive(filed, "accept", "file", "investigate")
    decided = make_case(title="某公司侵犯著作权案")
    drive(decided, "accept", "file", "investigate", "notify", "record_statement",
          "decide_penalty")
    rejected = make_case(title="某店铺线索")
    drive(rejected, "reject")
    clue = make_case(title="待核查线索")
    add_evidence(world.officer, filed, JPEG, "scene-01.jpg")
    add_evidence(world.officer, filed, PDF, "inventory.pdf")
    add_evidence(world.officer, decided, JPEG + b"2", "scene-02.jpg")
    other = uploads(app) / "reports"
    other.mkdir(parents=True, exist_ok=True)
    (other / "0123456789abcdef").write_bytes(b"%PDF-1.7 yearly report")
    return type("Seeded", (), {"filed": filed.id, "decided": decided.id, "rejected": rejected.id,
                               "clue": clue.id})


def test_backup_and_restore_round_trip(app, db, tmp_path, seeded, world, make_case, capsys):
    before = row_counts()
    assert before["case_record"] == 4 and before["evidence"] == 3 and before["audit_event"] > 20
    files_before = files_of(uploads(app))
    assert len(files_before) == 4

    target = tmp_path / "backup-1"
    r = invoke(app, "backup", str(target))
    assert r.exit_code == 0, r.output
    assert "backup written to" in r.output and "4 upload files" in r.output
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["format"] == "caseflow-backup" and manifest["row_counts"] == before
    assert files_of(target / "uploads") == files_before
    assert (target / bk.DB_FILES[db.engine.dialect.name]).is_file()
    assert target.stat().st_mode & 0o077 == 0  # private: it holds every case

    # afterwards: a case deleted through SQL, another edited, new work, files lost and added
    delete_with_dependants("case_record", [seeded.decided])
    db.session.execute(text("UPDATE case_record SET title = 'changed' WHERE id = :i"),
                       {"i": seeded.filed})
    db.session.commit()
    make_case(title="备份之后的新线索")
    evidence_dir = uploads(app) / "evidence"
    victim = sorted(evidence_dir.iterdir())[0]
    victim.unlink()
    (evidence_dir / "ffffffffffffffffffffffffffffffff").write_bytes(b"stray")
    changed = row_counts()
    assert changed != before and changed["case_record"] == 4  # one gone, one new

    r = invoke(app, "restore", str(target))
    assert r.exit_code == 0, r.output
    out = r.output
    assert f"audit chain: {before['audit_event']} records, 0 problems" in out
    assert "evidence: 3 files, 0 problems" in out
    assert "all equal to the backup" in out and "restore took" in out

    after = row_counts()
    assert after == before  # every table, row for row count
    assert files_of(uploads(app)) == files_before
    assert db.session.get(Case, seeded.filed).title == "某商行销售假冒运动鞋案"
    assert db.session.get(Case, seeded.decided) is not None
    assert verify_chain().ok and not verify_all().problems
    seconds = float(out.split("restore took ")[1].split(" s")[0])
    # the library call as well: the same figures, and the timing with two decimals
    db.session.execute(text("UPDATE case_record SET title = 'changed again' WHERE id = :i"),
                       {"i": seeded.clue})
    db.session.commit()
    result = bk.restore(target)
    assert result.ok and result.row_counts == before
    assert result.audit_checked == before["audit_event"]
    assert result.evidence_checked == 3 and not result.evidence_problems
    print(f"restore ({db.engine.dialect.name}): {result.rows} rows in "
          f"{len(result.row_counts)} tables restored in {result.seconds:.2f} s "
          f"(CLI run: {seconds:.1f} s; checks {result.verify_seconds:.2f} s; "
          f"{result.audit_checked} audit records, {result.evidence_checked} evidence files)")

    # the restored database keeps working: new audit records chain on
    from caseflow.accounts.operations import create_agency

    create_agency("after-restore", "other", "恢复之后的新单位", "恢复")
    db.session.commit()
    check = verify_chain()
    assert check.ok and check.checked > before["audit_event"]


def test_restore_reports_verification_failures_with_exit_1(app, db, tmp_path, seeded):
    target = tmp_path / "backup"
    assert invoke(app, "backup", str(target)).exit_code == 0
    # a damaged evidence file inside the backup: restored as it is, and named
    victim = sorted((target / "uploads" / "evidence").iterdir())[0]
    victim.write_bytes(b"\xff\xd8\xff tampered")
    r = invoke(app, "restore", str(target))
    assert r.exit_code == 1, r.output
    assert "evidence: 3 files, 1 problems" in r.output and "mismatch" in r.output
    assert "audit chain:" in r.output and "0 problems" in r.output


def test_backup_refuses_to_overwrite_without_force(app, db, tmp_path, seeded):
    target = tmp_path / "backup"
    assert invoke(app, "backup", str(target)).exit_code == 0
    first = json.loads((target / "manifest.json").read_text())
    r = invoke(app, "backup", str(target))
    assert r.exit_code == 2 and "exists" in r.output and "--force" in r.output
    r = invoke(app, "backup", str(target), "--force")
    assert r.exit_code == 0, r.output
    assert json.loads((target / "manifest.json").read_text())["row_counts"] == first["row_counts"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no leftovers
    # something that is not a backup is never replaced, not even with --force
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    r = invoke(app, "backup", str(precious), "--force")
    assert r.exit_code == 2 and "not a CaseFlow backup" in r.output
    assert (precious / "notes.txt").read_text() == "keep me"


def _bad_restore(app, path, message):
    before = row_counts()
    files_before = files_of(uploads(app))
    r = invoke(app, "restore", str(path))
    assert r.exit_code in (1, 2), r.output
    assert message in r.output, r.output
    assert "restore took" not in r.output
    assert row_counts() == before and files_of(uploads(app)) == files_before
    assert db.session.scalar(select(func.count()).select_from(Case)) == before["case_record"]
    return r


def test_restore_refuses_bad_input_and_leaves_the_database_alone(app, db, tmp_path, seeded):
    _bad_restore(app, tmp_path / "nowhere", "does not exist")
    plain = tmp_path / "plain.txt"
    plain.write_text("hello")
    _bad_restore(app, plain, "not a CaseFlow backup")
    empty = tmp_path / "empty"
    empty.mkdir()
    _bad_restore(app, empty, "not a CaseFlow backup")
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "manifest.json").write_text('{"format": "something-else"}')
    _bad_restore(app, odd, "not a CaseFlow backup")
    (odd / "manifest.json").write_text("not json")
    _bad_restore(app, odd, "not a CaseFlow backup")

    good = tmp_path / "good"
    assert invoke(app, "backup", str(good)).exit_code == 0
    # new work after the backup, which a refused restore must not lose
    db.session.execute(text("UPDATE case_record SET title = 'after the backup' WHERE id = :i"),
                       {"i": seeded.clue})
    db.session.commit()
    db_file = good / bk.DB_FILES[db.engine.dialect.name]
    original = db_file.read_bytes()
    db_file.write_bytes(original[:len(original) // 2])  # truncated copy
    _bad_restore(app, good, "does not match the SHA-256")
    db_file.write_bytes(original)
    manifest = json.loads((good / "manifest.json").read_text())
    other = "postgresql" if manifest["dialect"] == "sqlite" else "sqlite"
    (good / "manifest.json").write_text(json.dumps({**manifest, "dialect": other}))
    _bad_restore(app, good, f"is a {other} backup")
    (good / "manifest.json").write_text(json.dumps(manifest))
    shutil.rmtree(good / "uploads")
    _bad_restore(app, good, "uploads/ is missing")
    db.session.rollback()
    assert db.session.get(Case, seeded.clue).title == "after the backup"


def test_a_sqlite_file_that_is_not_caseflow_is_refused(app, db, tmp_path, seeded):
    import sqlite3

    good = tmp_path / "good"
    assert invoke(app, "backup", str(good)).exit_code == 0
    if db.engine.dialect.name != "sqlite":
        pytest.skip("a SQLite backup file only")
    db_file = good / bk.DB_FILES["sqlite"]
    db_file.unlink()
    conn = sqlite3.connect(db_file)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    manifest = json.loads((good / "manifest.json").read_text())
    manifest["database_sha256"] = hashlib.sha256(db_file.read_bytes()).hexdigest()
    (good / "manifest.json").write_text(json.dumps(manifest))
    _bad_restore(app, good, "not a CaseFlow database")


def test_missing_postgresql_tools_give_a_clear_error(app, db, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "PG_BIN", str(tmp_path))
    with pytest.raises(bk.BackupError, match="pg_dump not found"):
        bk.pg_tool("pg_dump")
    monkeypatch.setitem(app.config, "PG_BIN", None)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(bk.Path, "glob", lambda self, pattern: iter(()))
    with pytest.raises(bk.BackupError, match="pg_restore not found"):
        bk.pg_tool("pg_restore")
    if db.engine.dialect.name == "postgresql":
        r = invoke(app, "backup", str(tmp_path / "b"))
        assert r.exit_code == 2 and "pg_dump not found" in r.output
        assert not (tmp_path / "b").exists()
