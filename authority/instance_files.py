"""Development secrets kept in the instance folder (never used in production).

Several workers may start at once on a fresh instance folder; the file is created
exclusively so that they all end up with the same secret rather than each their own.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path


def read_or_create_secret(
    path: Path, generate: Callable[[], str] = lambda: secrets.token_hex(32)
) -> str:
    """The secret in ``path``; created (mode 0600) with ``generate()`` if absent."""
    _, value = ensure_secret_file(path, generate)
    return value


def ensure_secret_file(
    path: Path, generate: Callable[[], str] = lambda: secrets.token_hex(32)
) -> tuple[bool, str]:
    """``(created, value)`` for the secret in ``path``, creating it exclusively if absent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another process may be between creating and writing the file.
        for _ in range(50):
            value = path.read_text().strip()
            if value:
                return False, value
            time.sleep(0.05)
        raise RuntimeError(f"{path} exists but is empty; delete it to regenerate") from None
    value = generate()
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return True, value
