"""The webhook deliverer: a background task per process that POSTs due notices to receivers.

It leases due notices from the outbox (PostgreSQL processes share the work: each skips what
another has locked), sends each as signed JSON with a bounded total time, and records the
attempt. Nothing here runs on the path of set, unset or route: a slow or dead receiver only
holds one of this task's delivery slots until its timeout. Delivery is at least once: a
process that dies mid-attempt leaves a lease that runs out, and the notice is sent again, so
receivers deduplicate by X-Callmask-Event-Id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import httpx

from callmask import __version__
from callmask.domain.errors import DatabaseUnavailable
from callmask.domain.webhooks import Claimed, signature
from callmask.service.webhooks import Webhooks

log = logging.getLogger("callmask.webhooks")

CONCURRENCY = 16
_MAX_BACKOFF_S = 5.0
# How long shutdown lets attempts in flight finish; cut short, their leases run out and the
# notices are sent again by whichever process runs next. The whole stop after SIGTERM has 5 s
# (docs/decisions.md, "Stopping within 5 seconds").
_STOP_GRACE_S = 1.5


class Deliverer:
    def __init__(self, webhooks: Webhooks, poll_s: float, concurrency: int = CONCURRENCY) -> None:
        self._webhooks = webhooks
        self._poll_s = poll_s
        self._concurrency = concurrency
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    @property
    def _http(self) -> httpx.AsyncClient:
        # Made on first use: building its TLS context takes ~50 ms, and most processes of an
        # installation without webhooks never send anything.
        if self._client is None:
            # The environment's proxies are not used: where notices go is configured here only.
            self._client = httpx.AsyncClient(
                timeout=self._webhooks.timeout_s,
                follow_redirects=False,
                trust_env=False,
                limits=httpx.Limits(max_connections=self._concurrency),
                headers={"User-Agent": f"callmask-webhooks/{__version__}"},
            )
        return self._client

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="callmask-webhooks")

    def wake(self) -> None:
        """Look at the outbox now (this process just committed a notice)."""
        self._wake.set()

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        # The loop (perhaps mid-claim) and the attempts in flight share one grace.
        running = set(self._in_flight) | ({self._task} if self._task is not None else set())
        if running:
            await asyncio.wait(running, timeout=_STOP_GRACE_S)
            running |= self._in_flight  # what the loop started meanwhile
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    async def run(self) -> None:
        backoff = 0.1
        while not self._stopping.is_set():
            self._wake.clear()
            free = self._concurrency - len(self._in_flight)
            pause = self._poll_s
            if free > 0:
                try:
                    claimed = await self._webhooks.claim(free)
                    backoff = 0.1
                except DatabaseUnavailable:
                    log.warning("webhooks: database unavailable, retrying in %.1fs", backoff)
                    claimed, pause, backoff = [], backoff, min(backoff * 2, _MAX_BACKOFF_S)
                except Exception:
                    log.exception("webhooks: claiming failed")
                    claimed, pause = [], _MAX_BACKOFF_S
                for notice in claimed:
                    task = asyncio.create_task(self._deliver(notice))
                    self._in_flight.add(task)
                    task.add_done_callback(self._done)
            # With every slot taken, a finishing attempt wakes the loop for the next due ones.
            await self._pause(pause)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._wake.set()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _deliver(self, notice: Claimed) -> None:
        body = notice.body.encode()
        timestamp = self._webhooks.now_ms() // 1000
        headers = {
            "Content-Type": "application/json",
            "X-Callmask-Event-Id": notice.event_id,
            "X-Callmask-Event-Type": notice.kind,
            "X-Callmask-Timestamp": str(timestamp),
            "X-Callmask-Signature": signature(notice.secret, timestamp, body),
        }
        status: int | None = None
        error: str | None = None
        began = time.monotonic()
        try:
            # httpx's timeout bounds each read; this bounds the whole attempt (a receiver
            # dripping bytes), and the body of the answer is never read.
            async with asyncio.timeout(self._webhooks.timeout_s):
                async with self._http.stream(
                    "POST", notice.url, content=body, headers=headers
                ) as answer:
                    status = answer.status_code
        except TimeoutError:
            error = "timeout"
        except Exception as failure:
            # httpx's errors, and anything else a URL or a receiver can provoke: an attempt
            # that ends unrecorded would be retried forever instead of counted.
            error = type(failure).__name__
        took_ms = int((time.monotonic() - began) * 1000)
        try:
            attempt = await self._webhooks.finish(notice, status, error, took_ms)
        except Exception as failure:
            # The lease runs out and the notice is sent again: at least once.
            log.warning("webhooks: recording attempt failed: %s", type(failure).__name__)
            return
        # A delivered notice is routine; a failed attempt is what an operator looks for.
        log.log(
            logging.DEBUG if attempt.outcome == "delivered" else logging.INFO,
            "webhook %s %s account=%s attempt=%d status=%s %s",
            notice.kind,
            notice.event_id,
            notice.account_id,
            notice.attempt,
            status if status is not None else error,
            attempt.outcome,
        )
