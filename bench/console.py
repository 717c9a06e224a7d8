"""What the console's overview weighs and how long it takes to load, against the sign-in page.

`python -m bench.console`: a SQLite file is seeded with a day of one busy account through the
use cases, the clock moved along the day (a food-delivery shape: restaurants chosen Zipf-like,
a new customer per order, each masking set for 30-90 minutes; then calls on a share of them),
`callmask serve` runs on it, and headless Chromium (bench/browser.py, the browser the console
tests use) loads the sign-in page, signed out, and the overview, signed in, in turn, R rounds,
with its cache off so every round fetches every file. The sign-in page is the baseline: the same
stylesheet and server, no figures and no chart, measured in the same sitting. Per page: bytes
transferred (the page and every file it loads) and their uncompressed size, time to the first
byte, DOMContentLoaded, the load event, and for the overview when its chart is drawn
(static/console.js marks it). Bounded: at most 200,000 maskings, 50,000 calls, 100 rounds.
Writes docs/console-load.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from bench.browser import Browser, headless_chromium
from bench.seed import callmask_command
from bench.servers import Server, free_port
from callmask.bootstrap import build_services
from callmask.config import Settings
from callmask.domain.calls import CallEvent
from callmask.domain.errors import PoolExhausted
from callmask.domain.numbers import E164
from callmask.domain.permissions import Permission
from callmask.service.accounts import principal_of
from callmask.storage.sqlite import SqliteStore

UPLOT = Path(__file__).resolve().parent.parent / "src/callmask/http/console/static/vendor"
UPLOT = UPLOT / "uPlot.iife.min.js"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "console-load.md"
MAX_MASKINGS, MAX_CALLS, MAX_ROUNDS = 200_000, 50_000, 100
RESTAURANTS, POOL = 60, 60
DAY_S = 86_400.0

TIMINGS = """
const nav = performance.getEntriesByType('navigation')[0];
const files = performance.getEntriesByType('resource');
const drawn = performance.getEntriesByName('callmask-charts-drawn')[0];
return {
  ready: nav.loadEventEnd > 0,
  ttfb: nav.responseStart - nav.requestStart,
  dcl: nav.domContentLoadedEventEnd,
  load: nav.loadEventEnd,
  charts: drawn ? drawn.startTime : null,
  transferred: nav.transferSize + files.reduce((n, f) => n + f.transferSize, 0),
  size: nav.decodedBodySize + files.reduce((n, f) => n + f.decodedBodySize, 0),
  html: nav.decodedBodySize,
  requests: 1 + files.length,
};
"""


@dataclass
class Seeded:
    maskings: int
    refused: int
    calls: int
    seconds: float


async def _seed(url: str, maskings: int, calls: int, now: float, seed: int) -> Seeded:
    """One account's day through the use cases, the clock stepping along it."""
    started = time.perf_counter()
    rng = random.Random(seed)
    clock = [now - DAY_S]
    store = SqliteStore.from_url(url)
    try:
        await store.migrate()
        services = build_services(store, Settings(database_url=url), lambda: clock[0])
        await services.accounts.add_user("ops", "client", "shop", frozenset(Permission))
        await services.pool.add("shop", [E164(f"+91804000{n:04d}") for n in range(POOL)])
        user = await services.accounts.user("ops")
        assert user is not None
        principal = principal_of(user)
        weights = [1 / (rank + 1) for rank in range(RESTAURANTS)]
        made: list[tuple[str, str, str, str, float]] = []
        refused = 0
        for n in range(maskings):
            # Orders follow the day: quiet at night, busiest in the evening.
            clock[0] = now - DAY_S + DAY_S * (n + rng.random()) / maskings
            restaurant = rng.choices(range(RESTAURANTS), weights)[0]
            try:
                masking = await services.maskings.set_masking(
                    principal,
                    f"+9198100{restaurant:05d}",
                    f"+9197{n:08d}",
                    expiry_duration=rng.choice((30, 45, 60, 90)),
                )
            except PoolExhausted:
                refused += 1
                continue
            made.append((masking.masking_id, masking.mask, masking.m1, masking.m2, clock[0]))
        for n, (masking_id, mask, m1, m2, at) in enumerate(rng.sample(made, min(calls, len(made)))):
            start = int((at + rng.uniform(60, 600)) * 1000)
            if start >= now * 1000 - 60_000:
                continue
            call_id = f"bench-call-{n}"
            events = [
                CallEvent("start", call_id, start, masking_id, E164(mask), E164(m2), E164(m1))
            ]
            if rng.random() < 0.8:
                talk = int(rng.expovariate(1 / 90)) + 5
                events += [
                    CallEvent("answer", call_id, start + 5000, sip_status=200),
                    CallEvent(
                        "end", call_id, start + 5000 + talk * 1000, duration_s=talk, sip_status=200
                    ),
                ]
            else:
                events.append(
                    CallEvent("failed", call_id, start + 20_000, duration_s=0, sip_status=486)
                )
            for event in events:
                await services.routing.record_call_event(event)
        return Seeded(len(made), refused, min(calls, len(made)), time.perf_counter() - started)
    finally:
        await store.close()


def _load(driver: Browser, url: str, chart: bool) -> dict[str, Any]:
    driver.get(url)
    timings: dict[str, Any] = WebDriverWait(driver, 30).until(
        lambda d: (t := d.execute_script(TIMINGS))["ready"] and (not chart or t["charts"]) and t
    )
    return timings


def _sign_in(driver: Browser, base: str, token: str) -> None:
    driver.get(base + "/console/signin")
    driver.find_element(By.ID, "userId").send_keys("ops")
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.ID, "signin").click()
    WebDriverWait(driver, 30).until(lambda d: d.current_url.endswith("/console"))


def _median(rows: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(row[key] for row in rows))


def _p90(rows: list[dict[str, Any]], key: str) -> float:
    ordered = sorted(row[key] for row in rows)
    return float(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))])


def _report(
    seeded: Seeded, rounds: int, signin: list[dict[str, Any]], overview: list[dict[str, Any]]
) -> str:
    def row(name: str, rows: list[dict[str, Any]], charts: bool) -> str:
        drawn = f"{_median(rows, 'charts'):.0f} / {_p90(rows, 'charts'):.0f}" if charts else "-"
        return (
            f"| {name} | {rows[0]['requests']} | {rows[0]['transferred'] / 1024:.1f} KB"
            f" | {rows[0]['size'] / 1024:.1f} KB | {rows[0]['html'] / 1024:.1f} KB"
            f" | {_median(rows, 'ttfb'):.1f} / {_p90(rows, 'ttfb'):.1f}"
            f" | {_median(rows, 'dcl'):.0f} / {_p90(rows, 'dcl'):.0f}"
            f" | {_median(rows, 'load'):.0f} / {_p90(rows, 'load'):.0f} | {drawn} |"
        )

    uplot = UPLOT.read_bytes()
    ratio_load = _median(overview, "load") / _median(signin, "load")
    ratio_ttfb = _median(overview, "ttfb") / _median(signin, "ttfb")
    return "\n".join(
        [
            "# Console: the overview's weight and load time",
            "",
            "Written by `python -m bench.console` (part of `make bench`); rerun it, do not edit.",
            f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
            "",
            f"One account's day seeded through the use cases: {seeded.maskings:,} maskings"
            f" ({seeded.refused:,} sets answered 1505) over 24 h from {RESTAURANTS} restaurants to"
            f" a new customer each, a pool of {POOL}, and {seeded.calls:,} calls"
            f" (seeding took {seeded.seconds:.0f} s). `callmask serve` on SQLite; headless"
            f" Chromium (Debian's, as the console tests drive it) on the same machine, cache off,"
            f" {rounds} loads of each page in turn. The sign-in page is the baseline: the same"
            " stylesheet and server, no figures and no chart. Times in ms from navigation start,"
            " median / p90.",
            "",
            "| page | requests | transferred | uncompressed | HTML | first byte | DOMContentLoaded"
            " | load | chart drawn |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
            row("sign-in (baseline)", signin, False),
            row("overview, 24 h", overview, True),
            "",
            f"The overview loads in **{ratio_load:.1f}x** the sign-in page's time; its first byte"
            f" (the server computing the figures: the pool read, the day's maskings swept for"
            f" the busiest party, the 1505 and today's counts) takes **{ratio_ttfb:.1f}x** the"
            " sign-in page's. Nothing is compressed (uvicorn sends files as they are); a reverse"
            f" proxy's gzip (level 6) would shrink uPlot's {len(uplot) / 1024:.0f} KB to"
            f" {len(gzip.compress(uplot, 6)) / 1024:.0f} KB.",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maskings", type=int, default=20_000)
    parser.add_argument("--calls", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    maskings = max(1, min(args.maskings, MAX_MASKINGS))
    calls = max(0, min(args.calls, MAX_CALLS))
    rounds = max(1, min(args.rounds, MAX_ROUNDS))
    with tempfile.TemporaryDirectory(prefix="bench-console-") as folder:
        url = f"sqlite:///{Path(folder) / 'console.db'}"
        seeded = asyncio.run(_seed(url, maskings, calls, time.time(), args.seed))
        token = asyncio.run(_token(url))
        port = free_port()
        server = Server(
            "callmask",
            [callmask_command(), "serve"],
            port,
            Path(folder) / "serve.log",
            env={
                "CALLMASK_DATABASE_URL": url,
                "CALLMASK_PORT": str(port),
                "CALLMASK_ACCESS_LOG": "off",
            },
        )
        try:
            server.wait_ready()
            # A signed-in browser is sent from the sign-in page to the overview, so the
            # baseline loads in a second browser that never signs in.
            with (
                headless_chromium(Path(folder)) as driver,
                headless_chromium(Path(folder)) as visitor,
            ):
                for browser in (driver, visitor):
                    browser.execute_cdp_cmd("Network.enable", {})
                    browser.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
                _sign_in(driver, server.url, token)
                _load(driver, server.url + "/console", True)  # warm the server's first use
                _load(visitor, server.url + "/console/signin", False)
                signin, overview = [], []
                for _ in range(rounds):
                    signin.append(_load(visitor, server.url + "/console/signin", False))
                    overview.append(_load(driver, server.url + "/console", True))
        finally:
            server.stop()
    args.output.write_text(_report(seeded, rounds, signin, overview), encoding="utf-8")
    print(args.output.read_text(encoding="utf-8"))
    return 0


async def _token(url: str) -> str:
    """A new token for the seeded user (only its hash was kept)."""
    store = SqliteStore.from_url(url)
    try:
        token = await build_services(store, Settings(database_url=url)).accounts.rotate_token("ops")
        assert token is not None
        return token
    finally:
        await store.close()


if __name__ == "__main__":
    raise SystemExit(main())
