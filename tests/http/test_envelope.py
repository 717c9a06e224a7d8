"""Every answer in DeepCall's envelope with the vendor's headers, whatever is thrown at it."""

from __future__ import annotations

import httpx
import orjson

from callmask.domain.errors import (
    AlreadyMasked,
    Code,
    ExpiryNotInteger,
    InvalidParameters,
    NotInserted,
    PoolExhausted,
    SameNumbers,
)
from callmask.http import envelope
from tests.support import DID0, ROUTE, SET, SSID, UNSET, A, B, C, D, Live, is_json_answer

CORS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "POST, GET, OPTIONS, PATCH, DELETE",
    "access-control-allow-headers": "X-Requested-With, content-type",
    "access-control-allow-credentials": "true",
}
ERROR_CODES = {int(code) for code in Code} - {int(Code.OK)}
ENDPOINTS = [SET, UNSET, ROUTE, SSID]


def _assert_envelope(response: httpx.Response) -> dict[str, object]:
    assert response.headers["content-type"] == "application/json; charset=utf-8", response
    for name, value in CORS.items():
        assert response.headers.get(name) == value, (name, response.headers)
    assert "Traceback" not in response.text
    answer: dict[str, object] = response.json()
    return answer


def test_success_answers_carry_json_and_cors_headers(live: Live) -> None:
    bearer = {"Authorization": f"Bearer {live.router_token}"}
    responses = [
        live.post(SSID, json=live.auth()),
        live.post(SET, json=live.auth(m1=A, m2=B)),
        live.get(ROUTE, params={"caller": A, "mask": DID0}, headers=bearer),
        live.post(UNSET, json=live.auth(m1=A)),
    ]
    for response in responses:
        assert response.status_code == 200
        answer = _assert_envelope(response)
        assert (answer["status"], answer["code"]) == ("success", 200), answer
        assert isinstance(answer["message"], str) and answer["message"]


def test_errors_are_http_200_with_status_message_and_code_only(live: Live) -> None:
    responses = [
        live.post(SET, content=b""),  # 1047
        live.post(SET, json={"userId": "acme", "token": "wrong", "m1": A, "m2": B}),  # 1014
        live.post(SET, json=live.auth(m1=A)),  # 1000
        live.post(SET, json=live.auth(m1=A, m2=A)),  # 1501
        live.post(SET, json=live.auth(m1=A, m2=B, expiry_duration="x")),  # 1502
        live.post(UNSET, json=live.auth(m1=C)),  # 1000
        live.get(ROUTE, params=live.auth(caller=A, mask=DID0)),  # 1015
        live.post(SSID, json={"userId": "acme"}),  # 1000: no token
    ]
    codes = []
    for response in responses:
        assert response.status_code == 200
        answer = _assert_envelope(response)
        # "detail" only beside a vendor's message that cannot name the field itself.
        assert set(answer) == {"status", "message", "code"} | (
            {"detail"} if answer["code"] == 1502 else set()
        ), answer
        assert answer["status"] == "error"
        assert isinstance(answer["message"], str) and answer["message"]
        codes.append(answer["code"])
    assert codes == [1047, 1014, 1000, 1501, 1502, 1000, 1015, 1000]


def test_options_preflight_answers_the_cors_headers(live: Live) -> None:
    for path in ENDPOINTS + [path + "/" for path in ENDPOINTS]:
        response = live.http.options(
            live.url + path,
            headers={
                "Origin": "https://app.example.com",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert 200 <= response.status_code < 300, path
        for name, value in CORS.items():
            assert response.headers.get(name) == value, (path, name, response.headers)


def test_trailing_slash_paths_answer_like_the_plain_ones(live: Live) -> None:
    answer = _assert_envelope(live.post(SET + "/", json=live.auth(m1=A, m2=B)))
    assert answer["status"] == "success", answer


def test_unknown_path_answers_json_404(live: Live) -> None:
    for path in [
        "/api/v2/Masking/nope",
        "/api/v2/masking/set",
        "/api/v1/Masking/set",
        "/",
        "/x.php",
    ]:
        for method in ("GET", "POST", "OPTIONS"):
            response = live.http.request(method, live.url + path, json=live.auth(m1=A, m2=B))
            assert response.status_code == 404, (method, path)
            answer = _assert_envelope(response)
            assert (answer["status"], answer["code"]) == ("error", 1000), (method, path)
            assert "html" not in response.text.lower()


def test_wrong_method_answers_json_405(live: Live) -> None:
    for method, path in [
        ("GET", SET),
        ("PUT", SET),
        ("DELETE", UNSET),
        ("PATCH", UNSET),
        ("GET", SSID),
        ("DELETE", ROUTE),
    ]:
        response = live.http.request(method, live.url + path)
        assert response.status_code == 405, (method, path)
        answer = _assert_envelope(response)
        assert (answer["status"], answer["code"]) == ("error", 1000), (method, path, answer)


def test_a_405_names_every_method_the_path_answers_in_allow(live: Live) -> None:
    for method, path, allow in [
        ("GET", SET, "OPTIONS, POST"),
        ("DELETE", SET + "/", "OPTIONS, POST"),
        # GET route is answered before the router (the fast path): still one of its methods.
        ("DELETE", ROUTE, "GET, OPTIONS, POST"),
        ("PUT", "/api/v2/callreport/recording", "GET, HEAD, OPTIONS, POST"),
        ("POST", "/healthz", "GET, HEAD"),
        ("POST", "/metrics", "GET, HEAD"),
    ]:
        response = live.http.request(method, live.url + path)
        assert response.status_code == 405, (method, path)
        assert response.headers.get("allow") == allow, (method, path, response.headers)


def test_repeated_slashes_are_the_path_itself_and_nothing_redirects(live: Live) -> None:
    # Starlette answered these with an empty 307 to whatever Host the client sent.
    evil = {"Host": "attacker.example"}
    for path in (SET + "//", "/api/v2//Masking/set", "//api/v2/Masking///set/"):
        response = live.post(path, json=live.auth(m1=A, m2=B), headers=evil)
        assert response.status_code == 200 and "location" not in response.headers, path
        assert _assert_envelope(response)["code"] in (200, 1503), (path, response.text)
    route = live.get(
        ROUTE + "//",
        params={"caller": A, "mask": DID0},
        headers={"Authorization": f"Bearer {live.router_token}", **evil},
    )
    assert route.json()["action"] == "connect"
    # Elsewhere a trailing slash is no redirect either: an unknown path, 404.
    for path in ("/healthz/", "/metrics/", "/readyz//"):
        response = live.get(path, headers=evil)
        assert response.status_code == 404 and "location" not in response.headers, path
        assert _assert_envelope(response)["code"] == 1000


# Raw JSON literals, spliced into otherwise valid requests one field at a time.
HOSTILE = [
    '{"nested": {"deeper": [1, {"m1": 919876543210}]}}',
    "[919876543210, 919812345678]",
    "[]",
    "{}",
    "true",
    "false",
    "null",
    "0",
    "-919876543210",
    "9223372036854775807",
    "18446744073709551616",
    "-1e300",
    "1e300",
    "1e400",
    "0.5",
    "-0.0",
    '"' + "9" * 5000 + '"',
    '"\\u0000"',
    '"98765\\u000043210"',
    '"+91\\u0000 9876543210"',
    '"\\ud800"',
    '"ℵ漢字🙂\\u202e"',
    '"٩٨٧٦٥٤٣٢١٠x"',
    '"<script>alert(1)</script>"',
    '"\'; DROP TABLE maskings; --"',
    '"%00%ff%0d%0a"',
    '"${jndi:ldap://x/a}"',
    '"\\r\\n\\t "',
    '"NaN"',
    '"-Infinity"',
]


def _splice(field: str, literal: str, rest: dict[str, object]) -> bytes:
    others = {k: v for k, v in rest.items() if k != field}
    return b'{"' + field.encode() + b'": ' + literal.encode() + b", " + orjson.dumps(others)[1:]


def _throw(
    live: Live, path: str, base: dict[str, object], fields: list[str], rejects: bool = False
) -> list[object]:
    """Every hostile literal in every field; answers that break the envelope are returned.

    With rejects, a route's reject (a mangled number can still parse as a real one) is fine.
    """
    broken: list[object] = []
    for field in fields:
        rest = base
        if field == "ssid":  # an ssid replaces userId and token, or it is 1000 for both kinds
            rest = {k: v for k, v in base.items() if k not in ("userId", "token")}
        for literal in HOSTILE:
            body = _splice(field, literal, rest)
            response = live.post(path, content=body, headers={"Content-Type": "text/plain"})
            if (
                response.status_code != 200
                or not is_json_answer(response)
                or "text/html" in response.text
                or "Traceback" in response.text
            ):
                broken.append((field, literal[:40], response.status_code, response.text[:200]))
                continue
            answer = response.json()
            if rejects and answer.get("action") == "reject" and answer.get("sipCode") in (403, 404):
                continue
            if answer.get("status") != "error" or answer.get("code") not in ERROR_CODES:
                broken.append((field, literal[:40], answer))
    return broken


def test_hostile_inputs_to_set_answer_json_errors_with_known_codes(live: Live) -> None:
    # The pair is masked already, so whatever slips past validation ends at 1503, never a success.
    assert live.set(m1=A, m2=B)["status"] == "success"
    base = live.auth(m1=A, m2=B, eventId="e", expiry_duration=30, ssid="")
    fields = ["m1", "m2", "eventId", "expiry_time", "expiry_duration", "userId", "token", "ssid"]
    assert _throw(live, SET, base, fields) == []
    assert live.route(A, DID0)["action"] == "connect"


def test_hostile_inputs_to_unset_answer_json_errors_with_known_codes(live: Live) -> None:
    assert live.set(m1=A, m2=B)["status"] == "success"
    # No masking has both C and D, so whatever slips past validation ends at "nothing matched".
    base = live.auth(m1=C, m2=D, mask=DID0, expiry_duration=-1, ssid="")
    fields = ["m1", "m2", "mask", "expiry_time", "expiry_duration", "userId", "token", "ssid"]
    assert _throw(live, UNSET, base, fields) == []
    assert live.route(A, DID0)["action"] == "connect"


def test_hostile_inputs_to_route_answer_json_errors_with_known_codes(live: Live) -> None:
    assert live.set(m1=A, m2=B)["status"] == "success"
    base: dict[str, object] = {"userId": "sip", "token": live.router_token, "caller": A}
    fields = ["mask", "userId", "token", "ssid"]
    assert _throw(live, ROUTE, {**base, "mask": DID0}, fields, rejects=True) == []


def test_hostile_caller_on_route_is_a_403_reject_or_an_error(live: Live) -> None:
    base = {"userId": "sip", "token": live.router_token, "mask": DID0}
    for literal in HOSTILE:
        response = live.post(ROUTE, content=_splice("caller", literal, base))
        assert is_json_answer(response) and "Traceback" not in response.text, literal
        answer = response.json()
        if answer["status"] == "error":
            assert answer["code"] in ERROR_CODES, (literal, answer)
        else:
            assert (answer["action"], answer["sipCode"]) == ("reject", 403), (literal, answer)


def test_hostile_query_strings_answer_json(live: Live) -> None:
    bearer = {"Authorization": f"Bearer {live.router_token}"}
    for raw in ["%00", "%ff%fe", "%e2%80%ae", "9" * 3000, "a%3Db%26c", "%", "%%%", "[]", "{}"]:
        for path, headers in ((ROUTE, bearer), (SET, {}), (UNSET, {})):
            query = f"?caller={raw}&mask={raw}&m1={raw}&m2={raw}&userId={raw}&token={raw}"
            response = live.http.request(
                "GET" if path == ROUTE else "POST", live.url + path + query, headers=headers
            )
            assert response.status_code == 200, (raw, path, response.text)
            assert is_json_answer(response), (raw, path)
            answer = response.json()
            assert answer["status"] == "error" and answer["code"] in ERROR_CODES, (raw, answer)


VENDOR_WORDS = {
    1501: "m1 and m2 cannot be the same",
    1502: "Expiry must be an integer value",
    1503: "Your masking request could not be expired until now. So you cannot make another request",
    1504: "Masking could not be inserted",
    1505: "Masking No not available",
}


def test_codes_1501_to_1505_read_exactly_as_the_vendor_words_them(live: Live) -> None:
    answers = [
        live.set(m1=A, m2="+91 98765 43210"),
        live.set(m1=A, m2=B, expiry_duration="soon"),
        live.set(m1=A, m2=B),
        live.set(m1=A, m2=B),  # 1503
        live.set(m1=A, m2=C),
        live.set(m1=A, m2=D),
        live.set(m1=A, m2="+919812345699"),  # 1505: A holds all three pool numbers
    ]
    seen = {answer["code"]: answer for answer in answers if answer["status"] == "error"}
    assert set(seen) == {1501, 1502, 1503, 1505}, answers
    for code, answer in seen.items():
        assert answer["message"] == VENDOR_WORDS[code], answer


def test_a_vendor_worded_error_keeps_its_words_and_puts_a_detail_beside_them() -> None:
    for cls in (SameNumbers, ExpiryNotInteger, AlreadyMasked, NotInserted, PoolExhausted):
        assert envelope.error_payload(cls()) == {
            "status": "error",
            "message": VENDOR_WORDS[cls.code],
            "code": cls.code,
        }
        detailed = envelope.error_payload(cls("which field, or why"))
        assert detailed["message"] == VENDOR_WORDS[cls.code]
        assert detailed["detail"] == "which field, or why"
    # Codes whose message callmask words itself still say the detail in the message.
    assert envelope.error_payload(InvalidParameters("mask is missing"))["message"] == (
        "mask is missing"
    )
