"""Migrations build exactly the tables the models declare, on SQLite and PostgreSQL."""

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from authority import migrate
from authority.db import Base, make_engine


def differences(url):
    migrate.import_models()
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": False}
            )
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def test_migrations_match_every_package_model(db_url):
    # db_url is migrated to every branch's head by the fixture.
    assert differences(db_url) == []


def test_every_model_table_exists_after_migration(db_url):
    migrate.import_models()
    engine = make_engine(db_url)
    try:
        present = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"audit_log", "stored_keys"} <= present
    assert set(Base.metadata.tables) <= present


def test_upgrade_is_idempotent(db_url):
    migrate.upgrade(db_url)
    assert differences(db_url) == []


def test_comparison_would_notice_a_missing_column(tmp_path):
    url = f"sqlite:///{tmp_path / 'drift.sqlite3'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE stored_keys DROP COLUMN unpublished_at"))
    engine.dispose()
    diff = differences(url)
    assert any(d[0] == "add_column" and d[3].name == "unpublished_at" for d in diff)


@pytest.mark.parametrize("table", ["audit_log", "stored_keys"])
def test_downgrade_removes_the_authority_tables(tmp_path, table):
    from alembic import command

    url = f"sqlite:///{tmp_path / 'down.sqlite3'}"
    migrate.upgrade(url)
    command.downgrade(migrate.alembic_config(url), "authority@base")
    engine = make_engine(url)
    try:
        assert table not in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
