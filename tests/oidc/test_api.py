"""oidc.api: require_oauth, current_token, current_user, login_url (what certs/ uses)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Blueprint, jsonify

from tests.oidc.provider_support import (
    ID_NUMBER,
    get_code,
    make_client,
    redeem,
    token_request,
)

DEPARTMENT = "91110105MA01ABCD5F"


@pytest.fixture
def guarded(app: Any) -> None:
    from authority.web import csrf
    from oidc import api

    bp = Blueprint("guarded_test", __name__)

    @bp.route("/api/test/issue", methods=["POST"])
    @api.require_oauth("licenses:issue")
    def issue() -> Any:
        info = api.current_token()
        return jsonify(
            client_id=info.client_id,
            scopes=sorted(info.scopes),
            department=info.department,
            holder_ids=list(info.holder_ids),
        )

    @bp.route("/api/test/mine")
    @api.require_oauth("licenses:read")
    def mine() -> Any:
        return jsonify(holder_ids=list(api.current_token().holder_ids))

    @bp.route("/whoami")
    def whoami() -> Any:
        user = api.current_user()
        return jsonify(
            name=user.name if user else None,
            login=api.login_url("/whoami"),
        )

    csrf.exempt(bp)
    app.register_blueprint(bp)


def test_department_token(app: Any, client: Any, guarded: None) -> None:
    client_id, secret = make_client(
        app,
        grant_types=["client_credentials"],
        response_types=[],
        redirect_uris=None,
        scope="licenses:issue",
        department=DEPARTMENT,
    )
    token = token_request(client, client_id, secret, {"grant_type": "client_credentials"}).json
    response = client.post(
        "/api/test/issue", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert response.status_code == 200
    assert response.json == {
        "client_id": client_id,
        "scopes": ["licenses:issue"],
        "department": DEPARTMENT,
        "holder_ids": [],
    }


def test_problem_details_with_challenge(client: Any, guarded: None) -> None:
    missing = client.post("/api/test/issue")
    assert missing.status_code == 401 and missing.mimetype == "application/problem+json"
    assert missing.headers["WWW-Authenticate"].startswith('Bearer realm="')
    bad = client.post("/api/test/issue", headers={"Authorization": "Bearer x"})
    assert bad.status_code == 401 and bad.json["error"] == "invalid_token"
    assert 'error="invalid_token"' in bad.headers["WWW-Authenticate"]


def test_insufficient_scope(app: Any, client: Any, guarded: None) -> None:
    client_id, secret = make_client(
        app,
        grant_types=["client_credentials"],
        response_types=[],
        redirect_uris=None,
        scope="licenses:status",
    )
    token = token_request(client, client_id, secret, {"grant_type": "client_credentials"}).json
    response = client.post(
        "/api/test/issue", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert response.status_code == 403 and response.json["error"] == "insufficient_scope"
    assert 'scope="licenses:issue"' in response.headers["WWW-Authenticate"]


def test_user_token_carries_holder_ids(app: Any, guarded: None, browser_client: Any) -> None:
    client_id, secret = make_client(app, scope="openid licenses:read")
    code, _ = get_code(browser_client, client_id, scope="openid licenses:read")
    token = redeem(browser_client, client_id, secret, code).json
    response = browser_client.get(
        "/api/test/mine", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert response.json == {"holder_ids": [ID_NUMBER]}


def test_current_user_and_login_url(app: Any, guarded: None, browser_client: Any) -> None:
    assert browser_client.get("/whoami").json["name"] == "张三"
    anonymous = app.test_client().get("/whoami").json
    assert anonymous["name"] is None and anonymous["login"].startswith("/login?next=")
