"""``authority clients ...`` as the operator types it."""

from __future__ import annotations

import json
from typing import Any

from tests.oidc.provider_support import token_request

DEPARTMENT = "91110105MA01ABCD5F"


def _create(runner: Any, *args: str) -> dict[str, Any]:
    result = runner.invoke(args=["clients", "create", "--json", *args])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def test_department_client_lifecycle(app: Any, client: Any, runner: Any) -> None:
    created = _create(
        runner,
        "--name",
        "市场监管局系统",
        "--grant-type",
        "client_credentials",
        "--scope",
        "licenses:issue",
        "--scope",
        "licenses:status",
        "--department",
        DEPARTMENT,
    )
    client_id, secret = created["client_id"], created["client_secret"]
    assert created["scope"] == "licenses:issue licenses:status"
    token = token_request(client, client_id, secret, {"grant_type": "client_credentials"})
    assert token.status_code == 200
    listed = runner.invoke(args=["clients", "list", "--json"])
    rows = json.loads(listed.stdout)
    assert rows[0]["department"] == DEPARTMENT and rows[0]["client_id"] == client_id
    shown = runner.invoke(args=["clients", "show", client_id])
    assert secret not in shown.stdout and client_id in shown.stdout
    assert runner.invoke(args=["clients", "disable", client_id]).exit_code == 0
    refused = token_request(client, client_id, secret, {"grant_type": "client_credentials"})
    assert refused.status_code == 401
    assert runner.invoke(args=["clients", "enable", client_id]).exit_code == 0
    assert runner.invoke(args=["clients", "delete", client_id, "--yes"]).exit_code == 0
    assert runner.invoke(args=["clients", "show", client_id]).exit_code != 0


def test_provincial_web_client(runner: Any) -> None:
    created = _create(
        runner,
        "--name",
        "省政务服务网",
        "--redirect-uri",
        "https://portal.example.gov.cn/cb",
        "--provincial",
        "--scope",
        "openid profile",
    )
    assert created["subject_type"] == "public"
    assert created["grant_types"] == ["authorization_code", "refresh_token"]
    assert created["client_secret"]


def test_invalid_input_is_refused_with_reason(runner: Any) -> None:
    result = runner.invoke(
        args=["clients", "create", "--name", "x", "--redirect-uri", "http://example.com/cb"]
    )
    assert result.exit_code != 0 and "invalid_redirect_uri" in result.output
    bad_code = runner.invoke(
        args=[
            "clients",
            "create",
            "--name",
            "x",
            "--grant-type",
            "client_credentials",
            "--department",
            "91110105MA01ABCD20",
        ]
    )
    assert bad_code.exit_code != 0 and "--department" in bad_code.output
    unknown = runner.invoke(args=["clients", "disable", "no-such-client"])
    assert unknown.exit_code != 0 and "no client" in unknown.output


def test_initial_token_command(runner: Any) -> None:
    result = runner.invoke(args=["clients", "initial-token", "--uses", "2", "--days", "1"])
    assert result.exit_code == 0
    assert len(result.stdout.strip()) == 43


def test_demo_client_is_seeded_and_works(app: Any, client: Any, runner: Any) -> None:
    from authority.cli import main
    from oidc.demo_client import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

    first = runner.invoke(main, ["init", "--demo"])
    assert first.exit_code == 0, first.output
    assert f"client_id {DEMO_CLIENT_ID} / client_secret {DEMO_CLIENT_SECRET}" in first.output
    again = runner.invoke(main, ["init", "--demo"])  # idempotent
    assert again.exit_code == 0, again.output
    listed = json.loads(runner.invoke(args=["clients", "list", "--json"]).stdout)
    assert [c["client_id"] for c in listed].count(DEMO_CLIENT_ID) == 1
    refused = token_request(
        client, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, {"grant_type": "client_credentials"}
    )
    # Authenticated (the secret is right) but not registered for client credentials.
    assert refused.json["error"] == "unauthorized_client"
