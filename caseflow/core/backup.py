"""Backup and restore of the whole CaseFlow state: the database and the uploaded files.

A backup is a directory (made private, mode 0700) holding

- ``manifest.json`` — what this is (``"format": "caseflow-backup"``), when it was made, from
  which database kind and schema revision, the row count of every table at the backup
  moment, the SHA-256 of the database file and the number and size of the upload files;
- ``database.sqlite3`` (SQLite: a copy made with SQLite's online backup API, a consistent
  snapshot taken while the application keeps running) or ``database.pgdump`` (PostgreSQL:
  ``pg_dump --format=custom`` of an exported snapshot, the same snapshot the row counts
  were taken in);
- ``uploads/`` — a copy of ``instance/uploads/`` (evidence, reports, attachments, …), made
  after the database snapshot: every file the snapshot refers to is already on disk then
  (files are written before their rows are committed).

The directory is written under a temporary name beside the target and renamed when complete,
so a half-written backup never carries the target's name.

``restore`` replaces the database and ``instance/uploads/`` with a backup's, then checks the
result: the row count of every table equals the manifest's, the audit hash chain verifies and
every evidence file matches its recorded SHA-256. The web server and the scheduler must be
stopped during a restore (nothing else may write to the database meanwhile).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from caseflow.extensions import db

FORMAT = "caseflow-backup"
VERSION = 1
MANIFEST = "manifest.json"
UPLOADS = "uploads"
DB_FILES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
#: tables every CaseFlow database has (a backup without them is not one of ours)
REQUIRED_TABLES = {"alembic_version", "audit_event", "audit_head", "agency", "user_account"}


class BackupError(RuntimeError):
    """A backup or restore could not be made; the message says why (nothing was changed)."""


@dataclass
class BackupResult:
    path: Path
    dialect: str
    revision: str | None
    row_counts: dict[str, int]
    upload_files: int
    upload_bytes: int
    seconds: float

    @property
    def rows(self) -> int:
        return sum(self.row_counts.values())


@dataclass
class RestoreResult:
    path: Path
    dialect: str
    revision: str | None
    created_at: str
    expected_counts: dict[str, int]
    row_counts: dict[str, int]
    upload_files: int
    seconds: float  # replacing the database and the uploads
    audit_checked: int = 0
    audit_problems: list = field(default_factory=list)
    evidence_checked: int = 0
    evidence_problems: list = field(default_factory=list)
    verify_seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(self.row_counts.values())

    @property
    def count_mismatches(self) -> dict[str, tuple[int | None, int | None]]:
        """table → (rows in the backup, rows after the restore) where they differ."""
        names = set(self.expected_counts) | set(self.row_counts)
        return {t: (self.expected_counts.get(t), self.row_counts.get(t)) for t in sorted(names)
                if self.expected_counts.get(t) != self.row_counts.get(t)}

    @property
    def ok(self) -> bool:
        return not (self.count_mismatches or self.audit_problems or self.evidence_problems)


# ----------------------------------------------------------------------------- helpers

def _dialect() -> str:
    name = db.engine.dialect.name
    if name not in DB_FILES:
        raise BackupError(f"unsupported database {name!r}")
    return name


def _sqlite_path() -> Path:
    database = db.engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError("the SQLite database must be a file to be backed up or restored")
    return Path(database).resolve()


def _uploads_dir() -> Path:
    return Path(current_app.instance_path).resolve() / UPLOADS


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            h.update(chunk)
    return h.hexdigest()


def _files_under(root: Path) -> tuple[int, int]:
    n = size = 0
    for p in root.rglob("*"):
        if p.is_file():
            n += 1
            size += p.stat().st_size
    return n, size


def _count_sqlite(conn: sqlite3.Connection) -> dict[str, int]:
    names = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name")]
    return {t: conn.execute(_count_query(t)).fetchone()[0] for t in names}


def _count_sa(conn) -> dict[str, int]:
    names = sorted(inspect(conn).get_table_names())
    return {t: conn.execute(text(_count_query(t))).scalar_one() for t in names}


def _count_query(table: str) -> str:
    # a table name read from the database's own catalogue, quoted: no outside input
    return f'SELECT count(*) FROM "{table}"'  # nosec B608


def _release_connections() -> None:
    """End this process's own transactions and close its pooled connections."""
    db.session.rollback()
    db.session.remove()
    db.engine.dispose()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_backup(path: Path) -> bool:
    try:
        return json.loads((Path(path) / MANIFEST).read_text("utf-8")).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


# ----------------------------------------------------------------------------- PostgreSQL

def pg_tool(name: str) -> str:
    """``pg_dump`` / ``pg_restore``: the PG_BIN setting (CASEFLOW_PG_BIN), then PATH, then the
    newest /usr/lib/postgresql/<version>/bin (Debian's layout)."""
    configured = current_app.config.get("PG_BIN")
    if configured:
        candidate = Path(configured) / name
        if os.access(candidate, os.X_OK):
            return str(candidate)
        raise BackupError(f"{name} not found in PG_BIN ({configured})")
    found = shutil.which(name)
    if found:
        return found

    def version(p: Path):
        return [int(x) for x in re.findall(r"\d+", p.parent.name)] or [0]

    for bindir in sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True):
        if os.access(bindir / name, os.X_OK):
            return str(bindir / name)
    raise BackupError(f"{name} not found: install the PostgreSQL client tools (the server's "
                      f"major version or newer), put them on PATH or set CASEFLOW_PG_BIN")


def _pg_args() -> tuple[list[str], dict[str, str]]:
    url = make_url(db.engine.url.render_as_string(hide_password=False))
    args: list[str] = []
    host = url.host or url.query.get("host")
    if host:
        args += ["--host", str(host)]
    if url.port:
        args += ["--port", str(url.port)]
    if url.username:
        args += ["--username", url.username]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    if url.query.get("sslmode"):
        env["PGSSLMODE"] = str(url.query["sslmode"])
    return args + ["--no-password"], env


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    except OSError as e:
        raise BackupError(f"{what}: cannot run {cmd[0]}: {e}") from e
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise BackupError(f"{what} failed (exit {proc.returncode})"
                          + (": " + " | ".join(detail[-5:]) if detail else ""))


# ----------------------------------------------------------------------------- backup

def backup(target_path, force: bool = False) -> BackupResult:
    """Write a backup directory at ``target_path`` (see the module's description).
    An existing target is only replaced with ``force`` and only when it is a CaseFlow
    backup itself."""
    start = time.monotonic()
    target = Path(target_path).resolve()
    dialect = _dialect()
    uploads = _uploads_dir()
    if target.exists() or target.is_symlink():
        if not force:
            raise BackupError(f"{target} exists; use --force to replace it")
        if not (target.is_dir() and (is_backup(target) or not any(target.iterdir()))):
            raise BackupError(f"{target} exists and is not a CaseFlow backup; not replaced")
    if target == uploads or uploads in target.parents:
        raise BackupError("the backup cannot be written inside instance/uploads")
    if not target.parent.is_dir():
        raise BackupError(f"directory {target.parent} does not exist")

    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        db_file = work / DB_FILES[dialect]
        if dialect == "sqlite":
            counts, revision = _backup_sqlite(db_file)
        else:
            counts, revision = _backup_postgresql(db_file)
        # after the database snapshot: every file a snapshot row names exists by now
        if uploads.is_dir():
            shutil.copytree(uploads, work / UPLOADS, symlinks=False)
        else:
            (work / UPLOADS).mkdir()
        files, size = _files_under(work / UPLOADS)
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "dialect": dialect,
            "database_file": db_file.name,
            "database_sha256": _sha256(db_file),
            "alembic_revision": revision,
            "row_counts": counts,
            "uploads": {"files": files, "bytes": size},
        }
        with open(work / MANIFEST, "w", encoding="utf-8") as f:
            json.dump(manifest, f, ensure_ascii=False, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        if target.exists():  # --force, checked above
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            target.rename(old / "backup")
            work.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            work.rename(target)
        _fsync_dir(target.parent)  # the new name survives a crash too
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return BackupResult(target, dialect, revision, counts, files, size, time.monotonic() - start)


def _backup_sqlite(db_file: Path) -> tuple[dict[str, int], str | None]:
    live = _sqlite_path()
    if not live.exists():
        raise BackupError(f"database file {live} does not exist")
    db.session.rollback()  # nothing of ours holds a write lock meanwhile
    src = sqlite3.connect(live.as_uri() + "?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(db_file, isolation_level=None)
    try:
        src.backup(dst)  # one step: a consistent snapshot even while others write
        dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
        check = dst.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"the copied database fails its integrity check: {check}")
        counts = _count_sqlite(dst)
        revision = _sqlite_revision(dst)
    finally:
        dst.close()
        src.close()
    return counts, revision


def _sqlite_revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        return None
    return row[0] if row else None


def _backup_postgresql(db_file: Path) -> tuple[dict[str, int], str | None]:
    pg_dump = pg_tool("pg_dump")
    args, env = _pg_args()
    dbname = db.engine.url.database
    db.session.rollback()
    # The row counts and the dump see the same snapshot: a repeatable-read transaction exports
    # it and stays open while pg_dump runs with --snapshot.
    with db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            conn.execute(text("SET TRANSACTION READ ONLY"))
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            counts = _count_sa(conn)
            revision = (conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                        if "alembic_version" in counts else None)
            _run([pg_dump, "--format=custom", f"--snapshot={snapshot}", *args,
                  "--file", str(db_file), "--dbname", dbname], env, "pg_dump")
    return counts, revision


# ----------------------------------------------------------------------------- restore

def read_manifest(source: Path) -> dict:
    if not source.exists():
        raise BackupError(f"{source} does not exist")
    if not source.is_dir() or not (source / MANIFEST).is_file():
        raise BackupError(f"{source} is not a CaseFlow backup (a directory made by "
                          "`flask caseflow backup`, with a manifest.json)")
    try:
        manifest = json.loads((source / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError) as e:
        raise BackupError(f"{source} is not a CaseFlow backup: unreadable manifest ({e})") from e
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{source} is not a CaseFlow backup: its manifest is of another kind")
    if manifest.get("version") != VERSION:
        raise BackupError(f"{source}: backup format version {manifest.get('version')} is not "
                          f"supported (this CaseFlow reads version {VERSION})")
    if manifest.get("dialect") not in DB_FILES or not isinstance(manifest.get("row_counts"), dict):
        raise BackupError(f"{source} is not a CaseFlow backup: incomplete manifest")
    if not REQUIRED_TABLES <= set(manifest["row_counts"]):
        raise BackupError(f"{source} is not a CaseFlow backup: tables missing ("
                          + ", ".join(sorted(REQUIRED_TABLES - set(manifest["row_counts"]))) + ")")
    return manifest


def restore(source_path) -> RestoreResult:
    """Replace the database and instance/uploads with the backup at ``source_path``, then
    verify the result (row counts, audit chain, evidence files). The backup itself (manifest,
    database file hash and integrity, upload files) is checked before anything is replaced:
    a bad or damaged backup raises BackupError and leaves the database untouched."""
    source = Path(source_path).resolve()
    manifest = read_manifest(source)
    dialect = _dialect()
    if manifest["dialect"] != dialect:
        raise BackupError(f"{source} is a {manifest['dialect']} backup; the configured database "
                          f"is {dialect}")
    db_file = source / DB_FILES[dialect]
    if not db_file.is_file():
        raise BackupError(f"{source} is incomplete: {db_file.name} is missing")
    if not (source / UPLOADS).is_dir():
        raise BackupError(f"{source} is incomplete: {UPLOADS}/ is missing")
    if _sha256(db_file) != manifest.get("database_sha256"):
        raise BackupError(f"{db_file} does not match the SHA-256 in the manifest (damaged)")
    if dialect == "sqlite":
        _check_sqlite_backup(db_file)
    else:
        _run([pg_tool("pg_restore"), "--list", str(db_file)], dict(os.environ),
             "reading the dump (pg_restore --list)")
    pg_restore = pg_tool("pg_restore") if dialect == "postgresql" else None

    start = time.monotonic()
    uploads = _uploads_dir()
    uploads.parent.mkdir(parents=True, exist_ok=True)
    # the files are staged beside instance/uploads first (same file system: renames are atomic)
    staging = Path(tempfile.mkdtemp(prefix=".uploads.restoring-", dir=uploads.parent))
    try:
        shutil.copytree(source / UPLOADS, staging / UPLOADS)
        files, _ = _files_under(staging / UPLOADS)
        expected_files = (manifest.get("uploads") or {}).get("files")
        if expected_files is not None and files != expected_files:
            raise BackupError(f"{source}: {files} upload files, the manifest says {expected_files}")
        _release_connections()
        if dialect == "sqlite":
            _restore_sqlite(db_file)
        else:
            args, env = _pg_args()
            # fail instead of waiting forever when another session still holds a table
            env["PGOPTIONS"] = (env.get("PGOPTIONS", "") + " -c lock_timeout=60000").strip()
            _run([pg_restore, "--clean", "--if-exists", "--no-owner", "--single-transaction",
                  "--exit-on-error", *args, "--dbname", db.engine.url.database, str(db_file)],
                 env, "pg_restore")
        if uploads.exists():
            uploads.rename(staging / "previous")
        (staging / UPLOADS).rename(uploads)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    seconds = time.monotonic() - start

    with db.engine.connect() as conn:
        counts = _count_sa(conn)
    result = RestoreResult(source, dialect, manifest.get("alembic_revision"),
                           manifest.get("created_at", ""), manifest["row_counts"], counts, files,
                           seconds)
    verify(result)
    return result


def verify(result: RestoreResult) -> None:
    from caseflow.core.audit import verify_chain
    from caseflow.evidence.operations import verify_all

    start = time.monotonic()
    chain = verify_chain()
    result.audit_checked, result.audit_problems = chain.checked, chain.problems
    evidence = verify_all()
    result.evidence_checked, result.evidence_problems = evidence.checked, evidence.problems
    db.session.rollback()
    result.verify_seconds = time.monotonic() - start


def _check_sqlite_backup(db_file: Path) -> None:
    try:
        conn = sqlite3.connect(db_file.as_uri() + "?mode=ro", uri=True)
        try:
            check = conn.execute("PRAGMA integrity_check").fetchone()[0]
            tables = {r[0] for r in
                      conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        raise BackupError(f"{db_file} is not a usable SQLite database: {e}") from e
    if check != "ok":
        raise BackupError(f"{db_file} fails its integrity check: {check}")
    if not REQUIRED_TABLES <= tables:
        raise BackupError(f"{db_file} is not a CaseFlow database (tables missing: "
                          f"{', '.join(sorted(REQUIRED_TABLES - tables))})")


def _restore_sqlite(db_file: Path) -> None:
    live = _sqlite_path()
    live.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(db_file.as_uri() + "?mode=ro", uri=True)
    dst = sqlite3.connect(live, timeout=30, isolation_level=None)
    try:
        dst.execute("PRAGMA busy_timeout=30000")
        src_page = src.execute("PRAGMA page_size").fetchone()[0]
        dst_page = dst.execute("PRAGMA page_size").fetchone()[0]
        mode = dst.execute("PRAGMA journal_mode").fetchone()[0]
        if mode == "wal" and src_page != dst_page and live.stat().st_size > 0:
            raise BackupError(f"page size of the backup ({src_page}) differs from the live "
                              f"database's ({dst_page}); move the live database file away first")
        # one step, one write transaction on the live file: all of the backup or nothing
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=WAL")
        dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        check = dst.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"the restored database fails its integrity check: {check}")
    finally:
        dst.close()
        src.close()
