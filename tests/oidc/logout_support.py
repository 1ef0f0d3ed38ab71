"""A real back-channel logout receiver on a loopback port, and logout token checks.

The receiver is a ``http.server`` in a thread: it records every POST body and answers
as told (200, an error status, or hanging until released), like a relying party's
``backchannel_logout_uri`` would. Logout tokens are verified with joserfc against the
provider's published JWKS, independently of the provider's own signing code.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

EVENT = "http://schemas.openid.net/event/backchannel-logout"


class Receiver:
    """Records logout tokens POSTed to ``http://127.0.0.1:<port>/backchannel``."""

    def __init__(self, status: int = 200, *, hang: bool = False) -> None:
        self.status = status
        self.hang = hang
        self.release = threading.Event()
        self.bodies: list[dict[str, list[str]]] = []
        self.headers: list[dict[str, str]] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode()
                with receiver.arrived:
                    receiver.bodies.append(parse_qs(body))
                    receiver.headers.append(dict(self.headers.items()))
                    receiver.arrived.notify_all()
                if receiver.hang:
                    receiver.release.wait(30)
                    return
                self.send_response(receiver.status)
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/backchannel"

    @property
    def tokens(self) -> list[str]:
        return [b["logout_token"][0] for b in self.bodies if "logout_token" in b]

    def wait_for(self, count: int, timeout: float = 20) -> list[str]:
        """The logout tokens once ``count`` have arrived (fails after ``timeout``)."""
        end = time.monotonic() + timeout
        with self.arrived:
            while len(self.bodies) < count:
                remaining = end - time.monotonic()
                assert remaining > 0, f"expected {count} logout token(s), got {len(self.bodies)}"
                self.arrived.wait(remaining)
        return self.tokens

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def verify_logout_token(token: str, jwks: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of a logout token whose signature verifies against ``jwks``."""
    import json

    from joserfc import jws
    from joserfc.jwk import KeySet

    # joserfc knows no SM2 curve; the SM2SM3 key is not needed for these tokens.
    keys = KeySet.import_key_set({"keys": [k for k in jwks["keys"] if k.get("crv") != "SM2"]})
    result = jws.deserialize_compact(token, keys, algorithms=["RS256", "ES256"])
    return dict(result.headers()), json.loads(result.payload)


def check_logout_claims(claims: dict[str, Any], *, issuer: str, client_id: str) -> None:
    """The claims Back-Channel Logout 1.0 §2.4 requires (and forbids)."""
    assert claims["iss"] == issuer
    assert claims["aud"] == client_id
    assert isinstance(claims["iat"], int) and isinstance(claims["exp"], int)
    assert 0 < claims["exp"] - claims["iat"] <= 300
    assert abs(claims["iat"] - time.time()) < 120
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 16
    assert claims["events"] == {EVENT: {}}
    assert "sid" in claims or "sub" in claims
    assert "nonce" not in claims
