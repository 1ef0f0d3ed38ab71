"""Password hashing with argon2id (RFC 9106, Argon2 Memory-Hard Function).

Parameters follow RFC 9106 clause 4, second recommended option (t=3, m=64 MiB, p=4),
which is argon2-cffi's default profile. A hash made with other parameters (older
ones, or the cheaper profile used by the test suite) still verifies, and
:func:`verify` reports that it should be re-hashed, which login does at once.

Password policy (NIST SP 800-63B clause 5.1.1.2): at least 8 characters, at most 128
(to bound hashing cost), no composition rules, and not the person's own ID number or
phone number.
"""

from __future__ import annotations

import contextlib
import hmac
from dataclasses import dataclass
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app, has_app_context

MIN_LENGTH = 8
MAX_LENGTH = 128

#: app.config key: a dict of argon2 parameters (time_cost, memory_cost, parallelism)
#: overriding the RFC 9106 profile.
CONFIG_KEY = "OIDC_ARGON2_PARAMETERS"
#: With AUTHORITY_ENV=testing (and only then) a cheaper argon2id profile keeps the test
#: suite fast; hashes made with it are re-hashed at the next login elsewhere.
TESTING_PARAMETERS = {"time_cost": 1, "memory_cost": 8192, "parallelism": 1}


class PasswordPolicyError(ValueError):
    """A new password breaks the policy; ``reason`` is the i18n message key suffix."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def hasher() -> PasswordHasher:
    """The hasher with the configured parameters (RFC 9106 profile by default)."""
    params: dict[str, int] = {}
    if has_app_context():
        settings = current_app.extensions.get("authority.settings")
        if getattr(settings, "is_testing", False):
            params = dict(TESTING_PARAMETERS)
        params.update(current_app.config.get(CONFIG_KEY) or {})
    return PasswordHasher(**params)


def hash_password(password: str) -> str:
    """An argon2id PHC string for ``password``."""
    return hasher().hash(password)


@dataclass(frozen=True)
class Verification:
    ok: bool
    needs_rehash: bool = False


def verify(stored_hash: str | None, password: str) -> Verification:
    """Check ``password`` against ``stored_hash`` in time that does not depend on the cause.

    A missing hash (unknown login, or no password set) still costs one argon2
    verification, against a fixed dummy hash, so that the response time does not
    tell an unknown login from a wrong password.
    """
    ph = hasher()
    if stored_hash is None:
        with contextlib.suppress(VerificationError):
            ph.verify(_dummy_hash(ph), password)
        return Verification(ok=False)
    try:
        ph.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return Verification(ok=False)
    return Verification(ok=True, needs_rehash=ph.check_needs_rehash(stored_hash))


def _dummy_hash(ph: PasswordHasher) -> str:
    return _dummy_hash_for(ph.time_cost, ph.memory_cost, ph.parallelism, ph.hash_len, ph.salt_len)


@lru_cache(maxsize=4)
def _dummy_hash_for(
    time_cost: int, memory_cost: int, parallelism: int, hash_len: int, salt_len: int
) -> str:
    # Made with the current parameters so that verifying it costs what a real one does;
    # cached (a constant, not state) so that an unknown login costs one verification,
    # not a hash plus a verification.
    ph = PasswordHasher(
        time_cost=time_cost,
        memory_cost=memory_cost,
        parallelism=parallelism,
        hash_len=hash_len,
        salt_len=salt_len,
    )
    return ph.hash("authority-dummy-password-for-uniform-timing")


def check_policy(password: str, *, forbidden: tuple[str, ...] = ()) -> None:
    """Raise :class:`PasswordPolicyError` if ``password`` may not be used."""
    if len(password) < MIN_LENGTH:
        raise PasswordPolicyError("too_short")
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError("too_long")
    folded = password.strip().upper()
    for value in forbidden:
        if value and hmac.compare_digest(folded.encode(), value.strip().upper().encode()):
            raise PasswordPolicyError("is_identifier")
