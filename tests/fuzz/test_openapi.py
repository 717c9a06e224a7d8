"""The OpenAPI document: valid, complete against the app's routes, and its examples true."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import schemathesis
from openapi_spec_validator import validate
from starlette.routing import Route

from callmask.bootstrap import create_app
from callmask.config import Settings
from callmask.domain.errors import Code
from callmask.http import openapi
from tests.conftest import Live
from tests.fuzz.conftest import Users


def _routed(settings: Settings) -> set[tuple[str, str]]:
    """(method, path) of every route, a trailing slash folded into the path without it."""
    found = set()
    for route in create_app(settings).routes:
        assert isinstance(route, Route), route
        path = route.path.rstrip("/") if route.path != "/" else route.path
        for method in route.methods or ():
            if method != "HEAD":  # Starlette adds HEAD to every GET
                found.add((method, path))
    return found


def _documented() -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in openapi.document()["paths"].items()
        for method in item
    }


def test_document_is_valid_openapi() -> None:
    validate(openapi.document())
    schemathesis.openapi.from_dict(openapi.document())  # loads: every $ref resolves


def test_every_route_is_documented_and_every_documented_operation_routed(
    settings: Settings,
) -> None:
    routed, documented = _routed(settings), _documented()
    assert routed - documented == set()
    assert documented - routed == set()


def test_every_api_path_also_answers_with_a_trailing_slash(settings: Settings) -> None:
    paths = {route.path for route in create_app(settings).routes if isinstance(route, Route)}
    for path in openapi.document()["paths"]:
        if path.startswith(openapi.PREFIX):
            assert path + "/" in paths, path


def test_error_schema_lists_every_code_and_the_table_describes_each() -> None:
    document = openapi.document()
    listed = document["components"]["schemas"]["Error"]["properties"]["code"]["enum"]
    assert sorted(listed) == sorted(int(code) for code in Code if code is not Code.OK)
    table = document["info"]["description"]
    for code in listed:
        row = next(line for line in table.splitlines() if line.startswith(f"| {code} |"))
        assert row.count("|") == 4 and row.split("|")[3].strip(), row


def test_every_operation_has_examples(settings: Settings) -> None:
    for path, item in openapi.document()["paths"].items():
        for method, operation in item.items():
            for status, answer in operation["responses"].items():
                if status == "200" and path.startswith(openapi.PREFIX):
                    assert answer["content"]["application/json"]["examples"], (method, path)
            body = operation.get("requestBody")
            if body is not None:
                assert body["content"]["application/json"]["examples"], (method, path)
                assert body["content"]["text/plain"]["examples"], (method, path)


def _real(value: Any, live: Live, users: Users) -> Any:
    """An example's placeholders as the live server's credentials and numbers."""
    if isinstance(value, dict):
        swapped = {key: _real(item, live, users) for key, item in value.items()}
        if swapped.get("userId") == "acme":
            swapped["userId"] = "acme-ops"  # every permission, so the report answers too
        return swapped
    if not isinstance(value, str | int):
        return value
    placeholders: dict[object, object] = {
        "TOKEN": users.analyst_token,
        "ROUTER_TOKEN": live.router_token,
        "SSID": users.ssid,
        "order-42": "order-1",  # a seeded masking's
        "+918040001000": live.pool[0],
        918040001000: int(live.pool[0][1:]),
    }
    return placeholders.get(value, value)


def _request_examples() -> list[tuple[str, str, str, str]]:
    found = []
    for path, item in openapi.document()["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {})
            for media_type in ("application/json", "text/plain"):
                for name in content.get(media_type, {}).get("examples", {}):
                    found.append((method.upper(), path, media_type, name))
    return found


@pytest.mark.parametrize(
    ("method", "path", "media_type", "name"),
    _request_examples(),
    ids=[f"{m} {p} {t} {n}" for m, p, t, n in _request_examples()],
)
def test_request_example_is_answered_as_documented(
    live: Live, users: Users, method: str, path: str, media_type: str, name: str
) -> None:
    operation = openapi.document()["paths"][path][method.lower()]
    json_example = operation["requestBody"]["content"]["application/json"]["examples"][name]
    sent = _real(json_example["value"], live, users)
    if path.endswith("/Masking/set"):
        sent["m2"] = 919812345681  # not a seeded pair: a new masking
    response = live.post(path, content=orjson.dumps(sent), headers={"Content-Type": media_type})
    answer = response.json()
    assert response.status_code == 200
    # unset (the one example that ends maskings) runs after set in each server: a fresh one
    # has its seeded maskings on the first DID, so it matches.
    assert answer["status"] == "success", (name, sent, answer)
    schema = schemathesis.openapi.from_dict(openapi.document())
    case = schema[path][method].Case(body=sent, media_type="application/json")
    case.validate_response(response)


def test_route_query_example_is_answered_as_documented(live: Live, users: Users) -> None:
    operation = openapi.document()["paths"][openapi.PREFIX + "/Masking/route"]["get"]
    query = {
        parameter["name"]: _real(parameter["example"], live, users)
        for parameter in operation["parameters"]
        if parameter["name"] in ("mask", "caller")
    }
    response = live.get(
        openapi.PREFIX + "/Masking/route",
        params=query,
        headers={"Authorization": f"Bearer {live.router_token}"},
    )
    answer = response.json()
    assert answer["status"] == "success" and answer["action"] == "connect", answer
