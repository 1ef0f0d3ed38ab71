"""SM2 backend on the platform's OpenSSL 3 libcrypto, through ctypes.

GB/T 32918.2-2016 signatures (SM3 digest, Z value over the signer ID per GM/T 0009-2012)
computed by OpenSSL's ``EVP_DigestSign``/``EVP_DigestVerify`` with the SM2 key type.
Keys are ``EVP_PKEY`` handles built with ``EVP_PKEY_fromdata`` from the values that
``keys.sm2`` parses out of PKCS#8 (RFC 5208) and SubjectPublicKeyInfo (RFC 5480) DER
(the DER decoders of OpenSSL 3.0 are several times slower); private keys are written
by OpenSSL's own PKCS#8 encoder.

The binding is deliberately small: every foreign function is declared once with its
argument and return types, every return value is checked (fail closed), every object
we allocate is freed on every path, and errors carry OpenSSL's error strings.
OpenSSL's default SM2 distinguishing ID is empty, so the ID is set explicitly on every
sign and verify.
"""

from __future__ import annotations

import ctypes
import sys
import weakref
from ctypes import POINTER, byref, c_char_p, c_int, c_long, c_size_t, c_ulong, c_void_p
from typing import Any

from keys.errors import BackendUnavailable, CryptoError, InvalidKey, InvalidSignature
from keys.sm2 import MAX_ID_LENGTH, SPKI_PREFIX, parse_private_der, parse_public_der

NAME = "openssl"
LIBRARY = "libcrypto.so.3"

# PKCS#8 PrivateKeyInfo {0, {id-ecPublicKey, SM2}, OCTET STRING {ECPrivateKey {1, d}}}
# without the optional public key; OpenSSL derives the public key when it reads it.
_PKCS8_NO_PUB_PREFIX = bytes.fromhex(
    "3041020100301306072a8648ce3d020106082a811ccf5501822d042730250201010420"
)
_MAX_SIGNATURE = 72  # DER SEQUENCE of two 33-byte INTEGERs


class _Param(ctypes.Structure):
    """OSSL_PARAM (openssl/core.h): one typed key/value for EVP_PKEY_fromdata."""

    _fields_ = [
        ("key", c_char_p),
        ("data_type", ctypes.c_uint),
        ("data", c_void_p),
        ("data_size", c_size_t),
        ("return_size", c_size_t),
    ]


_UNSIGNED_INTEGER, _UTF8_STRING, _OCTET_STRING = 2, 4, 5  # OSSL_PARAM_* data types
_PARAM_UNMODIFIED = c_size_t(-1).value
_PUBLIC_KEY, _KEYPAIR = 0x86, 0x87  # EVP_PKEY_PUBLIC_KEY, EVP_PKEY_KEYPAIR selections


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
        ("EVP_PKEY_CTX_free", None, [c_void_p]),
        ("EVP_PKEY_keygen_init", c_int, [c_void_p]),
        ("EVP_PKEY_generate", c_int, [c_void_p, POINTER(c_void_p)]),
        ("EVP_PKEY_fromdata_init", c_int, [c_void_p]),
        ("EVP_PKEY_fromdata", c_int, [c_void_p, POINTER(c_void_p), c_int, POINTER(_Param)]),
        ("EVP_PKEY_free", None, [c_void_p]),
        ("EVP_PKEY_is_a", c_int, [c_void_p, c_char_p]),
        ("EVP_PKEY_get_octet_string_param", c_int,
         [c_void_p, c_char_p, c_char_p, c_size_t, POINTER(c_size_t)]),
        ("d2i_PKCS8_PRIV_KEY_INFO", c_void_p, [c_void_p, POINTER(c_void_p), c_long]),
        ("EVP_PKCS82PKEY", c_void_p, [c_void_p]),
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
    # keys.sm2 checks this too; repeated here because OpenSSL reports too long an ID
    # only as a generic failure.
    if len(signer_id) > MAX_ID_LENGTH:
        raise ValueError(f"signer ID longer than {MAX_ID_LENGTH} bytes")


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


def _fromdata(selection: int, fields: list[tuple[bytes, int, bytes]], what: str) -> _PKey:
    """Build an SM2 EVP_PKEY from OSSL_PARAMs (much faster than the DER decoders)."""
    buffers = [ctypes.create_string_buffer(value, len(value)) for _, _, value in fields]
    params = (_Param * (len(fields) + 1))(
        *[
            _Param(name, kind, ctypes.cast(buffer, c_void_p), len(value), _PARAM_UNMODIFIED)
            for (name, kind, value), buffer in zip(fields, buffers, strict=True)
        ],
        _Param(),  # the terminating empty OSSL_PARAM
    )
    _lib.ERR_clear_error()
    ctx = _lib.EVP_PKEY_CTX_new_from_name(None, b"SM2", None)
    if not ctx:
        raise _fail(BackendUnavailable, "OpenSSL has no SM2 key type")
    out = c_void_p()
    try:
        ok = (
            _lib.EVP_PKEY_fromdata_init(ctx) == 1
            and _lib.EVP_PKEY_fromdata(ctx, byref(out), selection, params) == 1
        )
    finally:
        _lib.EVP_PKEY_CTX_free(ctx)
        for buffer in buffers:
            ctypes.memset(buffer, 0, len(buffer))  # may hold the private scalar
    if not ok:
        if out.value:
            _lib.EVP_PKEY_free(out.value)
        raise _fail(InvalidKey, what)
    return _adopt_sm2(out.value, what)


def _key_from_parts(d: int | None, point: bytes, what: str) -> _PKey:
    fields = [(b"group", _UTF8_STRING, b"SM2"), (b"pub", _OCTET_STRING, point)]
    if d is None:
        return _fromdata(_PUBLIC_KEY, fields, what)
    # OSSL_PARAM unsigned integers are in native byte order.
    scalar = d.to_bytes(32, sys.byteorder)
    return _fromdata(_KEYPAIR, [*fields, (b"priv", _UNSIGNED_INTEGER, scalar)], what)


class PublicKey:
    """An SM2 public key held by OpenSSL."""

    __slots__ = ("_key",)

    def __init__(self, key: _PKey) -> None:
        self._key = key

    def to_der(self) -> bytes:
        return SPKI_PREFIX + self.point()

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

    __slots__ = ("_key", "_public")

    def __init__(self, key: _PKey) -> None:
        self._key = key
        self._public: PublicKey | None = None

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
        # A separate EVP_PKEY with only the point, so the public object never holds the
        # private scalar; built once, keys are immutable.
        if self._public is None:
            point = _public_point(self._key)
            self._public = PublicKey(_key_from_parts(None, point, "cannot export"))
        return self._public

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
    point = buffer.raw[: size.value]
    if len(point) != 65 or point[0] != 4:
        raise CryptoError("OpenSSL returned a public point that is not 04||x||y")
    return point


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


def public_from_point(point: bytes) -> PublicKey:
    # OpenSSL's point decoder refuses points off the curve; SM2's cofactor is 1, so
    # any on-curve point other than infinity is a valid public key.
    return PublicKey(_key_from_parts(None, point, "invalid SM2 public key"))


def load_public_der(der: bytes) -> PublicKey:
    # keys.sm2 parses and checks the SubjectPublicKeyInfo for both backends; building
    # the key from its point is several times faster than d2i_PUBKEY on OpenSSL 3.0.
    return public_from_point(parse_public_der(der))


def private_from_scalar(d: int) -> PrivateKey:
    # OpenSSL 3.0 cannot derive the public point in EVP_PKEY_fromdata, but its PKCS#8
    # decoder does when the point is absent: decode once to learn d*G.
    what = "invalid SM2 private key"
    p8 = _d2i(
        _lib.d2i_PKCS8_PRIV_KEY_INFO,
        _lib.PKCS8_PRIV_KEY_INFO_free,
        _PKCS8_NO_PUB_PREFIX + d.to_bytes(32, "big"),
        what,
    )
    try:
        point = _public_point(_adopt_sm2(_lib.EVP_PKCS82PKEY(p8), what))
    finally:
        _lib.PKCS8_PRIV_KEY_INFO_free(p8)
    return PrivateKey(_key_from_parts(d, point, what))


def load_private_der(der: bytes) -> PrivateKey:
    what = "invalid SM2 private key"
    d, stored = parse_private_der(der)
    if stored is None:
        return private_from_scalar(d)
    key = PrivateKey(_key_from_parts(d, stored, what))
    # Pairwise consistency test (as FIPS 140 does it): a stored point that is not d*G
    # would make every signature fail elsewhere, so refuse the key now. A signature
    # round trip costs less than EVP_PKEY_pairwise_check on this curve.
    try:
        PublicKey(key._key).verify(key.sign(_PCT_MESSAGE, b""), _PCT_MESSAGE, b"")
    except InvalidSignature:
        raise InvalidKey(f"{what}: public key does not match the private scalar") from None
    return key


_PCT_MESSAGE = b"pairwise consistency test"
