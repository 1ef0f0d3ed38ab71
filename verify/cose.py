"""RFC 9052 (CBOR Object Signing and Encryption), COSE_Sign1 with SM2-with-SM3.

Only what licenses and trust bundles use, kept small on purpose:

* section 4.2, the tagged COSE_Sign1 structure ``18([protected, unprotected, payload,
  signature])`` with an empty unprotected map;
* section 4.4, the Sig_structure ``["Signature1", protected, external_aad, payload]``
  that is signed, with an empty external_aad;
* section 3.1, the header parameters alg (1), content type (3) and kid (4), all in the
  protected bucket.

SM2 has no COSE algorithm identifier in the IANA registry, so we use one from the
private-use range (below -65536, RFC 9053 section 16.4 / RFC 9052 section 11.1):
``ALG_SM2_SM3``. The signature is the raw ``r ‖ s`` (32 + 32 bytes, big-endian) of an
SM2 signature (GB/T 32918.2-2016, clause 6.1) over the Sig_structure, with SM3 and the
signer ID ``1234567812345678`` (GM/T 0009-2012). docs/license-format.md is normative.

Why not a COSE library: pycose 1.1.0 and cwt bind every algorithm to a pyca/cryptography
key type, and cryptography has no SM2; plugging SM2 in would mean subclassing their
internals. The hundred lines here are checked against the ``openssl`` command line
(tests/verify/test_vectors.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cbor2

from keys.errors import CryptoError
from keys.sm2 import DEFAULT_ID, SM2PrivateKey, SM2PublicKey
from verify import strict_cbor
from verify.errors import VerifyError

#: Private-use COSE algorithm identifier for SM2 signatures with SM3 (docs/license-format.md).
ALG_SM2_SM3 = -70000
#: GM/T 0009-2012 default signer ID, used for every signature of this format.
SIGNER_ID = DEFAULT_ID

HEADER_ALG = 1
HEADER_CONTENT_TYPE = 3
HEADER_KID = 4
KID_LEN = 8
SIGNATURE_LEN = 64

# The deterministic encoding of {1: ALG_SM2_SM3, 4: h'<kid>'}: a2 01 3a0001116f 04 48 <kid>.
_LICENSE_HEADER_START = b"\xa2\x01\x3a" + (-1 - ALG_SM2_SM3).to_bytes(4, "big") + b"\x04\x48"
_LICENSE_HEADER_LEN = len(_LICENSE_HEADER_START) + KID_LEN


@dataclass(frozen=True)
class Sign1:
    """A parsed COSE_Sign1 message. ``to_be_signed`` is the Sig_structure's encoding."""

    protected: bytes
    kid: bytes
    content_type: str | None
    payload: bytes
    signature: bytes
    to_be_signed: bytes

    def verify(self, public_key: SM2PublicKey) -> None:
        """Check the SM2 signature; raises keys.errors.InvalidSignature (a CryptoError)."""
        public_key.verify_raw(self.signature, self.to_be_signed, signer_id=SIGNER_ID)


def protected_header(kid: bytes, content_type: str | None = None) -> bytes:
    """The serialized protected header ``{1: ALG_SM2_SM3, [3: content type,] 4: kid}``."""
    if content_type is None and type(kid) is bytes and len(kid) == KID_LEN:
        return _LICENSE_HEADER_START + kid  # what cbor2 writes (a test compares)
    header: dict[int, Any] = {HEADER_ALG: ALG_SM2_SM3, HEADER_KID: kid}
    if content_type is not None:
        header[HEADER_CONTENT_TYPE] = content_type
    return strict_cbor.dumps(header)


def _bstr_head(length: int) -> bytes:
    """RFC 8949 section 3.1: the head of a byte string (major type 2) of ``length``."""
    if length < 24:
        return bytes((0x40 | length,))
    if length < 0x100:
        return bytes((0x58, length))
    if length < 0x10000:
        return b"\x59" + length.to_bytes(2, "big")
    if length < 0x100000000:
        return b"\x5a" + length.to_bytes(4, "big")
    return b"\x5b" + length.to_bytes(8, "big")


# ["Signature1", ...: an array of 4, the text "Signature1".
_SIG_STRUCTURE_START = b"\x84\x6aSignature1"


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """RFC 9052 section 4.4: the bytes that are signed (external_aad is empty).

    ``["Signature1", protected, h'', payload]`` in deterministic CBOR, written out
    directly because it sits on the verifier's hot path (a test compares it with cbor2).
    """
    return b"".join(
        (
            _SIG_STRUCTURE_START,
            _bstr_head(len(protected)),
            protected,
            b"\x40",
            _bstr_head(len(payload)),
            payload,
        )
    )


def sign1(
    payload: bytes, key: SM2PrivateKey, kid: bytes, *, content_type: str | None = None
) -> bytes:
    """Sign ``payload`` and return the tagged COSE_Sign1 message."""
    return sign1_many([payload], key, kid, content_type=content_type)[0]


def sign1_many(
    payloads: Sequence[bytes], key: SM2PrivateKey, kid: bytes, *, content_type: str | None = None
) -> list[bytes]:
    """:func:`sign1` for many payloads under one key: the signatures are made in one
    tight loop (verify.encode.encode_many says why)."""
    if type(kid) is not bytes or len(kid) != KID_LEN:
        raise ValueError("kid must be 8 bytes")
    protected = protected_header(kid, content_type)
    to_sign = [sig_structure(protected, payload) for payload in payloads]
    sign = key.sign_raw
    signatures = [sign(data, signer_id=SIGNER_ID) for data in to_sign]
    return [
        sign1_bytes(protected, payload, signature)
        for payload, signature in zip(payloads, signatures, strict=True)
    ]


# Tag 18, then an array of 4.
_SIGN1_START = b"\xd2\x84"


def sign1_bytes(protected: bytes, payload: bytes, signature: bytes) -> bytes:
    """``18([protected, {}, payload, signature])`` in deterministic CBOR, written out
    directly as :func:`sig_structure` is (once per issued license; a test compares it
    with cbor2)."""
    return b"".join(
        (
            _SIGN1_START,
            _bstr_head(len(protected)),
            protected,
            b"\xa0",  # the empty unprotected map
            _bstr_head(len(payload)),
            payload,
            _bstr_head(len(signature)),
            signature,
        )
    )


def parse_sign1(data: bytes, *, error: type[VerifyError], content_type: str | None = None) -> Sign1:
    """Parse a tagged COSE_Sign1 message under the rules above, or raise ``error``.

    ``content_type`` is the content type the caller expects (None: the header must not
    carry one). The signature is not checked here: see :meth:`Sign1.verify`.
    """
    message = strict_cbor.loads(data, error=error, max_depth=3, cose=True)
    if not isinstance(message, cbor2.CBORTag) or message.tag != 18:
        raise error("not a tagged COSE_Sign1 message")
    # cbor2 decodes the content of a tag as immutable (a tuple, frozendict inside).
    parts = message.value
    if type(parts) not in (list, tuple) or len(parts) != 4:
        raise error("COSE_Sign1 must be an array of four items")
    protected, unprotected, payload, signature = parts
    if type(protected) is not bytes or type(payload) is not bytes:
        raise error("COSE_Sign1 protected header and payload must be byte strings")
    if type(unprotected) not in (dict, cbor2.frozendict) or unprotected:
        raise error("COSE_Sign1 unprotected header must be an empty map")
    if type(signature) is not bytes or len(signature) != SIGNATURE_LEN:
        raise error("COSE_Sign1 signature must be 64 bytes (r ‖ s)")
    if (
        content_type is None
        and len(protected) == _LICENSE_HEADER_LEN
        and protected.startswith(_LICENSE_HEADER_START)
    ):
        # Fast path for the header as our encoder writes it: {1: -70000, 4: h'<8 bytes>'}.
        return Sign1(
            protected,
            protected[-KID_LEN:],
            None,
            payload,
            signature,
            sig_structure(protected, payload),
        )
    header = strict_cbor.loads(protected, error=error, max_depth=1)
    if type(header) is not dict:
        raise error("COSE protected header must be a map")
    expected_keys = {HEADER_ALG, HEADER_KID}
    if content_type is not None:
        expected_keys.add(HEADER_CONTENT_TYPE)
    if set(header) != expected_keys:
        raise error("COSE protected header must hold exactly the parameters of the format")
    if header[HEADER_ALG] != ALG_SM2_SM3 or type(header[HEADER_ALG]) is not int:
        raise error("COSE algorithm is not SM2-with-SM3")
    kid = header[HEADER_KID]
    if type(kid) is not bytes or len(kid) != KID_LEN:
        raise error("COSE kid must be 8 bytes")
    if content_type is not None and header[HEADER_CONTENT_TYPE] != content_type:
        raise error("COSE content type is not the one expected")
    return Sign1(
        protected=protected,
        kid=kid,
        content_type=content_type,
        payload=payload,
        signature=signature,
        to_be_signed=sig_structure(protected, payload),
    )


def verify_or_raise(message: Sign1, public_key: SM2PublicKey, error: type[VerifyError]) -> None:
    """Check the signature, turning every crypto failure into ``error``."""
    try:
        message.verify(public_key)
    except (CryptoError, ValueError):
        raise error("signature does not verify") from None
