"""The DB-backed key store: sealing under the KEK, rotation, publication, compromise."""

import datetime as dt
import os
import stat

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.hashes import SHA256

from authority import db
from authority.app import create_app
from authority.config import ConfigError
from authority.keystore import KeyStore, keystore
from authority.models import AuditEntry, StoredKey
from keys.errors import DecryptionError
from keys.keystore import KeyEncryptionKey
from keys.sm2 import SM2PrivateKey, SM2PublicKey


def test_sm2_key_round_trip_and_sealed_at_rest(app):
    with app.app_context():
        store = keystore()
        stored = store.create("department:91350100M000100Y43", "SM2")
        db.session().commit()
        assert stored.status == "active" and len(stored.kid) == 16
        key = store.private_key(stored)
        assert isinstance(key, SM2PrivateKey)
        SM2PublicKey.from_pem(stored.public_pem.encode()).verify(key.sign(b"m"), b"m")
        # The private key is not in the row in clear.
        assert key.to_der() not in stored.sealed_private
        assert key.to_der()[-32:] not in stored.sealed_private


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_jose_algorithms(app, algorithm):
    with app.app_context():
        store = keystore()
        stored = store.create(f"oidc:{algorithm}", algorithm)
        key = store.private_key(stored)
        if algorithm == "RS256":
            assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
            sig = key.sign(b"m", padding.PKCS1v15(), SHA256())
            key.public_key().verify(sig, b"m", padding.PKCS1v15(), SHA256())
        else:
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            assert isinstance(key.curve, ec.SECP256R1)


def test_wrong_kek_cannot_unseal(app):
    with app.app_context():
        stored = keystore().create("oidc:ES256", "ES256")
        other = KeyStore(db.session(), KeyEncryptionKey.generate())
        with pytest.raises(DecryptionError):
            other.private_key(stored)


def test_an_unsealed_key_is_kept_only_for_its_own_kek(app):
    with app.app_context():
        store = keystore()
        stored = store.create("department:91350100M000100Y43", "SM2")
        first = store.private_key(stored)
        assert store.private_key(stored) is first  # unsealed once, then kept
        # Another KEK gets nothing from what the right one unsealed.
        other = KeyStore(db.session(), KeyEncryptionKey.generate())
        with pytest.raises(DecryptionError):
            other.private_key(stored)
        assert store.private_key(stored) is first


def test_sealed_blob_moved_to_another_row_does_not_open(app):
    with app.app_context():
        store = keystore()
        a = store.create("oidc:ES256", "ES256")
        b = store.create("oidc:other", "ES256")
        b.sealed_private = a.sealed_private
        with pytest.raises(DecryptionError):
            store.private_key(b)


def test_one_active_key_per_purpose(app):
    with app.app_context():
        store = keystore()
        store.create("oidc:RS256", "ES256")
        with pytest.raises(ValueError, match="rotate"):
            store.create("oidc:RS256", "ES256")
        with pytest.raises(LookupError):
            store.active("nothing")


def test_database_enforces_a_single_active_key(app):
    with app.app_context():
        store = keystore()
        first = store.create("p", "ES256")
        db.session().commit()
        clone = StoredKey(
            kid="00" * 8,
            purpose="p",
            algorithm="ES256",
            public_pem=first.public_pem,
            sealed_private=first.sealed_private,
            status="active",
            created_at=db.utcnow(),
        )
        db.session().add(clone)
        with pytest.raises(sa.exc.IntegrityError):
            db.session().flush()
        db.session().rollback()


def test_rotation_keeps_the_old_key_published_until_unpublished(app):
    with app.app_context():
        store = keystore()
        old = store.create("oidc:ES256", "ES256")
        new = store.rotate("oidc:ES256")
        db.session().commit()
        assert store.active("oidc:ES256").kid == new.kid
        assert old.status == "retired" and old.retired_at is not None
        assert [k.kid for k in store.published("oidc:ES256")] == [new.kid, old.kid]
        # The retired key still unseals: it may be needed to re-sign nothing, but
        # verifiers need its public part and the store must stay consistent.
        store.private_key(old)
        store.unpublish(old.kid)
        assert [k.kid for k in store.published("oidc:ES256")] == [new.kid]
        with pytest.raises(ValueError, match="active"):
            store.unpublish(new.kid)
        events = db.session().execute(sa.select(AuditEntry.event)).scalars().all()
        assert events == ["key.created", "key.created", "key.rotated", "key.unpublished"]


def test_mark_compromised(app):
    with app.app_context():
        store = keystore()
        old = store.create("department:x", "SM2")
        store.rotate("department:x")
        at = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
        store.mark_compromised(old.kid, at)
        db.session().commit()
        again = store.get(old.kid)
        assert again.status == "compromised" and again.compromised_at == at
        assert old.kid not in [k.kid for k in store.published("department:x")]
        with pytest.raises(ValueError):
            store.mark_compromised(old.kid, dt.datetime(2026, 5, 1))  # naive


def test_production_refuses_to_start_without_kek(app_config):
    app_config.update(env="production", kek=None, issuer="https://id.example.gov.cn")
    with pytest.raises(ConfigError, match="AUTHORITY_KEK"):
        create_app(app_config)


def test_kek_file(app_config, tmp_path):
    path = tmp_path / "kek"
    KeyEncryptionKey.generate().to_file(path)
    app_config.update(env="production", kek=None, kek_file=str(path), issuer="https://x.example")
    assert create_app(app_config).extensions["authority.kek"] == KeyEncryptionKey.from_file(path)
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        create_app(app_config)
    app_config["kek_file"] = str(tmp_path / "missing")
    with pytest.raises(ConfigError, match="does not exist"):
        create_app(app_config)


def test_bad_kek_hex_is_a_config_error(app_config):
    app_config["kek"] = "not-hex"
    with pytest.raises(ConfigError, match="32 hexadecimal"):
        create_app(app_config)


def test_development_generates_a_private_kek_file_once(app_config, capsys):
    app_config.update(env="development", kek=None)
    first = create_app(app_config)
    path = first.instance_path + "/kek"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "generated a key-encryption key" in capsys.readouterr().err
    second = create_app(app_config)
    assert first.extensions["authority.kek"] == second.extensions["authority.kek"]
    assert "generated" not in capsys.readouterr().err
