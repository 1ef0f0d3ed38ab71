"""Shared fixtures: the app on SQLite and PostgreSQL, a live server, and Chromium.

Database: every test that uses ``app`` runs once on SQLite and once on PostgreSQL
(when TEST_DATABASE_URL is set; each run creates and drops its own database there,
so parallel runs never collide). Tables are emptied after each test.

Browser: ``page`` drives Debian's Chromium through Playwright (never a downloaded
browser). ``live_server`` serves the test app on a free loopback port.

CI sets AUTHORITY_TEST_REQUIRE=postgres,browser: then a missing PostgreSQL or Chromium
fails the run instead of skipping, and a run in which no test of that kind passed fails.
"""

from __future__ import annotations

import os
import secrets
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

REQUIRED = {k.strip() for k in os.environ.get("AUTHORITY_TEST_REQUIRE", "").split(",") if k}
TEST_KEK = "00112233445566778899aabbccddeeff"
_passed_by_kind: dict[str, int] = {"postgres": 0, "browser": 0}


def skip_or_fail(kind: str, reason: str) -> None:
    """Skip a test whose resource is missing, unless CI requires that resource."""
    if kind in REQUIRED:
        pytest.fail(f"{reason} (AUTHORITY_TEST_REQUIRE={kind})", pytrace=False)
    pytest.skip(reason)


# ---------------------------------------------------------------- databases


def _create_pg_database(base_url: str) -> tuple[str, sa.Engine, str]:
    url = sa.make_url(base_url)
    name = f"authority_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return url.set(database=name).render_as_string(hide_password=False), admin, name


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated, empty database: SQLite always, PostgreSQL when TEST_DATABASE_URL is set."""
    from authority import migrate

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        migrate.upgrade(url)
        yield url
        return
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        skip_or_fail("postgres", "TEST_DATABASE_URL is not set")
    assert base
    try:
        url, admin, name = _create_pg_database(base)
    except sa.exc.OperationalError as exc:
        skip_or_fail("postgres", f"PostgreSQL is not reachable: {exc.orig}")
        raise
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("db_url") == "postgresql":
            item.add_marker(pytest.mark.postgres)


def _empty_tables(engine: sa.Engine) -> None:
    from authority.db import Base
    from authority.migrate import import_models

    import_models()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            if names:
                conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture
def app_config(db_url: str, tmp_path: Path) -> dict[str, Any]:
    """Settings for a test app; tests may change them before using ``app``."""
    return {
        "env": "testing",
        "database_url": db_url,
        "secret_key": "test-secret-key-" + "x" * 32,
        "issuer": "http://127.0.0.1:5000",
        "kek": TEST_KEK,
        "instance_path": str(tmp_path / "instance"),
    }


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Any]:
    from authority import db
    from authority.app import create_app

    application = create_app(app_config)
    application.config["TESTING"] = True
    yield application
    engine = db.engine(application)
    _empty_tables(engine)
    engine.dispose()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def runner(app: Any) -> Any:
    return app.test_cli_runner()


# ---------------------------------------------------------------- live server and browser


@pytest.fixture
def live_server(app: Any) -> Iterator[str]:
    """Serve ``app`` on a free loopback port in a thread; yields the base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    return (
        os.environ.get("CHROMIUM")
        or shutil.which("chromium")
        or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    )


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright."""
    path = chromium_path()
    if path is None:
        skip_or_fail("browser", "Chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("browser", "playwright is not installed")
        raise
    pw = sync_playwright().start()
    instance = pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
    try:
        yield instance
    finally:
        instance.close()
        pw.stop()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context (cookies, storage) and page, Chinese locale by default."""
    request.node.add_marker(pytest.mark.browser)
    context = browser.new_context(locale="zh-CN")
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    try:
        yield pg
    finally:
        context.close()


# ---------------------------------------------------------------- CI enforcement


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.passed:
        for kind in _passed_by_kind:
            if kind in report.keywords:
                _passed_by_kind[kind] += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Only judge a full run (not -k/-x/explicit file selection that cannot include them).
    if session.config.option.collectonly:
        return
    missing = [k for k in sorted(REQUIRED & set(_passed_by_kind)) if _passed_by_kind[k] == 0]
    if missing and session.testscollected:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        if tr is not None:
            tr.write_line(f"AUTHORITY_TEST_REQUIRE: no {', '.join(missing)} test passed", red=True)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(
        "tests passed on PostgreSQL: {postgres}; in Chromium: {browser}".format(**_passed_by_kind)
    )
