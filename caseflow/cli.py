"""``flask caseflow …`` commands: bootstrap, demo data, maintenance."""
from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select, text

from caseflow.extensions import db

caseflow_cli = AppGroup("caseflow", help="CaseFlow administration.")


def register_cli(app) -> None:
    app.cli.add_command(caseflow_cli)


def _fail(exc) -> None:
    errors = getattr(exc, "errors", None)
    if errors:
        for field, msg in errors.items():
            click.echo(f"error: {field}: {msg}", err=True)
    else:
        click.echo(f"error: {exc}", err=True)
    sys.exit(2)


@caseflow_cli.command("create-agency")
@click.option("--code", required=True, help="Short unique code, e.g. sj-amr")
@click.option("--kind", required=True, help="market_supervision, police_econ, cultural_enforcement, "
                                            "ip_office, procuratorate or other")
@click.option("--name", required=True, help="Full name, e.g. 上海市松江区市场监督管理局")
@click.option("--case-prefix", default=None, help="Case number prefix, e.g. 沪市监松处")
@click.option("--region", default="")
@click.option("--credit-code", default=None, help="The agency's unified social credit code")
def create_agency_cmd(code, kind, name, case_prefix, region, credit_code):
    """Create an agency."""
    from caseflow.accounts.operations import create_agency
    from caseflow.core.errors import InvalidInput

    try:
        agency = create_agency(code, kind, name, case_prefix, region, credit_code)
    except InvalidInput as e:
        db.session.rollback()
        _fail(e)
    db.session.commit()
    click.echo(f"agency {agency.code} created (id {agency.id})")


@caseflow_cli.command("create-user")
@click.option("--agency", "agency_code", required=True, help="Agency code")
@click.option("--username", required=True)
@click.option("--password", required=True, prompt=True, hide_input=True,
              confirmation_prompt=True)
@click.option("--role", "roles", multiple=True, required=True, help="Repeatable")
@click.option("--name", "display_name", default=None, help="Display name")
def create_user_cmd(agency_code, username, password, roles, display_name):
    """Create a user in an agency with one or more roles."""
    from caseflow.accounts.models import Agency
    from caseflow.accounts.operations import create_user
    from caseflow.core.errors import InvalidInput

    agency = db.session.scalar(select(Agency).where(Agency.code == agency_code))
    if agency is None:
        _fail(f"no agency with code {agency_code!r}")
    try:
        user = create_user(agency, username, password, list(roles), display_name)
    except InvalidInput as e:
        db.session.rollback()
        _fail(e)
    db.session.commit()
    click.echo(f"user {user.username} created in {agency.code} with roles {', '.join(roles)}")


@caseflow_cli.command("disable-user")
@click.argument("username")
def disable_user_cmd(username):
    """Disable a user; their sessions and API tokens end at once."""
    from caseflow.accounts.models import User
    from caseflow.accounts.operations import normalize_username, set_user_active

    user = db.session.scalar(select(User).where(User.username == normalize_username(username)))
    if user is None:
        _fail(f"no user {username!r}")
    set_user_active(user, False)
    db.session.commit()
    click.echo(f"user {user.username} disabled")


@caseflow_cli.command("seed-demo")
@click.option("--cases", default=300, show_default=True)
@click.option("--if-empty", is_flag=True, help="Do nothing when users already exist")
@click.option("--seed", default=2026, show_default=True, help="Random seed")
def seed_demo_cmd(cases, if_empty, seed):
    """Songjiang demo agencies, one user per role, and realistic cases in every state."""
    from caseflow.accounts.operations import count_users
    from caseflow.demo import seed_demo

    if if_empty and count_users():
        click.echo("database already has users; demo not seeded")
        return
    logins = seed_demo(cases, seed)
    db.session.commit()
    if if_empty:  # make run prints the logins itself (flask caseflow demo-logins)
        click.echo(f"demo seeded: {len(logins)} users, {cases} cases")
    else:
        _print_logins(logins)


@caseflow_cli.command("demo-logins")
def demo_logins_cmd():
    """Print the demo logins written by seed-demo."""
    from caseflow.demo import read_logins

    _print_logins(read_logins())


def _print_logins(logins):
    if not logins:
        return
    click.echo("\nDemo logins (also in instance/demo_logins.txt):")
    for username, password, agency, roles in logins:
        click.echo(f"  {username:<18} {password:<22} {agency:<14} {roles}")
    click.echo("Administrators and approvers confirm each login with a one-time code: at their "
               "first login\nthey scan a QR code with an authenticator app (or type its key, "
               "e.g. into `oathtool --totp -b KEY`).")
    click.echo("")


@caseflow_cli.command("recompute-clocks")
def recompute_clocks_cmd():
    """Recompute every open case's stored next due date (after a calendar change)."""
    from caseflow.admin.operations import recompute_open_cases

    n = recompute_open_cases()
    db.session.commit()
    click.echo(f"{n} cases recomputed")


@caseflow_cli.group("evidence")
def evidence_cli():
    """Evidence files and their chain of custody."""


@evidence_cli.command("verify")
def evidence_verify_cmd():
    """Re-hash every stored evidence file against its recorded SHA-256; exit 1 on a problem."""
    import time

    from caseflow.evidence.operations import verify_all

    start = time.monotonic()
    result = verify_all()
    for evidence_id, problem in result.problems:
        click.echo(f"evidence {evidence_id}: {problem}", err=True)
    click.echo(f"{result.checked} evidence files checked, {len(result.problems)} problems "
               f"({time.monotonic() - start:.1f} s)")
    if result.problems:
        sys.exit(1)


@caseflow_cli.group("audit")
def audit_cli():
    """The audit log: its hash chain and retention."""


@audit_cli.command("verify")
def audit_verify_cmd():
    """Walk the audit hash chain; name every edited, missing, inserted or reordered record
    and exit 1 when there is one."""
    import time

    from caseflow.core.audit import verify_chain

    start = time.monotonic()
    result = verify_chain()
    for p in result.problems:
        click.echo(f"audit record seq={p.seq} id={p.id}: {p.kind} ({p.detail})", err=True)
    click.echo(f"{result.checked} audit records checked, {len(result.problems)} problems "
               f"({time.monotonic() - start:.1f} s)")
    if result.problems:
        sys.exit(1)


@audit_cli.command("prune")
@click.option("--before", required=True, help="delete records written before this day (YYYY-MM-DD)")
def audit_prune_cmd(before):
    """Retention: delete records older than a day, never any younger than six months."""
    import datetime as dt

    from caseflow.core.audit import prune
    from caseflow.core.timeutil import LOCAL_TZ

    try:
        day = dt.date.fromisoformat(before)
    except ValueError:
        raise click.BadParameter("a date as YYYY-MM-DD", param_hint="--before")
    n = prune(dt.datetime.combine(day, dt.time.min, LOCAL_TZ).astimezone(dt.timezone.utc))
    db.session.commit()
    click.echo(f"{n} audit records deleted")


@caseflow_cli.command("grant-app-role")
@click.argument("role")
@click.option("--print-only", is_flag=True, help="Print the SQL instead of running it")
def grant_app_role_cmd(role, print_only):
    """PostgreSQL: let ROLE (the web and scheduler processes' login) use the tables, but never
    change or delete audit records. Run as the owner after every `flask db upgrade`."""
    from caseflow.core.dbroles import app_role_statements

    try:
        statements = app_role_statements(role)
    except ValueError as exc:
        _fail(exc)
    if print_only:
        click.echo(";\n".join(statements) + ";")
        return
    if db.engine.dialect.name != "postgresql":
        _fail(ValueError("grant-app-role is for PostgreSQL; SQLite has no roles"))
    with db.engine.begin() as conn:
        for stmt in statements:
            conn.execute(text(stmt))
    click.echo(f"{role}: may read and write the tables; may not update or delete audit records")


@caseflow_cli.command("calendar-set")
@click.argument("day")
@click.argument("kind", type=click.Choice(["workday", "holiday"]))
@click.option("--note", default="")
def calendar_set_cmd(day, kind, note):
    """Enter a day of the official holiday arrangement (for years chinesecalendar lacks)."""
    import datetime as dt

    from caseflow.admin.operations import set_calendar_day
    from caseflow.core.errors import InvalidInput

    try:
        d = dt.date.fromisoformat(day)
    except ValueError:
        _fail(f"DAY must be YYYY-MM-DD, got {day!r}")
    try:
        set_calendar_day(None, d, kind == "workday", note)
    except InvalidInput as e:
        db.session.rollback()
        _fail(e)
    db.session.commit()
    click.echo(f"{d} recorded as {kind}; due dates of open cases recomputed")


@caseflow_cli.command("check-db")
def check_db_cmd():
    """Exit 0 when the database answers (used by the Makefile)."""
    from sqlalchemy import text

    db.session.execute(text("SELECT 1"))
    click.echo(current_app.config["SQLALCHEMY_DATABASE_URI"].split("@")[-1])


@caseflow_cli.command("scheduler")
@click.option("--once", is_flag=True, help="Run one pass (generate and deliver) and exit")
@click.option("--lock-retry", type=click.FloatRange(min=0.1), default=None,
              help="Seconds between attempts to take the scheduler lock while another "
                   "scheduler holds it (default: SCHEDULER_LOCK_RETRY_SECONDS or 30)")
def scheduler_cmd(once, lock_retry):
    """Run the reminder scheduler: a process of its own beside the web server.

    Exactly one runs the jobs: it holds a PostgreSQL advisory lock (a lock file on SQLite);
    any other started stays idle, trying again periodically, and takes over when it ends."""
    from caseflow.core.timeutil import utcnow
    from caseflow.reminders.operations import run_once
    from caseflow.reminders.scheduler import run_exclusive, worker_id

    if once:
        result = run_once(utcnow(), worker_id())
        click.echo(f"{result.generated} reminders generated, {result.delivered} delivered, "
                   f"{result.emailed} e-mailed, {result.email_errors} e-mail errors")
        return
    import logging
    import signal
    import threading

    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = current_app._get_current_object()
    retry = lock_retry or float(app.config.get("SCHEDULER_LOCK_RETRY_SECONDS") or 30)
    smtp = app.config.get("SMTP_HOST")
    click.echo(f"reminder scheduler {worker_id()}: every "
               f"{app.config['REMINDER_INTERVAL_SECONDS']} s, e-mail {'via ' + smtp if smtp else 'off'}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        run_exclusive(app, retry, stop=stop)
    except KeyboardInterrupt:
        stop.set()


@caseflow_cli.command("backup")
@click.argument("path", type=click.Path())
@click.option("--force", is_flag=True, help="Replace an existing backup at PATH")
def backup_cmd(path, force):
    """Back up the database and instance/uploads into the directory PATH (while running)."""
    from caseflow.core.backup import BackupError, backup

    try:
        result = backup(path, force=force)
    except BackupError as e:
        _fail(e)
    click.echo(f"backup written to {result.path}: {result.rows} rows in {len(result.row_counts)} "
               f"tables ({result.dialect}, revision {result.revision}), {result.upload_files} "
               f"upload files ({result.upload_bytes / 1e6:.1f} MB); took {result.seconds:.1f} s")


@caseflow_cli.command("restore")
@click.argument("path", type=click.Path())
def restore_cmd(path):
    """Replace the database and instance/uploads with the backup at PATH, then verify them.
    Stop the web server and the scheduler first. Exit 1 when a check fails."""
    from caseflow.core.backup import BackupError, restore

    try:
        result = restore(path)
    except BackupError as e:
        _fail(e)
    click.echo(f"restored {result.path} (made {result.created_at}, {result.dialect}, "
               f"revision {result.revision})")
    for table, (before, after) in result.count_mismatches.items():
        click.echo(f"table {table}: {before} rows in the backup, {after} after the restore",
                   err=True)
    click.echo(f"database: {result.rows} rows in {len(result.row_counts)} tables, "
               + ("all equal to the backup" if not result.count_mismatches
                  else f"{len(result.count_mismatches)} tables differ from the backup"))
    click.echo(f"uploads: {result.upload_files} files")
    for p in result.audit_problems:
        click.echo(f"audit record seq={p.seq} id={p.id}: {p.kind} ({p.detail})", err=True)
    click.echo(f"audit chain: {result.audit_checked} records, "
               f"{len(result.audit_problems)} problems")
    for evidence_id, problem in result.evidence_problems:
        click.echo(f"evidence {evidence_id}: {problem}", err=True)
    click.echo(f"evidence: {result.evidence_checked} files, "
               f"{len(result.evidence_problems)} problems")
    click.echo(f"restore took {result.seconds:.1f} s (checks {result.verify_seconds:.1f} s)")
    if not result.ok:
        sys.exit(1)


@caseflow_cli.command("generate")
@click.option("--cases", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Number of cases (every state, with their timelines)")
@click.option("--businesses", type=click.IntRange(min=0), default=5000, show_default=True,
              help="Number of businesses in the inspection directories")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed (same data)")
@click.option("--password", default=None,
              help="Password of every generated user (default: a random one, printed)")
def generate_cmd(cases, businesses, seed, password):
    """Fill an EMPTY database with realistic bulk data (performance work); prints the rows
    written per table, their speed, and one login per role. Refuses a non-empty database."""
    import time

    from caseflow.accounts.operations import hash_password
    from caseflow.core import audit
    from caseflow.perf.generate import DatabaseNotEmpty, generate

    db.session.remove()  # the generator writes on its own connection
    last = {}

    def progress(phase, done, total):
        now = time.monotonic()
        if done >= total or now - last.get(phase, 0) >= 10:
            last[phase] = now
            click.echo(f"  {phase}: {done:,}/{total:,}", err=True)

    try:
        result = generate(db.engine, cases, businesses, seed=seed, progress=progress,
                          password=password, hash_password=hash_password)
    except DatabaseNotEmpty as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    except ValueError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    # the generation itself on record, through the ORM so the audit hash chain stays whole
    audit.record("perf.generate", obj_type="database", cases=cases, businesses=businesses,
                 seed=seed, rows=sum(result.values()))
    db.session.commit()

    click.echo(f"\n{'table':<22}{'rows':>12}{'write s':>10}{'rows/s':>12}")
    for table, n in sorted(result.items(), key=lambda kv: -kv[1]):
        s = result.seconds.get(table, 0.0)
        click.echo(f"{table:<22}{n:>12,}{s:>10.1f}{(n / s if s else 0):>12,.0f}")
    total = sum(result.values())
    click.echo(f"{'total':<22}{total:>12,}{'':>10}{total / result.elapsed:>12,.0f}")
    for phase, s in result.phases.items():
        click.echo(f"  {phase}: {s:.1f} s")
    click.echo(f"elapsed: {result.elapsed:.1f} s")
    click.echo(f"\nLogins (password for all {len(result.users)} users: {result.password}):")
    second_factor = set(current_app.config.get("TOTP_REQUIRED_ROLES") or ())
    for role, (username, agency) in result.logins.items():
        note = "  (sets up its one-time-code app at first login)" if role in second_factor else ""
        click.echo(f"  {role:<16}{username:<26}{agency}{note}")
