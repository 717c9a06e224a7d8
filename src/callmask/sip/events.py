"""The call-event consumer: stores what the SIP proxy reports through a Redis list.

Kamailio RPUSHes one JSON event per call step onto the queue. Each event is moved atomically
(BLMOVE) onto <queue>:processing, stored, and only then removed from there, so an event whose
consumer dies mid-way stays in Redis; every consumer re-processes that list when it starts and
after Redis comes back. Storing is an idempotent upsert, so an event stored twice - by that
recovery, or by two worker processes consuming the same queue - changes nothing.

A malformed event goes to <queue>:dead (kept for a replay once the proxy is fixed). While the
database refuses writes the event waits in processing and is retried; while Redis is away the
consumer retries with backoff. Neither stops the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from callmask.domain.calls import parse_call_event
from callmask.domain.errors import DatabaseUnavailable, MaskingError
from callmask.service.routing import Routing

log = logging.getLogger("callmask.events")

_FIRST_BACKOFF_S = 0.1
_MAX_BACKOFF_S = 5.0
# Redis answers a blocking wait within its timeout; a socket silent for longer than this
# means Redis is gone (a host that vanished sends no reset), so the client gives up on it.
_SOCKET_SLACK_S = 5.0
# How long shutdown waits for the wait on Redis to end, or the event in hand to be stored,
# before cancelling (an event moved or in hand then stays in processing, and the next
# consumer to start stores it). Short: the whole stop after SIGTERM has 5 s
# (docs/decisions.md, "Stopping within 5 seconds").
_STOP_GRACE_S = 1.5


class _Backoff:
    def __init__(self) -> None:
        self.delay = _FIRST_BACKOFF_S

    def next(self) -> float:
        delay, self.delay = self.delay, min(self.delay * 2, _MAX_BACKOFF_S)
        return delay

    def reset(self) -> None:
        self.delay = _FIRST_BACKOFF_S


class CallEventConsumer:
    def __init__(self, routing: Routing, redis_url: str, queue: str, block_s: float = 1.0) -> None:
        self.queue = queue
        self.processing = queue + ":processing"
        self.dead = queue + ":dead"
        self._routing = routing
        self._block_s = block_s
        # from_url only parses (a bad URL fails at start-up); it connects on first use.
        self._redis = aioredis.Redis.from_url(
            redis_url, socket_timeout=block_s + _SOCKET_SLACK_S, socket_connect_timeout=2.0
        )
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="callmask-call-events")

    async def stop(self) -> None:
        """Stop after the event in hand (or cancel it after a grace period); close Redis."""
        self._stopping.set()
        if self._task is not None:
            await asyncio.wait({self._task}, timeout=_STOP_GRACE_S)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._redis.aclose()

    async def run(self) -> None:
        """Consume until stop(): first what a stopped consumer left, then the queue."""
        backoff = _Backoff()
        recovered = False
        while not self._stopping.is_set():
            try:
                if not recovered:
                    await self._recover()
                    recovered = True
                # Redis takes a fractional timeout; redis-py's annotation says int.
                raw = await self._redis.blmove(
                    self.queue,
                    self.processing,
                    self._block_s,  # type: ignore[arg-type]
                    "LEFT",
                    "RIGHT",
                )
                if raw is not None:
                    await self._handle(raw)
                backoff.reset()
            except (RedisError, OSError) as error:
                # An event moved or stored just before Redis went may still be in processing.
                recovered = False
                delay = backoff.next()
                log.warning(
                    "call events: Redis unavailable (%s), retrying in %.1fs",
                    type(error).__name__,
                    delay,
                )
                await self._pause(delay)
            except Exception:
                log.exception("call events: unexpected error")
                await self._pause(backoff.next())

    async def _recover(self) -> None:
        left = await self._redis.lrange(self.processing, 0, -1)
        if left:
            log.info("call events: re-processing %d left in %s", len(left), self.processing)
        for raw in left:
            if self._stopping.is_set():
                return
            await self._handle(raw)

    async def _handle(self, raw: bytes | str) -> None:
        try:
            event = parse_call_event(raw)
        except MaskingError as error:
            await self._bury(raw, error.detail)
            return
        backoff = _Backoff()
        while True:
            try:
                await self._routing.record_call_event(event)
                break
            except DatabaseUnavailable:
                if self._stopping.is_set():
                    return  # still in processing: the next consumer to start stores it
                delay = backoff.next()
                log.warning("call events: database unavailable, retrying in %.1fs", delay)
                await self._pause(delay)
            except Exception:
                # A bug, not an outage: keep the event in processing (the next start retries
                # it) and go on with the others rather than retry it forever.
                log.exception("call events: storing failed; the event stays in processing")
                return
        # redis-py annotates list values as str; the raw bytes go out unchanged.
        await self._redis.lrem(self.processing, 1, raw)  # type: ignore[arg-type]
        log.debug("call event stored kind=%s", event.kind)

    async def _bury(self, raw: bytes | str, reason: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(self.dead, raw)
            pipe.lrem(self.processing, 1, raw)  # type: ignore[arg-type]
            await pipe.execute()
        # The parser's reasons show at most the last four digits of a number.
        log.warning("call events: malformed event moved to %s: %s", self.dead, reason)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
