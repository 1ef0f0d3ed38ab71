"""authority.db.insert_rows: COPY on PostgreSQL, executemany elsewhere, same rows either way."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from authority import db

METADATA = sa.MetaData()
SAMPLE = sa.Table(
    "test_insert_rows_sample",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.String(16), unique=True),
    sa.Column("small", sa.Integer),
    sa.Column("big", sa.BigInteger),
    sa.Column("blob", sa.LargeBinary(32)),
    sa.Column("doc", sa.JSON),
    sa.Column("at", db.UTCDateTime()),
    sa.Column("maybe_at", db.UTCDateTime(), nullable=True),
    sa.Column("note", sa.Text, nullable=True),
)
NOW = dt.datetime(2026, 11, 27, 12, 30, 5, tzinfo=dt.UTC)


def _row(i: int) -> dict[str, Any]:
    return {
        "code": f"C{i:04d}",
        "small": i,
        "big": 2**40 + i,
        "blob": bytes([i % 256]) * 16 + b"\x00\xff",
        "doc": {"名称": "电工", "level": i % 5, "list": [1, 2.5, None, True], "nested": {"a": "b"}},
        # A time given in another zone is stored as the same instant (bind processing).
        "at": (NOW + dt.timedelta(seconds=i)).astimezone(dt.timezone(dt.timedelta(hours=8))),
        "maybe_at": None if i % 2 else NOW,
        "note": None if i % 3 else "换行\n和 'quotes' \\ and \t tabs",
    }


@pytest.fixture
def engine(app: Any) -> Iterator[sa.Engine]:
    engine = db.engine(app)
    METADATA.create_all(engine)
    try:
        yield engine
    finally:
        METADATA.drop_all(engine)


def _read(engine: sa.Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(SAMPLE).order_by(SAMPLE.c.code)).mappings()
        return [{k: v for k, v in row.items() if k != "id"} for row in rows]


def _statements(engine: sa.Engine) -> list[str]:
    seen: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    return seen


def test_rows_read_back_as_a_plain_insert_writes_them(app: Any, engine: sa.Engine) -> None:
    with db.session_scope(app) as session:
        session.execute(sa.insert(SAMPLE), [_row(i) for i in range(0, 50, 2)])
    statements = _statements(engine)
    with db.session_scope(app) as session:
        db.insert_rows(session, SAMPLE, [_row(i) for i in range(1, 50, 2)])
    rows = _read(engine)
    assert len(rows) == 50
    for i, row in enumerate(rows):
        expected = _row(i)
        expected["at"] = expected["at"].astimezone(dt.UTC)
        assert row == expected
    inserts = [s for s in statements if s.startswith("INSERT")]
    if engine.dialect.name == "postgresql":
        # psycopg's COPY does not pass through SQLAlchemy's cursor events: no INSERT at all.
        assert inserts == []
    else:
        assert len(inserts) == 1


def test_a_unique_violation_is_sqlalchemys_integrity_error(app: Any, engine: sa.Engine) -> None:
    with db.session_scope(app) as session:
        db.insert_rows(session, SAMPLE, [_row(1)])
    session = db.session_factory(app)()
    try:
        with pytest.raises(sa.exc.IntegrityError):
            db.insert_rows(session, SAMPLE, [_row(2), _row(1), _row(3)])
        session.rollback()
        # The session is usable again and nothing of the failed call was written.
        assert session.scalar(sa.select(sa.func.count()).select_from(SAMPLE)) == 1
    finally:
        session.close()
    assert [r["code"] for r in _read(engine)] == ["C0001"]


def test_values_go_through_bind_processing(app: Any, engine: sa.Engine) -> None:
    naive = _row(7) | {"at": NOW.replace(tzinfo=None)}
    session = db.session_factory(app)()
    try:
        with pytest.raises((ValueError, sa.exc.StatementError), match="aware datetime"):
            db.insert_rows(session, SAMPLE, [_row(6), naive])
        session.rollback()
    finally:
        session.close()
    assert _read(engine) == []


def test_no_rows_is_nothing(app: Any, engine: sa.Engine) -> None:
    statements = _statements(engine)
    with db.session_scope(app) as session:
        db.insert_rows(session, SAMPLE, [])
    assert statements == []
