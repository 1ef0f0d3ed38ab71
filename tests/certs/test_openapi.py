"""The OpenAPI 3.1 document: well-formed, complete, and true to what the API answers.

openapi-spec-validator is not installed in the venv, so the document is checked with
jsonschema: every schema in it must be a valid Draft 2020-12 schema (OpenAPI 3.1's
dialect), every $ref must resolve, the paths must be exactly the API's routes, and
real responses must validate against the schemas the document gives for them.
"""

from __future__ import annotations

import re
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.certs.conftest import auth, person_body


def walk_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        refs = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return refs + [r for v in node.values() for r in walk_refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in walk_refs(v)]
    return []


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def validator_for(doc: dict[str, Any], name: str) -> Draft202012Validator:
    resource = Resource(contents=doc, specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource("urn:openapi", resource)
    return Draft202012Validator(
        {"$ref": f"urn:openapi#/components/schemas/{name}"}, registry=registry
    )


def test_document_is_well_formed(client: Any) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["openapi"] == "3.1.0" and doc["info"]["title"] and doc["info"]["version"]
    for name, schema in doc["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)
        assert name
    for ref in walk_refs(doc):
        resolve(doc, ref)
    op_ids = []
    for path, item in doc["paths"].items():
        assert path.startswith("/")
        for method, op in item.items():
            assert method in {"get", "post", "put", "delete", "patch"}
            assert op["responses"] and op["operationId"]
            op_ids.append(op["operationId"])
            for param in op.get("parameters", []):
                Draft202012Validator.check_schema(param["schema"])
                if param["in"] == "path":
                    assert "{" + param["name"] + "}" in path
    assert len(op_ids) == len(set(op_ids))


def test_paths_match_the_routes(app: Any) -> None:
    from certs.openapi import document

    documented = set()
    for path, item in document()["paths"].items():
        for method in item:
            documented.add((method.upper(), "/api/v1" + re.sub(r"\{(\w+)\}", r"<\1>", path)))
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("certs_api.") and ":batch" not in rule.rule:
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                routed.add((method, rule.rule))
    assert documented == routed


def test_responses_match_the_schemas(client: Any, dept_token: str) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    issued = client.post("/api/v1/licenses", json=person_body(), headers=auth(dept_token))
    validator_for(doc, "License").validate(issued.get_json())
    status = client.get(f"/api/v1/licenses/{issued.get_json()['id']}/status")
    validator_for(doc, "Status").validate(status.get_json())
    problem = client.post(
        "/api/v1/licenses", json=person_body(type="NOSUCH01"), headers=auth(dept_token)
    )
    validator_for(doc, "Problem").validate(problem.get_json())
    batch = client.post(
        "/api/v1/licenses/batch",
        json={"items": [person_body(), person_body(fields={})]},
        headers=auth(dept_token),
    )
    validator_for(doc, "BatchResult").validate(batch.get_json())
    types = client.get("/api/v1/catalogue/types").get_json()
    for entry in types["types"]:
        validator_for(doc, "LicenseType").validate(entry)
    validator_for(doc, "IssueRequest").validate(person_body())
