"""prompt, max_age, login_hint and acr_values (OIDC Core §3.1.2.1, §3.1.2.6)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.oidc.provider_support import (
    ID_NUMBER,
    authorize_params,
    get_code,
    jwt_parts,
    location_params,
    login,
    redeem,
)


def _get(http: Any, client_id: str, **extra: Any) -> Any:
    return http.get("/authorize?" + urlencode(authorize_params(client_id, **extra)))


def test_not_logged_in_goes_to_login_and_comes_back(app: Any, person: int, rp: Any) -> None:
    client_id, _ = rp
    http = app.test_client()
    params = authorize_params(client_id, login_hint=ID_NUMBER)
    response = http.get("/authorize?" + urlencode(params))
    assert response.status_code == 303
    target = urlsplit(response.headers["Location"])
    assert target.path == "/login"
    query = parse_qs(target.query)
    assert query["login_hint"] == [ID_NUMBER]
    next_url = query["next"][0]
    assert next_url.startswith("/authorize?")
    back = login(http, next_url=next_url)
    assert back.headers["Location"].endswith(next_url)
    consent = http.get(next_url)
    assert consent.status_code == 200


def test_prompt_none_without_session_is_login_required(app: Any, person: int, rp: Any) -> None:
    client_id, _ = rp
    result = location_params(_get(app.test_client(), client_id, prompt="none"))
    assert result["error"] == "login_required"
    assert result["iss"] == "http://127.0.0.1:5000"


def test_prompt_none_without_consent_is_consent_required(browser_client: Any, rp: Any) -> None:
    client_id, _ = rp
    result = location_params(_get(browser_client, client_id, prompt="none"))
    assert result["error"] == "consent_required"


def test_prompt_none_with_session_and_consent_issues_code(browser_client: Any, rp: Any) -> None:
    client_id, _ = rp
    get_code(browser_client, client_id)
    result = location_params(_get(browser_client, client_id, prompt="none"))
    assert "code" in result


def test_prompt_none_combined_is_invalid(browser_client: Any, rp: Any) -> None:
    client_id, _ = rp
    result = location_params(_get(browser_client, client_id, prompt="none login"))
    assert result["error"] == "invalid_request"


def test_prompt_consent_shows_page_again(browser_client: Any, rp: Any) -> None:
    client_id, _ = rp
    get_code(browser_client, client_id)
    assert _get(browser_client, client_id, prompt="consent").status_code == 200


def test_prompt_login_forces_login_once(browser_client: Any, rp: Any) -> None:
    client_id, _ = rp
    get_code(browser_client, client_id)
    response = _get(browser_client, client_id, prompt="login")
    assert response.status_code == 303
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["prompt"] == ["login"]
    next_url = query["next"][0]
    assert "prompt" not in parse_qs(urlsplit(next_url).query)
    time.sleep(1.1)  # auth_time has one-second resolution
    back = login(browser_client, page_url=response.headers["Location"])
    assert back.status_code in (302, 303)
    result = location_params(browser_client.get(next_url))
    assert "code" in result


def test_max_age_exceeded_requires_login(browser_client: Any, rp: Any) -> None:
    client_id, _ = rp
    get_code(browser_client, client_id)
    time.sleep(1.1)
    response = _get(browser_client, client_id, max_age="0")
    assert response.status_code == 303 and "/login" in response.headers["Location"]
    result = location_params(_get(browser_client, client_id, max_age="0", prompt="none"))
    assert result["error"] == "login_required"


def test_max_age_not_exceeded_and_auth_time_in_id_token(browser_client: Any, rp: Any) -> None:
    client_id, secret = rp
    code, _ = get_code(browser_client, client_id, max_age="3600")
    token = redeem(browser_client, client_id, secret, code).json
    _, claims, _, _ = jwt_parts(token["id_token"])
    assert time.time() - claims["auth_time"] < 3600


def test_invalid_max_age(browser_client: Any, rp: Any) -> None:
    client_id, _ = rp
    result = location_params(_get(browser_client, client_id, max_age="soon"))
    assert result["error"] == "invalid_request"


def test_acr_values_mfa_steps_up(browser_client: Any, rp: Any) -> None:
    client_id, _ = rp
    response = _get(browser_client, client_id, acr_values="urn:authority:acr:mfa")
    assert response.status_code == 303
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query.get("mfa") == ["1"]
    result = location_params(
        _get(browser_client, client_id, acr_values="urn:authority:acr:mfa", prompt="none")
    )
    assert result["error"] == "interaction_required"


def test_request_objects_are_refused(browser_client: Any, rp: Any) -> None:
    client_id, _ = rp
    result = location_params(_get(browser_client, client_id, request="eyJhbGciOiJub25lIn0.e30."))
    assert result["error"] == "request_not_supported"
