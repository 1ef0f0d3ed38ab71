"""Database access: one declarative Base, one engine per app, one session per request.

Every package declares its tables on :class:`Base` and owns an Alembic branch of
migrations (``<package>/migrations``); ``authority db upgrade`` applies all heads.
Views call :func:`session` to get the request's session; it is closed at the end of
the request and rolled back if the request failed. Work outside a request (CLI,
jobs) uses :func:`session_scope`.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, g
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend.

    PostgreSQL stores ``timestamp with time zone``; SQLite has no time zones, so values
    are stored as naive UTC and given back their UTC zone when read. Naive datetimes
    are refused on the way in: a local time mistaken for UTC is a silent bug.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UTCDateTime needs an aware datetime (use datetime.now(UTC))")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    """The current time as an aware UTC datetime."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base for every table of every package."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


EXTENSION_KEY = "authority.db"

#: A pooled connection idle for longer than this is pinged before it is handed out.
PING_AFTER_IDLE_SECONDS = 10.0


def make_engine(url: str) -> sa.Engine:
    """Create an engine with settings that suit each backend."""
    kwargs: dict[str, Any] = {"future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs.update(pool_size=10, max_overflow=20)
    engine = sa.create_engine(url, **kwargs)
    if not url.startswith("sqlite"):
        _ping_idle_connections(engine)
        return engine

    @sa.event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    return engine


def _ping_idle_connections(engine: sa.Engine) -> None:
    """Check a pooled connection with a round trip only if it sat idle for a while.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout: one extra round trip per
    request. A connection checked in moments ago is as good as the ping would say, so
    only one idle for :data:`PING_AFTER_IDLE_SECONDS` (where a database restart or a
    firewall's idle timeout may have cut it) is pinged; a dead one is replaced before
    the request sees it (the pool retries on ``DisconnectionError``). A connection that
    dies while busy still fails its request, and the pool then discards it.
    """

    @sa.event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        last = record.info.get("checked_in_at")
        if last is None or time.monotonic() - last < PING_AFTER_IDLE_SECONDS:
            return
        try:
            with dbapi_conn.cursor() as cursor:
                cursor.execute("SELECT 1")
            dbapi_conn.rollback()
        except Exception as exc:
            raise sa.exc.DisconnectionError("pooled connection is dead") from exc


def init_app(app: Flask, url: str) -> None:
    """Attach an engine and a session factory to ``app`` and close sessions at teardown."""
    engine = make_engine(url)
    app.extensions[EXTENSION_KEY] = sessionmaker(bind=engine, expire_on_commit=False)

    @app.teardown_appcontext
    def _close_session(exc: BaseException | None) -> None:
        sess: Session | None = g.pop("_db_session", None)
        if sess is not None:
            if exc is not None:
                sess.rollback()
            sess.close()


def session_factory(app: Flask | None = None) -> sessionmaker[Session]:
    app = app or current_app
    factory: sessionmaker[Session] = app.extensions[EXTENSION_KEY]
    return factory


def engine(app: Flask | None = None) -> sa.Engine:
    bind = session_factory(app).kw["bind"]
    assert isinstance(bind, sa.Engine)
    return bind


def session() -> Session:
    """The current request's (or app context's) session."""
    sess: Session | None = g.get("_db_session")
    if sess is None:
        sess = session_factory()()
        g._db_session = sess
    return sess


@contextmanager
def session_scope(app: Flask | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error (CLI and jobs)."""
    sess = session_factory(app)()
    try:
        yield sess
        sess.commit()
    except BaseException:
        sess.rollback()
        raise
    finally:
        sess.close()


def insert_rows(session: Session, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """INSERT ``rows`` (dicts with the same keys) into ``table``, in the session's
    transaction, without reading anything back.

    On PostgreSQL (psycopg) this is one binary ``COPY … FROM STDIN``: for the hundred
    licenses of a batch it costs the worker a third of the CPU of a pipelined
    executemany (docs/licenses.md, "Performance"). Elsewhere it is one executemany.
    Either way every value goes through its column's bind processing first (a
    TypeDecorator such as :class:`UTCDateTime` sees it as in any INSERT), and a
    database error is raised as SQLAlchemy's exception (``IntegrityError`` for a
    unique violation), so callers handle both paths alike.
    """
    if not rows:
        return
    conn = session.connection()
    dialect = conn.dialect
    if dialect.name != "postgresql" or dialect.driver != "psycopg":
        conn.execute(sa.insert(table), rows)
        return
    names = tuple(rows[0])
    statement, types, processors = _copy_plan(table, names, dialect)
    driver = conn.connection.driver_connection
    assert driver is not None
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(
                    [
                        value if process is None else process(value)
                        for value, process in zip(
                            (row[name] for name in names), processors, strict=True
                        )
                    ]
                )
    except driver.Error as exc:
        raise sa.exc.DBAPIError.instance(
            statement, None, exc, type(driver).Error, dialect=dialect
        ) from exc


_COPY_PLANS: dict[tuple[str, tuple[str, ...]], tuple[str, list[str], list[Any]]] = {}


def _copy_plan(
    table: sa.Table, names: tuple[str, ...], dialect: Any
) -> tuple[str, list[str], list[Any]]:
    """The COPY statement, the PostgreSQL type of each column and its bind processor."""
    key = (table.fullname, names)
    plan = _COPY_PLANS.get(key)
    if plan is None:
        preparer = dialect.identifier_preparer
        columns = [table.c[name] for name in names]
        statement = (
            f"COPY {preparer.format_table(table)} "
            f"({', '.join(preparer.format_column(c) for c in columns)}) "
            "FROM STDIN (FORMAT BINARY)"
        )
        # "VARCHAR(64)" -> "varchar": the type name psycopg's binary dumpers know it by.
        types = [c.type.compile(dialect=dialect).split("(")[0].lower() for c in columns]
        processors = [c.type.dialect_impl(dialect).bind_processor(dialect) for c in columns]
        plan = _COPY_PLANS[key] = (statement, types, processors)
    return plan
