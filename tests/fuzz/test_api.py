"""Schemathesis against the served OpenAPI document, every operation, on a real socket.

Each example is a request schemathesis generates from the document (valid or deliberately
invalid), part of the time given real credentials and real phone numbers so it gets past
authentication and validation into the use cases. Every answer is checked (no 5xx, no
stack trace or HTML, the JSON envelope with a known code under /api/v2, conformance to the
document), and a rejected request must leave every table as it was.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
import pytest
import requests
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from callmask.http import openapi
from tests.fuzz.harness import (
    CURSORS,
    EXAMPLES,
    changed_tables,
    check_answer,
    fuzz_settings,
    snapshot,
)
from tests.support import Live, Users

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Errors are HTTP 200 by the vendor's contract, so schemathesis' negative_data_rejection
# (expects 4xx for invalid data) and ignored_auth (expects 401/403) do not apply.

# Operations that only read: no answer of theirs, accepted or not, may change stored data.
WRITERS = {("POST", "/api/v2/Masking/set"), ("POST", "/api/v2/Masking/unset")}
WRITERS |= {("POST", "/api/v2/auth/ssid"), ("POST", "/api/v2/Masking/callEvent")}
# Operations whose body is not parameters (callEvent's is the call event): credentials go in
# the URL, as the SIP proxy sends them.
URL_CREDENTIALS = {"/api/v2/Masking/callEvent"}

OPERATIONS = [
    (method.upper(), path) for path, item in openapi.document()["paths"].items() for method in item
]

# Real parties and DIDs (the live fixture's pool and account "other"'s), in the forms clients
# send them: E.164, international digits, a bare JSON number, national with a trunk 0.
PARTIES = ["+919876543210", "+919812345678", "+919812345679", "+919812345680"]
DIDS = ["+918040000000", "+918040000001", "+918040000002", "+918050000000"]
NUMBER_FIELDS = ("m1", "m2", "mask", "caller", "party")


def _spellings(number: str) -> list[object]:
    digits = number[1:]
    return [number, digits, int(digits), "0" + digits[2:], digits[2:]]


NUMBERS = st.sampled_from(PARTIES + DIDS).flatmap(lambda n: st.sampled_from(_spellings(n)))
EXPIRIES = st.one_of(st.integers(-5, 5), st.integers(1, 50_000), st.sampled_from(["1", "-1"]))
EVENT_IDS = st.sampled_from(["order-1", "order-2", ""])


def _credentials(live: Live, users: Users) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """(parameters, headers) per kind of caller, real and bad."""
    return {
        "as generated": ({}, {}),
        "client": ({"userId": "acme", "token": live.client_token}, {}),
        "analyst": ({"userId": "acme-ops", "token": users.analyst_token}, {}),
        "router": ({"userId": "sip", "token": live.router_token}, {}),
        "bearer": ({}, {"Authorization": f"Bearer {live.router_token}"}),
        "ssid": ({"ssid": users.ssid}, {}),
        "wrong-token": ({"userId": "acme", "token": "x" + live.client_token[1:]}, {}),
        "unknown-user": ({"userId": "nobody", "token": live.client_token}, {}),
        "both": ({"userId": "acme", "token": live.client_token, "ssid": users.ssid}, {}),
    }


def _dress(case: Any, data: st.DataObject, live: Live, users: Users) -> None:
    """Give a generated case real credentials, numbers and expiries, some of the time."""
    kinds = _credentials(live, users)
    # Real credentials two times in three; the rest bad ones, or whatever was generated.
    real = ["client", "analyst", "router", "bearer", "ssid"] * 2
    kind = data.draw(st.sampled_from(real + sorted(set(kinds) - set(real))), label="credentials")
    params, headers = kinds[kind]
    if params and case.path in URL_CREDENTIALS:
        case.query = {**(case.query or {}), **params}
        params = {}
    target = case.query if case.method == "GET" else case.body
    if case.method == "GET" and target is None:
        case.query = target = {}
    if not isinstance(target, dict):
        return  # text/plain or a deliberately wrong body: sent as generated
    if data.draw(st.booleans(), label="tidy"):
        # Keep only the fields dressed below: past validation more often, into the use case.
        for name in set(target) - {"userId", "token", "ssid", *NUMBER_FIELDS}:
            del target[name]
    if params:
        for name in ("userId", "token", "ssid"):
            target.pop(name, None)
        target.update(params)
    if headers:
        case.headers = {**(case.headers or {}), **headers}
    for name in NUMBER_FIELDS:
        if data.draw(st.integers(0, 2), label=f"real {name}") > 0:
            number = data.draw(NUMBERS, label=name)
            target[name] = str(number) if case.method == "GET" else number
    if case.method != "GET":
        if data.draw(st.booleans(), label="expiry"):
            target["expiry_duration"] = data.draw(EXPIRIES, label="expiry_duration")
        if data.draw(st.booleans(), label="eventId"):
            target["eventId"] = data.draw(EVENT_IDS, label="eventId")
        if data.draw(st.integers(0, 4), label="cursor") == 0:
            target["cursor"] = data.draw(CURSORS, label="cursor")
        if data.draw(st.booleans(), label="maskingId"):
            target["maskingId"] = data.draw(st.sampled_from(users.masking_ids), label="id")


def _examples(method: str, path: str) -> int:
    if method in ("GET", "POST") and path.startswith("/api/v2"):
        return EXAMPLES
    return max(5, EXAMPLES // 10)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation_survives_fuzzing(live: Live, users: Users, method: str, path: str) -> None:
    schema = schemathesis.openapi.from_url(live.url + openapi.PATH)
    if live.get(path).status_code == 404:
        pytest.skip(f"{path} is documented ahead of its route")
    operation = schema[path][method]
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )
    session = requests.Session()
    answered: Counter[str] = Counter()

    @fuzz_settings(_examples(method, path))
    @given(case=cases, data=st.data())
    def run(case: Any, data: st.DataObject) -> None:
        _dress(case, data, live, users)
        if data.draw(st.integers(0, 19), label="advance clock") == 0:
            live.clock.advance(data.draw(st.integers(1, 3600), label="seconds"))
        before = snapshot(live.settings.database_url)
        response = case.call(base_url=live.url, session=session, timeout=10)
        after = snapshot(live.settings.database_url)
        headers = {name.lower(): values[0] for name, values in response.headers.items()}
        accepted = check_answer(method, path, response.status_code, headers, response.content)
        case.validate_response(response, checks=CHECKS)
        if not accepted or (method, path) not in WRITERS:
            assert changed_tables(before, after) == [], _describe(case, response.content)
        answered[_code_of(response.content) if path.startswith("/api/v2") else "-"] += 1

    run()
    session.close()
    health = live.get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    print(f"{method} {path}: {answered.total()} examples, answered {dict(answered)}")


def _code_of(answer: bytes) -> str:
    try:
        return str(orjson.loads(answer).get("code"))
    except (orjson.JSONDecodeError, AttributeError):
        return "not JSON"


def _describe(case: Any, answer: bytes) -> str:
    sent = case.body if case.method != "GET" else case.query
    return f"rejected request changed stored data: sent {sent!r}, answered {answer[:300]!r}"


def test_served_document_is_the_one_built(live: Live) -> None:
    response = live.get(openapi.PATH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert orjson.loads(response.content) == openapi.document()
