"""The blocking client against the live server: each method's happy path and paging."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime

import pytest

from callmask.client import Client, Masking, Page
from tests.receiver import Receiver
from tests.support import (
    DID0,
    NOW,
    A,
    B,
    C,
    Live,
    completed_calls,
    recorded_call,
    set_webhook,
)


def party(n: int) -> str:
    return f"+9198123457{n:02d}"


@pytest.fixture
def client(live: Live) -> Iterator[Client]:
    with Client(live.url, user_id="acme", token=live.client_token) as client:
        yield client


@pytest.fixture
def ops(live: Live, analyst: str) -> Iterator[Client]:
    with Client(live.url, user_id="acme-ops", token=analyst) as client:
        yield client


def json_of(masking: Masking) -> dict[str, str]:
    return {
        "maskingId": masking.masking_id,
        "mask": masking.mask,
        "m1": masking.m1,
        "m2": masking.m2,
    }


def test_set_answers_the_masking_with_every_field_it_was_given(client: Client) -> None:
    masking = client.set(
        919876543210,
        "09812345678",
        event_id="order-42",
        expiry_duration=120,
        call_time_limit=300,
        record=True,
    )
    assert (masking.m1, masking.m2, masking.mask) == (A, B, DID0)
    assert masking.event_id == "order-42"
    assert masking.expiry_time == NOW + 120 * 60
    assert (masking.call_time_limit, masking.record) == (300, True)
    assert masking.status is None  # set answers no status; get and list do


def test_set_takes_expiry_time_as_seconds(client: Client) -> None:
    assert client.set(A, B, expiry_time=NOW + 90).expiry_time == NOW + 90


def test_unset_answers_the_maskings_it_ended(client: Client) -> None:
    first, second = client.set(A, B), client.set(A, C)
    ended = client.unset(m1=A)
    assert {m.masking_id for m in ended} == {first.masking_id, second.masking_id}
    assert all(m.status == "ended" for m in client.get(masking_id=first.masking_id))


def test_get_finds_a_masking_by_its_id_and_by_its_event_id(client: Client) -> None:
    masking = client.set(A, B, event_id="order-7")
    [by_id] = client.get(masking_id=masking.masking_id)
    [by_event] = client.get(event_id="order-7")
    assert by_id == by_event
    assert by_id.status == "active" and by_id.created_time == NOW
    assert asdict(by_id) | {"created_time": None, "status": None} == asdict(masking)


def test_list_pages_and_iter_maskings_walks_every_page(client: Client) -> None:
    made = {client.set(party(2 * n), party(2 * n + 1)).masking_id for n in range(7)}
    first = client.list_maskings(limit=3, status="active", order="asc")
    assert isinstance(first, Page) and len(first.items) == 3 and first.next_cursor
    second = client.list_maskings(limit=3, status="active", order="asc", cursor=first.next_cursor)
    assert not {m.masking_id for m in first.items} & {m.masking_id for m in second.items}
    walked = [m.masking_id for m in client.iter_maskings(limit=3, status="active")]
    assert len(walked) == 7 and set(walked) == made
    assert list(client.iter_maskings(limit=3, party=party(0))) == [
        m for m in client.iter_maskings(limit=3) if m.m1 == party(0)
    ]


def test_iter_masklist_walks_every_page_of_the_call_report(
    live: Live, client: Client, ops: Client
) -> None:
    masking = client.set(A, B, event_id="order-9")
    ids = completed_calls(live, json_of(masking), 5)
    page = ops.masklist(limit=2)
    assert len(page.items) == 2 and page.next_cursor
    calls = list(ops.iter_masklist(limit=2, order="asc"))
    assert [call.call_id for call in calls] == ids
    call = calls[0]
    assert (call.mask, call.caller, call.callee, call.event_id) == (DID0, A, B, "order-9")
    assert call.status == "completed" and call.duration == 1 and call.action == "connect"
    assert call.start_time is not None and call.start_time.timestamp() == NOW - 600
    assert [c.call_id for c in ops.iter_masklist(limit=2, status="failed")] == []


def test_recording_downloads_the_audio_of_a_recorded_call(
    live: Live, client: Client, ops: Client
) -> None:
    masking = client.set(A, B, record=True)
    recording_id, audio = recorded_call(live, json_of(masking), "call-rec")
    [call] = ops.masklist().items
    assert call.recording is not None and call.recording.id == recording_id
    assert call.recording.status == "ready" and call.recording.size == len(audio)
    assert ops.recording(recording_id) == audio


def test_iter_deliveries_walks_every_page_of_the_webhook_log(live: Live, client: Client) -> None:
    with Receiver().running() as receiver:
        set_webhook(live, "acme", receiver.url)
        for n in range(3):
            client.set(party(2 * n), party(2 * n + 1))
        deadline = time.monotonic() + 10
        while len(client.deliveries().items) < 3:
            assert time.monotonic() < deadline, "three deliveries were never logged"
            time.sleep(0.05)
    assert len(client.deliveries(limit=1).items) == 1
    walked = list(client.iter_deliveries(limit=1, type="masking.created"))
    assert len(walked) == 3 and len({d.id for d in walked}) == 3
    assert {(d.outcome, d.http_status, d.attempt) for d in walked} == {("delivered", 200, 1)}
    assert all(d.url == receiver.url and d.attempt_time is not None for d in walked)


def test_an_ssid_it_creates_works_as_credentials(live: Live, client: Client) -> None:
    ssid = client.create_ssid()
    assert ssid.expiry_time > NOW
    with Client(live.url, ssid=ssid.ssid) as by_ssid:
        assert by_ssid.set(A, B).m1 == A


@pytest.mark.parametrize(
    "given",
    [{}, {"user_id": "acme"}, {"token": "t"}, {"user_id": "acme", "token": "t", "ssid": "s"}],
)
def test_credentials_are_a_user_and_token_or_an_ssid(live: Live, given: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="user_id and token, or ssid"):
        Client(live.url, **given)


def test_times_may_be_given_as_datetimes(client: Client) -> None:
    masking = client.set(A, B, expiry_time=datetime.fromtimestamp(NOW + 600, UTC))
    assert masking.expiry_time == NOW + 600
    window = {"expiry_from": datetime.fromtimestamp(NOW + 599, UTC)}
    assert [m.masking_id for m in client.iter_maskings(**window)] == [masking.masking_id]
    window = {"expiry_from": datetime.fromtimestamp(NOW + 601, UTC)}
    assert list(client.iter_maskings(**window)) == []


def test_a_timeout_applies_by_default(live: Live) -> None:
    with Client(live.url, ssid="s") as client:
        assert client._http.timeout.read == 10.0
