"""Route and set latency at scale: a million live maskings, 10,000 DIDs, hubs of thousands.

`python -m bench.scale [--maskings 1000000] [--backends sqlite,postgresql]` builds, on each
backend, two states side by side: a big one (default 200,000 live maskings over a pool of
10,000 DIDs) and a small baseline (1,000 maskings, pool 100). Each holds hubs (one party
masked with d fresh customers on the d lowest DIDs, as first fit would give them), peers
(parties of one high degree, to measure a set between two of them) and disjoint light pairs
spread over the whole pool. The states are written directly (bulk INSERT on SQLite, COPY on
PostgreSQL, on the schema callmask migrated, secondary indexes rebuilt from their own
definitions afterwards), then checked with SQL: the invariant must hold exactly as if the
service had made them.

Then, through callmask's own use cases (the service layer on the real store) and over HTTP
(`callmask serve` on each state, one request at a time), it times route lookups of existing
maskings and sets of new pairs, each set undone by an unset so the state keeps its size.
Small and big run in alternating chunks of the same case, so a drift of the shared machine
hits both; the report gives big/small ratios, set latency against hub degree, and the
query plans of the statements whose cost grows with degree. Writes docs/scale.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

from bench import schema, seed
from bench.servers import Server, free_port
from callmask.bootstrap import build_services
from callmask.config import Settings
from callmask.domain.numbers import E164
from callmask.service import Services
from callmask.service.accounts import Principal
from callmask.storage import sql
from callmask.storage.base import Store
from callmask.storage.postgres import PostgresStore
from callmask.storage.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "scale.md"
PG_URL = os.environ.get("CALLMASK_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgresql")
ACCOUNT = "scale"
CLIENT = Principal("scaleclient", ACCOUNT, "client")
ROUTER = Principal("scalerouter", ACCOUNT, "router")
DAY_MS = 86_400_000
CHUNK = 50_000  # maskings per generated batch
ROUNDS = 4  # alternating small/big chunks per case
MASKING_COLUMNS = (
    "masking_id",
    "account_id",
    "m1",
    "m2",
    "pair_lo",
    "pair_hi",
    "mask",
    "event_id",
    "created_ms",
    "expires_ms",
)
CLAIM_COLUMNS = ("mask", "party", "masking_id", "expires_ms")
LOADED = ("maskings", "claims")


# -- the shape of a state ---------------------------------------------------------------------


def did(n: int) -> str:
    return f"+91804{n:07d}"


def hub(n: int) -> str:
    return f"+91950{n:07d}"


def peer(n: int) -> str:
    return f"+91951{n:07d}"


def customer(n: int) -> str:
    """A party of the seeded state: a hub's or peer's customer, or one side of a light pair."""
    return f"+9196{n:08d}"


@dataclass(frozen=True)
class Shape:
    name: str
    maskings: int
    pool: int
    hubs: tuple[int, ...]
    peers: int
    peer_degree: int

    @property
    def heavy(self) -> int:
        return sum(self.hubs) + self.peers * self.peer_degree

    @property
    def light(self) -> int:
        return self.maskings - self.heavy

    def check(self) -> None:
        degrees = [*self.hubs, self.peer_degree]
        if max(degrees) >= self.pool:
            raise SystemExit(f"{self.name}: a party of degree d needs d DIDs; pool {self.pool}")
        if self.light < 0 or self.peers < 2:
            raise SystemExit(f"{self.name}: hubs and peers exceed {self.maskings} maskings")

    def describe(self) -> str:
        hubs = ", ".join(f"{d:,}" for d in self.hubs)
        return (
            f"{self.maskings:,} live maskings, pool {self.pool:,}; hubs of degree {hubs};"
            f" {self.peers} peers of degree {self.peer_degree:,}; {self.light:,} light pairs"
        )


@dataclass(frozen=True)
class Layout:
    """Where every seeded masking is, computed from its index: no list of a million rows."""

    shape: Shape
    now_ms: int

    def heavy_party(self, k: int) -> tuple[str, int]:
        """(hub or peer, position j among its maskings) of heavy masking k."""
        for h, degree in enumerate(self.shape.hubs):
            if k < degree:
                return hub(h), k
            k -= degree
        return peer(k // self.shape.peer_degree), k % self.shape.peer_degree

    def masking(self, k: int) -> tuple[str, str, str]:
        """(m1, m2, mask) of masking k: heavy ones first (on the lowest DIDs), then light."""
        if k < self.shape.heavy:
            party, j = self.heavy_party(k)
            return party, customer(k), did(j)
        light = k - self.shape.heavy
        first = self.shape.heavy + 2 * light
        return customer(first), customer(first + 1), did(light % self.shape.pool)

    def rows(self) -> Iterator[tuple[list[tuple[object, ...]], list[tuple[object, ...]]]]:
        expires = self.now_ms + 29 * DAY_MS
        for start in range(0, self.shape.maskings, CHUNK):
            maskings: list[tuple[object, ...]] = []
            claims: list[tuple[object, ...]] = []
            for k in range(start, min(start + CHUNK, self.shape.maskings)):
                m1, m2, mask = self.masking(k)
                masking_id = f"{k:024x}"
                lo, hi = (m1, m2) if m1 < m2 else (m2, m1)
                created = self.now_ms - 3_600_000 + k % 3_600_000
                maskings.append((masking_id, ACCOUNT, m1, m2, lo, hi, mask, None, created, expires))
                claims.append((mask, m1, masking_id, expires))
                claims.append((mask, m2, masking_id, expires))
            yield maskings, claims


# -- seeding ------------------------------------------------------------------------------------


@dataclass
class Seeded:
    insert_s: float = 0.0
    index_s: float = 0.0
    vacuum_s: float = 0.0
    verify_s: float = 0.0
    delta: int = 0
    checks: list[str] = field(default_factory=list)


# Portable SQL over the loaded tables; each must answer the figure beside it.
def _checks(shape: Shape) -> list[tuple[str, str, int | None]]:
    n = shape.maskings
    return [
        ("live maskings", "SELECT count(*) FROM maskings WHERE ended_ms IS NULL", n),
        ("claims = 2 x live maskings", "SELECT count(*) FROM claims", 2 * n),
        (
            "claims on their masking's DID, for one of its parties",
            "SELECT count(*) FROM claims c JOIN maskings m ON m.masking_id = c.masking_id"
            " WHERE m.ended_ms IS NULL AND c.mask = m.mask AND c.party IN (m.m1, m.m2)",
            2 * n,
        ),
        (
            "pairs with two open maskings",
            "SELECT count(*) FROM (SELECT 1 FROM maskings WHERE ended_ms IS NULL"
            " GROUP BY account_id, pair_lo, pair_hi HAVING count(*) > 1) AS twice",
            0,
        ),
        (
            "claims on a number outside the account's pool",
            "SELECT count(*) FROM claims c LEFT JOIN pool_numbers p ON p.number = c.mask"
            " AND p.account_id = 'scale' WHERE p.number IS NULL",
            0,
        ),
        (
            "delta (most live maskings of one party)",
            "SELECT max(n) FROM (SELECT count(*) AS n FROM claims GROUP BY party) AS degrees",
            None,
        ),
    ]


def _verify(shape: Shape, run: Callable[[str], int], seeded: Seeded) -> None:
    began = time.perf_counter()
    expected_delta = max(*shape.hubs, shape.peer_degree)
    for label, statement, expected in _checks(shape):
        got = run(statement)
        want = expected_delta if expected is None else expected
        if got != want:
            raise RuntimeError(f"{shape.name}: {label}: {got}, expected {want}")
        seeded.checks.append(f"{label}: {got:,}")
        if expected is None:
            seeded.delta = got
    seeded.verify_s = time.perf_counter() - began


async def seed_sqlite(path: str, shape: Shape, layout: Layout) -> Seeded:
    store = SqliteStore(path)
    await store.migrate()
    await store.close()
    seeded = Seeded()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        # The rows are loaded with no journal and no fsync, then the store reopens the file
        # in WAL as callmask always does; only the loading is unsafe, not the state.
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -1000000")
        marks = ", ".join("?" * len(LOADED))
        indexes = conn.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ({marks})"
            " AND sql IS NOT NULL",
            LOADED,
        ).fetchall()
        began = time.perf_counter()
        conn.execute("BEGIN")
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        conn.executemany(
            "INSERT INTO pool_numbers (number, account_id, added_ms) VALUES (?, ?, ?)",
            [(did(n), ACCOUNT, layout.now_ms) for n in range(shape.pool)],
        )
        for maskings, claims in layout.rows():
            conn.executemany(
                f"INSERT INTO maskings ({', '.join(MASKING_COLUMNS)})"
                f" VALUES ({', '.join('?' * len(MASKING_COLUMNS))})",
                maskings,
            )
            conn.executemany(
                f"INSERT INTO claims ({', '.join(CLAIM_COLUMNS)}) VALUES (?, ?, ?, ?)", claims
            )
        seeded.insert_s = time.perf_counter() - began
        began = time.perf_counter()
        for _, statement in indexes:
            conn.execute(statement)
        conn.execute("COMMIT")
        seeded.index_s = time.perf_counter() - began
        conn.execute("PRAGMA journal_mode = WAL")
        _verify(shape, lambda s: int(conn.execute(s).fetchone()[0]), seeded)
    finally:
        conn.close()
    return seeded


async def seed_postgres(url: str, shape: Shape, layout: Layout) -> Seeded:
    store = PostgresStore(url)
    await store.migrate()
    await store.close()
    seeded = Seeded()
    conn = await asyncpg.connect(url, timeout=30)
    try:
        await conn.execute("SET maintenance_work_mem = '512MB'")
        indexes = await conn.fetch(
            "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x"
            " JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid"
            " WHERE t.relnamespace = current_schema()::regnamespace AND t.relname = ANY($1)"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
            list(LOADED),
        )
        foreign = await conn.fetch(
            "SELECT conname, conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE contype = 'f' AND connamespace = current_schema()::regnamespace"
            " AND conrelid::regclass::text = ANY($1)",
            list(LOADED),
        )
        began = time.perf_counter()
        for name, table, _ in foreign:
            await conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            await conn.execute(f'DROP INDEX "{name}"')
        await conn.copy_records_to_table(
            "pool_numbers",
            records=[(did(n), ACCOUNT, layout.now_ms) for n in range(shape.pool)],
            columns=["number", "account_id", "added_ms"],
        )
        for maskings, claims in layout.rows():
            await conn.copy_records_to_table(
                "maskings", records=maskings, columns=list(MASKING_COLUMNS)
            )
            await conn.copy_records_to_table("claims", records=claims, columns=list(CLAIM_COLUMNS))
        seeded.insert_s = time.perf_counter() - began
        began = time.perf_counter()
        for _, definition in indexes:
            await conn.execute(definition)
        for name, table, definition in foreign:
            await conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        seeded.index_s = time.perf_counter() - began
        # Statistics (without them PostgreSQL plans the pool walk as a scan and sort of the
        # whole pool, bench/schema.py) and the visibility map, which autovacuum would set
        # after a bulk insert anyway, partway through the measurement.
        began = time.perf_counter()
        for row in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        ):
            await conn.execute(f'VACUUM (ANALYZE) "{row[0]}"')
        seeded.vacuum_s = time.perf_counter() - began
        results: dict[str, int] = {}
        for _, statement, _ in _checks(shape):
            results[statement] = int(await conn.fetchval(statement))
        _verify(shape, results.__getitem__, seeded)
    finally:
        await conn.close()
    return seeded


# -- measuring ----------------------------------------------------------------------------------


Op = Callable[[], Awaitable[dict[str, float]]]


def _us(began: int) -> float:
    return (time.perf_counter_ns() - began) / 1000


@dataclass
class Scene:
    """One state on one backend: its layout, its store and service, or its server."""

    backend: str
    shape: Shape
    layout: Layout
    url: str
    rng: random.Random
    seeded: Seeded = field(default_factory=Seeded)
    store: Store | None = None
    service: Services | None = None
    server: Server | None = None
    http: httpx.AsyncClient | None = None
    tokens: tuple[str, str] = ("", "")
    fresh: int = 0
    unset_ops: int = 0
    peer_pairs: list[tuple[str, str]] = field(default_factory=list)

    def new_party(self, prefix: str = "97") -> str:
        self.fresh += 1
        return f"+91{prefix}{self.fresh:08d}"

    def next_peer_pair(self) -> tuple[str, str] | None:
        return self.peer_pairs.pop() if self.peer_pairs else None

    def light_party(self) -> tuple[str, str, str]:
        """(caller, its DID, the other party) of a random light masking."""
        k = self.shape.heavy + self.rng.randrange(self.shape.light)
        m1, m2, mask = self.layout.masking(k)
        return (m1, mask, m2) if self.rng.random() < 0.5 else (m2, mask, m1)

    def heavy_party(self) -> tuple[str, str, str]:
        """(a hub or peer, one of its DIDs, the customer there), over every heavy masking."""
        k = self.rng.randrange(self.shape.heavy)
        m1, m2, mask = self.layout.masking(k)
        return m1, mask, m2

    # Each operation answers its timings in microseconds, by metric.

    async def route(self, caller: str, mask: str, expect: str | None) -> dict[str, float]:
        if self.http is not None:
            began = time.perf_counter_ns()
            answer = await self.http.get(
                "/api/v2/Masking/route",
                params={"caller": caller, "mask": mask},
                headers={"Authorization": f"Bearer {self.tokens[1]}"},
            )
            took = _us(began)
            body = answer.json()
            to = body.get("to")
            action = body.get("action")
        else:
            assert self.service is not None
            began = time.perf_counter_ns()
            found = await self.service.routing.route_call(ROUTER, caller, mask)
            took = _us(began)
            to, action = found.to, found.action
        if (expect is None and action != "reject") or (expect is not None and to != expect):
            raise RuntimeError(f"route {caller[-4:]} on {mask[-4:]}: {action} to {to}")
        return {"route": took}

    async def _set(self, m1: str, m2: str) -> tuple[float, str]:
        """The set's time and the new masking's id."""
        if self.http is not None:
            began = time.perf_counter_ns()
            answer = await self.http.post(
                "/api/v2/Masking/set",
                json={"userId": CLIENT.user_id, "token": self.tokens[0], "m1": m1, "m2": m2},
            )
            took = _us(began)
            body = answer.json()
            if body.get("status") != "success":
                raise RuntimeError(f"set failed: {body}")
            return took, str(body["maskingId"])
        assert self.service is not None
        began = time.perf_counter_ns()
        masking = await self.service.maskings.set_masking(CLIENT, m1, m2)
        return _us(began), masking.masking_id

    async def _unset(self, m1: str, m2: str) -> float:
        if self.http is not None:
            began = time.perf_counter_ns()
            answer = await self.http.post(
                "/api/v2/Masking/unset",
                json={
                    "userId": CLIENT.user_id,
                    "token": self.tokens[0],
                    "m1": m1,
                    "m2": m2,
                    "expiry_duration": -1,
                },
            )
            took = _us(began)
            if answer.json().get("count") != 1:
                raise RuntimeError(f"unset failed: {answer.text}")
            return took
        assert self.service is not None
        began = time.perf_counter_ns()
        ended = await self.service.maskings.unset_masking(CLIENT, m1, m2, expiry_duration=-1)
        took = _us(began)
        if len(ended) != 1:
            raise RuntimeError(f"unset ended {len(ended)} maskings")
        return took

    async def _end(self, masking_id: str) -> None:
        """End a masking as an unset does once it has found it, through the store."""
        assert self.store is not None
        now_ms = int(time.time() * 1000)
        async with self.store.transaction() as tx:
            await tx.change_expiry([masking_id], now_ms, now_ms, "unset")

    async def set_and_unset(self, m1: str, m2: str, index: int) -> dict[str, float]:
        """Set m1-m2, then end it again so the state keeps its size.

        The first operations end it with a timed unset naming both parties (m1 first on even
        ones, m2 on odd ones); the rest through the store, as unset does once it has found
        the masking: unset's search costs a scan of the account on SQLite (docs/scale.md).
        """
        took, masking_id = await self._set(m1, m2)
        if index >= self.unset_ops:
            await self._end(masking_id)
            return {"set": took}
        first, second = (m1, m2) if index % 2 == 0 else (m2, m1)
        metric = "unset, m1 first" if index % 2 == 0 else "unset, m2 first"
        return {"set": took, metric: await self._unset(first, second)}

    async def walk(self, m1: str, m2: str) -> dict[str, float]:
        """Only the pool walk (first free DID for the pair), in a transaction of its own."""
        assert self.store is not None
        pair = (E164(m1), E164(m2)) if m1 < m2 else (E164(m2), E164(m1))
        now_ms = int(time.time() * 1000)
        async with self.store.transaction() as tx:
            began = time.perf_counter_ns()
            found = await tx.first_free(ACCOUNT, pair, now_ms)
            took = _us(began)
        if found is None:
            raise RuntimeError("no free DID")
        return {"walk": took}


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    kind: str  # "route" or "set"
    degree: int | None  # the heavier party's degree, where it matters
    make: Callable[[Scene, int], Awaitable[dict[str, float]] | None]

    def applies(self, shape: Shape) -> bool:
        hubs = self.key.startswith(("set-hub", "walk-hub"))
        return not hubs or self.degree in shape.hubs


def _hub_set(degree: int) -> Callable[[Scene, int], Awaitable[dict[str, float]]]:
    def op(scene: Scene, index: int) -> Awaitable[dict[str, float]]:
        return scene.set_and_unset(hub(scene.shape.hubs.index(degree)), scene.new_party(), index)

    return op


def _hub_walk(degree: int) -> Callable[[Scene, int], Awaitable[dict[str, float]]]:
    def op(scene: Scene, index: int) -> Awaitable[dict[str, float]]:
        return scene.walk(hub(scene.shape.hubs.index(degree)), scene.new_party())

    return op


def cases(shape: Shape, peer_degrees: dict[str, int]) -> list[Case]:
    found = [
        Case(
            "route-light",
            "route, a light party",
            "route",
            1,
            lambda s, i: s.route(*s.light_party()),
        ),
        Case(
            "route-heavy",
            "route, a hub or peer party on one of its DIDs",
            "route",
            None,
            lambda s, i: s.route(*s.heavy_party()),
        ),
        Case(
            "route-stranger",
            "route, a stranger calling a busy DID (403)",
            "route",
            0,
            lambda s, i: s.route(s.new_party("99"), did(s.rng.randrange(8)), None),
        ),
        Case(
            "set-fresh",
            "set, two fresh parties",
            "set",
            0,
            lambda s, i: s.set_and_unset(s.new_party("97"), s.new_party("98"), i),
        ),
        Case(
            "set-light",
            "set, a light party (degree 1) + a fresh one",
            "set",
            1,
            lambda s, i: s.set_and_unset(s.light_party()[0], s.new_party("98"), i),
        ),
    ]
    found.append(
        Case(
            "walk-fresh",
            "pool walk only (first free), two fresh parties",
            "walk",
            0,
            lambda s, i: s.walk(s.new_party("97"), s.new_party("98")),
        )
    )
    for degree in shape.hubs:
        found.append(
            Case(
                f"walk-hub-{degree}",
                f"pool walk only, a hub of degree {degree:,} + a fresh customer",
                "walk",
                degree,
                _hub_walk(degree),
            )
        )
    for degree in shape.hubs:
        found.append(
            Case(
                f"set-hub-{degree}",
                f"set, a hub of degree {degree:,} + a fresh customer",
                "set",
                degree,
                _hub_set(degree),
            )
        )

    def peers(scene: Scene, index: int) -> Awaitable[dict[str, float]] | None:
        pair = scene.next_peer_pair()
        return None if pair is None else scene.set_and_unset(*pair, index)

    found.append(
        Case(
            "set-peers",
            "set, two peers (each of degree "
            + " / ".join(f"{d:,}" for d in sorted(set(peer_degrees.values())))
            + ")",
            "set",
            None,
            peers,
        )
    )
    return found


@dataclass
class Figures:
    times: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, timings: dict[str, float]) -> None:
        for metric, value in timings.items():
            self.times.setdefault(metric, []).append(value)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(case: Case, scenes: list[Scene], ops: int, budget_s: float) -> dict[str, Figures]:
    """Run `ops` operations of case on each scene, in alternating chunks; warm up first."""
    figures = {scene.shape.name: Figures() for scene in scenes}
    warm = max(5, min(50, ops // 20))
    for scene in scenes:
        for index in range(warm):
            op = case.make(scene, index)
            if op is None:
                break
            await op
    per_round = -(-ops // ROUNDS)
    for round_index in range(ROUNDS):
        order = scenes if round_index % 2 == 0 else scenes[::-1]
        for scene in order:
            mine = figures[scene.shape.name]
            done = len(mine.times.get(case.kind, []))
            for index in range(done, min(ops, done + per_round)):
                if mine.seconds > budget_s:
                    break
                op = case.make(scene, index)
                if op is None:
                    break
                began = time.perf_counter()
                mine.add(await op)
                mine.seconds += time.perf_counter() - began
    return figures


# -- query plans --------------------------------------------------------------------------------


async def plans(scene: Scene) -> list[str]:
    """How each backend runs the statements whose work grows with a party's degree."""
    shape = scene.shape
    big = max(range(len(shape.hubs)), key=lambda h: shape.hubs[h])
    party, other = hub(big), "+919800000000"
    now_ms = int(time.time() * 1000)
    fresh, fresh_args = sql.first_free_args(ACCOUNT, (party, other), now_ms, now_ms - 3_600_000)
    pair, pair_args = sql.find_open_args(ACCOUNT, (party, other), None, now_ms, scene.backend)
    statements = [
        ("FIRST_FREE (the pool walk)", sql.FIRST_FREE, (ACCOUNT, party, now_ms, other, now_ms)),
        ("FIRST_FRESH (the walk passing over recent releases)", fresh, fresh_args),
        ("DROP_LAPSED_CLAIMS (at every set)", sql.DROP_LAPSED_CLAIMS, (party, other, 0)),
        ("find_open(2 parties): unset by m1 and m2", pair, pair_args),
        ("ROUTE", sql.ROUTE, (did(0), party, now_ms)),
    ]
    lines = [f"A hub of degree {shape.hubs[big]:,} and a fresh party, on the {shape.name} state."]
    if scene.backend == "sqlite":
        conn = sqlite3.connect(scene.url.removeprefix("sqlite:///"))
        try:
            for label, statement, args in statements:
                rows = conn.execute("EXPLAIN QUERY PLAN " + statement, args).fetchall()
                lines += ["", f"{label}:", "```", *(str(row[-1]) for row in rows), "```"]
        finally:
            conn.close()
        return lines
    conn = await asyncpg.connect(scene.url, timeout=30)
    try:
        for label, statement, args in statements:
            # DROP_LAPSED_CLAIMS with expiry 0 deletes nothing, so it is safe to ANALYZE.
            rows = await conn.fetch(
                "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) " + sql.numbered(statement),
                *args,
            )
            lines += ["", f"{label}:", "```", *(str(row[0]) for row in rows), "```"]
    finally:
        await conn.close()
    return lines


# -- a run --------------------------------------------------------------------------------------


def shapes(args: argparse.Namespace) -> list[Shape]:
    small = Shape(
        "small",
        args.small_maskings,
        args.small_pool,
        tuple(args.small_hubs),
        args.small_peers,
        args.small_peer_degree,
    )
    big = Shape("big", args.maskings, args.pool, tuple(args.hubs), args.peers, args.peer_degree)
    for shape in (small, big):
        shape.check()
    return [small, big]


async def build(backend: str, shape: Shape, args: argparse.Namespace, workdir: Path) -> Scene:
    now_ms = int(time.time() * 1000)
    layout = Layout(shape, now_ms)
    if backend == "sqlite":
        url = f"sqlite:///{workdir / f'{shape.name}.db'}"
    else:
        name = schema.new_name(f"scale_{shape.name}")
        args.schemas.append(name)
        await _admin(args.pg_url, f"CREATE SCHEMA {name}")
        url = schema.url(args.pg_url, name)
    scene = Scene(backend, shape, layout, url, random.Random(args.seed))
    scene.unset_ops = args.unset_ops
    print(f"{backend}: seeding {shape.name}: {shape.describe()}", flush=True)
    if backend == "sqlite":
        scene.seeded = await seed_sqlite(url.removeprefix("sqlite:///"), shape, layout)
    else:
        scene.seeded = await seed_postgres(url, shape, layout)
    s = scene.seeded
    print(
        f"{backend}: {shape.name} seeded: insert {s.insert_s:.1f} s, indexes {s.index_s:.1f} s,"
        f" vacuum/analyze {s.vacuum_s:.1f} s, checks {s.verify_s:.1f} s; delta {s.delta:,}",
        flush=True,
    )
    pairs = [(peer(a), peer(b)) for a in range(shape.peers) for b in range(a + 1, shape.peers)]
    scene.rng.shuffle(pairs)
    scene.peer_pairs = pairs
    return scene


async def _admin(pg_url: str, statement: str) -> None:
    conn = await asyncpg.connect(pg_url, timeout=10)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def _store(scene: Scene) -> Store:
    if scene.backend == "sqlite":
        return SqliteStore.from_url(scene.url)
    return PostgresStore(scene.url, pool_size=2, timeout_s=30)


async def through_service(
    scenes: list[Scene], chosen: list[Case], args: argparse.Namespace
) -> dict[str, dict[str, Figures]]:
    results: dict[str, dict[str, Figures]] = {}
    try:
        for scene in scenes:
            scene.store = _store(scene)
            scene.service = build_services(scene.store, Settings())
            scene.tokens = (
                await scene.service.accounts.add_user(CLIENT.user_id, "client", ACCOUNT),
                await scene.service.accounts.add_user(ROUTER.user_id, "router", ACCOUNT),
            )
            for _ in range(200):  # spot-check routing of the seeded state
                await scene.route(*scene.light_party())
                await scene.route(*scene.heavy_party())
        for case in chosen:
            ops = args.route_ops if case.kind == "route" else args.ops
            mine = [s for s in scenes if case.applies(s.shape)]
            results[case.key] = await measure(case, mine, ops, args.case_seconds)
            _progress("service", scenes[0].backend, case, results[case.key])
    finally:
        for scene in scenes:
            if scene.store is not None:
                await scene.store.close()
            scene.store = scene.service = None
    return results


KINDS = ("route", "walk", "set")
HTTP_CASES = ("route-light", "route-heavy", "set-fresh")


async def over_http(
    scenes: list[Scene], chosen: list[Case], args: argparse.Namespace, workdir: Path
) -> dict[str, dict[str, Figures]]:
    results: dict[str, dict[str, Figures]] = {}
    common = max(set(scenes[0].shape.hubs) & set(scenes[1].shape.hubs), default=None)
    wanted = [*HTTP_CASES, f"set-hub-{common}", f"set-hub-{max(scenes[1].shape.hubs)}"]
    try:
        for scene in scenes:
            port = free_port()
            scene.server = Server(
                f"callmask-{scene.backend}-{scene.shape.name}",
                [seed.callmask_command(), "serve", "--port", str(port)],
                port,
                workdir / f"serve-{scene.backend}-{scene.shape.name}.log",
                env={"CALLMASK_DATABASE_URL": scene.url},
                cwd=ROOT,
            )
            scene.server.wait_ready(timeout_s=60)
            scene.http = httpx.AsyncClient(base_url=scene.server.url, timeout=30)
            # Sets beyond the timed unsets are ended through a store of the runner's own, one
            # at a time between two requests, so it never writes while the server does.
            scene.store = _store(scene)
        for case in chosen:
            if case.key not in wanted:
                continue
            mine = [s for s in scenes if case.applies(s.shape)]
            results[case.key] = await measure(case, mine, args.http_ops, args.case_seconds)
            _progress("http", scenes[0].backend, case, results[case.key])
    finally:
        for scene in scenes:
            if scene.http is not None:
                await scene.http.aclose()
            if scene.store is not None:
                await scene.store.close()
                scene.store = None
            if scene.server is not None:
                killed = scene.server.stop()
                if killed:
                    print(f"had to SIGKILL {killed}", file=sys.stderr, flush=True)
            scene.http = scene.server = None
    return results


def _progress(path: str, backend: str, case: Case, figures: dict[str, Figures]) -> None:
    parts = []
    for name, found in figures.items():
        main = found.times.get(case.kind)
        if main:
            parts.append(
                f"{name} n={len(main)} p50 {percentile(main, 0.5):,.0f} p99"
                f" {percentile(main, 0.99):,.0f} us"
            )
    print(f"{backend} {path:7} {case.label}: " + "; ".join(parts), flush=True)


def ordered_cases(scenes: list[Scene], peer_degrees: dict[str, int]) -> list[Case]:
    """Every case of any scene once: routes, light sets, peers, then hubs by degree."""
    found: dict[str, Case] = {}
    for scene in scenes:
        for case in cases(scene.shape, peer_degrees):
            found.setdefault(case.key, case)
    return sorted(
        found.values(),
        key=lambda c: (KINDS.index(c.kind), c.key.startswith("set-hub"), c.degree or 0),
    )


@dataclass
class Backend:
    name: str
    scenes: list[Scene]
    service: dict[str, dict[str, Figures]]
    http: dict[str, dict[str, Figures]]
    plans: list[str]
    seconds: float


async def run_backend(backend: str, args: argparse.Namespace, workdir: Path) -> Backend:
    began = time.monotonic()
    scenes = [await build(backend, shape, args, workdir) for shape in shapes(args)]
    degrees = {scene.shape.name: scene.shape.peer_degree for scene in scenes}
    chosen = ordered_cases(scenes, degrees)
    service = await through_service(scenes, chosen, args)
    found_plans = await plans(scenes[-1])
    http: dict[str, dict[str, Figures]] = {}
    if args.http_ops > 0:
        http = await over_http(scenes, chosen, args, workdir)
    return Backend(backend, scenes, service, http, found_plans, time.monotonic() - began)


# -- the report ---------------------------------------------------------------------------------


def _p(figures: Figures | None, metric: str, q: float) -> float | None:
    values = None if figures is None else figures.times.get(metric)
    return percentile(values, q) if values else None


def _us_text(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _ratio(big: float | None, small: float | None) -> str:
    return "-" if big is None or small is None else f"{big / small:.2f}"


def case_table(results: dict[str, dict[str, Figures]], chosen: list[Case]) -> list[str]:
    lines = [
        "| case | small p50 / p99 µs | big p50 / p99 µs | big/small p50 | n small / big |",
        "|---|---:|---:|---:|---:|",
    ]
    for case in chosen:
        found = results.get(case.key)
        if not found:
            continue
        small, big = found.get("small"), found.get("big")
        cells = [
            f"{_us_text(_p(f, case.kind, 0.5))} / {_us_text(_p(f, case.kind, 0.99))}"
            for f in (small, big)
        ]
        counts = " / ".join(
            str(len(f.times.get(case.kind, []))) if f else "-" for f in (small, big)
        )
        lines.append(
            f"| {case.label} | {cells[0]} | {cells[1]} |"
            f" {_ratio(_p(big, case.kind, 0.5), _p(small, case.kind, 0.5))} | {counts} |"
        )
    return lines


def slope(b: Backend, kind: str) -> tuple[float, float] | None:
    """(µs, µs per live masking of the hub): a least-squares line through the hubs' p50."""
    points = [
        (degree, p50)
        for degree in b.scenes[-1].shape.hubs
        if (p50 := _p(b.service.get(f"{kind}-hub-{degree}", {}).get("big"), kind, 0.5))
    ]
    if len(points) < 2:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    per = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread
    return mean_y - per * mean_x, per


def _line(found: tuple[float, float] | None) -> str:
    return "-" if found is None else f"{found[0]:,.0f} + {found[1] * 1000:,.0f} per 1,000"


def degree_table(backends: list[Backend]) -> list[str]:
    """Walk, set and unset latency on the big state against the hub's degree, per backend."""
    head = "| hub degree |"
    rule = "|---:|"
    for b in backends:
        head += (
            f" {b.name} walk p50 µs | {b.name} set p50 / p99 µs |"
            f" {b.name} unset p50, hub first / customer first µs |"
        )
        rule += "---:|---:|---:|"
    lines = [head, rule]
    degrees = sorted({d for b in backends for d in b.scenes[-1].shape.hubs})
    for degree in [0, *degrees]:
        row = "| 0 (two fresh parties) |" if degree == 0 else f"| {degree:,} |"
        for b in backends:
            walk, big = (
                b.service.get(f"{kind}-fresh" if degree == 0 else f"{kind}-hub-{degree}", {}).get(
                    "big"
                )
                for kind in ("walk", "set")
            )
            row += (
                f" {_us_text(_p(walk, 'walk', 0.5))} |"
                f" {_us_text(_p(big, 'set', 0.5))} / {_us_text(_p(big, 'set', 0.99))} |"
                f" {_us_text(_p(big, 'unset, m1 first', 0.5))} /"
                f" {_us_text(_p(big, 'unset, m2 first', 0.5))} |"
            )
        lines.append(row)
    row = "| least squares over the hubs, µs |"
    for b in backends:
        row += f" {_line(slope(b, 'walk'))} | {_line(slope(b, 'set'))} | |"
    lines.append(row)
    return lines


def _machine(backends: list[Backend], pg_url: str) -> list[str]:
    def run(*argv: str) -> str:
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    head = run("git", "rev-parse", "--short", "HEAD") or "unknown"
    dirty = run("git", "status", "--porcelain", "--", "src")
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    lines = [
        f"- CPUs: {os.cpu_count()} ({cpu}), {memory:.0f} GiB RAM, shared with other work",
        f"- OS: {platform.system()} {platform.release()}; Python {platform.python_version()};"
        f" SQLite {sqlite3.sqlite_version}",
        f"- callmask commit: {head}"
        + (" with uncommitted changes in src/ (other work in progress)" if dirty else ""),
    ]
    if any(b.name == "postgresql" for b in backends):
        lines.append(f"- PostgreSQL {schema.server_version(pg_url)}, same machine, defaults")
    return lines


def _verdict(ratio: str) -> str:
    if ratio == "-":
        return "not measured"
    value = float(ratio)
    return "flat" if value < 1.5 else "grew" if value < 3 else "grew a lot"


def reading(backends: list[Backend]) -> str:
    """One paragraph from the figures: what scales with what."""
    parts = []
    for b in backends:
        small, big = b.scenes[0].shape, b.scenes[-1].shape
        ratio: dict[str, str] = {}
        for key in ("route-light", "route-heavy", "walk-fresh", "set-fresh", "set-light"):
            found = b.service.get(key, {})
            metric = key.split("-")[0]
            ratio[key] = _ratio(
                _p(found.get("big"), metric, 0.5), _p(found.get("small"), metric, 0.5)
            )
        walk, whole = slope(b, "walk"), slope(b, "set")
        high = max(big.hubs)
        high_p = _p(b.service.get(f"set-hub-{high}", {}).get("big"), "set", 0.5)
        fresh_p = _p(b.service.get("set-fresh", {}).get("big"), "set", 0.5)
        parts.append(
            f"**{b.name}**: from the small state to the big one (pool x{big.pool // small.pool},"
            f" maskings x{big.maskings // small.maskings}) the route p50 went"
            f" x{ratio['route-light']} for a light party ({_verdict(ratio['route-light'])}) and"
            f" x{ratio['route-heavy']} for a hub party ({_verdict(ratio['route-heavy'])}); the"
            f" pool walk for two fresh parties x{ratio['walk-fresh']}"
            f" ({_verdict(ratio['walk-fresh'])}); a whole set of two fresh parties"
            f" x{ratio['set-fresh']} and of a seeded light party x{ratio['set-light']}. Against"
            f" the hub's degree the walk costs {_line(walk)} claims µs and the whole set"
            f" {_line(whole)} claims µs (least squares); at degree {high:,} a set took"
            f" {_us_text(high_p)} µs against {_us_text(fresh_p)} µs for a fresh pair."
        )
    return " ".join(parts)


def markdown(
    backends: list[Backend],
    chosen: list[Case],
    args: argparse.Namespace,
    argv: list[str],
    took: float,
) -> str:
    scenes = backends[0].scenes
    lines = [
        "# Route and set latency at scale",
        "",
        "Written by `python -m bench.scale` (bench/scale.py); rerun it rather than edit.",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; the whole run took {took / 60:.1f} min.",
        "",
        "```sh",
        "cd /work/main && .venv/bin/python -m bench.scale " + " ".join(argv),
        "```",
        "",
        "## Machine",
        "",
        *_machine(backends, args.pg_url),
        "",
        "The machine is shared and noisy: read the ratios (small and big measured in"
        " alternating chunks of the same case, in the same run) rather than absolute figures.",
        "",
        "## States",
        "",
        *(f"- **{s.shape.name}**: {s.shape.describe()}." for s in scenes),
        "- Hubs and peers hold their maskings on the lowest DIDs (d_0 .. d_deg-1, as first"
        " fit gives them), each with a customer of its own; light pairs are disjoint and"
        " spread round-robin over the whole pool. All live for 29 more days; account `scale`.",
        "- Written directly: bulk INSERT in one transaction (SQLite) or COPY (PostgreSQL) on"
        " the schema `callmask` migrated, with the secondary indexes of maskings and claims"
        " (and the claims foreign key on PostgreSQL) dropped first and rebuilt afterwards from"
        " their own definitions. PostgreSQL then gets `VACUUM (ANALYZE)` on each table (the"
        " statistics autovacuum would gather; without them the pool walk is planned as a"
        " scan and sort of the whole pool); SQLite gets no ANALYZE, as in production.",
        "- Checked with SQL after seeding, on every state and backend: "
        + "; ".join(backends[0].scenes[-1].seeded.checks)
        + " (big state). The claims primary key (mask, party) is the invariant itself;"
        " the third check ties every claim to its masking's DID and parties. 200 routes of"
        " light and 200 of hub parties were spot-checked through the service before timing.",
        "",
        "| backend | state | insert s | index rebuild s | vacuum + analyze s | checks s |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for b in backends:
        for s in b.scenes:
            d = s.seeded
            lines.append(
                f"| {b.name} | {s.shape.name} | {d.insert_s:.1f} | {d.index_s:.1f} |"
                f" {d.vacuum_s:.1f} | {d.verify_s:.1f} |"
            )
    lines += [
        "",
        "## Through the service",
        "",
        "`Routing.route_call` / `Maskings.set_masking` / `unset_masking` on the real store"
        " (SqliteStore on a file in WAL; PostgresStore, asyncpg, pool of 2), one operation at"
        f" a time; up to {args.route_ops:,} routes and {args.ops:,} sets per case and state"
        f" (at most {args.case_seconds:.0f} s each), after a short warm-up. Each set is"
        " undone by an unset (timed apart), so the state keeps its size; fresh parties are"
        " new numbers every time, so no set takes the sticky path. Routes pick a random"
        " seeded masking and side; a stranger calls one of the 8 busiest DIDs.",
    ]
    for b in backends:
        lines += ["", f"### {b.name}", "", *case_table(b.service, chosen)]
    lines += [
        "",
        "## Set latency against hub degree (big state)",
        "",
        "A hub with a fresh customer: first fit walks past the hub's d DIDs. The last row is"
        " a least-squares line through the hubs' p50 (µs + µs per 1,000 claims of the hub)."
        " Unset names both parties;"
        " it is timed with the hub as m1 (even operations) and as m2 (odd ones).",
        "",
        *degree_table(backends),
    ]
    if any(b.http for b in backends):
        lines += [
            "",
            "## Over HTTP",
            "",
            "`callmask serve` (1 worker, default settings) on each state, one request at a"
            f" time over a kept-alive connection (httpx), up to {args.http_ops:,} operations"
            " per case and state; route with the router's bearer token, set then unset with"
            " userId and token in a JSON body. The time includes the client's own work.",
        ]
        for b in backends:
            if b.http:
                lines += ["", f"### {b.name}", "", *case_table(b.http, chosen)]
    lines += ["", "## Query plans", ""]
    for b in backends:
        lines += [f"### {b.name}", "", *b.plans, ""]
    lines += ["## Reading", "", reading(backends), ""]
    return "\n".join(lines)


# -- entry --------------------------------------------------------------------------------------


def _ints(text: str) -> list[int]:
    return [int(item) for item in text.split(",") if item.strip()]


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--maskings", type=int, default=200_000, help="big state")
    parser.add_argument("--pool", type=int, default=10_000, help="big state")
    parser.add_argument(
        "--hubs",
        type=_ints,
        default=None,
        help="hub degrees of the big state (default 10,50,100,1000,2500,5000, and 9000"
        " from 1,000,000 maskings on)",
    )
    parser.add_argument("--peers", type=int, default=48)
    parser.add_argument("--peer-degree", type=int, default=1000)
    parser.add_argument("--small-maskings", type=int, default=1000)
    parser.add_argument("--small-pool", type=int, default=100)
    parser.add_argument("--small-hubs", type=_ints, default=[10, 50])
    parser.add_argument("--small-peers", type=int, default=40)
    parser.add_argument("--small-peer-degree", type=int, default=20)
    parser.add_argument("--ops", type=int, default=2000, help="sets per case and state")
    parser.add_argument("--route-ops", type=int, default=4000, help="routes per case and state")
    parser.add_argument(
        "--unset-ops", type=int, default=40, help="sets per case and state undone by a timed unset"
    )
    parser.add_argument("--http-ops", type=int, default=500, help="0: skip HTTP")
    parser.add_argument("--case-seconds", type=float, default=15.0, help="time cap per case")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output", type=Path, default=DOCS)
    parser.add_argument("--no-output", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if args.hubs is None:
        args.hubs = [10, 50, 100, 1000, 2500, 5000] + ([9000] if args.maskings >= 1e6 else [])
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not args.backends or set(args.backends) - set(BACKENDS):
        parser.error(f"--backends: choose from {','.join(BACKENDS)}")
    if min(args.ops, args.route_ops) < 1 or args.http_ops < 0 or args.case_seconds <= 0:
        parser.error("--ops and --route-ops must be positive, --http-ops 0 or more")
    args.schemas = []
    return args


def _drop(pg_url: str, name: str) -> None:
    """Drop a schema of the run, waiting out a PostgreSQL restart (up to ~30 s)."""
    for _ in range(10):
        try:
            schema.drop(pg_url, name)
            return
        except Exception as error:  # report, and keep dropping the others
            print(f"cleanup: dropping {name}: {error}", file=sys.stderr, flush=True)
            time.sleep(3)
    print(f"cleanup: schema {name} left behind", file=sys.stderr, flush=True)


def _terminated(signum: int, frame: object) -> None:
    # SIGTERM unwinds like an exception, so the cleanup in main's finally still runs.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    shown = list(sys.argv[1:] if argv is None else argv)
    args = _arguments(argv)
    shapes(args)  # refuse an impossible shape before seeding anything
    previous = signal.signal(signal.SIGTERM, _terminated)
    began = time.monotonic()
    backends: list[Backend] = []
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="callmask-scale-") as folder:
        try:
            for backend in args.backends:
                try:
                    backends.append(asyncio.run(run_backend(backend, args, Path(folder))))
                except Exception as error:  # keep the other backend's figures
                    failed.append(f"{backend}: {type(error).__name__}: {error}")
                    print(f"{backend} failed: {failed[-1]}", file=sys.stderr, flush=True)
        finally:
            for name in args.schemas:
                _drop(args.pg_url, name)
            signal.signal(signal.SIGTERM, previous)
    if not backends:
        return 1
    took = time.monotonic() - began
    degrees = {s.shape.name: s.shape.peer_degree for s in backends[0].scenes}
    chosen = ordered_cases(backends[0].scenes, degrees)
    for b in backends:
        print(f"\n{b.name}, through the service ({b.seconds / 60:.1f} min)")
        print("\n".join(case_table(b.service, chosen)))
        if b.http:
            print(f"\n{b.name}, over HTTP")
            print("\n".join(case_table(b.http, chosen)))
    print("\n" + "\n".join(degree_table(backends)))
    print("\n" + reading(backends))
    if not args.no_output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        text = markdown(backends, chosen, args, shown, took)
        if failed:
            text += "\n## Failed in this run\n\n" + "\n".join(f"- {f}" for f in failed) + "\n"
        args.output.write_text(text, encoding="utf-8")
        print(f"\nwrote {args.output}")
    print(f"took {took / 60:.1f} min")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
