from __future__ import annotations

import dataclasses
import hashlib
import hmac

import orjson
import pytest

from callmask.domain.calls import CallRecord
from callmask.domain.errors import InvalidParameters
from callmask.domain.masking import Masking
from callmask.domain.numbers import E164
from callmask.domain.webhooks import (
    MAX_RETRY_DELAY_MS,
    call_notices,
    delivery_query,
    masking_created,
    masking_ended,
    retry_delay_ms,
    signature,
    verify,
)

NOW = 1_767_225_600_000
A, B, X = E164("+919876543210"), E164("+919812345678"), E164("+918040000000")
MASKING = Masking("mk-1", "acme", A, B, X, "order-7", NOW, NOW + 600_000)
RINGING = CallRecord(
    "call-1", "acme", "mk-1", "order-7", X, A, B, NOW, None, None, None, None, "ringing", NOW
)


def test_a_call_cut_at_its_time_limit_is_announced_ended_by_limit() -> None:
    done = dataclasses.replace(
        RINGING, ended_ms=NOW + 90_000, duration_s=90, outcome="completed", ended_by="limit"
    )
    ended = call_notices(done, NOW)[-1]
    assert ended.kind == "call.ended"
    assert orjson.loads(ended.body)["data"]["endedBy"] == "limit"
    hung_up = dataclasses.replace(done, ended_by=None)
    assert orjson.loads(call_notices(hung_up, NOW)[-1].body)["data"]["endedBy"] is None


def test_a_forwarded_call_is_announced_forwarded_instead_of_started() -> None:
    forwarded = dataclasses.replace(RINGING, masking_id=None, event_id=None, action="forward")
    [notice] = call_notices(forwarded, NOW)
    assert (notice.kind, notice.dedup_key) == ("call.forwarded", "call-1:call.forwarded")
    assert orjson.loads(notice.body)["data"]["action"] == "forward"
    done = dataclasses.replace(
        forwarded, answered_ms=NOW + 1000, ended_ms=NOW + 9000, outcome="completed"
    )
    kinds = [n.kind for n in call_notices(done, NOW)]
    assert kinds == ["call.forwarded", "call.answered", "call.ended"]


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"id":"evt_1"}'
    expected = hmac.new(b"whsec_k", b"1767225600." + body, hashlib.sha256).hexdigest()
    assert signature("whsec_k", 1767225600, body) == "v1=" + expected


def test_verify_refuses_a_changed_body_a_wrong_secret_and_a_stale_timestamp() -> None:
    body = b'{"id":"evt_1"}'
    signed = signature("whsec_k", 1767225600, body)
    assert verify("whsec_k", "1767225600", signed, body, now_s=1767225600 + 299)
    assert not verify("whsec_k", "1767225600", signed, body + b" ", now_s=1767225600)
    assert not verify("whsec_x", "1767225600", signed, body, now_s=1767225600)
    assert not verify("whsec_k", "1767225600", signed, body, now_s=1767225600 + 301)
    assert not verify("whsec_k", "soon", signed, body, now_s=1767225600)


def test_a_notice_body_names_its_id_type_account_and_the_masking() -> None:
    notice = masking_created(MASKING, NOW)
    body = orjson.loads(notice.body)
    assert body["id"] == notice.event_id and notice.event_id.startswith("evt_")
    assert (body["type"], body["accountId"], body["createdAt"]) == (
        "masking.created",
        "acme",
        "2026-01-01T00:00:00.000Z",
    )
    assert body["data"]["maskingId"] == "mk-1" and body["data"]["m1"] == A
    assert notice.dedup_key == "mk-1:created"
    assert masking_created(MASKING, NOW).event_id != notice.event_id


def test_an_ended_notice_carries_when_and_why() -> None:
    data = orjson.loads(masking_ended(MASKING, NOW + 5_000, "unset", NOW + 5_000).body)["data"]
    assert (data["status"], data["endReason"], data["ended_time"]) == (
        "ended",
        "unset",
        NOW // 1000 + 5,
    )


def test_call_notices_follow_what_the_record_knows_so_far() -> None:
    assert [n.kind for n in call_notices(RINGING, NOW)] == ["call.started"]
    answered = dataclasses.replace(RINGING, answered_ms=NOW + 3000, outcome="answered")
    assert [n.kind for n in call_notices(answered, NOW)] == ["call.started", "call.answered"]
    done = dataclasses.replace(answered, ended_ms=NOW + 9000, duration_s=6, outcome="completed")
    notices = call_notices(done, NOW)
    assert [n.dedup_key for n in notices] == [
        "call-1:call.started",
        "call-1:call.answered",
        "call-1:call.ended",
    ]
    assert orjson.loads(notices[-1].body)["data"]["duration"] == 6


def test_a_call_not_yet_linked_to_an_account_announces_nothing() -> None:
    assert call_notices(dataclasses.replace(RINGING, account_id=None), NOW) == []


def test_retry_delay_doubles_and_is_capped_at_an_hour() -> None:
    assert [retry_delay_ms(n, 10_000) for n in (1, 2, 3, 4)] == [10_000, 20_000, 40_000, 80_000]
    assert retry_delay_ms(30, 10_000) == MAX_RETRY_DELAY_MS


def test_delivery_query_checks_type_outcome_and_cursor() -> None:
    query = delivery_query({"type": "call.ended", "outcome": "failed,retry"}, "acme")
    assert (query.kinds, query.outcomes) == (("call.ended",), ("failed", "retry"))
    with pytest.raises(InvalidParameters, match="type"):
        delivery_query({"type": "masking.exploded"}, "acme")
    with pytest.raises(InvalidParameters, match="cursor"):
        from callmask.domain.paging import Cursor

        delivery_query({"cursor": Cursor(NOW, "x").encode()}, "acme")
