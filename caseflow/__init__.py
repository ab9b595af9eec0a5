"""CaseFlow: IP enforcement case management."""
from __future__ import annotations

import time
from contextvars import ContextVar
from pathlib import Path

from flask import Flask, g, has_request_context, request, session
from sqlalchemy import event
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
_write_intent: ContextVar[bool] = ContextVar("caseflow_write_intent", default=True)


def create_app(config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(Path((config or {}).get("INSTANCE_PATH") or ROOT / "instance").resolve()),
        template_folder=str(ROOT / "templates"),
        static_folder="static",
    )
    from caseflow import config as cfg

    cfg.load(app, config)
    if app.config["PROXY_FIX_HOPS"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PROXY_FIX_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(Path(__file__).parent / "translations")

    from caseflow.extensions import babel, csrf, db, login_manager, migrate

    db.init_app(app)
    from caseflow.core.db import render_item

    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True,
                     compare_type=True, render_item=render_item)
    csrf.init_app(app)
    login_manager.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)
    _setup_login(app)
    _setup_sqlite(app)

    from caseflow import models  # noqa: F401  (registers every table)
    from caseflow.accounts.views import bp as accounts_bp
    from caseflow.actions.views import bp as actions_bp
    from caseflow.evidence.views import bp as evidence_bp
    from caseflow.mobile.views import bp as mobile_bp
    from caseflow.mediation.views import bp as mediation_bp
    from caseflow.reports.views import bp as reports_bp
    from caseflow.admin.views import bp as admin_bp
    from caseflow.inspections.views import bp as inspections_bp
    from caseflow.penalties.views import bp as penalties_bp
    from caseflow.referrals.views import bp as referrals_bp
    from caseflow.reminders.views import bp as reminders_bp
    from caseflow.sharing.views import bp as sharing_bp
    from caseflow.api.views import bp as api_bp
    from caseflow.cases.views import bp as cases_bp
    from caseflow.core.views import bp as core_bp, register_errors, register_template_helpers

    app.register_blueprint(core_bp)
    from caseflow.core.health import bp as health_bp; app.register_blueprint(health_bp)  # noqa: E702
    app.register_blueprint(accounts_bp)
    app.register_blueprint(cases_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(referrals_bp)
    app.register_blueprint(sharing_bp)
    app.register_blueprint(penalties_bp)
    app.register_blueprint(reminders_bp)
    app.register_blueprint(inspections_bp)
    app.register_blueprint(actions_bp)
    app.register_blueprint(evidence_bp)
    app.register_blueprint(mobile_bp)
    app.register_blueprint(mediation_bp)
    app.register_blueprint(reports_bp)
    from caseflow.security.views import bp as security_bp
    app.register_blueprint(security_bp)
    csrf.exempt(api_bp)  # the API authenticates with bearer tokens, never cookies
    register_errors(app)
    register_template_helpers(app)
    from caseflow.cases import pages

    pages.init_app(app)

    from caseflow.cli import register_cli

    register_cli(app)
    from caseflow.cli import caseflow_cli
    from caseflow.inspections.cli import draw_cli

    if "draw" not in caseflow_cli.commands:
        caseflow_cli.add_command(draw_cli)

    @app.before_request
    def _mark_read_only():
        # SQLite: reading requests use deferred transactions; writing ones take the write
        # lock up front (BEGIN IMMEDIATE) so a read-then-write never hits "database is locked".
        g._write_token = _write_intent.set(request.method not in ("GET", "HEAD", "OPTIONS"))

    @app.teardown_request
    def _forget_read_only(_exc):
        # the request's choice ends with it (a test client or CLI shares the thread's context)
        token = g.pop("_write_token", None)
        if token is not None:
            try:
                _write_intent.reset(token)
            except ValueError:  # set in another context (copied by the server): nothing to undo
                pass

    @app.before_request
    def _password_expiry():
        # 等保: an expired password is changed before anything else is done
        from flask import redirect, url_for
        from flask_login import current_user

        if request.endpoint in ("accounts.change_password", "accounts.logout", "static",
                                "core.set_language") or request.path.startswith("/api/"):
            return None
        if current_user.is_authenticated:
            from caseflow.accounts.operations import password_expired

            if password_expired(current_user):
                return redirect(url_for("accounts.change_password"))
        return None

    @app.after_request
    def _security_headers(resp):
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault("Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                "script-src 'self'; frame-ancestors 'none'")
        if request.is_secure:  # behind TLS (or a proxy that says so: PROXY_FIX_HOPS)
            resp.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        from flask_login import current_user

        if current_user.is_authenticated and request.endpoint != "static":
            # pages and files of a logged-in user never stay in a shared or browser cache
            resp.headers["Cache-Control"] = "private, no-store"
        return resp

    return app


def _select_locale():
    from flask import current_app
    from flask_login import current_user

    langs = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if getattr(current_user, "is_authenticated", False) and current_user.locale in langs:
        return current_user.locale
    if session.get("lang") in langs:
        return session["lang"]
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def _setup_login(app: Flask) -> None:
    from flask_babel import lazy_gettext as _l

    from caseflow.accounts import operations as accounts
    from caseflow.extensions import login_manager

    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please log in.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = None  # sessions are server-side rows

    @login_manager.user_loader
    def load_user(session_id: str):
        # The API never trusts the session cookie (that would bypass CSRF protection).
        if request.path.startswith("/api/"):
            return None
        # Idle timeout, enforced here: the signed session cookie carries the time of the last
        # request; a cookie idle longer than SESSION_IDLE_MINUTES logs nobody in (and its
        # server-side session ends). The absolute lifetime is the session row's expiry.
        now = int(time.time())
        seen = session.get("seen")
        idle = app.config["SESSION_IDLE_MINUTES"] * 60
        if not isinstance(seen, int) or now - seen > idle:
            if session_id:
                from caseflow.extensions import db

                accounts.end_session(session_id, reason="idle")
                db.session.commit()
            return None
        from caseflow.cases import pages

        extra = pages.prefetch()
        if extra:  # a list page: read without a transaction (see caseflow.cases.pages)
            pages.read_without_transaction()
        user = accounts.load_session_user(session_id, extra)
        if user is not None and now - seen >= 30:  # refresh at most twice a minute
            session["seen"] = now
        return user

    @login_manager.request_loader
    def load_from_token(req):
        header = req.headers.get("Authorization", "")
        if req.path.startswith("/api/") and header.startswith("Bearer "):
            from caseflow.cases import pages

            extra = pages.prefetch()
            if extra:
                pages.read_without_transaction()
            return accounts.load_token_user(header.removeprefix("Bearer ").strip(), extra)
        return None


_sqlite_hooked = False


def _setup_sqlite(app: Flask) -> None:
    global _sqlite_hooked
    if _sqlite_hooked or not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    _sqlite_hooked = True

    @event.listens_for(Engine, "connect")
    def _on_connect(dbapi_conn, _record):
        import sqlite3

        if not isinstance(dbapi_conn, sqlite3.Connection):
            return
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")  # an acknowledged commit survives power loss
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(Engine, "begin")
    def _on_begin(conn):
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")
