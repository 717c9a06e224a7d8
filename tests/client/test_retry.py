"""What is sent again: set with an eventId and reads, after a lost connection, 1010 or 429;
never unset, set without an eventId, or ssid. The live server answers every attempt that
reaches it; a transport in front of the real one loses the first."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from callmask.client import (
    AsyncClient,
    Client,
    DatabaseUnavailable,
    InvalidParameters,
    Retry,
    TooManyRequests,
)
from callmask.client.errors import UnexpectedAnswer
from tests.receiver import Receiver
from tests.support import MASKING_GET, SET, SSID, UNSET, A, B, Live, database, limits

FAST = Retry(attempts=3, backoff_s=0.01)


class LoseFirst(httpx.BaseTransport):
    """The real transport, except that the first request's answer is lost: after the server
    handled it (`reached`), as when a connection drops mid-answer, or before it was sent."""

    def __init__(self, reached: bool = True) -> None:
        self.real = httpx.HTTPTransport()
        self.reached = reached
        self.sent: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request.url.path)
        if len(self.sent) > 1:
            return self.real.handle_request(request)
        if not self.reached:
            raise httpx.ConnectError("connection refused", request=request)
        lost = self.real.handle_request(request)
        lost.read()
        lost.close()
        raise httpx.ReadError("connection reset mid-answer", request=request)

    def close(self) -> None:
        self.real.close()


class AsyncLoseFirst(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.real = httpx.AsyncHTTPTransport()
        self.sent: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request.url.path)
        if len(self.sent) > 1:
            return await self.real.handle_async_request(request)
        lost = await self.real.handle_async_request(request)
        await lost.aread()
        await lost.aclose()
        raise httpx.ReadError("connection reset mid-answer", request=request)

    async def aclose(self) -> None:
        await self.real.aclose()


class Counting(httpx.BaseTransport):
    """The real transport, noting each answer's code."""

    def __init__(self) -> None:
        self.real = httpx.HTTPTransport()
        self.codes: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.real.handle_request(request)
        response.read()
        self.codes.append(int(response.json()["code"]))
        return response

    def close(self) -> None:
        self.real.close()


def losing(live: Live, transport: httpx.BaseTransport) -> Client:
    return Client(
        live.url, user_id="acme", token=live.client_token, retry=FAST, transport=transport
    )


def maskings_of(live: Live) -> list[str]:
    with Client(live.url, user_id="acme", token=live.client_token) as client:
        return [m.masking_id for m in client.iter_maskings()]


def test_a_set_with_an_event_id_whose_answer_was_lost_is_sent_again(live: Live) -> None:
    transport = LoseFirst()
    with losing(live, transport) as client:
        masking = client.set(A, B, event_id="order-1")
    # Both attempts reached the server; the second is the exact retry, answered the same.
    assert transport.sent == [SET, SET]
    assert maskings_of(live) == [masking.masking_id]


@pytest.mark.anyio
async def test_the_async_client_sends_a_set_with_an_event_id_again(live: Live) -> None:
    transport = AsyncLoseFirst()
    async with AsyncClient(
        live.url, user_id="acme", token=live.client_token, retry=FAST, transport=transport
    ) as client:
        masking = await client.set(A, B, event_id="order-1")
        [found] = await client.get(event_id="order-1")
    assert transport.sent == [SET, SET, MASKING_GET]
    assert found.masking_id == masking.masking_id


def test_a_set_without_an_event_id_is_not_sent_again(live: Live) -> None:
    transport = LoseFirst()
    with losing(live, transport) as client, pytest.raises(httpx.ReadError):
        client.set(A, B)
    # Sent again, it would have answered 1503 for the masking the first attempt made.
    assert transport.sent == [SET] and len(maskings_of(live)) == 1


def test_an_unset_is_not_sent_again(live: Live) -> None:
    with Client(live.url, user_id="acme", token=live.client_token) as client:
        masking = client.set(A, B, event_id="order-1")
    transport = LoseFirst()
    with losing(live, transport) as client:
        with pytest.raises(httpx.ReadError):
            client.unset(m1=A)
        [found] = client.get(masking_id=masking.masking_id)
    assert transport.sent == [UNSET, MASKING_GET] and found.status == "ended"


def test_an_ssid_is_not_created_twice(live: Live) -> None:
    transport = LoseFirst()
    with losing(live, transport) as client, pytest.raises(httpx.ReadError):
        client.create_ssid()
    assert transport.sent == [SSID]


def test_a_read_whose_connection_failed_is_sent_again(live: Live) -> None:
    transport = LoseFirst(reached=False)
    with losing(live, transport) as client:
        assert client.list_maskings().items == ()
    assert len(transport.sent) == 2


def test_a_read_gives_up_after_its_attempts(live: Live) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("down", request=request)

    transport = httpx.MockTransport(handler)
    with losing(live, transport) as client, pytest.raises(httpx.ConnectError):
        client.get(event_id="x")
    assert calls == FAST.attempts


@limits(rate_limit_account_per_second=1.0, rate_limit_account_burst=1)
def test_a_429_is_waited_out_for_its_retry_after_then_sent_again(live: Live) -> None:
    with Client(live.url, user_id="acme", token=live.client_token, retry=FAST) as client:
        client.set(A, B, event_id="order-1")
        # The server's buckets fill on its own clock, which the test moves while the client waits.
        refill = threading.Timer(0.3, live.clock.advance, [2.0])
        refill.start()
        started = time.monotonic()
        masking = client.set(A, B, event_id="order-1")  # limited, then answered as a retry
        waited = time.monotonic() - started
        refill.join()
        assert waited >= 0.9, waited
        assert masking.event_id == "order-1"
        with pytest.raises(TooManyRequests):
            client.unset(m1=A)  # not idempotent: raised at once


def test_the_policy_backs_off_doubling_and_honours_retry_after() -> None:
    retry = Retry(attempts=4, backoff_s=0.5, max_backoff_s=1.5, max_retry_after_s=30)
    down = DatabaseUnavailable("Error in DB connect")
    assert [retry.delay(n, down) for n in (1, 2, 3, 4)] == [0.5, 1.0, 1.5, None]
    assert retry.delay(1, TooManyRequests("slow down", retry_after_s=7)) == 7
    assert retry.delay(1, TooManyRequests("slow down", retry_after_s=31)) is None
    assert retry.delay(1, InvalidParameters("Invalid parameters")) is None
    assert retry.delay(1, UnexpectedAnswer("HTTP 502", 502)) == 0.5
    assert retry.delay(1, UnexpectedAnswer("HTTP 500", 500)) is None


def test_a_set_with_an_event_id_answered_1010_is_sent_again(live: Live) -> None:
    def held_lock() -> None:
        with database(live) as conn:
            conn.execute("BEGIN EXCLUSIVE")
            locked.set()
            # Past SQLite's 5 s busy timeout: the first attempt answers 1010, the next waits.
            time.sleep(6.0)
            conn.execute("ROLLBACK")

    locked = threading.Event()
    holder = threading.Thread(target=held_lock)
    holder.start()
    locked.wait(5)
    transport = Counting()
    with losing(live, transport) as client:
        masking = client.set(A, B, event_id="order-1")
    holder.join()
    assert masking.event_id == "order-1"
    assert transport.codes == [1010, 200]


def test_a_gateways_502_is_retried_for_a_read_then_raised_with_its_status() -> None:
    with Receiver(status=502).running() as gateway:
        with Client(gateway.url, ssid="s", retry=FAST) as client:
            with pytest.raises(UnexpectedAnswer) as raised:
                client.get(event_id="x")
            with pytest.raises(UnexpectedAnswer):
                client.unset(m1=A)
    assert raised.value.status == 502
    assert len(gateway.got()) == FAST.attempts + 1  # three sends of get, one of unset
