"""Pooled PostgreSQL connections: pinged only after sitting idle, replaced when dead."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from authority import db


def _backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(engine: sa.Engine, pid: int) -> None:
    """End backend ``pid`` from a connection outside the pool (as an operator would)."""
    killer = sa.create_engine(engine.url, poolclass=sa.pool.NullPool)
    try:
        with killer.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        killer.dispose()


def test_a_connection_killed_while_idle_is_replaced(app: Any, monkeypatch: Any) -> None:
    engine = db.engine(app)
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite connections do not go stale")
    first = _backend_pid(engine)
    # The database (or a firewall) drops the pooled connection while it is idle.
    _terminate(engine, first)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    # The next checkout pings, finds it dead and hands out a fresh one.
    second = _backend_pid(engine)
    assert second != first


def test_a_recently_used_connection_is_not_pinged(app: Any, monkeypatch: Any) -> None:
    """No round trip per checkout: a connection used moments ago goes out unchecked
    (if it died meanwhile, that one request fails and the pool discards it)."""
    engine = db.engine(app)
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL pool only")
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 3600.0)
    first = _backend_pid(engine)
    _terminate(engine, first)
    with pytest.raises(sa.exc.OperationalError):
        _backend_pid(engine)
    assert _backend_pid(engine) != first
