"""Interop with the ``openssl`` command line (OpenSSL 3), both ways.

The CLI is the independent implementation: keys we write are read by ``openssl pkey``
and keys it writes are read by us (byte-identical re-encoding); our signatures verify
with ``openssl pkeyutl``/``openssl dgst`` and its signatures verify with both of our
backends. The SM2 ID is always passed explicitly: OpenSSL's default ID is empty.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from keys import sm2
from keys.errors import InvalidKey
from keys.sm2 import DEFAULT_ID, SM2PrivateKey, SM2PublicKey

OPENSSL = shutil.which("openssl") or "openssl"
KEYS = 20
CUSTOM_ID = b"91330000MA27XXXX0Y"


def openssl(*args: str | Path, stdin: bytes | None = None, ok: bool = True) -> bytes:
    result = subprocess.run(
        [OPENSSL, *map(str, args)], input=stdin, capture_output=True, check=False
    )
    if ok and result.returncode != 0:
        raise AssertionError(f"openssl {args} failed: {result.stderr.decode()}")
    if not ok and result.returncode == 0:
        raise AssertionError(f"openssl {args} unexpectedly succeeded")
    return result.stdout


def messages(index: int) -> list[bytes]:
    found = [b"", os.urandom(1 + index), os.urandom(1024)]
    if index % 5 == 0:
        found.append(os.urandom(1 << 20))  # a large one on every fifth key
    return found


def test_openssl_is_3() -> None:
    assert openssl("version").startswith(b"OpenSSL 3.")


@pytest.mark.parametrize("index", range(KEYS))
def test_interop(index: int, tmp_path: Path) -> None:
    backend = sm2.BACKENDS[index % 2]
    key_pem = tmp_path / "key.pem"
    pub_pem = tmp_path / "pub.pem"
    if index % 4 < 2:
        # We generate; OpenSSL reads our PKCS#8 and SPKI.
        ours = SM2PrivateKey.generate(backend=backend)
        key_pem.write_bytes(ours.to_pem())
        assert openssl("pkey", "-in", key_pem) == ours.to_pem()
        assert openssl("pkey", "-in", key_pem, "-pubout") == ours.public_key().to_pem()
        der = openssl("pkcs8", "-topk8", "-nocrypt", "-in", key_pem, "-outform", "DER")
        assert der == ours.to_der()
        assert b"ASN1 OID: SM2" in openssl("pkey", "-in", key_pem, "-text", "-noout")
    else:
        # OpenSSL generates; we read its PEM and write back the same bytes.
        openssl("genpkey", "-algorithm", "SM2", "-out", key_pem)
        ours = SM2PrivateKey.from_pem(key_pem.read_bytes(), backend=backend)
        assert ours.to_pem() == key_pem.read_bytes()
    pub_pem.write_bytes(openssl("pkey", "-in", key_pem, "-pubout"))
    public = {b: SM2PublicKey.from_pem(pub_pem.read_bytes(), backend=b) for b in sm2.BACKENDS}
    assert public["openssl"] == public["python"] == ours.public_key()

    signer_id = DEFAULT_ID if index % 3 else CUSTOM_ID
    distid = f"distid:{signer_id.decode()}"
    for number, message in enumerate(messages(index)):
        data = tmp_path / f"m{number}"
        data.write_bytes(message)
        ours_sig = tmp_path / f"ours{number}.der"
        theirs_sig = tmp_path / f"theirs{number}.der"

        # Ours -> OpenSSL, alternating the two CLI verifiers.
        ours_sig.write_bytes(ours.sign(message, signer_id=signer_id))
        if number % 2:
            openssl("dgst", "-sm3", "-verify", pub_pem, "-sigopt", distid,
                    "-signature", ours_sig, data)  # fmt: skip
        else:
            openssl("pkeyutl", "-verify", "-pubin", "-inkey", pub_pem, "-rawin",
                    "-digest", "sm3", "-pkeyopt", distid, "-in", data,
                    "-sigfile", ours_sig)  # fmt: skip

        # OpenSSL -> ours, on both backends, DER and raw.
        openssl("pkeyutl", "-sign", "-inkey", key_pem, "-rawin", "-digest", "sm3",
                "-pkeyopt", distid, "-in", data, "-out", theirs_sig)  # fmt: skip
        signature = theirs_sig.read_bytes()
        for verifier in public.values():
            verifier.verify(signature, message, signer_id=signer_id)
            verifier.verify_raw(sm2.der_to_raw(signature), message, signer_id=signer_id)

    # The ID matters to OpenSSL too: our signature fails under another ID.
    openssl("dgst", "-sm3", "-verify", pub_pem, "-sigopt", "distid:someone-else",
            "-signature", ours_sig, data, ok=False)  # fmt: skip


def test_openssl_default_empty_id_is_not_ours(tmp_path: Path) -> None:
    # Documents the trap: without -sigopt distid, OpenSSL 3 uses an empty ID, so our
    # default-ID signature does not verify, while an empty-ID one does.
    key = SM2PrivateKey.generate()
    (tmp_path / "pub.pem").write_bytes(key.public_key().to_pem())
    (tmp_path / "m").write_bytes(b"license")
    (tmp_path / "sig").write_bytes(key.sign(b"license"))
    args = ("dgst", "-sm3", "-verify", tmp_path / "pub.pem", "-signature", tmp_path / "sig")
    openssl(*args, tmp_path / "m", ok=False)
    (tmp_path / "sig").write_bytes(key.sign(b"license", signer_id=b""))
    openssl(*args, tmp_path / "m")


def test_sec1_private_key_is_refused(tmp_path: Path) -> None:
    # `openssl pkey -outform DER` writes SEC1 ECPrivateKey, not PKCS#8: we refuse it
    # with a clear error rather than guess.
    openssl("genpkey", "-algorithm", "SM2", "-out", tmp_path / "k.pem")
    sec1 = openssl("pkey", "-in", tmp_path / "k.pem", "-outform", "DER")
    for backend in sm2.BACKENDS:
        with pytest.raises(InvalidKey, match=r"PKCS#8|private key"):
            SM2PrivateKey.from_der(sec1, backend=backend)
