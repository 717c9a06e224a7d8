"""Seeded masking traces shaped like the businesses that mask numbers.

A trace is a time-ordered list of arrivals (a masking for a pair, for a duration) and the
matching departures. Times are seconds from the start of the trace; parties are E.164
strings; nothing here touches callmask.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Event:
    at: float
    kind: str  # "set" or "unset"
    m1: str
    m2: str


@dataclass(frozen=True)
class Trace:
    name: str
    description: str
    events: list[Event]

    @property
    def maskings(self) -> int:
        return sum(1 for event in self.events if event.kind == "set")

    def delta(self) -> int:
        """The most maskings any one party holds at once: no allocator can use fewer numbers."""
        held: Counter[str] = Counter()
        peak = 0
        for event in self.events:
            step = 1 if event.kind == "set" else -1
            for party in (event.m1, event.m2):
                held[party] += step
                peak = max(peak, held[party])
        return peak


def _number(prefix: str, index: int) -> str:
    return f"+91{prefix}{index:0{10 - len(prefix)}d}"


def _finish(name: str, description: str, spans: list[tuple[float, float, str, str]]) -> Trace:
    """Turn (start, end, m1, m2) spans into events; a pair never overlaps itself."""
    events: list[Event] = []
    busy_until: dict[tuple[str, str], float] = {}
    for start, end, m1, m2 in sorted(spans):
        pair = (m1, m2) if m1 < m2 else (m2, m1)
        if busy_until.get(pair, -1.0) > start:
            continue  # the same pair already has a live masking: callmask would say 1503
        busy_until[pair] = end
        events.append(Event(start, "set", m1, m2))
        events.append(Event(end, "unset", m1, m2))
    # Departures first at equal times, as a number freed at t is free for an arrival at t.
    events.sort(key=lambda event: (event.at, event.kind != "unset"))
    return Trace(name, description, events)


def food_delivery(rng: random.Random, orders: int) -> Trace:
    """Customers order from restaurants (a few are busy hubs); a rider picks each order up.

    Each order masks customer-rider for ~45 min and restaurant-rider for ~20 min.
    """
    restaurants = [_number("70", i) for i in range(60)]
    weights = [1.0 / (rank + 1) for rank in range(len(restaurants))]  # a few popular ones
    riders = [_number("71", i) for i in range(400)]
    spans = []
    clock = 0.0
    for _ in range(orders):
        clock += rng.expovariate(orders / (6 * 3600))  # the orders of a 6-hour evening
        customer = _number("72", rng.randrange(orders // 2))
        restaurant = rng.choices(restaurants, weights)[0]
        rider = rng.choice(riders)
        spans.append((clock, clock + rng.uniform(30, 60) * 60, customer, rider))
        spans.append((clock, clock + rng.uniform(10, 30) * 60, restaurant, rider))
    return _finish("food delivery", "customers, 60 restaurants (Zipf), 400 riders", spans)


def call_centre(rng: random.Random, calls: int) -> Trace:
    """A few hub numbers each hold hundreds of concurrent customer maskings."""
    hubs = [_number("73", i) for i in range(5)]
    spans = []
    clock = 0.0
    for _ in range(calls):
        clock += rng.expovariate(calls / (8 * 3600))
        customer = _number("74", rng.randrange(calls))
        spans.append((clock, clock + rng.uniform(5, 40) * 60, customer, rng.choice(hubs)))
    return _finish("call centre", "5 hub numbers, customers for 5-40 min each", spans)


def ride_hailing(rng: random.Random, trips: int) -> Trace:
    """Mostly disjoint rider-driver pairs; some riders call their driver back after a trip."""
    drivers = [_number("75", i) for i in range(trips // 8)]
    spans = []
    clock = 0.0
    recent: list[tuple[str, str]] = []
    for _ in range(trips):
        clock += rng.expovariate(trips / (10 * 3600))
        if recent and rng.random() < 0.1:
            rider, driver = rng.choice(recent[-200:])  # a lost phone, a forgotten bag
            spans.append((clock, clock + rng.uniform(5, 15) * 60, rider, driver))
            continue
        rider = _number("76", rng.randrange(trips))
        driver = rng.choice(drivers)
        spans.append((clock, clock + rng.uniform(10, 40) * 60, rider, driver))
        recent.append((rider, driver))
    return _finish("ride hailing", "disjoint pairs, 10% repeat pairs after a trip", spans)


def capped_dispatch(rng: random.Random, jobs: int, cap: int = 4) -> Trace:
    """A two-sided market where almost every party sits at its cap of concurrent jobs.

    Agents and clients each hold at most `cap` jobs; a new job starts as soon as one agent
    and one client both have room, with the pair chosen at random among those: the hard
    case for any allocator.
    """
    agents = [_number("77", i) for i in range(40)]
    clients = [_number("78", i) for i in range(40)]
    load = Counter[str]()
    ends: list[tuple[float, str, str]] = []
    spans = []
    clock = 0.0
    while len(spans) < jobs:
        free_agents = [a for a in agents if load[a] < cap]
        free_clients = [c for c in clients if load[c] < cap]
        if free_agents and free_clients:
            agent, client = rng.choice(free_agents), rng.choice(free_clients)
            end = clock + rng.uniform(20, 60) * 60
            spans.append((clock, end, agent, client))
            load[agent] += 1
            load[client] += 1
            heapq.heappush(ends, (end, agent, client))
            clock += rng.uniform(0, 2)
            continue
        end, agent, client = heapq.heappop(ends)
        clock = max(clock, end)
        load[agent] -= 1
        load[client] -= 1
    return _finish("capped dispatch", f"40 agents x 40 clients, each capped at {cap}", spans)


GENERATORS: dict[str, Callable[[random.Random, int], Trace]] = {
    "food": food_delivery,
    "callcentre": call_centre,
    "ride": ride_hailing,
    "dispatch": capped_dispatch,
}
