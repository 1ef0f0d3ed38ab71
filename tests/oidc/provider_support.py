"""Helpers for the provider's tests: people, clients, the real login form, PKCE, codes.

Everything goes through HTTP (Flask test client) except creating people and clients,
which use the same functions as the CLI and the demo seeder.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

ID_NUMBER = "110101199003074514"
OTHER_ID_NUMBER = "11010519491231002X"
PASSWORD = "correct-horse-battery-9"
REDIRECT_URI = "https://rp.example.com/callback"


def make_person(
    app: Any, id_number: str = ID_NUMBER, *, name: str = "张三", phone: str | None = "13800138000"
) -> int:
    from authority import db
    from oidc import accounts

    with app.app_context(), db.session_scope(app) as session:
        person = accounts.create_person(
            session,
            id_number=id_number,
            name=name,
            phone=phone,
            phone_verified=True,
            password=PASSWORD,
        )
        return int(person.id)


def make_client(
    app: Any,
    *,
    provincial: bool = False,
    department: str | None = None,
    resource_server: bool = False,
    operator: bool = True,
    **metadata: Any,
) -> tuple[str, str | None]:
    """Create a client through the same validation as registration; (client_id, secret)."""
    from authority import db
    from oidc import clients, registration

    data: dict[str, Any] = {
        "client_name": "测试应用 Test RP",
        "redirect_uris": [REDIRECT_URI],
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid profile phone id_number organisation",
    }
    if provincial:
        data["subject_type"] = "public"
    data.update(metadata)
    with app.app_context(), db.session_scope(app) as session:
        checked = registration.validate_metadata(data, operator=operator)
        client, secret = clients.create(
            session,
            checked,
            provincial=provincial,
            department=department,
            resource_server=resource_server,
            created_by="operator",
        )
        return client.client_id, secret


def hidden_fields(page: str) -> dict[str, str]:
    fields = {}
    for match in re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page):
        fields[html.unescape(match.group(1))] = html.unescape(match.group(2))
    return fields


def login(
    http: Any,
    id_number: str = ID_NUMBER,
    password: str = PASSWORD,
    next_url: str = "/",
    *,
    page_url: str | None = None,
) -> Any:
    """Log in through the real login form (GET the page for its CSRF token, POST it)."""
    page = http.get(page_url or "/login?" + urlencode({"next": next_url}))
    assert page.status_code == 200, page.status_code
    fields = hidden_fields(page.get_data(as_text=True))
    fields.update(login=id_number, password=password)
    return http.post("/login", data=fields)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    return verifier, challenge.decode()


def authorize_params(client_id: str, **extra: Any) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile",
        "state": "st-" + secrets.token_hex(4),
        "nonce": "n-" + secrets.token_hex(4),
    }
    params.update({k: v for k, v in extra.items() if v is not None})
    return params


def location_params(response: Any) -> dict[str, str]:
    assert response.status_code in (302, 303), (
        response.status_code,
        response.get_data(as_text=True)[:500],
    )
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    return {k: v[0] for k, v in query.items()}


def approve(http: Any, page_response: Any, decision: str = "allow") -> Any:
    """Answer the consent page shown by ``page_response``."""
    page = page_response.get_data(as_text=True)
    assert 'id="consent-allow"' in page, page[:2000]
    fields = hidden_fields(page)
    fields["decision"] = decision
    return http.post("/authorize/consent", data=fields)


def get_code(http: Any, client_id: str, **extra: Any) -> tuple[str, dict[str, str]]:
    """Run /authorize for a logged-in browser (consenting if asked); (code, params)."""
    params = authorize_params(client_id, **extra)
    response = http.get("/authorize?" + urlencode(params))
    if response.status_code == 200:
        response = approve(http, response)
    result = location_params(response)
    assert "code" in result, result
    return result["code"], params


def basic_auth(client_id: str, secret: str | None) -> dict[str, str]:
    """The Authorization header of client_secret_basic."""
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def token_request(
    http: Any, client_id: str, secret: str | None, data: dict[str, str], *, basic: bool = True
) -> Any:
    headers = {}
    body = dict(data)
    if secret is not None and basic:
        headers = basic_auth(client_id, secret)
    elif secret is not None:
        body.update(client_id=client_id, client_secret=secret)
    else:
        body["client_id"] = client_id
    return http.post("/token", data=body, headers=headers)


def redeem(
    http: Any, client_id: str, secret: str | None, code: str, verifier: str | None = None
) -> Any:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    if verifier:
        data["code_verifier"] = verifier
    return token_request(http, client_id, secret, data)


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    def dec(part: str) -> bytes:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

    h, p, s = token.split(".")
    return json.loads(dec(h)), json.loads(dec(p)), dec(s), f"{h}.{p}".encode()


@pytest.fixture
def person(app: Any) -> int:
    return make_person(app)


@pytest.fixture
def rp(app: Any) -> tuple[str, str | None]:
    """A confidential relying party (client_secret_basic)."""
    return make_client(app)


#: The credit code the department test clients are bound to.
DEPARTMENT = "91110105MA01ABCD5F"


@pytest.fixture
def department_client(app: Any) -> tuple[str, str]:
    """A department system: client credentials, licenses:issue and licenses:status."""
    client_id, secret = make_client(
        app,
        grant_types=["client_credentials"],
        response_types=[],
        redirect_uris=None,
        scope="licenses:issue licenses:status",
        department=DEPARTMENT,
    )
    assert secret is not None
    return client_id, secret


@pytest.fixture
def browser_client(app: Any, person: int) -> Any:
    """A test client logged in as the person through the login form."""
    http = app.test_client()
    response = login(http)
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:1000]
    return http
