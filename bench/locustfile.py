"""Mixed workload for ``bench/load.py`` (locust, headless): inspectors submitting clues,
officers moving cases, coordinators reading the boards, one ledger export running.

Only 127.0.0.1: the host comes from ``--host`` and is refused unless it is the local machine.
Logins come from the environment (``bench/load.py`` creates them): the prefixes
BENCH_INSPECTOR, BENCH_OFFICER, BENCH_COORDINATOR (accounts ``<prefix>0`` … ``<prefix>N-1``,
N = BENCH_ACCOUNTS), BENCH_PASSWORD.
"""
from __future__ import annotations

import datetime as dt
import itertools
import os
import random
import re
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from locust import HttpUser, between, events, task

PASSWORD = os.environ.get("BENCH_PASSWORD", "Load-test-pass-1")
ACCOUNTS = int(os.environ.get("BENCH_ACCOUNTS", "30"))
_next = {}


def account(prefix: str) -> str:
    """``<prefix><n>``: each simulated user its own account, as people have (one account
    shared by many concurrent sessions is not what is measured here)."""
    counter = _next.setdefault(prefix, itertools.count())
    return f"{prefix}{next(counter) % ACCOUNTS}"


@events.init.add_listener
def _local_only(environment, **_kw):
    host = urlsplit(environment.host or "").hostname
    if host != "127.0.0.1":
        raise SystemExit(f"this load test only targets 127.0.0.1, not {host!r}")


def credit_code(n: int) -> str:
    """A valid 统一社会信用代码 (92: individual business, Songjiang)."""
    from caseflow.perf.generate import credit_code as cc

    return cc("92", "310117", f"{n % 10**8:08d}")


def clue() -> dict:
    n = random.randrange(10**8)
    return {"title": f"某商行涉嫌销售假冒注册商标的商品（压测 {n}）", "channel": "inspection",
            "ip_type": "trademark",
            "received_at": (dt.date.today() - dt.timedelta(days=1)).isoformat(),
            "description": "日常巡查发现该商行销售疑似假冒运动鞋。", "location": "松江区中山中路100号",
            "parties": [{"kind": "business", "name": f"上海某某商行{n}", "credit_code": credit_code(n)}],
            "amounts": {"illegal_business_volume": "8000", "illegal_gains": "2000"}}


class ApiUser(HttpUser):
    abstract = True
    username = ""

    def on_start(self):
        self.username = account(self.username)
        r = self.client.post("/api/v1/auth/token", json={"username": self.username,
                                                         "password": PASSWORD},
                             name="/api/v1/auth/token")
        self.headers = {"Authorization": f"Bearer {r.json()['token']}"}


class Inspector(ApiUser):
    """Submits clues from the field (the API the mobile page uses)."""
    weight = 4
    wait_time = between(1, 3)
    username = os.environ.get("BENCH_INSPECTOR", "bench-load-inspector")

    @task
    def submit_clue(self):
        self.client.post("/api/v1/cases", json=clue(), name="/api/v1/cases",
                         headers={**self.headers, "Idempotency-Key": str(uuid.uuid4())})


class Officer(ApiUser):
    """Takes up clues (accept → verifying) and looks at the list."""
    weight = 4
    wait_time = between(1, 3)
    username = os.environ.get("BENCH_OFFICER", "bench-load-officer")

    @task(3)
    def move_a_case(self):
        r = self.client.get("/api/v1/cases?state=clue&limit=20", headers=self.headers,
                            name="/api/v1/cases?state=clue")
        items = r.json().get("items", []) if r.ok else []
        if items:
            case = random.choice(items)
            with self.client.post(f"/api/v1/cases/{case['id']}/transitions",
                                  json={"action": "accept"}, headers=self.headers,
                                  name="/api/v1/cases/<id>/transitions",
                                  catch_response=True) as resp:
                # 409/422: another officer took it up first; 403: a case another agency
                # shares with this one (listed, not this agency's to move) — normal outcomes
                if resp.status_code in (403, 409, 422):
                    resp.success()

    @task(1)
    def list_page(self):
        self.client.get("/api/v1/cases", headers=self.headers, name="/api/v1/cases")


class FormUser(HttpUser):
    """Logged in through the login form (CSRF token and session cookie)."""
    abstract = True
    username = os.environ.get("BENCH_COORDINATOR", "bench-load-coordinator")

    def on_start(self):
        self.username = account(self.username)
        page = self.client.get("/login", name="/login")
        m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
        self.client.post("/login", data={"username": self.username, "password": PASSWORD,
                                         "csrf_token": m.group(1) if m else ""},
                         name="/login")


class Coordinator(FormUser):
    """Reads the boards: the dashboard and the case list."""
    weight = 2
    wait_time = between(2, 5)

    @task(2)
    def dashboard(self):
        self.client.get("/reports/", name="/reports/")

    @task(3)
    def case_list(self):
        self.client.get("/cases/", name="/cases/")


class Exporter(FormUser):
    """One export at a time, over and over: the ledger of this year's penalties as CSV."""
    fixed_count = 1
    wait_time = between(1, 2)

    @task
    def export(self):
        self.client.get("/reports/ledgers/export?kind=penalties&format=csv",
                        name="/reports/ledgers/export (CSV)")
