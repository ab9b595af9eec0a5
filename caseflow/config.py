"""Configuration in three layers: these defaults → instance/config.py → CASEFLOW_* environment.

Validated at start-up so a wrong setting fails fast with a clear message.
"""
from __future__ import annotations

import os
from pathlib import Path


class ConfigError(RuntimeError):
    pass


DEFAULTS = {
    "SECRET_KEY": None,  # required outside development/testing; generated into instance/ for dev
    "SQLALCHEMY_DATABASE_URI": None,  # default: sqlite:///<instance>/caseflow.db
    "SQLALCHEMY_ENGINE_OPTIONS": {},
    "BABEL_DEFAULT_LOCALE": "zh_Hans_CN",
    "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
    "LANGUAGES": {"zh_Hans_CN": "简体中文", "en": "English"},
    "WTF_CSRF_TIME_LIMIT": 8 * 3600,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # the session cookie only travels over TLS (browsers also accept it from http://127.0.0.1
    # and http://localhost, so the local demo works); host-only (no Domain attribute)
    "SESSION_COOKIE_SECURE": True,
    "SESSION_COOKIE_DOMAIN": None,
    "SESSION_ABSOLUTE_HOURS": 12,
    # a login session unused this long ends (等保2.0: session timeout); 15 minutes
    "SESSION_IDLE_MINUTES": 15,
    "API_TOKEN_HOURS": 12,
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_LOCKOUT_MINUTES": 30,
    # failures count toward the lockout when they fall within this many minutes
    "LOGIN_FAILURE_WINDOW_MINUTES": 15,
    "PASSWORD_MIN_LENGTH": 12,
    # second factor (TOTP) is mandatory for these roles; others may set it up (等保 8.1.4.1 d)
    "TOTP_REQUIRED_ROLES": ["approver", "agency_admin", "sys_admin", "sec_admin", "auditor"],
    # time to enter the one-time code after the password, in seconds
    "TOTP_PENDING_SECONDS": 300,
    # 等保: passwords are changed periodically (ASVS advises against it: SECURITY.md)
    "PASSWORD_EXPIRY_DAYS": 90,
    "PAGE_SIZE": 50,
    # case list pages (HTML and API) each web worker keeps, served again while nothing they
    # show has changed (caseflow.cases.pages; PostgreSQL only); 0 turns the cache off
    "LIST_CACHE_ENTRIES": 256,
    "UPLOAD_MAX_BYTES": 20 * 1024 * 1024,
    # evidence files (photos, phone videos, documents); raise MAX_CONTENT_LENGTH with it
    "EVIDENCE_MAX_BYTES": 20 * 1024 * 1024,
    "MAX_CONTENT_LENGTH": 25 * 1024 * 1024,
    # 行政处罚法 §63 hearing thresholds [M]: set by the province; correct them here.
    "HEARING_FINE_PERSON": 10000,
    "HEARING_FINE_ORGANISATION": 100000,
    # "lower amount" fines (总局令第45号 §13: 3-month publicity), set by the province [S]
    "LOWER_AMOUNT_PERSON": 10000,
    "LOWER_AMOUNT_ORGANISATION": 100000,
    # 每年开展各类专项行动和双随机检查不少于10项 (Songjiang plan)
    "YEARLY_ACTION_TARGET": 10,
    # 每年开展长三角G60科创走廊跨区域联合执法 (at least one cross-region action a year)
    "G60_YEARLY_TARGET": 1,
    # share (%) of penalty decisions on the credit platform within 7 working days (年度报告)
    "PUBLICATION_ON_TIME_TARGET": 100,
    # how often the scheduler checks for a yearly report to make (first working day of a year)
    "REPORT_CHECK_SECONDS": 3600,
    # Reminders: the scheduler process (`flask caseflow scheduler`) runs every N seconds and
    # e-mails reminders when SMTP_HOST is set (otherwise they go to the in-app inbox only).
    "REMINDER_INTERVAL_SECONDS": 60,
    "SMTP_HOST": None,
    "SMTP_PORT": 25,
    "SMTP_FROM": "caseflow@localhost",
    "SMTP_USER": None,
    "SMTP_PASSWORD": None,
    "SMTP_STARTTLS": False,
    # API create requests with an Idempotency-Key: the answer is kept this many days (≥ 7)
    "IDEMPOTENCY_KEEP_DAYS": 8,
    # Reverse proxies in front of the app that set X-Forwarded-For/-Proto (nginx: 1). The
    # client's address is used for audit records and the receipt-code lookup throttle.
    "PROXY_FIX_HOPS": 0,
}

_INT_KEYS = {"UPLOAD_MAX_BYTES", "EVIDENCE_MAX_BYTES", "MAX_CONTENT_LENGTH", "SESSION_ABSOLUTE_HOURS", "SESSION_IDLE_MINUTES", "TOTP_PENDING_SECONDS", "API_TOKEN_HOURS", "LOGIN_MAX_FAILURES",
             "LOGIN_LOCKOUT_MINUTES", "LOGIN_FAILURE_WINDOW_MINUTES", "PASSWORD_MIN_LENGTH", "PASSWORD_EXPIRY_DAYS", "PAGE_SIZE", "HEARING_FINE_PERSON",
             "HEARING_FINE_ORGANISATION", "WTF_CSRF_TIME_LIMIT", "LOWER_AMOUNT_PERSON",
             "LOWER_AMOUNT_ORGANISATION", "YEARLY_ACTION_TARGET", "G60_YEARLY_TARGET",
             "PUBLICATION_ON_TIME_TARGET", "REPORT_CHECK_SECONDS",
             "REMINDER_INTERVAL_SECONDS", "SMTP_PORT", "IDEMPOTENCY_KEEP_DAYS",
             "PROXY_FIX_HOPS", "LIST_CACHE_ENTRIES"}
_BOOL_KEYS = {"SESSION_COOKIE_SECURE", "TESTING", "SMTP_STARTTLS"}


def load(app, overrides: dict | None = None) -> None:
    app.config.update(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)  # instance/config.py
    for key, value in os.environ.items():
        if key.startswith("CASEFLOW_"):
            name = key.removeprefix("CASEFLOW_")
            if name in _INT_KEYS:
                try:
                    value = int(value)
                except ValueError as exc:
                    raise ConfigError(f"{key} must be a whole number, got {value!r}") from exc
            elif name in _BOOL_KEYS:
                value = value.lower() in ("1", "true", "yes", "on")
            app.config[name] = value
    if os.environ.get("DATABASE_URL") and not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    if overrides:
        app.config.update(overrides)
    _finish(app)


def postgres_engine_options(given: dict | None) -> dict:
    """The engine options for PostgreSQL: JIT off for the application's connections. JIT
    compiles any plan above jit_above_cost: 30–40 ms spent on each dashboard aggregate of a
    few hundred thousand rows, more than it saves (the server's own setting stays as it is;
    an ``-c jit=…`` given in ``connect_args['options']`` wins)."""
    opts = dict(given or {})
    args = opts["connect_args"] = dict(opts.get("connect_args") or {})
    if "-c jit=" not in args.get("options", ""):
        args["options"] = (args.get("options", "") + " -c jit=off").strip()
    return opts


def _finish(app) -> None:
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    uri = app.config.get("SQLALCHEMY_DATABASE_URI")
    if not uri:
        uri = f"sqlite:///{instance / 'caseflow.db'}"
    if uri.startswith("postgres://"):
        uri = "postgresql://" + uri.removeprefix("postgres://")
    if uri.startswith("postgresql://"):
        uri = "postgresql+psycopg://" + uri.removeprefix("postgresql://")
    if not (uri.startswith("sqlite") or uri.startswith("postgresql")):
        raise ConfigError(f"DATABASE_URL must be a sqlite:// or postgresql:// URL, got {uri.split(':')[0]}://")
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    if uri.startswith("sqlite"):
        opts = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        opts.setdefault("connect_args", {}).setdefault("timeout", 30)
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = opts
    else:
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = postgres_engine_options(
            app.config.get("SQLALCHEMY_ENGINE_OPTIONS"))

    if not app.config.get("SECRET_KEY"):
        if app.config.get("TESTING") or app.debug or os.environ.get("CASEFLOW_DEV") == "1" \
                or uri.startswith("sqlite"):
            key_file = instance / "secret_key"
            if not key_file.exists():
                import secrets

                key_file.write_text(secrets.token_hex(32))
                key_file.chmod(0o600)
            app.config["SECRET_KEY"] = key_file.read_text().strip()
        else:
            raise ConfigError("SECRET_KEY is not set: put it in instance/config.py or "
                              "CASEFLOW_SECRET_KEY (required with PostgreSQL deployments)")
    if app.config["BABEL_DEFAULT_LOCALE"] not in app.config["LANGUAGES"]:
        raise ConfigError("BABEL_DEFAULT_LOCALE must be one of LANGUAGES")
    if app.config["PAGE_SIZE"] < 1 or app.config["PAGE_SIZE"] > 500:
        raise ConfigError("PAGE_SIZE must be between 1 and 500")
    if not 0 <= app.config["LIST_CACHE_ENTRIES"] <= 100_000:
        raise ConfigError("LIST_CACHE_ENTRIES must be between 0 (off) and 100000")
    if app.config["REMINDER_INTERVAL_SECONDS"] < 1:
        raise ConfigError("REMINDER_INTERVAL_SECONDS must be at least 1")
    if app.config["PASSWORD_MIN_LENGTH"] < 12:
        raise ConfigError("PASSWORD_MIN_LENGTH must be at least 12 (等保2.0 level 3)")
    if not 1 <= app.config["PASSWORD_EXPIRY_DAYS"] <= 365:
        raise ConfigError("PASSWORD_EXPIRY_DAYS must be between 1 and 365")
    required = set(app.config["TOTP_REQUIRED_ROLES"] or ())
    if not {"approver", "sys_admin", "sec_admin", "auditor"} <= required:
        raise ConfigError("TOTP_REQUIRED_ROLES must include approver, sys_admin, sec_admin and "
                          "auditor (等保2.0 level 3: two factors for administrators)")
    if not 60 <= app.config["TOTP_PENDING_SECONDS"] <= 900:
        raise ConfigError("TOTP_PENDING_SECONDS must be between 60 and 900")
    if not 1 <= app.config["SESSION_IDLE_MINUTES"] <= 24 * 60:
        raise ConfigError("SESSION_IDLE_MINUTES must be between 1 and 1440")
    if app.config["REPORT_CHECK_SECONDS"] < 60:
        raise ConfigError("REPORT_CHECK_SECONDS must be at least 60")
    for key in ("YEARLY_ACTION_TARGET", "G60_YEARLY_TARGET"):
        if app.config[key] < 0:
            raise ConfigError(f"{key} must be 0 or more")
    if not 0 <= app.config["PUBLICATION_ON_TIME_TARGET"] <= 100:
        raise ConfigError("PUBLICATION_ON_TIME_TARGET must be a percentage (0–100)")
    if not 0 <= app.config["PROXY_FIX_HOPS"] <= 5:
        raise ConfigError("PROXY_FIX_HOPS must be between 0 and 5")
    if app.config["IDEMPOTENCY_KEEP_DAYS"] < 7:
        raise ConfigError("IDEMPOTENCY_KEEP_DAYS must be at least 7")
    if not 0 < int(app.config["SMTP_PORT"]) < 65536:
        raise ConfigError("SMTP_PORT must be a TCP port (1–65535)")
