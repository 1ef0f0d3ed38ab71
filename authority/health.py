"""``GET /healthz``: is this instance able to serve (database reachable, crypto backend)?

Load balancers and the quick start poll it. 200 with ``{"status": "ok", ...}`` when
``SELECT 1`` succeeds; 503 with ``"status": "unavailable"`` when it does not. The
database error itself is logged, never returned.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify

from authority import db

bp = Blueprint("health", __name__)
log = logging.getLogger("authority.health")


def sm2_backend() -> str:
    """The SM2 backend in use ("openssl" or "python"), or "unavailable"."""
    try:
        from keys import sm2

        return sm2.backend_name()
    except Exception:
        log.exception("no SM2 backend is usable")
        return "unavailable"


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    try:
        with db.engine().connect() as conn:
            conn.execute(sa.text("SELECT 1")).scalar_one()
        database = "ok"
    except Exception:
        log.exception("health check: database is unreachable")
        database = "unavailable"
    backend = sm2_backend()
    healthy = database == "ok" and backend != "unavailable"
    body = {
        "status": "ok" if healthy else "unavailable",
        "database": database,
        "sm2_backend": backend,
    }
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response, 200 if healthy else 503
