"""SM2 backend on the platform's OpenSSL 3 libcrypto, through ctypes.

GB/T 32918.2-2016 signatures (SM3 digest, Z value over the signer ID per GM/T 0009-2012)
computed by OpenSSL's ``EVP_DigestSign``/``EVP_DigestVerify`` with the SM2 key type.
Keys are ``EVP_PKEY`` handles read and written as PKCS#8 (RFC 5208) and
SubjectPublicKeyInfo (RFC 5480) DER.

The binding is deliberately small: every foreign function is declared once with its
argument and return types, every return value is checked (fail closed), every object
we allocate is freed on every path, and errors carry OpenSSL's error strings.
OpenSSL's default SM2 distinguishing ID is empty, so the ID is set explicitly on every
sign and verify.
"""

from __future__ import annotations

import ctypes
import weakref
from ctypes import POINTER, byref, c_char_p, c_int, c_long, c_size_t, c_ulong, c_void_p
from typing import Any

from keys.errors import BackendUnavailable, CryptoError, InvalidKey, InvalidSignature

NAME = "openssl"
LIBRARY = "libcrypto.so.3"

# A SubjectPublicKeyInfo for SM2 is this fixed prefix (SEQUENCE, AlgorithmIdentifier
# {id-ecPublicKey, 1.2.156.10197.1.301}, BIT STRING header) followed by 04||x||y.
SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")
# PKCS#8 PrivateKeyInfo {0, {id-ecPublicKey, SM2}, OCTET STRING {ECPrivateKey {1, d}}}
# without the optional public key; OpenSSL derives the public key when it reads it.
_PKCS8_NO_PUB_PREFIX = bytes.fromhex(
    "3041020100301306072a8648ce3d020106082a811ccf5501822d042730250201010420"
)
# The same with the public key ([1] BIT STRING 04||x||y), exactly as OpenSSL writes it.
_PKCS8_PREFIX = bytes.fromhex(
    "308187020100301306072a8648ce3d020106082a811ccf5501822d046d306b0201010420"
)
_PKCS8_PUB_TAG = bytes.fromhex("a144034200")
_MAX_SIGNATURE = 72  # DER SEQUENCE of two 33-byte INTEGERs


def _load() -> Any:
    try:
        lib = ctypes.CDLL(LIBRARY)
    except OSError as exc:
        raise BackendUnavailable(f"cannot load {LIBRARY}: {exc}") from exc
    # (name, return type, argument types); a missing symbol means an unusable library.
    signatures: list[tuple[str, Any, list[Any]]] = [
        ("OpenSSL_version_num", c_ulong, []),
        ("ERR_get_error", c_ulong, []),
        ("ERR_error_string_n", None, [c_ulong, c_char_p, c_size_t]),
        ("ERR_clear_error", None, []),
        ("EVP_PKEY_CTX_new_from_name", c_void_p, [c_void_p, c_char_p, c_char_p]),
        ("EVP_PKEY_CTX_new_from_pkey", c_void_p, [c_void_p, c_void_p, c_char_p]),
        ("EVP_PKEY_CTX_free", None, [c_void_p]),
        ("EVP_PKEY_keygen_init", c_int, [c_void_p]),
        ("EVP_PKEY_generate", c_int, [c_void_p, POINTER(c_void_p)]),
        ("EVP_PKEY_check", c_int, [c_void_p]),
        ("EVP_PKEY_free", None, [c_void_p]),
        ("EVP_PKEY_is_a", c_int, [c_void_p, c_char_p]),
        ("EVP_PKEY_get_octet_string_param", c_int,
         [c_void_p, c_char_p, c_char_p, c_size_t, POINTER(c_size_t)]),
        ("d2i_PKCS8_PRIV_KEY_INFO", c_void_p, [c_void_p, POINTER(c_void_p), c_long]),
        ("EVP_PKCS82PKEY", c_void_p, [c_void_p]),
        ("d2i_PUBKEY", c_void_p, [c_void_p, POINTER(c_void_p), c_long]),
        ("i2d_PUBKEY", c_int, [c_void_p, POINTER(c_void_p)]),
        ("EVP_PKEY2PKCS8", c_void_p, [c_void_p]),
        ("i2d_PKCS8_PRIV_KEY_INFO", c_int, [c_void_p, POINTER(c_void_p)]),
        ("PKCS8_PRIV_KEY_INFO_free", None, [c_void_p]),
        ("EVP_MD_fetch", c_void_p, [c_void_p, c_char_p, c_char_p]),
        ("EVP_MD_CTX_new", c_void_p, []),
        ("EVP_MD_CTX_free", None, [c_void_p]),
        ("EVP_DigestSignInit", c_int, [c_void_p, POINTER(c_void_p), c_void_p, c_void_p, c_void_p]),
        ("EVP_DigestVerifyInit", c_int,
         [c_void_p, POINTER(c_void_p), c_void_p, c_void_p, c_void_p]),
        ("EVP_PKEY_CTX_set1_id", c_int, [c_void_p, c_char_p, c_int]),
        ("EVP_DigestSign", c_int, [c_void_p, c_char_p, POINTER(c_size_t), c_char_p, c_size_t]),
        ("EVP_DigestVerify", c_int, [c_void_p, c_char_p, c_size_t, c_char_p, c_size_t]),
    ]  # fmt: skip
    for name, restype, argtypes in signatures:
        try:
            function = getattr(lib, name)
        except AttributeError as exc:
            raise BackendUnavailable(f"{LIBRARY} lacks {name}") from exc
        function.restype = restype
        function.argtypes = argtypes
    if lib.OpenSSL_version_num() < 0x30000000:
        raise BackendUnavailable(f"{LIBRARY} is older than OpenSSL 3.0")
    return lib


_lib = _load()
# Fetch SM3 once: an explicitly fetched EVP_MD avoids an implicit fetch on every
# EVP_DigestSignInit. It is reference-counted and safe to share between threads.
_SM3 = _lib.EVP_MD_fetch(None, b"SM3", None)
if not _SM3:
    raise BackendUnavailable("OpenSSL cannot fetch SM3 (provider missing?)")


def _openssl_errors() -> str:
    """Drain this thread's OpenSSL error queue into one readable string."""
    messages = []
    buffer = ctypes.create_string_buffer(256)
    while code := _lib.ERR_get_error():
        _lib.ERR_error_string_n(code, buffer, len(buffer))
        messages.append(buffer.value.decode("ascii", "replace"))
    return "; ".join(messages) or "no OpenSSL error recorded"


def _fail(exception: type[CryptoError], what: str) -> CryptoError:
    return exception(f"{what}: {_openssl_errors()}")


def _check_id(signer_id: bytes) -> None:
    # OpenSSL refuses IDs of 8191 bytes or more (ENTL is 16 bits of *bits*).
    if len(signer_id) > 8190:
        raise ValueError("signer ID longer than 8190 bytes")


class _PKey:
    """Owns one EVP_PKEY*; freed when the Python object goes away."""

    __slots__ = ("__weakref__", "_finalizer", "ptr")

    def __init__(self, ptr: int) -> None:
        self.ptr = ptr
        self._finalizer = weakref.finalize(self, _lib.EVP_PKEY_free, ptr)


def _adopt_sm2(ptr: int | None, what: str) -> _PKey:
    """Take ownership of a freshly created EVP_PKEY and insist it is an SM2 key."""
    if not ptr:
        raise _fail(InvalidKey, what)
    key = _PKey(ptr)
    # An EC key on another curve would make EVP_DigestSign run ECDSA: refuse it here.
    if _lib.EVP_PKEY_is_a(ptr, b"SM2") != 1:
        _lib.ERR_clear_error()
        raise InvalidKey(f"{what}: not an SM2 key (curve must be 1.2.156.10197.1.301)")
    return key


def _d2i(function: Any, free: Any, der: bytes, what: str) -> int:
    """Run an OpenSSL ``d2i_*`` decoder over all of ``der``; return the new object."""
    _lib.ERR_clear_error()
    buffer = ctypes.create_string_buffer(der, len(der))
    start = ctypes.addressof(buffer)
    cursor = c_void_p(start)
    try:
        ptr = function(None, byref(cursor), len(der))
    finally:
        consumed = (cursor.value or start) - start
        ctypes.memset(buffer, 0, len(der))  # the copy may hold a private scalar
    if not ptr:
        raise _fail(InvalidKey, what)
    if consumed != len(der):
        # Free whatever was decoded before refusing the trailing bytes.
        free(ptr)
        raise InvalidKey(f"{what}: {len(der) - consumed} trailing bytes after the key")
    return int(ptr)


def _i2d(function: Any, ptr: int, what: str) -> bytes:
    _lib.ERR_clear_error()
    size = function(ptr, None)
    if size <= 0:
        raise _fail(CryptoError, what)
    buffer = ctypes.create_string_buffer(size)
    cursor = c_void_p(ctypes.addressof(buffer))
    if function(ptr, byref(cursor)) != size:
        raise _fail(CryptoError, what)
    data = buffer.raw
    ctypes.memset(buffer, 0, size)
    return data


def _digest_context(init: Any, key: _PKey, signer_id: bytes, what: str) -> int:
    """A new EVP_MD_CTX initialised for SM2-with-SM3 under ``signer_id``; caller frees."""
    mctx = _lib.EVP_MD_CTX_new()
    if not mctx:
        raise _fail(CryptoError, what)
    pctx = c_void_p()
    # The ID must be set after init (the provider context exists then) and before any
    # data, because the Z value is computed from it at the first update.
    if (
        init(mctx, byref(pctx), _SM3, None, key.ptr) != 1
        or _lib.EVP_PKEY_CTX_set1_id(pctx, signer_id, len(signer_id)) != 1
    ):
        error = _fail(CryptoError, what)
        _lib.EVP_MD_CTX_free(mctx)
        raise error
    return int(mctx)


class PublicKey:
    """An SM2 public key held by OpenSSL."""

    __slots__ = ("_key",)

    def __init__(self, key: _PKey) -> None:
        self._key = key

    def to_der(self) -> bytes:
        return _i2d(_lib.i2d_PUBKEY, self._key.ptr, "cannot encode the public key")

    def point(self) -> bytes:
        return _public_point(self._key)

    def verify(self, signature_der: bytes, message: bytes, signer_id: bytes) -> None:
        _check_id(signer_id)
        _lib.ERR_clear_error()
        mctx = _digest_context(
            _lib.EVP_DigestVerifyInit, self._key, signer_id, "cannot start verification"
        )
        try:
            result = _lib.EVP_DigestVerify(
                mctx, signature_der, len(signature_der), message, len(message)
            )
        finally:
            _lib.EVP_MD_CTX_free(mctx)
        if result != 1:
            # 0 is a wrong signature, a negative value a malformed one: both fail closed.
            _lib.ERR_clear_error()
            raise InvalidSignature("SM2 signature does not verify")


class PrivateKey:
    """An SM2 key pair held by OpenSSL."""

    __slots__ = ("_key",)

    def __init__(self, key: _PKey) -> None:
        self._key = key

    def to_der(self) -> bytes:
        _lib.ERR_clear_error()
        p8 = _lib.EVP_PKEY2PKCS8(self._key.ptr)
        if not p8:
            raise _fail(CryptoError, "cannot convert the private key to PKCS#8")
        try:
            return _i2d(_lib.i2d_PKCS8_PRIV_KEY_INFO, p8, "cannot encode the private key")
        finally:
            _lib.PKCS8_PRIV_KEY_INFO_free(p8)

    def public_key(self) -> PublicKey:
        # EVP_PKEY has no "public part only" view; re-read the SubjectPublicKeyInfo so
        # the public object never holds the private scalar.
        return load_public_der(_i2d(_lib.i2d_PUBKEY, self._key.ptr, "cannot export"))

    def sign(self, message: bytes, signer_id: bytes) -> bytes:
        _check_id(signer_id)
        _lib.ERR_clear_error()
        mctx = _digest_context(_lib.EVP_DigestSignInit, self._key, signer_id, "cannot sign")
        try:
            size = c_size_t(_MAX_SIGNATURE)
            signature = ctypes.create_string_buffer(_MAX_SIGNATURE)
            if _lib.EVP_DigestSign(mctx, signature, byref(size), message, len(message)) != 1:
                raise _fail(CryptoError, "SM2 signing failed")
        finally:
            _lib.EVP_MD_CTX_free(mctx)
        return signature.raw[: size.value]


def _public_point(key: _PKey) -> bytes:
    _lib.ERR_clear_error()
    buffer = ctypes.create_string_buffer(133)
    size = c_size_t(0)
    if (
        _lib.EVP_PKEY_get_octet_string_param(
            key.ptr, b"encoded-pub-key", buffer, len(buffer), byref(size)
        )
        != 1
    ):
        raise _fail(CryptoError, "cannot read the public point")
    return buffer.raw[: size.value]


def _validate(key: _PKey, what: str) -> None:
    """Full key check (on the curve, in the group, private matches public)."""
    ctx = _lib.EVP_PKEY_CTX_new_from_pkey(None, key.ptr, None)
    if not ctx:
        raise _fail(CryptoError, what)
    try:
        if _lib.EVP_PKEY_check(ctx) != 1:
            raise _fail(InvalidKey, what)
    finally:
        _lib.EVP_PKEY_CTX_free(ctx)


def _require_uncompressed(key: _PKey, what: str) -> None:
    point = _public_point(key)
    if len(point) != 65 or point[0] != 4:
        raise InvalidKey(f"{what}: only uncompressed points (04||x||y) are supported")


def generate() -> PrivateKey:
    _lib.ERR_clear_error()
    ctx = _lib.EVP_PKEY_CTX_new_from_name(None, b"SM2", None)
    if not ctx:
        raise _fail(BackendUnavailable, "OpenSSL has no SM2 key type")
    try:
        out = c_void_p()
        if _lib.EVP_PKEY_keygen_init(ctx) != 1 or _lib.EVP_PKEY_generate(ctx, byref(out)) != 1:
            raise _fail(CryptoError, "SM2 key generation failed")
    finally:
        _lib.EVP_PKEY_CTX_free(ctx)
    return PrivateKey(_adopt_sm2(out.value, "SM2 key generation failed"))


def load_private_der(der: bytes) -> PrivateKey:
    what = "invalid SM2 private key"
    # Decode PKCS#8 explicitly: the d2i_*PrivateKey family also accepts SEC1 keys.
    p8 = _d2i(_lib.d2i_PKCS8_PRIV_KEY_INFO, _lib.PKCS8_PRIV_KEY_INFO_free, der, what)
    try:
        key = _adopt_sm2(_lib.EVP_PKCS82PKEY(p8), what)
    finally:
        _lib.PKCS8_PRIV_KEY_INFO_free(p8)
    _validate(key, what)
    _require_uncompressed(key, what)
    return PrivateKey(key)


def load_public_der(der: bytes) -> PublicKey:
    what = "invalid SM2 public key"
    key = _adopt_sm2(_d2i(_lib.d2i_PUBKEY, _lib.EVP_PKEY_free, der, what), what)
    # OpenSSL's point decoder already rejects points off the curve; SM2's cofactor is
    # 1, so an on-curve point other than infinity is a valid public key.
    _require_uncompressed(key, what)
    return PublicKey(key)


def private_from_scalar(d: int) -> PrivateKey:
    scalar = d.to_bytes(32, "big")
    # OpenSSL derives the public point from a PKCS#8 key without one, but then also
    # omits it when writing the key out; rebuild the key with the point included.
    point = _public_point(load_private_der(_PKCS8_NO_PUB_PREFIX + scalar)._key)
    return load_private_der(_PKCS8_PREFIX + scalar + _PKCS8_PUB_TAG + point)


def public_from_point(point: bytes) -> PublicKey:
    return load_public_der(SPKI_PREFIX + point)
