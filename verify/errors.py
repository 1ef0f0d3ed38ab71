"""Errors of the license wire format and the trust bundle.

Every failure to read a license is a :class:`MalformedLicense` (the verifier turns it
into the verdict ``malformed``); every failure to accept a trust bundle is a
:class:`BundleError`. Each class carries a short wire code, and each instance a
specific reason, so callers can show a precise message without ``str(exception)``
leaking internals.
"""

from __future__ import annotations


class VerifyError(Exception):
    """Base class of the errors raised by verify/."""

    code = "verify_error"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        #: A short English description of what was wrong (safe to show; no input echoed).
        self.reason = reason


class MalformedLicense(VerifyError):
    """The QR text is not a well-formed license of this format (docs/license-format.md)."""

    code = "malformed"


class BundleError(VerifyError):
    """The trust bundle is not well formed, not signed by its root, or not the pinned root."""

    code = "bad_bundle"


class BundleRollback(BundleError):
    """The offered bundle is older (lower sequence) than the one the store already holds."""

    code = "bundle_rollback"
