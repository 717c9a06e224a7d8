"""Request bodies the way DeepCall clients send them, over the real socket."""

from __future__ import annotations

from collections.abc import Iterator

import orjson

from callmask.domain.errors import Code
from tests.support import (
    DID0,
    NOW,
    SET,
    SSID,
    A,
    B,
    C,
    D,
    E,
    F,
    G,
    H,
    Live,
    assert_error,
    count,
    new_ssid,
)

FORM = "application/x-www-form-urlencoded"


def _json(live: Live, **params: object) -> bytes:
    return orjson.dumps(live.auth(**params))


def test_vendor_curl_sample_byte_for_byte_sets_a_masking(live: Live) -> None:
    ssid = new_ssid(live)
    # What `curl --location --request POST URL --data-raw '...'` puts on the wire.
    body = (
        '{"ssid": "' + ssid + '","m1": 919876543210,"m2": 919812345678,'
        '"eventId": "customer_support_123","expiry_duration": 1440}'
    ).encode()
    response = live.post(
        SET,
        content=body,
        headers={"Content-Type": FORM, "Accept": "*/*", "User-Agent": "curl/8.5.0"},
    )
    answer = response.json()
    assert response.status_code == 200
    assert answer["status"] == "success", answer
    assert answer["code"] == 200
    assert answer["m1"] == "+919876543210"
    assert answer["m2"] == "+919812345678"
    assert answer["mask"] == DID0
    assert answer["eventId"] == "customer_support_123"
    assert answer["expiry_time"] == NOW + 1440 * 60
    assert isinstance(answer["maskingId"], str) and answer["maskingId"]


def test_json_object_body_is_read_whatever_the_content_type(live: Live) -> None:
    pairs = [(A, B), (C, D), (E, F), (G, H), (B, C)]
    content_types = ["application/json", "text/plain", "text/plain;charset=UTF-8", FORM, None]
    for content_type, (m1, m2) in zip(content_types, pairs, strict=True):
        headers = {} if content_type is None else {"Content-Type": content_type}
        body = _json(live, m1=int(m1[1:]), m2=m2)
        response = live.post(SET, content=body, headers=headers)
        assert response.request.headers.get("content-type") == content_type
        answer = response.json()
        assert answer["status"] == "success", (content_type, answer)
        assert (answer["m1"], answer["m2"]) == (m1, m2)


def test_json_sent_as_a_form_keeps_plus_ampersand_and_equals_in_values(live: Live) -> None:
    # A form decoder would turn "+" into a space and split at "&"; the JSON must win.
    body = _json(live, m1="+919876543210", m2="+919812345678", eventId="a+b&c=d %20")
    answer = live.post(SET, content=body, headers={"Content-Type": FORM}).json()
    assert answer["status"] == "success", answer
    assert answer["eventId"] == "a+b&c=d %20"


def test_m1_as_bare_json_number_or_string_is_the_same_number(live: Live) -> None:
    for m1, m2 in ((919876543210, B), ("919876543210", C), (919876543210.0, D)):
        answer = live.post(SET, content=_json(live, m1=m1, m2=m2)).json()
        assert answer["status"] == "success", (m1, answer)
        assert (answer["m1"], answer["m2"]) == (A, m2)


def test_real_form_encoding_is_read_as_fields(live: Live) -> None:
    fields = {
        "userId": "acme",
        "token": live.client_token,
        "m1": "+919876543210",
        "m2": "9812345678",
        "eventId": "form-1",
        "expiry_duration": "30",
    }
    answer = live.post(SET, data=fields).json()
    assert answer["status"] == "success", answer
    assert (answer["m1"], answer["m2"], answer["eventId"]) == (A, B, "form-1")
    assert answer["expiry_time"] == NOW + 30 * 60


def test_unencoded_plus_in_a_form_body_still_reads_the_number(live: Live) -> None:
    # `curl -d m1=+9198...` sends the plus raw; form decoding turns it into a space.
    body = f"userId=acme&token={live.client_token}&m1=+919876543210&m2=+919812345678"
    answer = live.post(SET, content=body.encode(), headers={"Content-Type": FORM}).json()
    assert answer["status"] == "success", answer
    assert (answer["m1"], answer["m2"]) == (A, B)


def test_query_string_parameters_work_with_an_empty_body(live: Live) -> None:
    answer = live.post(SET, params=live.auth(m1=A, m2=B, expiry_duration="5")).json()
    assert answer["status"] == "success", answer
    assert (answer["m1"], answer["m2"]) == (A, B)
    assert answer["expiry_time"] == NOW + 5 * 60


def test_body_wins_over_the_query_string(live: Live) -> None:
    answer = live.post(
        SET,
        params={"m1": "9999999999", "m2": "9812345679"},
        json=live.auth(m1=A, m2=B),
    ).json()
    assert answer["status"] == "success", answer
    assert (answer["m1"], answer["m2"]) == (A, B)


def test_auth_in_query_and_numbers_in_body_combine(live: Live) -> None:
    answer = live.post(SET, params=live.auth(), json={"m1": A, "m2": B}).json()
    assert answer["status"] == "success", answer


def test_empty_body_is_1047(live: Live) -> None:
    for content_type in ("application/json", "text/plain", FORM, None):
        headers = {} if content_type is None else {"Content-Type": content_type}
        for body in (b"", b"  \r\n\t ", b"{}", b"{ }"):
            answer = live.post(SET, content=body, headers=headers).json()
            assert answer["code"] == Code.INVALID_REQUEST_DATA, (content_type, body, answer)
            assert answer["status"] == "error"


UNPARSABLE = [
    b'{"m1":',
    b'{"m1": 919876543210,}',
    b"{'m1': 919876543210}",
    b'{"userId": "acme"} trailing',
    b"\xff\xfe\x00\x81\x9c\xd3garbage\x00",
    b"[1, 2, 3]",
    b"[]",
    b'"abc"',
    b"null",
    b"12345",
    b"true",
    b"<xml><m1>919876543210</m1></xml>",
    b'{"m1": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    b'{"m1": 1e400}',
    b'{"m1": "\\ud800"}',
]


def test_unparsable_body_is_1047(live: Live) -> None:
    for content_type in ("application/json", FORM):
        for body in UNPARSABLE:
            answer = live.post(SET, content=body, headers={"Content-Type": content_type}).json()
            assert answer["code"] == Code.INVALID_REQUEST_DATA, (content_type, body[:40], answer)
            assert answer["status"] == "error"


def test_json_array_containing_an_equals_sign_is_1047(live: Live) -> None:
    # A batch-minded client wraps its request in a list; the eventId happens to hold "=".
    body = b"[" + _json(live, m1=A, m2=B, eventId="order=42") + b"]"
    answer = live.post(SET, content=body, headers={"Content-Type": "application/json"}).json()
    assert_error(answer, Code.INVALID_REQUEST_DATA)


def _padded(live: Live, size: int) -> bytes:
    """A valid set request padded with trailing spaces to exactly size bytes."""
    body = _json(live, m1=A, m2=B)
    assert len(body) < size
    return body + b" " * (size - len(body))


def test_body_of_exactly_the_limit_is_accepted(live: Live) -> None:
    limit = live.settings.max_body_bytes
    assert limit == 64 * 1024
    answer = live.post(SET, content=_padded(live, limit)).json()
    assert answer["status"] == "success", answer


def test_body_one_byte_over_the_limit_is_1047_and_sets_nothing(live: Live) -> None:
    answer = live.post(SET, content=_padded(live, live.settings.max_body_bytes + 1)).json()
    assert_error(answer, Code.INVALID_REQUEST_DATA, "too large")
    assert count(live, "maskings") == 0


def test_chunked_body_over_the_limit_is_1047(live: Live) -> None:
    body = _padded(live, live.settings.max_body_bytes + 4096)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    response = live.post(SET, content=chunks())
    assert "content-length" not in response.request.headers
    assert_error(response.json(), Code.INVALID_REQUEST_DATA, "too large")
    assert count(live, "maskings") == 0


def test_huge_body_to_ssid_endpoint_is_1047(live: Live) -> None:
    body = b'{"userId": "acme", "pad": "' + b"x" * 200_000 + b'"}'
    answer = live.post(SSID, content=body).json()
    assert_error(answer, Code.INVALID_REQUEST_DATA)
