"""Client records for the token endpoint: cached in the process for a moment, re-checked
by the write that issues the token.

Department systems ask for client-credentials tokens hundreds of times a second; loading
the client row for each costs a round trip and an ORM load, about a fifth of the
request. The token endpoint therefore looks clients up here: a detached copy of the row,
kept for :data:`TTL_SECONDS`. That copy is never trusted alone. The token INSERT
(:func:`oidc.tokens.save_token`) only writes if the client row still exists, is not
disabled and has the version the copy was read at (the ORM increments ``version`` on
every change), so a client disabled, deleted, re-keyed or narrowed a moment ago gets no
token, and its stale copy is dropped (:meth:`ClientCache.forget`). The price of a stale
copy is one refused request (``invalid_client``) in the second after a change, never a
token the current row would not allow.

Only the token endpoint uses this cache; every other endpoint reads the row.
"""

from __future__ import annotations

import threading
import time

from flask import Flask, current_app
from sqlalchemy.orm import Session

from oidc import clients
from oidc.clients import Client

TTL_SECONDS = 1.0
#: Bound on entries; an attacker cycling client_ids only ever evicts, never grows it.
MAX_ENTRIES = 1024
EXTENSION_KEY = "oidc.client_cache"


class ClientCache:
    """Detached copies of client rows, each kept for :data:`TTL_SECONDS`."""

    def __init__(self, ttl: float = TTL_SECONDS) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, Client]] = {}
        self._lock = threading.Lock()

    def lookup(self, session: Session, client_id: str | None) -> Client | None:
        """The enabled client ``client_id`` (a read-only detached copy), or None."""
        if not client_id:
            return None
        now = time.monotonic()
        hit = self._entries.get(client_id)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        client = clients.find(session, client_id)
        if client is None:
            self.forget(client_id)
            return None
        session.expunge(client)
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[client_id] = (now, client)
        return client

    def forget(self, client_id: str) -> None:
        """Drop the copy of ``client_id`` (it no longer matches its row)."""
        with self._lock:
            self._entries.pop(client_id, None)


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION_KEY] = ClientCache()


def cache() -> ClientCache:
    """The current app's cache."""
    found: ClientCache = current_app.extensions[EXTENSION_KEY]
    return found
