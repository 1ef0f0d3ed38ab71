import pytest

from authority.config import ConfigError, Settings, settings_from_env


def test_production_requires_secret_key():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        settings_from_env({"AUTHORITY_ENV": "production"}).validate()


def test_unknown_environment_variable_is_rejected():
    with pytest.raises(ConfigError, match="AUTHORITY_ISUER"):
        settings_from_env({"AUTHORITY_ISUER": "https://x"})


def test_unknown_override_is_rejected():
    with pytest.raises(ConfigError, match="databse_url"):
        Settings(env="development").with_overrides({"databse_url": "sqlite://"})


def test_environment_is_read():
    s = settings_from_env({"AUTHORITY_ENV": "development", "DATABASE_URL": "sqlite://"})
    assert s.is_development and s.database_url == "sqlite://"


def test_app_runs_on_each_database(app):
    import sqlalchemy as sa

    from authority import db

    with app.app_context():
        assert db.session().execute(sa.text("select 1")).scalar() == 1
