"""private_key_jwt client authentication (RFC 7523 §2.2, OIDC Core §9)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from tests.oidc.provider_support import make_client

TOKEN_URL = "http://127.0.0.1:5000/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture
def rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "rp-key-1"})


@pytest.fixture
def pkjwt_client(app: Any, rsa_key: RSAKey) -> str:
    client_id, secret = make_client(
        app,
        grant_types=["client_credentials"],
        response_types=[],
        redirect_uris=None,
        scope="licenses:status",
        token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": [rsa_key.as_dict(private=False)]},
    )
    assert secret is None
    return client_id


def _claims(client_id: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": TOKEN_URL,
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 60,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _post(http: Any, assertion: str) -> Any:
    return http.post(
        "/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        },
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())


def test_valid_assertion(client: Any, pkjwt_client: str, rsa_key: RSAKey) -> None:
    assertion = jwt.encode({"alg": "RS256", "kid": "rp-key-1"}, _claims(pkjwt_client), rsa_key)
    response = _post(client, assertion)
    assert response.status_code == 200, response.json
    assert response.json["scope"] == "licenses:status"


def test_issuer_is_accepted_as_audience(client: Any, pkjwt_client: str, rsa_key: RSAKey) -> None:
    claims = _claims(pkjwt_client, aud="http://127.0.0.1:5000")
    response = _post(client, jwt.encode({"alg": "RS256"}, claims, rsa_key))
    assert response.status_code == 200, response.json


def test_jti_replay_is_refused(client: Any, pkjwt_client: str, rsa_key: RSAKey) -> None:
    assertion = jwt.encode({"alg": "RS256"}, _claims(pkjwt_client), rsa_key)
    assert _post(client, assertion).status_code == 200
    replay = _post(client, assertion)
    assert replay.status_code in (400, 401) and replay.json["error"] == "invalid_client"


def test_wrong_audience(client: Any, pkjwt_client: str, rsa_key: RSAKey) -> None:
    claims = _claims(pkjwt_client, aud="https://other.example/token")
    response = _post(client, jwt.encode({"alg": "RS256"}, claims, rsa_key))
    assert response.status_code in (400, 401) and response.json["error"] == "invalid_client"


def test_expired_assertion(client: Any, pkjwt_client: str, rsa_key: RSAKey) -> None:
    claims = _claims(pkjwt_client, exp=int(time.time()) - 600, iat=int(time.time()) - 700)
    response = _post(client, jwt.encode({"alg": "RS256"}, claims, rsa_key))
    assert response.status_code in (400, 401) and response.json["error"] == "invalid_client"


def test_missing_jti(client: Any, pkjwt_client: str, rsa_key: RSAKey) -> None:
    claims = _claims(pkjwt_client)
    del claims["jti"]
    response = _post(client, jwt.encode({"alg": "RS256"}, claims, rsa_key))
    assert response.status_code in (400, 401) and response.json["error"] == "invalid_client"


def test_signed_by_another_key(client: Any, pkjwt_client: str) -> None:
    other = RSAKey.generate_key(2048)
    response = _post(client, jwt.encode({"alg": "RS256"}, _claims(pkjwt_client), other))
    assert response.status_code in (400, 401) and response.json["error"] == "invalid_client"


def test_alg_none_is_refused(client: Any, pkjwt_client: str) -> None:
    assertion = _unsigned({"alg": "none", "typ": "JWT"}, _claims(pkjwt_client)) + "."
    response = _post(client, assertion)
    assert response.status_code in (400, 401) and response.json["error"] == "invalid_client"


def test_hs256_with_public_key_as_secret_is_refused(
    client: Any, pkjwt_client: str, rsa_key: RSAKey
) -> None:
    # The classic confusion: HMAC keyed with the client's *public* key (PEM or JWK JSON).
    public_pem = rsa_key.as_pem(private=False)
    for secret in (public_pem, json.dumps(rsa_key.as_dict(private=False)).encode()):
        signing_input = _unsigned({"alg": "HS256", "kid": "rp-key-1"}, _claims(pkjwt_client))
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        response = _post(client, signing_input + "." + _b64(mac))
        assert response.status_code in (400, 401) and response.json["error"] == "invalid_client"


def test_algorithm_other_than_registered_is_refused(app: Any, client: Any) -> None:
    ec = ECKey.generate_key("P-256")
    client_id, _ = make_client(
        app,
        grant_types=["client_credentials"],
        response_types=[],
        redirect_uris=None,
        scope="licenses:status",
        token_endpoint_auth_method="private_key_jwt",
        token_endpoint_auth_signing_alg="RS256",
        jwks={"keys": [ec.as_dict(private=False)]},
    )
    response = _post(client, jwt.encode({"alg": "ES256"}, _claims(client_id), ec))
    assert response.status_code in (400, 401) and response.json["error"] == "invalid_client"


def test_secret_methods_refused_for_private_key_jwt_client(client: Any, pkjwt_client: str) -> None:
    response = client.post(
        "/token",
        data={"grant_type": "client_credentials", "client_id": pkjwt_client, "client_secret": "x"},
    )
    assert response.status_code in (400, 401) and response.json["error"] == "invalid_client"
