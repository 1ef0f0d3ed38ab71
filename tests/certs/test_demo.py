"""The demo seeder: idempotent, and its licenses verify against the bundle."""

from __future__ import annotations

from typing import Any

from certs.models import License
from tests.certs.conftest import count


def test_demo_seeder_is_idempotent(app: Any, root: Any) -> None:
    from authority import db
    from certs import demo, holders
    from tests.certs.test_issuance import bundle_of
    from verify.decode import decode
    from verify.verifier import verify

    with app.test_request_context(), db.session_scope(app) as session:
        first = list(demo.seed_demo_licenses(session))
    assert count(app, License) == 3
    with app.test_request_context(), db.session_scope(app) as session:
        second = list(demo.seed_demo_licenses(session))
        mine = holders.licenses_for_holder(session, demo.DEMO_PERSON_ID.lower())
        company = holders.licenses_for_holder(session, demo.DEMO_ORG_CODE)
    assert count(app, License) == 3
    assert [line for line in first if "licenses:" in line] == [
        line for line in second if "licenses:" in line
    ]
    assert len(mine) == 2 and {lic.type_code for lic in mine} == {"QUALCERT"}
    assert len(company) == 1 and company[0].type_code == "BIZLIC01"
    bundle = bundle_of(app)
    for lic in [*mine, *company]:
        decoded = decode(lic.qr_text)
        assert str(verify(decoded, bundle, decoded.claims.iat + 5).state) == "valid"


def test_init_demo_cli(app: Any, app_config: dict[str, Any]) -> None:
    """`authority init --demo`, as typed, twice: the second run adds nothing."""
    import subprocess
    import sys

    from certs import demo
    from tests.certs.test_issue_batch_cli import ROOT, env_for

    outputs = []
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, "-m", "authority", "init", "--demo"],
            env=env_for(app_config),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    assert demo.DEMO_DEPARTMENT_CODE in outputs[0]
    assert "demo licenses: BIZLIC01-" in outputs[0]
    assert "(already present)" in outputs[1]
    assert count(app, License) == 3


def test_demo_schemas_name_every_field_in_both_languages() -> None:
    """The quick start's pages show field titles, never raw schema keys."""
    from certs import demo
    from certs.catalogue import field_label

    for schema in (demo.BUSINESS_SCHEMA, demo.QUALIFICATION_SCHEMA):
        for name in schema["properties"]:
            zh, en = field_label(schema, name, "zh-CN"), field_label(schema, name, "en")
            assert zh != name and en != name and zh != en, name


def test_demo_department_client_issues_a_license(app: Any, client: Any, runner: Any) -> None:
    """The README's first license: the seeded department client, as a newcomer uses it."""
    import base64

    from authority.cli import main
    from oidc.demo_client import DEMO_DEPARTMENT_CLIENT_ID, DEMO_DEPARTMENT_CLIENT_SECRET

    seeded = runner.invoke(main, ["init", "--demo"])
    assert seeded.exit_code == 0, seeded.output
    assert f"client_id {DEMO_DEPARTMENT_CLIENT_ID}" in seeded.output
    basic = base64.b64encode(
        f"{DEMO_DEPARTMENT_CLIENT_ID}:{DEMO_DEPARTMENT_CLIENT_SECRET}".encode()
    ).decode()
    token = client.post(
        "/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert token.status_code == 200, token.json
    issued = client.post(
        "/api/v1/licenses",
        json={
            "type": "QUALCERT",
            "holder": {"id": "11010519900307451X", "name": "张三"},
            "fields": {"qualification": "电工", "level": 3},
        },
        headers={"Authorization": f"Bearer {token.json['access_token']}"},
    )
    assert issued.status_code == 201, issued.json
    assert issued.json["issuer"] == "11110000MB0DEM0178"
    assert count(app, License) == 4  # the three demo licenses and this one
