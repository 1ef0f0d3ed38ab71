"""SM2 backend selection (keys/sm2.py) and the OpenSSL binding's resource handling."""

from __future__ import annotations

import ctypes
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from keys import _sm2_openssl as ossl
from keys import sm2
from keys.errors import InvalidKey, InvalidSignature
from keys.sm2 import SM2PrivateKey

ROOT = Path(__file__).resolve().parents[2]


def run(code: str, env_backend: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter, where the backend has not been chosen yet."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    if env_backend is not None:
        env[sm2.BACKEND_ENV] = env_backend
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )


REPORT = (
    "from keys import sm2\n"
    "k = sm2.SM2PrivateKey.generate()\n"
    "k.public_key().verify(k.sign(b'm'), b'm')\n"
    "print(sm2.backend_name(), k.backend)\n"
)
BLOCK_OPENSSL = "import sys; sys.modules['keys._sm2_openssl'] = None\n"
BLOCK_BOTH = BLOCK_OPENSSL + "sys.modules['keys._sm2_python'] = None\n"


def test_openssl_is_preferred() -> None:
    result = run(REPORT)
    assert result.stdout.split() == ["openssl", "openssl"], result.stderr


@pytest.mark.parametrize("name", sm2.BACKENDS)
def test_environment_override(name: str) -> None:
    result = run(REPORT, env_backend=name)
    assert result.stdout.split() == [name, name], result.stderr


def test_override_is_case_and_space_tolerant() -> None:
    assert run(REPORT, env_backend=" Python ").stdout.split() == ["python", "python"]


def test_unknown_override_is_a_clear_error() -> None:
    result = run(REPORT, env_backend="gmssl")
    assert result.returncode != 0
    assert "BackendUnavailable: unknown SM2 backend 'gmssl'" in result.stderr


def test_falls_back_to_python_when_openssl_is_missing() -> None:
    result = run(BLOCK_OPENSSL + REPORT)
    assert result.stdout.split() == ["python", "python"], result.stderr
    assert "SM2 backend openssl unavailable" in result.stderr  # logged, not silent


def test_requested_backend_never_silently_replaced() -> None:
    result = run(BLOCK_OPENSSL + REPORT, env_backend="openssl")
    assert result.returncode != 0
    assert "BackendUnavailable" in result.stderr


def test_no_backend_at_all() -> None:
    result = run(BLOCK_BOTH + REPORT)
    assert result.returncode != 0
    assert "BackendUnavailable: no usable SM2 backend (openssl:" in result.stderr


def test_failing_self_test_disqualifies_a_backend() -> None:
    # An OpenSSL whose signatures are wrong must not be used, even though it loads.
    sabotage = (
        "import keys._sm2_openssl as o\n"
        "o.PrivateKey.sign = lambda self, m, i: bytes.fromhex('3006020101020101')\n"
    )
    result = run(sabotage + REPORT)
    assert result.stdout.split() == ["python", "python"], result.stderr
    assert "self-test" in result.stderr or "does not verify" in result.stderr


def test_openssl_errors_carry_openssl_text() -> None:
    # Straight to the binding, past the Python-side point check.
    point = SM2PrivateKey.generate().public_key().point()
    with pytest.raises(InvalidKey, match="point is not on curve"):
        ossl.public_from_point(point[:-1] + bytes([point[-1] ^ 1]))


def test_openssl_decoder_must_consume_everything() -> None:
    der = SM2PrivateKey.generate().to_der()
    free = ossl._lib.PKCS8_PRIV_KEY_INFO_free
    with pytest.raises(InvalidKey, match="1 trailing bytes"):
        ossl._d2i(ossl._lib.d2i_PKCS8_PRIV_KEY_INFO, free, der + b"\x00", "test")
    with pytest.raises(InvalidKey, match=r"asn1|ASN1|header|too long|wrong tag"):
        ossl._d2i(ossl._lib.d2i_PKCS8_PRIV_KEY_INFO, free, der[:-5], "test")


def test_openssl_keys_are_sm2_keys() -> None:
    # With an EC key on another curve, EVP_DigestSign would quietly run ECDSA: every
    # key the binding creates is checked to be of OpenSSL's SM2 type.
    key = SM2PrivateKey.generate(backend="openssl")
    for handle in (key._impl._key, key.public_key()._impl._key):  # type: ignore[attr-defined]
        assert ossl._lib.EVP_PKEY_is_a(handle.ptr, b"SM2") == 1
        assert ossl._lib.EVP_PKEY_is_a(handle.ptr, b"EC") == 0


def test_concurrent_signing_with_one_key() -> None:
    key = SM2PrivateKey.generate(backend="openssl")
    public = key.public_key()
    results: list[tuple[bytes, bytes]] = []
    errors: list[BaseException] = []

    def work(number: int) -> None:
        try:
            for i in range(100):
                message = f"{number}:{i}".encode()
                results.append((message, key.sign(message)))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(results) == 400
    for message, signature in results:
        public.verify(signature, message)


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                     "uordblks", "fordblks", "keepcost")
    ]  # fmt: skip


def _heap_in_use() -> int:
    """Bytes of the C heap in use (glibc mallinfo2): where OpenSSL allocates."""
    try:
        mallinfo2 = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        pytest.skip("needs glibc's mallinfo2")
    mallinfo2.restype = _MallInfo2
    return int(mallinfo2().uordblks)


def test_openssl_binding_does_not_leak() -> None:
    key = SM2PrivateKey.generate(backend="openssl")
    der, spki = key.to_der(), key.public_key().to_der()
    point = key.public_key().point()
    off_curve = point[:-1] + bytes([point[-1] ^ 1])
    bad = key.sign(b"other")
    free = ossl._lib.PKCS8_PRIV_KEY_INFO_free

    def cycle(rounds: int) -> None:
        for _ in range(rounds):
            fresh = ossl.load_private_der(der)  # includes a sign/verify round trip
            fresh.to_der()
            public = ossl.load_public_der(spki)
            with pytest.raises(InvalidSignature):
                public.verify(bad, b"m", b"1")  # the failure path
            with pytest.raises(InvalidKey):
                ossl.public_from_point(off_curve)  # OpenSSL refuses: freed?
            with pytest.raises(InvalidKey):
                ossl._d2i(ossl._lib.d2i_PKCS8_PRIV_KEY_INFO, free, der + b"\x00", "t")

    cycle(50)  # warm up caches
    before = _heap_in_use()
    cycle(300)
    growth = _heap_in_use() - before
    # The smallest object we allocate (an EVP_MD_CTX, 72 bytes) leaked once per round
    # would add about 24 KB here; the noise measured is about 2 KB.
    assert growth < 12288, f"C heap grew by {growth} bytes over 300 rounds"
