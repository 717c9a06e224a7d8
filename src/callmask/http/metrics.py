"""Prometheus metrics: what each request did, and how full each account's pool is.

Request metrics are counted in the process that served the request. With several worker
processes (`callmask serve --workers N`) the CLI points PROMETHEUS_MULTIPROC_DIR at a
directory the workers share, and a scrape of any worker adds up all of them. The pool
figures are read from the database at scrape time, so they are the same from every worker.
No label ever holds a phone number: endpoints are route templates, accounts are account ids.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from callmask.domain.pool import AccountPressure

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# The route answers in well under a millisecond when all is well; reports can take seconds.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
SET_ENDPOINT = "/api/v2/Masking/set"
POOL_EXHAUSTED = "1505"


def multiprocess() -> bool:
    return "PROMETHEUS_MULTIPROC_DIR" in os.environ


class RequestMetrics:
    """Counters and histograms the HTTP middleware feeds; label children are made once each."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "callmask_http_requests",
            "HTTP requests by endpoint (route template), DeepCall code and HTTP status.",
            ["endpoint", "code", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "callmask_http_request_duration_seconds",
            "Time from the request's arrival to the end of its answer, by endpoint.",
            ["endpoint"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self.maskings_set = Counter(
            "callmask_maskings_set",
            "Set requests answered with success (an exact retry answers the existing masking).",
            registry=registry,
        )
        self.pool_exhausted = Counter(
            "callmask_pool_exhausted",
            "Set requests answered 1505: no pool number was free for both parties.",
            registry=registry,
        )
        self._outcomes: dict[tuple[str, str, int], Callable[[float], None]] = {}

    def outcome(self, endpoint: str, code: str, status: int) -> Callable[[float], None]:
        """What to call with a finished request's duration; cached per label combination."""
        key = (endpoint, code, status)
        found = self._outcomes.get(key)
        if found is None:
            found = self._outcomes[key] = self._recorder(endpoint, code, status)
        return found

    def _recorder(self, endpoint: str, code: str, status: int) -> Callable[[float], None]:
        count = self.requests.labels(endpoint, code, str(status)).inc
        observe = self.latency.labels(endpoint).observe
        extra = None
        if endpoint == SET_ENDPOINT and code == "200":
            extra = self.maskings_set.inc
        elif endpoint == SET_ENDPOINT and code == POOL_EXHAUSTED:
            extra = self.pool_exhausted.inc
        if extra is None:

            def record(seconds: float) -> None:
                count()
                observe(seconds)

            return record
        then = extra

        def record_and_count(seconds: float) -> None:
            count()
            observe(seconds)
            then()

        return record_and_count


class PoolCollector(Collector):
    """Pool gauges from the last database read (the scrape refreshes it first, if stale)."""

    def __init__(self, ttl_s: float) -> None:
        self._ttl_s = ttl_s
        self._lock = asyncio.Lock()
        self._read_at: float | None = None
        self._pressure: list[AccountPressure] = []
        self._up = 0.0
        self._seconds = 0.0

    async def refresh(self, read: Callable[[], Awaitable[list[AccountPressure]]]) -> None:
        """Read the database (read) unless the last read is younger than the TTL.

        One read at a time: scrapes arriving during a read wait for it and use its result,
        so no number of scrapers can make more than one query per TTL.
        """
        async with self._lock:
            if self._read_at is not None and time.monotonic() - self._read_at < self._ttl_s:
                return
            started = time.perf_counter()
            try:
                self._pressure = await read()
                self._up = 1.0
            except Exception:
                # Keep the last figures rather than none; callmask_pool_read_up says they are old.
                self._up = 0.0
            self._seconds = time.perf_counter() - started
            self._read_at = time.monotonic()

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "callmask_pool_read_up",
            "1 if the last read of the pool figures from the database succeeded.",
            value=self._up,
        )
        took = GaugeMetricFamily(
            "callmask_pool_read_seconds",
            "How long the last read of the pool figures took.",
            value=self._seconds,
        )
        pool = GaugeMetricFamily(
            "callmask_pool_numbers", "Pool numbers per account.", labels=["account"]
        )
        active = GaugeMetricFamily(
            "callmask_active_maskings", "Live maskings per account.", labels=["account"]
        )
        busiest = GaugeMetricFamily(
            "callmask_busiest_party_maskings",
            "Most live maskings one party holds, per account; at the pool size that party's"
            " next masking gets 1505.",
            labels=["account"],
        )
        ratio = GaugeMetricFamily(
            "callmask_busiest_party_pool_ratio",
            "callmask_busiest_party_maskings / callmask_pool_numbers (1: exhausted for that"
            " party).",
            labels=["account"],
        )
        backlog = GaugeMetricFamily(
            "callmask_webhook_pending",
            "Webhook notices not yet delivered nor given up on, per account.",
            labels=["account"],
        )
        for row in self._pressure:
            labels = [row.account_id]
            backlog.add_metric(labels, row.webhook_pending)
            pool.add_metric(labels, row.pool_numbers)
            active.add_metric(labels, row.active_maskings)
            busiest.add_metric(labels, row.busiest_party_maskings)
            if row.pool_numbers:
                ratio.add_metric(labels, row.busiest_party_maskings / row.pool_numbers)
        yield from (up, took, pool, active, busiest, ratio, backlog)


class Metrics:
    """The registry of one app: request metrics, process metrics and the pool gauges."""

    def __init__(self, ttl_s: float) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = RequestMetrics(self.registry)
        self.pool = PoolCollector(ttl_s)
        self.registry.register(self.pool)
        if not multiprocess():
            ProcessCollector(registry=self.registry)

    async def exposition(self, read: Callable[[], Awaitable[list[AccountPressure]]]) -> bytes:
        """The text a scrape gets; read gives the pool figures when they are stale."""
        await self.pool.refresh(read)
        if not multiprocess():
            return generate_latest(self.registry)
        # Every worker's counters from the shared directory, plus the database's gauges.
        merged = CollectorRegistry()
        MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
        merged.register(self.pool)
        return generate_latest(merged)
