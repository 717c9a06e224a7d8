"""/metrics after known operations: request counters by endpoint and code, pool gauges."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from callmask.bootstrap import build_services, create_app
from callmask.config import Settings
from callmask.domain.pool import AccountPressure
from callmask.http.metrics import PoolCollector
from callmask.service.accounts import Principal
from tests.backends import BACKENDS, fresh_database, open_test_store
from tests.e2e.servers import serve
from tests.observability.leaks import full_numbers
from tests.support import POOL, Clock, Live, seed_live, seed_store, serving

A, B, C, D, E = (f"+9198123456{n:02d}" for n in range(70, 75))
SET = "/api/v2/Masking/set"


@pytest.fixture
def settings(db_url: str) -> Settings:
    # No caching of the pool figures: each scrape reads the database.
    return Settings(database_url=db_url, sweep_interval_seconds=3600, metrics_cache_seconds=0)


def scrape(
    http: httpx.Client | None, url: str, token: str = ""
) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape, keyed by name and labels (token: CALLMASK_METRICS_TOKEN)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = (http or httpx).get(url + "/metrics", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert full_numbers(response.text) == [], "a phone number in the metrics"
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    """The sample's value; a series missing from the scrape fails, it does not read as 0.

    A gauge that vanished (an account dropped from the pool figures, a family no longer
    collected) must not pass for one reading 0.
    """
    key = (name, frozenset(labels.items()))
    if key not in samples:
        present = sorted(sorted(found) for found_name, found in samples if found_name == name)
        raise AssertionError(f"no series {name}{labels} in the scrape; {name} has {present}")
    return samples[key]


def test_requests_allocations_1505_and_pool_gauges_after_known_operations(live: Live) -> None:
    for other in (B, C, D):
        assert live.set(m1=A, m2=other)["code"] == 200
    assert live.set(m1=A, m2=E)["code"] == 1505  # A holds a claim on all three numbers
    assert live.route(A, live.pool[0])["action"] == "connect"
    assert live.get("/api/v2/no/such/+919876543210").status_code == 404

    samples = scrape(live.http, live.url)
    requests = "callmask_http_requests_total"
    assert value(samples, requests, endpoint=SET, code="200", status="200") == 3
    assert value(samples, requests, endpoint=SET, code="1505", status="200") == 1
    route = "/api/v2/Masking/route"
    assert value(samples, requests, endpoint=route, code="200", status="200") == 1
    assert value(samples, requests, endpoint="unmatched", code="1000", status="404") == 1
    assert value(samples, "callmask_http_request_duration_seconds_count", endpoint=SET) == 4
    assert (
        value(samples, "callmask_http_request_duration_seconds_bucket", endpoint=route, le="+Inf")
        == 1
    )
    assert value(samples, "callmask_maskings_set_total") == 3
    assert value(samples, "callmask_pool_exhausted_total") == 1

    assert value(samples, "callmask_pool_read_up") == 1
    assert value(samples, "callmask_active_maskings", account="acme") == 3
    assert value(samples, "callmask_pool_numbers", account="acme") == 3
    assert value(samples, "callmask_busiest_party_maskings", account="acme") == 3
    assert value(samples, "callmask_busiest_party_pool_ratio", account="acme") == 1.0
    assert value(samples, "callmask_pool_numbers", account="other") == 1
    assert value(samples, "callmask_active_maskings", account="other") == 0

    # Ended and lapsed maskings leave the gauges at once (no sweep needed).
    live.unset(m1=A, m2=B)
    live.clock.advance(10 * 86400)
    assert live.set(m1=B, m2=C)["code"] == 200
    samples = scrape(live.http, live.url)
    assert value(samples, "callmask_active_maskings", account="acme") == 1
    assert value(samples, "callmask_busiest_party_maskings", account="acme") == 1


def test_preflights_and_probes_are_counted_under_their_own_endpoints(live: Live) -> None:
    live.http.options(live.url + SET)
    live.get("/healthz")
    samples = scrape(live.http, live.url)
    requests = "callmask_http_requests_total"
    assert value(samples, requests, endpoint=SET, code="none", status="204") == 1
    assert value(samples, requests, endpoint="/healthz", code="none", status="200") == 1


@pytest.mark.anyio
@pytest.mark.parametrize("kind", BACKENDS)
async def test_pool_gauges_come_from_the_database(kind: str, tmp_path: Path) -> None:
    clock = Clock()
    async with fresh_database(kind, tmp_path) as database:
        store = open_test_store(database)
        try:
            await store.migrate()
            service = build_services(store, Settings(), clock)
            await seed_store(store, service, clock)
            principal = Principal("acme", "acme", "client")
            await service.maskings.set_masking(principal, A, B)
            await service.maskings.set_masking(principal, A, C)
            await service.maskings.set_masking(principal, D, E)
        finally:
            await store.close()
        settings = Settings(database_url=database.url, metrics_cache_seconds=0)
        with serving(create_app(settings, clock=clock)) as url:
            samples = await asyncio.to_thread(scrape, None, url)
    assert value(samples, "callmask_active_maskings", account="acme") == 3
    assert value(samples, "callmask_busiest_party_maskings", account="acme") == 2
    assert value(samples, "callmask_pool_numbers", account="acme") == len(POOL)
    assert value(samples, "callmask_busiest_party_pool_ratio", account="acme") == pytest.approx(
        2 / 3
    )


@pytest.mark.anyio
async def test_concurrent_scrapes_share_one_database_read_per_cache_period() -> None:
    reads = 0

    async def read() -> list[AccountPressure]:
        nonlocal reads
        reads += 1
        await asyncio.sleep(0.05)
        return [AccountPressure("acme", 10, 4, 2)]

    collector = PoolCollector(ttl_s=60)
    await asyncio.gather(*(collector.refresh(read) for _ in range(20)))
    await collector.refresh(read)
    assert reads == 1
    families = {family.name: family for family in collector.collect()}
    [busiest] = families["callmask_busiest_party_maskings"].samples
    assert (busiest.labels, busiest.value) == ({"account": "acme"}, 2)


@pytest.mark.anyio
async def test_a_failed_read_keeps_the_scrape_up_and_says_so() -> None:
    async def read() -> list[AccountPressure]:
        raise OSError("database gone")

    collector = PoolCollector(ttl_s=0)
    await collector.refresh(read)
    families = {family.name: family for family in collector.collect()}
    [up] = families["callmask_pool_read_up"].samples
    assert up.value == 0


@pytest.mark.anyio
async def test_with_two_workers_every_scrape_counts_both(tmp_path: Path) -> None:
    async with fresh_database("postgresql", tmp_path) as database:
        store = open_test_store(database)
        try:
            await store.migrate()
            clock = Clock()
            _, router = await seed_store(store, build_services(store, Settings(), clock), clock)
        finally:
            await store.close()
        shared = tmp_path / "prometheus"
        shared.mkdir()
        with serve(database.url, workers=2, PROMETHEUS_MULTIPROC_DIR=str(shared)) as served:
            headers = {"Authorization": f"Bearer {router}"}
            params = {"caller": A, "mask": POOL[0]}
            # A connection per request, so the kernel spreads them over both workers.
            for sent in range(1, 201):
                async with httpx.AsyncClient(base_url=served.url, timeout=10) as http:
                    answer = await http.get("/api/v2/Masking/route", params=params, headers=headers)
                    assert answer.json()["action"] == "reject"
                if sent % 10 == 0 and all(_routes_counted(shared).values()):
                    break
            per_worker = _routes_counted(shared)
            scraped = set()
            for _ in range(6):
                samples = await asyncio.to_thread(scrape, None, served.url)
                scraped.add(
                    value(
                        samples,
                        "callmask_http_requests_total",
                        endpoint="/api/v2/Masking/route",
                        code="200",
                        status="200",
                    )
                )
    assert len(per_worker) == 2 and all(per_worker.values()), per_worker
    assert scraped == {sent}


def _routes_counted(shared: Path) -> dict[str, float]:
    """Route requests each worker has counted, from its own file in the shared directory."""
    return {
        path.name: sum(
            entry[1]
            for entry in MmapedDict.read_all_values_from_file(str(path))
            if "callmask_http_requests" in entry[0] and "Masking/route" in entry[0]
        )
        for path in shared.glob("counter_*.db")
    }


def test_settings_reject_a_negative_cache_period(db_url: str) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(Settings(database_url=db_url), metrics_cache_seconds=-1).check()


def test_with_a_metrics_token_a_scrape_needs_it_and_nothing_leaks_without(
    db_url: str, clock: Clock
) -> None:
    token = "scrape-" + "x" * 40
    settings = Settings(database_url=db_url, metrics_cache_seconds=0, metrics_token=token)
    asyncio.run(seed_live(settings, clock, POOL))
    with serving(create_app(settings, clock=clock)) as url:
        for authorization in (None, "Bearer wrong", f"Basic {token}", f"Bearer {token}x"):
            headers = {"Authorization": authorization} if authorization else {}
            refused = httpx.get(url + "/metrics", headers=headers)
            assert refused.status_code == 401, authorization
            assert refused.headers["www-authenticate"].startswith("Bearer")
            assert b"callmask_" not in refused.content and b"acme" not in refused.content
        samples = scrape(None, url, token)
        # Probes stay open: a load balancer's health check carries no token.
        assert httpx.get(url + "/healthz").status_code == 200
    assert value(samples, "callmask_pool_numbers", account="acme") == len(POOL)


def test_without_a_metrics_token_the_scrape_is_open(live: Live) -> None:
    assert live.settings.metrics_token == ""
    assert value(scrape(live.http, live.url), "callmask_pool_numbers", account="acme") == 3
