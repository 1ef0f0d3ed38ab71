"""RFC 9457 problem details for the API; readable error pages for people."""

import json

import pytest
from flask import abort

from authority.problems import MEDIA_TYPE, Problem, problem_type
from authority.web import csrf


class UnknownWidget(Problem):
    status = 404
    title = "Unknown widget"
    type = problem_type("unknown-widget")


@pytest.fixture
def api_app(app):
    @app.get("/api/v1/test/problem")
    def raise_problem():
        raise Problem(422, "Invalid holder", "check digit is wrong", field="holder.id_number")

    @app.get("/api/v1/test/class-problem")
    def raise_class_problem():
        raise UnknownWidget(detail="no widget 42")

    @app.get("/api/v1/test/crash")
    def crash():
        raise RuntimeError("database password is hunter2 at 10.0.0.7")

    @app.get("/page/crash")
    def page_crash():
        raise RuntimeError("internal detail that must not leak")

    @app.get("/page/forbidden")
    def page_forbidden():
        abort(403)

    @app.post("/api/v1/test/upload")
    def upload():
        from flask import request

        return {"size": len(request.get_data())}

    @app.post("/api/v1/test/json")
    def takes_json():
        from flask import request

        return {"got": request.get_json()}

    csrf.exempt(upload)  # a Bearer-token API, as the real API blueprints are
    csrf.exempt(takes_json)

    return app


def problem(response):
    assert response.mimetype == MEDIA_TYPE
    return json.loads(response.get_data(as_text=True))


def test_problem_renders_rfc9457_members(api_app, client):
    r = client.get("/api/v1/test/problem")
    assert r.status_code == 422
    assert problem(r) == {
        "type": "about:blank",
        "title": "Invalid holder",
        "status": 422,
        "detail": "check digit is wrong",
        "field": "holder.id_number",
    }


def test_problem_subclass_carries_its_wire_code(api_app, client):
    r = client.get("/api/v1/test/class-problem")
    assert r.status_code == 404
    assert problem(r) == {
        "type": "urn:authority:problem:unknown-widget",
        "title": "Unknown widget",
        "status": 404,
        "detail": "no widget 42",
    }


def test_extension_members_cannot_override_standard_ones():
    with pytest.raises(ValueError, match="instance"):
        Problem(400, "x", instance="/x")
    with pytest.raises(ValueError, match="4xx or 5xx"):
        Problem(302, "redirect")


def test_unknown_api_path_is_a_404_problem(client):
    r = client.get("/api/v1/no-such-thing")
    body = problem(r)
    assert r.status_code == 404 and body["status"] == 404 and body["title"] == "Not Found"


def test_wrong_method_is_a_405_problem_with_allow(api_app, client):
    r = client.delete("/api/v1/test/problem")
    assert r.status_code == 405 and problem(r)["status"] == 405
    assert "GET" in r.headers["Allow"]


def test_too_large_body_is_a_413_problem(api_app, app, client):
    limit = app.config["MAX_CONTENT_LENGTH"]
    r = client.post("/api/v1/test/upload", data=b"x" * (limit + 1))
    assert r.status_code == 413 and problem(r)["status"] == 413
    assert client.post("/api/v1/test/upload", data=b"x" * 10).json == {"size": 10}


def test_unexpected_exception_is_a_generic_500_without_detail(api_app, client, capsys):
    r = client.get("/api/v1/test/crash")
    body = problem(r)
    assert r.status_code == 500
    assert body["type"] == "urn:authority:problem:server-error"
    assert body["request_id"] == r.headers["X-Request-ID"]
    text = r.get_data(as_text=True)
    assert "hunter2" not in text and "RuntimeError" not in text and "10.0.0.7" not in text
    # The traceback is logged, with the request id, for the operator.
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    errors = [e for e in logged if e["level"] == "ERROR"]
    assert errors and errors[0]["request_id"] == body["request_id"]
    assert "RuntimeError" in errors[0]["exception"]
    assert "hunter2" not in json.dumps(logged)


def test_page_errors_are_readable_pages_in_chinese_by_default(api_app, client):
    r = client.get("/no-such-page")
    assert r.status_code == 404 and r.mimetype == "text/html"
    assert "页面不存在" in r.get_data(as_text=True)
    r = client.get("/no-such-page?lang=en")
    assert "Page not found" in r.get_data(as_text=True)
    r = client.get("/page/forbidden", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert r.status_code == 403 and "Forbidden" in r.get_data(as_text=True)


def test_page_crash_shows_request_id_but_no_detail(api_app, client):
    r = client.get("/page/crash")
    text = r.get_data(as_text=True)
    assert r.status_code == 500 and r.mimetype == "text/html"
    assert "服务器内部错误" in text and r.headers["X-Request-ID"] in text
    assert "internal detail" not in text and "RuntimeError" not in text


def test_client_asking_for_json_gets_a_problem_outside_the_api(client):
    r = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert r.status_code == 404 and problem(r)["status"] == 404


def test_malformed_json_is_a_400_problem(api_app, client):
    r = client.post(
        "/api/v1/test/json", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400 and problem(r)["title"] == "Bad Request"
    assert client.post("/api/v1/test/json", json={"a": 1}).json == {"got": {"a": 1}}
