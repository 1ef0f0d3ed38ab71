"""Discovery (OpenID Connect Discovery 1.0) and the JWK Set, including SM2SM3 keys."""

from __future__ import annotations

import base64
from typing import Any

from tests.oidc.provider_support import (
    get_code,
    jwt_parts,
    make_client,
    redeem,
)


def _b64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def test_discovery_document(client: Any) -> None:
    body = client.get("/.well-known/openid-configuration").json
    issuer = "http://127.0.0.1:5000"
    assert body["issuer"] == issuer
    for name, path in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("userinfo_endpoint", "/userinfo"),
        ("jwks_uri", "/jwks.json"),
        ("registration_endpoint", "/register"),
        ("introspection_endpoint", "/introspect"),
        ("revocation_endpoint", "/revoke"),
    ]:
        assert body[name] == issuer + path
    assert body["response_types_supported"] == ["code"]
    assert body["code_challenge_methods_supported"] == ["S256"]
    assert body["subject_types_supported"] == ["public", "pairwise"]
    assert set(body["id_token_signing_alg_values_supported"]) == {"RS256", "ES256", "SM2SM3"}
    assert set(body["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none",
    }
    assert body["authorization_response_iss_parameter_supported"] is True
    # Logout is advertised only when the logout module is plugged in (oidc-flows).
    if body.get("end_session_endpoint"):
        assert body["end_session_endpoint"] == issuer + "/logout"
        assert client.get("/logout").status_code != 404
    if body.get("backchannel_logout_supported"):
        assert body["backchannel_logout_session_supported"] is True
    assert body["request_parameter_supported"] is False
    assert body["claims_parameter_supported"] is False
    assert "licenses:issue" in body["scopes_supported"]


def test_every_url_in_discovery_is_served(app: Any, client: Any) -> None:
    """Discovery names no page or endpoint of ours that would answer 404."""
    from werkzeug.exceptions import MethodNotAllowed, NotFound

    body = client.get("/.well-known/openid-configuration").json
    issuer = body["issuer"]
    urls = {k: v for k, v in body.items() if isinstance(v, str) and v.startswith(issuer + "/")}
    assert "token_endpoint" in urls
    adapter = app.url_map.bind("127.0.0.1")
    for name, url in urls.items():
        try:
            adapter.match(url.removeprefix(issuer), method="GET")
        except MethodNotAllowed:
            pass  # routed, for POST only (e.g. /token)
        except NotFound:
            raise AssertionError(f"{name} {url} is not served") from None


def test_jwks_publishes_each_algorithm(app: Any, client: Any) -> None:
    standard = client.get("/jwks.json").json["keys"]
    # Without an SM2SM3 client the set holds only keys every JOSE library can read.
    assert {k["alg"] for k in standard} == {"RS256", "ES256"}
    from joserfc.jwk import KeySet

    KeySet.import_key_set({"keys": standard})
    make_client(app, id_token_signed_response_alg="SM2SM3")
    keys = client.get("/jwks.json").json["keys"]
    by_alg = {k["alg"]: k for k in keys}
    assert by_alg["RS256"]["kty"] == "RSA" and "d" not in by_alg["RS256"]
    assert by_alg["ES256"]["crv"] == "P-256"
    sm2 = by_alg["SM2SM3"]
    assert sm2["kty"] == "SM2" and sm2["crv"] == "SM2"
    # Standard libraries skip the unknown key type and still load the other keys
    # (joserfc is what Authlib's OIDC client uses to check ID tokens).
    loaded = KeySet.import_key_set({"keys": keys})
    assert {k.kid for k in loaded.keys} == {by_alg["RS256"]["kid"], by_alg["ES256"]["kid"]}
    assert len(_b64(sm2["x"])) == 32 and len(_b64(sm2["y"])) == 32
    assert all(k["use"] == "sig" and k["kid"] for k in keys)


def test_rotated_key_stays_published(app: Any, client: Any) -> None:
    from authority import db
    from authority.keystore import keystore

    before = {k["kid"] for k in client.get("/jwks.json").json["keys"]}
    with app.app_context(), db.session_scope(app) as session:
        keystore(session).rotate("oidc:RS256")
    after = {k["kid"] for k in client.get("/jwks.json").json["keys"]}
    assert before < after


def _id_token(app: Any, http: Any, alg: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    client_id, secret = make_client(app, id_token_signed_response_alg=alg)
    code, _ = get_code(http, client_id)
    token = redeem(http, client_id, secret, code).json
    return jwt_parts(token["id_token"])


def test_sm2sm3_id_token_verifies_with_published_key(app: Any, browser_client: Any) -> None:
    from keys.sm2 import SM2PublicKey

    header, claims, signature, signed = _id_token(app, browser_client, "SM2SM3")
    assert claims["iss"] == "http://127.0.0.1:5000"
    assert header["alg"] == "SM2SM3" and len(signature) == 64
    jwk = next(
        k for k in browser_client.get("/jwks.json").json["keys"] if k["kid"] == header["kid"]
    )
    public = SM2PublicKey.from_point(b"\x04" + _b64(jwk["x"]) + _b64(jwk["y"]))
    public.verify_raw(signature, signed)
    tampered = signed.replace(b".", b".e", 1)
    import pytest

    from keys.errors import InvalidSignature

    with pytest.raises(InvalidSignature):
        public.verify_raw(signature, tampered)


def test_es256_id_token_verifies(app: Any, browser_client: Any) -> None:
    from joserfc import jws
    from joserfc.jwk import KeySet

    header, _, _, _ = _id_token(app, browser_client, "ES256")
    assert header["alg"] == "ES256"
    client_id, secret = make_client(app, id_token_signed_response_alg="ES256")
    code, _ = get_code(browser_client, client_id)
    token = redeem(browser_client, client_id, secret, code).json["id_token"]
    keys = [k for k in browser_client.get("/jwks.json").json["keys"] if k["alg"] == "ES256"]
    jws.deserialize_compact(token, KeySet.import_key_set({"keys": keys}), algorithms=["ES256"])


def test_cors_for_browser_relying_parties(client: Any) -> None:
    for path in ("/.well-known/openid-configuration", "/jwks.json"):
        assert client.get(path).headers["Access-Control-Allow-Origin"] == "*"
    preflight = client.options(
        "/token",
        headers={
            "Origin": "https://spa.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    refused = client.post("/token", data={"grant_type": "client_credentials"})
    assert refused.headers["Access-Control-Allow-Origin"] == "*"
    # Pages and the authorization endpoint are not readable cross-origin.
    assert "Access-Control-Allow-Origin" not in client.get("/authorize").headers
