"""A verifier's local bundle store: keeps the newest trust bundle it has seen.

It refuses a bundle with a lower sequence than the one it holds (rollback protection,
docs/trust-bundle.md "Rollback"), a different bundle under the same sequence, and a
bundle from a root other than the held one's unless that new root is pinned explicitly
(trust on first use). Writes are atomic: a crash leaves the old bundle or the new one.
"""

from __future__ import annotations

import hmac
import os
import tempfile
from pathlib import Path

from verify.bundle import TrustBundle
from verify.errors import BundleError, BundleRollback

FILENAME = "trust-bundle.cbor"


class BundleStore:
    """The newest accepted trust bundle, kept in ``directory``."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.path = self.directory / FILENAME

    def current(self, *, pinned_root: bytes | None = None) -> TrustBundle | None:
        """The held bundle, checked again on every load; None if the store is empty.

        Raises BundleError if the stored file no longer verifies (it is never replaced
        silently: that would lose the rollback floor).
        """
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise BundleError(f"the stored trust bundle cannot be read ({exc.strerror})") from None
        return TrustBundle.load(data, pinned_root=pinned_root)

    def offer(self, data: bytes, *, pinned_root: bytes | None = None) -> TrustBundle:
        """Check ``data``; keep it if newer than the held bundle. Returns the newest bundle.

        Raises BundleError if ``data`` does not verify, BundleRollback if it is older
        than (or conflicts with) the held bundle.
        """
        offered = TrustBundle.load(data, pinned_root=pinned_root)
        # The held bundle is read without the pin: it is only the rollback floor here.
        held = self.current()
        if held is not None:
            if not hmac.compare_digest(held.root_fingerprint, offered.root_fingerprint):
                if pinned_root is None:
                    raise BundleError(
                        "the offered bundle has another root than the held one; pin the new "
                        "root explicitly to accept it"
                    )
                # An explicitly pinned new root replaces the old one: sequences are counted
                # per root, so they are not compared across the change.
            elif offered.sequence < held.sequence:
                raise BundleRollback(
                    f"the offered bundle (sequence {offered.sequence}) is older than the held "
                    f"one (sequence {held.sequence})"
                )
            elif offered.sequence == held.sequence:
                if offered.data != held.data:
                    raise BundleRollback(
                        f"the offered bundle differs from the held one under the same "
                        f"sequence {held.sequence}"
                    )
                return held
        self._write(data)
        return offered

    def _write(self, data: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".trust-bundle-", dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
