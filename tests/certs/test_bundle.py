"""The trust-bundle endpoints: CBOR with a strong ETag and 304, the JSON view, the CLI."""

from __future__ import annotations

from typing import Any

from tests.certs.conftest import DEPT_CODE, person_body
from tests.certs.test_issuance import issue
from tests.certs.test_status import change


def test_bundle_endpoint_etag_and_304(app: Any, client: Any, setup_dept: str) -> None:
    from verify.bundle import TrustBundle

    issue(app, person_body())
    first = client.get("/.well-known/trust-bundle")
    assert first.status_code == 200
    assert first.mimetype == "application/cbor"
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert "max-age=" in first.headers["Cache-Control"]
    bundle = TrustBundle.load(first.data)
    assert bundle.sequence >= 1
    again = client.get("/.well-known/trust-bundle", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    same = client.get("/.well-known/trust-bundle")
    assert same.data == first.data

    view = client.get("/.well-known/trust-bundle.json").get_json()
    assert view["sequence"] == bundle.sequence
    assert view["root"]["fingerprint_sm3"] == bundle.root_fingerprint.hex()
    assert view["root"]["certificate_pem"].startswith("-----BEGIN CERTIFICATE-----")
    (key,) = view["keys"]
    assert key["department"] == DEPT_CODE
    assert sorted(key["license_types"]) == ["BIZLIC01", "QUALCERT"]
    assert key["compromised_at"] is None and key["status_list_size"] >= 1
    assert key["certificate_pem"].startswith("-----BEGIN CERTIFICATE-----")
    assert {"issued_at", "next_update"} <= set(view)

    # A status change makes a new bundle: new sequence, new ETag, the old one no longer matches.
    _, body = issue(app, person_body())
    change(app, "revoke", body["id"], "withdrawn")
    changed = client.get("/.well-known/trust-bundle", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    newer = TrustBundle.load(changed.data)
    assert newer.sequence == bundle.sequence + 1
    assert client.get("/.well-known/trust-bundle.json").get_json()["keys"][0]["revoked"] == 1


def test_bundle_cli(app: Any, runner: Any, setup_dept: str, tmp_path: Any) -> None:
    from verify.bundle import TrustBundle

    fingerprint = runner.invoke(args=["bundle", "fingerprint"])
    assert fingerprint.exit_code == 0, fingerprint.output
    pin = bytes.fromhex(fingerprint.output.strip())
    out = tmp_path / "bundle.cbor"
    result = runner.invoke(args=["bundle", "export", str(out)])
    assert result.exit_code == 0, result.output
    assert TrustBundle.load(out.read_bytes(), pinned_root=pin).sequence >= 1


def test_bundle_without_root_is_a_problem(client: Any) -> None:
    response = client.get("/.well-known/trust-bundle")
    assert response.status_code == 503
