"""Signing keys of the provider and JWS compact signing (RFC 7515, RFC 7517, RFC 7518).

Keys live in the shell's key store (``authority.keystore``) under the purposes
``oidc:RS256``, ``oidc:ES256`` and ``oidc:SM2SM3``; the JWKS publishes every key the
store still publishes (active and retired), so tokens signed before a rotation keep
verifying until they expire.

Algorithms:

- ``RS256`` (RSASSA-PKCS1-v1_5 with SHA-256, RFC 7518 §3.3): the default for ID tokens.
- ``ES256`` (ECDSA P-256 with SHA-256, RFC 7518 §3.4): signature is raw ``r‖s``.
- ``SM2SM3``: a private convention (not registered with IANA) for SM2 signatures with
  SM3 per GB/T 32918.2-2016 and GM/T 0009-2012 (signer ID ``1234567812345678``): the
  JWS signature is the raw 64-byte ``r‖s``; the JWK is ``{"kty": "SM2", "crv": "SM2",
  "x", "y"}`` with 32-byte big-endian coordinates. ``at_hash`` for this algorithm is
  the left half of the SM3 digest. See docs/oidc.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from sqlalchemy.orm import Session

from authority.keystore import keystore

log = logging.getLogger(__name__)

SIGNING_ALGS = ("RS256", "ES256", "SM2SM3")
DEFAULT_ALG = "RS256"
#: Key store algorithm names per JWS alg.
_STORE_ALG = {"RS256": "RS256", "ES256": "ES256", "SM2SM3": "SM2"}


class UnsupportedAlgorithm(ValueError):
    """A JWS algorithm this provider does not sign with."""


def purpose(alg: str) -> str:
    return f"oidc:{alg}"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64(value: int, length: int | None = None) -> str:
    length = length or (value.bit_length() + 7) // 8
    return b64url(value.to_bytes(length, "big"))


def sm2_available() -> bool:
    """Whether the keys/ package offers SM2 (it is on its own branch until merged)."""
    try:
        import keys.sm2  # noqa: F401
    except ImportError:
        return False
    return True


def supported_algs() -> list[str]:
    return [a for a in SIGNING_ALGS if a != "SM2SM3" or sm2_available()]


def ensure_keys(session: Session) -> None:
    """Create any missing signing key (first start); the caller commits."""
    store = keystore(session)
    for alg in supported_algs():
        try:
            store.active(purpose(alg))
        except LookupError:
            log.info("creating the provider's %s signing key", alg)
            store.create(purpose(alg), _STORE_ALG[alg])


def public_jwk(stored: Any, alg: str) -> dict[str, Any]:
    """The public JWK of a stored key, with ``kid``, ``use`` and ``alg``."""
    pem = stored.public_pem if isinstance(stored.public_pem, bytes) else stored.public_pem.encode()
    jwk: dict[str, Any]
    if alg == "SM2SM3":
        from keys.sm2 import SM2PublicKey

        point = SM2PublicKey.from_pem(pem).point()
        # A key type of our own, not "EC": RFC 7517 section 5 tells libraries to skip
        # key types they do not understand, whereas an "EC" key on a curve they do not
        # know makes some of them (joserfc, so Authlib's OIDC client) refuse the whole set.
        jwk = {"kty": "SM2", "crv": "SM2", "x": b64url(point[1:33]), "y": b64url(point[33:65])}
    else:
        key = serialization.load_pem_public_key(pem)
        if isinstance(key, rsa.RSAPublicKey):
            numbers = key.public_numbers()
            jwk = {"kty": "RSA", "n": _int_b64(numbers.n), "e": _int_b64(numbers.e)}
        elif isinstance(key, ec.EllipticCurvePublicKey):
            pub = key.public_numbers()
            jwk = {"kty": "EC", "crv": "P-256", "x": _int_b64(pub.x, 32), "y": _int_b64(pub.y, 32)}
        else:  # pragma: no cover - the store only holds the algorithms above
            raise UnsupportedAlgorithm(alg)
    jwk.update(kid=stored.kid, use="sig", alg=alg)
    return jwk


def sm2_in_use(session: Session) -> bool:
    """Whether any enabled client asked for SM2SM3-signed ID tokens."""
    from oidc.clients import Client

    marker = '%"id_token_signed_response_alg": "SM2SM3"%'
    compact = '%"id_token_signed_response_alg":"SM2SM3"%'
    text = sa.cast(Client.client_metadata, sa.Text)
    query = sa.select(Client.id).where(
        Client.disabled.is_(False), sa.or_(text.like(marker), text.like(compact))
    )
    return session.scalar(query.limit(1)) is not None


def jwks(session: Session) -> dict[str, list[dict[str, Any]]]:
    """The JWK Set: every published key of every signing algorithm in use.

    The SM2SM3 key (a JWK of our own key type ``SM2``, which standard libraries skip per
    RFC 7517 section 5, though the deprecated ``authlib.jose`` still refuses the whole
    set) is listed only once a client has registered for SM2SM3.
    """
    store = keystore(session)
    keys_out = []
    for alg in supported_algs():
        if alg == "SM2SM3" and not sm2_in_use(session):
            continue
        for stored in store.published(purpose(alg)):
            keys_out.append(public_jwk(stored, alg))
    return {"keys": keys_out}


def sign_jwt(
    session: Session, claims: dict[str, Any], alg: str = DEFAULT_ALG, **header: Any
) -> str:
    """Sign ``claims`` as a compact JWS with the active key for ``alg``.

    Extra ``header`` members (e.g. ``typ="logout+jwt"``) are added to the protected
    header; ``alg`` and ``kid`` are always set from the key.
    """
    if alg not in supported_algs():
        raise UnsupportedAlgorithm(alg)
    store = keystore(session)
    try:
        stored = store.active(purpose(alg))
    except LookupError:
        ensure_keys(session)
        stored = store.active(purpose(alg))
    protected = {"alg": alg, "kid": stored.kid, "typ": "JWT", **header}
    signing_input = (
        b64url(json.dumps(protected, separators=(",", ":")).encode())
        + "."
        + b64url(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode())
    ).encode("ascii")
    private = store.private_key(stored)
    if alg == "RS256":
        assert isinstance(private, rsa.RSAPrivateKey)
        signature = private.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    elif alg == "ES256":
        assert isinstance(private, ec.EllipticCurvePrivateKey)
        r, s = decode_dss_signature(private.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:
        signature = private.sign_raw(signing_input)
    return signing_input.decode("ascii") + "." + b64url(signature)


def half_hash(value: str, alg: str) -> str:
    """``at_hash``/``c_hash`` (OIDC Core §3.1.3.6): left half of the alg's hash."""
    if alg == "SM2SM3":
        digest = hashlib.new("sm3", value.encode("ascii")).digest()
    else:
        digest = hashlib.sha256(value.encode("ascii")).digest()
    return b64url(digest[: len(digest) // 2])
