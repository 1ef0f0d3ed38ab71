"""The provincial root: the SM2 key and self-signed certificate at the top of the hierarchy.

GM/T 0015-2012 certificate profile (built by :mod:`keys.x509`). ``authority init``
creates the root once (purpose ``root`` in the key store); department signing
certificates are issued under it and the trust bundle is signed with it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from authority.config import Settings
from authority.keystore import Certify, keystore
from authority.models import StoredKey
from keys.sm2 import SM2PrivateKey
from keys.x509 import Certificate, issue_signing_certificate, make_root_certificate

ROOT_PURPOSE = "root"


def _self_signed(settings: Settings) -> Certify:
    def certify(key: SM2PrivateKey) -> bytes:
        return make_root_certificate(key, settings.root_name, settings.organisation).pem()

    return certify


def ensure_root(session: Session, settings: Settings) -> tuple[bool, StoredKey, Certificate]:
    """``(created, stored key, certificate)``: the root, created if there is none."""
    store = keystore(session)
    try:
        stored = store.active(ROOT_PURPOSE)
        created = False
    except LookupError:
        stored = store.create(ROOT_PURPOSE, "SM2", certify=_self_signed(settings))
        created = True
    assert stored.certificate_pem is not None
    return created, stored, Certificate.from_pem(stored.certificate_pem)


def root(session: Session) -> tuple[SM2PrivateKey, Certificate]:
    """The active root's private key and certificate (raises LookupError before init)."""
    store = keystore(session)
    stored = store.active(ROOT_PURPOSE)
    if stored.certificate_pem is None:
        raise LookupError("the root key has no certificate; run `authority init`")
    return store.private_key(stored), Certificate.from_pem(stored.certificate_pem)


def certify_successor(session: Session, settings: Settings, old: StoredKey) -> Certify | None:
    """How to certify the key that replaces ``old`` in a rotation.

    - the root: a new self-signed root certificate;
    - a key without a certificate (e.g. OIDC token signing): none needed;
    - a certified signing key: a certificate from the root with the same subject and
      license types as the old one, valid from now until the old one's expiry.
    """
    if old.purpose == ROOT_PURPOSE:
        return _self_signed(settings)
    if old.certificate_pem is None:
        return None
    previous = Certificate.from_pem(old.certificate_pem)
    root_key, root_cert = root(session)
    credit_code = previous.credit_code
    if credit_code is None:
        raise ValueError(f"the certificate of {old.kid} names no credit code; cannot reissue")

    def certify(key: SM2PrivateKey) -> bytes:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        not_after = min(previous.not_after, root_cert.not_after)
        if not_after <= now:
            not_after = root_cert.not_after
        return issue_signing_certificate(
            root_key,
            root_cert,
            key.public_key(),
            common_name=previous.subject_cn,
            organisation=previous.subject_organisation,
            credit_code=credit_code,
            license_types=list(previous.license_types),
            not_before=now,
            not_after=not_after,
        ).pem()

    return certify
