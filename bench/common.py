"""What the benchmark scripts share: the RESULT line, the app on a given database, a bench
login in the largest agency, gunicorn on 127.0.0.1 and a load generator that is not the
bottleneck (one process per client, raw sockets, prebuilt requests).

Every script ends with one ``RESULT {json}`` line per goal; ``bench/run_all.py`` collects them
into ``bench/RESULTS.md``.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Load-test-pass-1"
FAST_ARGON2 = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}


# ----------------------------------------------------------------------------- reporting


def result(name: str, value: float, unit: str, target: str, ratio: float | None = None,
           note: str | None = None) -> bool:
    """Print one RESULT line; ``target`` is ">= x" or "<= x" (against ``value``)."""
    op, _, bound = target.partition(" ")
    bound = float(bound)
    met = value >= bound if op == ">=" else value <= bound
    out = {"name": name, "value": round(value, 3), "unit": unit, "target": target, "met": met}
    if ratio is not None:
        out["ratio"] = round(ratio, 3)
    if note:
        out["note"] = note
    print("RESULT " + json.dumps(out, ensure_ascii=False), flush=True)
    return met


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


def normalize_url(url: str) -> str:
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def libpq_url(url: str) -> str:
    """The URL for psycopg.connect (no SQLAlchemy driver suffix)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def make_app(url: str, instance: str, **extra):
    from caseflow import create_app

    cfg = {"SQLALCHEMY_DATABASE_URI": normalize_url(url), "INSTANCE_PATH": instance,
           "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False, "ARGON2_PARAMS": FAST_ARGON2}
    cfg.update(extra)
    return create_app(cfg)


def migrate(app) -> None:
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()


# ----------------------------------------------------------------------------- logins


def insert_rows(model, rows, chunk: int = 10_000) -> int:
    """Core INSERTs of ``rows`` (an iterable of dicts) into ``model``'s table, ``chunk`` rows
    per statement (not through the operations: the benchmarks' filler data). The count."""
    from sqlalchemy import insert

    from caseflow.extensions import db

    n, part = 0, []
    for row in rows:
        part.append(row)
        if len(part) == chunk:
            db.session.execute(insert(model), part)
            n, part = n + len(part), []
    if part:
        db.session.execute(insert(model), part)
        n += len(part)
    return n


def largest_agency(kind: str | None = None) -> int | None:
    """The agency owning the most cases (the heaviest list), within an app context."""
    from sqlalchemy import func, select

    from caseflow.accounts.models import Agency
    from caseflow.cases.models import Case
    from caseflow.extensions import db

    stmt = (select(Case.owner_agency_id).group_by(Case.owner_agency_id)
            .order_by(func.count().desc()).limit(1))
    if kind:
        stmt = stmt.join(Agency, Agency.id == Case.owner_agency_id).where(Agency.kind == kind)
    return db.session.scalar(stmt)


def ensure_user(agency_id: int, username: str, roles: list[str]) -> int:
    """A bench login in ``agency_id`` (created once, through the operations), its id."""
    from sqlalchemy import select

    from caseflow.accounts.models import Agency, User
    from caseflow.accounts.operations import create_user
    from caseflow.extensions import db

    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        user = create_user(db.session.get(Agency, agency_id), username, PASSWORD, roles,
                           display_name=username)
    db.session.commit()
    return user.id


# ----------------------------------------------------------------------------- the server


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def server_env(url: str) -> dict:
    env = dict(os.environ, FLASK_APP="wsgi.py", CASEFLOW_DEV="1",
               CASEFLOW_SQLALCHEMY_DATABASE_URI=normalize_url(url),
               CASEFLOW_SECRET_KEY="bench-secret",
               # plain http on 127.0.0.1: the session cookie must travel without TLS
               CASEFLOW_SESSION_COOKIE_SECURE="0", PYTHONUNBUFFERED="1")
    env.pop("DATABASE_URL", None)
    return env


class Gunicorn:
    """``gunicorn -w N -k sync -b 127.0.0.1:PORT wsgi:app``, stopped on exit."""

    def __init__(self, url: str, workers: int = 2, log: str | None = None, extra_env=None,
                 worker_class: str = "sync", timeout: int = 60):
        self.url, self.workers, self.worker_class, self.timeout = url, workers, worker_class, timeout
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log or os.devnull
        self.env = server_env(url)
        self.env.update(extra_env or {})
        self.proc = None

    def __enter__(self):
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        self._log = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [gunicorn, "-w", str(self.workers), "-k", self.worker_class, "-b",
             f"127.0.0.1:{self.port}", "--timeout", str(self.timeout), "--log-level", "warning",
             "--backlog", "2048", "wsgi:app"],
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        end = time.monotonic() + 60
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; see {self.log}")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer /healthz within 60 s")

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log.close()


def login_cookie(base: str, username: str, password: str = PASSWORD) -> str:
    """Log in through the real form (CSRF token and all); the ``Cookie`` header value."""
    import requests

    s = requests.Session()
    page = s.get(base + "/login", timeout=30)
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    data = {"username": username, "password": password}
    if m:
        data["csrf_token"] = m.group(1)
    r = s.post(base + "/login", data=data, allow_redirects=False, timeout=60)
    if r.status_code not in (302, 303):
        raise RuntimeError(f"login of {username} answered {r.status_code}")
    return "; ".join(f"{c.name}={c.value}" for c in s.cookies)


def api_token(base: str, username: str, password: str = PASSWORD) -> str:
    import requests

    r = requests.post(base + "/api/v1/auth/token", json={"username": username, "password": password},
                      timeout=60)
    r.raise_for_status()
    return r.json()["token"]


# ----------------------------------------------------------------------------- load generator


def raw_request(path: str, headers: dict | None = None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close",
             "Accept-Encoding: identity"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _fetch(port: int, req: bytes) -> int:
    """One request on a fresh connection (gunicorn's sync workers close each one); the status."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        s.sendall(req)
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    finally:
        s.close()
    head = b"".join(chunks[:1])[:16]
    try:
        return int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def _client(port, requests_, start_at, duration, out):
    lat, codes, i = [], {}, 0
    while time.time() < start_at:
        time.sleep(0.001)
    end = start_at + duration
    while True:
        t0 = time.perf_counter()
        if time.time() >= end:
            break
        try:
            code = _fetch(port, requests_[i % len(requests_)])
        except OSError:
            code = 0
        lat.append((time.perf_counter() - t0) * 1000)
        codes[code] = codes.get(code, 0) + 1
        i += 1
    out.put((lat, codes))


def hammer(port: int, requests_per_client: list[list[bytes]], duration: float) -> dict:
    """One process per client, each sending its requests in turn for ``duration`` seconds."""
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    start_at = time.time() + 0.5
    procs = [ctx.Process(target=_client, args=(port, reqs, start_at, duration, q))
             for reqs in requests_per_client]
    for p in procs:
        p.start()
    lat, codes = [], {}
    for _ in procs:
        part, c = q.get()
        lat += part
        for k, v in c.items():
            codes[k] = codes.get(k, 0) + v
    for p in procs:
        p.join()
    ok = sum(v for k, v in codes.items() if 200 <= k < 300)
    return {"rps": len(lat) / duration, "n": len(lat), "ok": ok, "codes": codes,
            "p50": percentile(lat, 50), "p95": percentile(lat, 95), "p99": percentile(lat, 99),
            "mean": statistics.fmean(lat) if lat else float("nan")}
