"""``GET /healthz``: a bare liveness answer for load balancers and the benchmarks' baseline.

Public, touches no database and no session: it says the worker process answers, nothing
about the data (a load balancer's health check must not fail over because PostgreSQL is slow).
"""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("health", __name__)


@bp.route("/healthz")
def healthz():
    return "ok", 200, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}
