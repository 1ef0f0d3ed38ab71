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


def test_production_requires_https_issuer():
    env = {"AUTHORITY_ENV": "production", "SECRET_KEY": "k" * 40}
    with pytest.raises(ConfigError, match="https"):
        settings_from_env(env).validate()
    env["AUTHORITY_ISSUER"] = "https://id.example.gov.cn"
    assert settings_from_env(env).validate().is_https


def test_numeric_and_enumerated_settings_are_checked():
    with pytest.raises(ConfigError, match="AUTHORITY_MAX_CONTENT_LENGTH is not valid"):
        settings_from_env({"AUTHORITY_MAX_CONTENT_LENGTH": "lots"})
    s = settings_from_env({"AUTHORITY_MAX_CONTENT_LENGTH": "2048", "AUTHORITY_ENV": "testing"})
    assert s.validate().max_content_length == 2048
    with pytest.raises(ConfigError, match="AUTHORITY_LOG_LEVEL"):
        Settings(env="testing", log_level="LOUD").validate()
    with pytest.raises(ConfigError, match="not both"):
        Settings(env="testing", kek="0" * 32, kek_file="/k").validate()


def test_every_setting_is_documented():
    from pathlib import Path

    from authority.config import ENV_VARS, FOREIGN_VARS

    doc = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    for name in [*ENV_VARS, *FOREIGN_VARS]:
        assert f"`{name}`" in doc, f"{name} is missing from docs/configuration.md"


def test_trusted_proxies_must_be_small_whole_number():
    with pytest.raises(ConfigError, match="AUTHORITY_TRUSTED_PROXIES"):
        Settings(env="development", trusted_proxies=-1).validate()
    assert settings_from_env({"AUTHORITY_TRUSTED_PROXIES": "1"}).trusted_proxies == 1


@pytest.mark.parametrize(("proxies", "expected"), [(0, "127.0.0.1"), (1, "203.0.113.7")])
def test_forwarded_client_address_only_behind_trusted_proxies(app_config, proxies, expected):
    from flask import request

    from authority.app import create_app

    application = create_app({**app_config, "trusted_proxies": proxies})

    @application.get("/_test/remote-addr")
    def remote_addr():
        return request.remote_addr or ""

    response = application.test_client().get(
        "/_test/remote-addr",
        headers={"X-Forwarded-For": "203.0.113.7"},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    assert response.get_data(as_text=True) == expected
