"""GET /healthz checks the database and reports the SM2 backend."""

from authority.app import create_app
from keys import sm2


def test_healthy(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json == {"status": "ok", "database": "ok", "sm2_backend": sm2.backend_name()}
    assert r.headers["Cache-Control"] == "no-store"


def test_database_down_is_503_without_detail(app_config, tmp_path, capsys):
    app_config["database_url"] = f"sqlite:///{tmp_path}/missing-dir/nothing.sqlite3"
    r = create_app(app_config).test_client().get("/healthz")
    assert r.status_code == 503
    assert r.json == {
        "status": "unavailable",
        "database": "unavailable",
        "sm2_backend": sm2.backend_name(),
    }
    assert "missing-dir" not in r.get_data(as_text=True)
    assert "database is unreachable" in capsys.readouterr().err


def test_postgres_down_is_503(app_config):
    # A port nobody listens on: the connection is refused at once.
    app_config["database_url"] = "postgresql+psycopg://postgres@127.0.0.1:1/none"
    r = create_app(app_config).test_client().get("/healthz")
    assert r.status_code == 503 and r.json["database"] == "unavailable"
