"""Dynamic client registration (RFC 7591, OIDC Registration 1.0) and management (RFC 7592)."""

from __future__ import annotations

from typing import Any

import pytest

GOOD = {
    "client_name": "第三方应用 Third party",
    "redirect_uris": ["https://app.example.org/cb", "https://app.example.org/cb2"],
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "scope": "openid profile",
}


@pytest.fixture
def open_registration(app: Any) -> None:
    from oidc.config import configure

    configure(app, registration="open")


def _register(http: Any, body: Any, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return http.post("/register", json=body, headers=headers)


def test_token_policy_is_the_default(client: Any) -> None:
    response = _register(client, GOOD)
    assert response.status_code == 401
    assert response.json["error"] == "invalid_token"
    assert "WWW-Authenticate" in response.headers


def test_register_with_initial_access_token(app: Any, client: Any, runner: Any) -> None:
    result = runner.invoke(args=["clients", "initial-token", "--uses", "1"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[0]
    response = _register(client, GOOD, token)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["client_secret"] and body["registration_access_token"]
    assert body["redirect_uris"] == GOOD["redirect_uris"]
    assert body["subject_type"] == "pairwise"
    assert body["token_endpoint_auth_method"] == "client_secret_basic"
    assert response.headers["Cache-Control"] == "no-store"
    used_up = _register(client, GOOD, token)
    assert used_up.status_code == 401


def test_open_registration_and_management(client: Any, open_registration: None) -> None:
    created = _register(client, GOOD).json
    client_id = created["client_id"]
    rat = {"Authorization": f"Bearer {created['registration_access_token']}"}
    read = client.get(f"/register/{client_id}", headers=rat)
    assert read.status_code == 200 and read.json["client_name"] == GOOD["client_name"]
    assert "client_secret" not in read.json
    update = dict(GOOD, client_id=client_id, client_name="新名字")
    updated = client.put(f"/register/{client_id}", json=update, headers=rat)
    assert updated.status_code == 200 and updated.json["client_name"] == "新名字"
    bad = client.put(
        f"/register/{client_id}",
        json=dict(update, redirect_uris=["http://evil.example/cb"]),
        headers=rat,
    )
    assert bad.status_code == 400 and bad.json["error"] == "invalid_redirect_uri"
    assert client.get(f"/register/{client_id}", headers=rat).json["client_name"] == "新名字"
    wrong = client.get(f"/register/{client_id}", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    deleted = client.delete(f"/register/{client_id}", headers=rat)
    assert deleted.status_code == 204
    assert client.get(f"/register/{client_id}", headers=rat).status_code == 401


def test_registered_client_can_log_in(app: Any, client: Any, open_registration: None) -> None:
    from tests.oidc.provider_support import ID_NUMBER, login, make_person

    created = _register(client, dict(GOOD, redirect_uris=["https://rp.example.com/callback"])).json
    make_person(app, ID_NUMBER)
    login(client)
    from tests.oidc.provider_support import get_code, redeem

    code, _ = get_code(client, created["client_id"])
    assert redeem(client, created["client_id"], created["client_secret"], code).status_code == 200


@pytest.mark.parametrize(
    ("change", "error", "fragment"),
    [
        ({"redirect_uris": ["http://app.example.org/cb"]}, "invalid_redirect_uri", "https"),
        ({"redirect_uris": ["https://app.example.org/cb#x"]}, "invalid_redirect_uri", "fragment"),
        ({"redirect_uris": ["com.example.app:/cb"]}, "invalid_redirect_uri", "native"),
        ({"redirect_uris": ["javascript:alert(1)"]}, "invalid_redirect_uri", "https"),
        ({"redirect_uris": ["https://u:p@app.example.org/cb"]}, "invalid_redirect_uri", "user"),
        ({"redirect_uris": []}, "invalid_redirect_uri", "non-empty"),
        (
            {"redirect_uris": ["https://a.example/cb", "https://b.example/cb"]},
            "invalid_redirect_uri",
            "one host",
        ),
        ({"response_types": ["token"]}, "invalid_client_metadata", "response_types"),
        ({"grant_types": ["refresh_token"]}, "invalid_client_metadata", "grant_types"),
        ({"grant_types": ["client_credentials"]}, "invalid_client_metadata", "operator"),
        ({"grant_types": ["implicit"]}, "invalid_client_metadata", "unsupported"),
        ({"token_endpoint_auth_method": "tls"}, "invalid_client_metadata", "token_endpoint"),
        ({"token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata", "jwks"),
        ({"subject_type": "public"}, "invalid_client_metadata", "provincial"),
        ({"subject_type": "secret"}, "invalid_client_metadata", "subject_type"),
        ({"id_token_signed_response_alg": "none"}, "invalid_client_metadata", "id_token"),
        ({"id_token_signed_response_alg": "HS256"}, "invalid_client_metadata", "id_token"),
        ({"scope": "openid licenses:issue"}, "invalid_client_metadata", "licenses:issue"),
        (
            {"post_logout_redirect_uris": ["http://app.example.org/bye"]},
            "invalid_client_metadata",
            "post_logout",
        ),
        (
            {"backchannel_logout_uri": "http://app.example.org/bc"},
            "invalid_client_metadata",
            "backchannel",
        ),
        ({"jwks_uri": "https://app.example.org/jwks"}, "invalid_client_metadata", "jwks_uri"),
        (
            {"sector_identifier_uri": "https://app.example.org/s.json"},
            "invalid_client_metadata",
            "sector",
        ),
        ({"application_type": "desktop"}, "invalid_client_metadata", "application_type"),
    ],
)
def test_invalid_metadata_is_refused_with_a_reason(
    client: Any, open_registration: None, change: dict[str, Any], error: str, fragment: str
) -> None:
    response = _register(client, {**GOOD, **change})
    assert response.status_code == 400, response.json
    assert response.json["error"] == error
    assert fragment in response.json["error_description"]


@pytest.mark.parametrize(
    "body",
    [
        {**GOOD, "redirect_uris": ["http://127.0.0.1:8765/cb"]},
        {**GOOD, "redirect_uris": ["http://localhost/cb"]},
        {**GOOD, "redirect_uris": ["http://[::1]:9000/cb"]},
        {**GOOD, "application_type": "native", "redirect_uris": ["com.example.app:/oauth"]},
        {**GOOD, "token_endpoint_auth_method": "none"},
        {**GOOD, "id_token_signed_response_alg": "ES256"},
        {**GOOD, "id_token_signed_response_alg": "SM2SM3"},
        {**GOOD, "backchannel_logout_uri": "https://app.example.org/bc"},
        {**GOOD, "post_logout_redirect_uris": ["https://app.example.org/bye"]},
    ],
)
def test_valid_metadata_variants(client: Any, open_registration: None, body: Any) -> None:
    response = _register(client, body)
    assert response.status_code == 201, response.json
    if body.get("token_endpoint_auth_method") == "none":
        assert "client_secret" not in response.json


def test_not_json(client: Any, open_registration: None) -> None:
    response = client.post("/register", data="redirect_uris=x")
    assert response.status_code == 400 and response.json["error"] == "invalid_client_metadata"


def test_registration_is_audited(app: Any, client: Any, open_registration: None) -> None:
    from authority import audit, db

    created = _register(client, GOOD).json
    with app.app_context(), db.session_scope(app) as session:
        entries = audit.recent(session, limit=5, event="oidc.client.registered")
    assert entries and entries[0].subject == created["client_id"]
    assert created["client_secret"] not in entries[0].details
    assert created["registration_access_token"] not in entries[0].details


def test_development_defaults_to_open_registration(app_config: Any, monkeypatch: Any) -> None:
    from authority.app import create_app
    from oidc.config import oidc_settings

    monkeypatch.delenv("AUTHORITY_OIDC_REGISTRATION", raising=False)
    dev = create_app({**app_config, "env": "development"})
    assert oidc_settings(dev).registration == "open"
    monkeypatch.setenv("AUTHORITY_OIDC_REGISTRATION", "token")
    assert oidc_settings(create_app({**app_config, "env": "development"})).registration == "token"


def test_unknown_oidc_variable_is_rejected(monkeypatch: Any) -> None:
    from oidc.config import OIDCConfigError, oidc_settings_from_env

    with pytest.raises(OIDCConfigError, match="AUTHORITY_OIDC_REGISTRATON"):
        oidc_settings_from_env({"AUTHORITY_OIDC_REGISTRATON": "open"})
    with pytest.raises(OIDCConfigError, match="must be one of"):
        oidc_settings_from_env({"AUTHORITY_OIDC_REGISTRATION": "maybe"})
    with pytest.raises(OIDCConfigError, match="integer"):
        oidc_settings_from_env({"AUTHORITY_OIDC_CODE_TTL": "soon"})
