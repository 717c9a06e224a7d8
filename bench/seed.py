"""A fresh callmask database for a run: users and pool through the real CLI, maskings over HTTP."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

CLIENT = "benchclient"
ROUTER = "benchrouter"
POOL_START = "+918040000000"
POOL_SIZE = 1000
# Route maskings: each customer 9196NNNNNNNN is masked with one of a few hubs 9195000000HH
# (a call-centre shape), so a hub holds many maskings and they spread over many pool
# numbers. The set workload uses 9198.../9197..., so the two never share a party.
HUBS = 4


def callmask_command() -> str:
    beside = Path(sys.executable).with_name("callmask")
    if beside.exists():
        return str(beside)
    found = shutil.which("callmask")
    if found is None:
        raise RuntimeError("no callmask command; run `pip install -e .[dev]` in the venv")
    return found


@dataclass(frozen=True)
class Credentials:
    client_token: str
    router_token: str


def _cli(env: Mapping[str, str], *args: str) -> str:
    done = subprocess.run(
        [callmask_command(), *args], env=dict(env), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"callmask {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def seed_accounts(env: Mapping[str, str]) -> tuple[Credentials, list[list[str]]]:
    """Create the client and router users and the client's pool; return tokens and commands."""
    commands = [
        ["user", "add", CLIENT, "--role", "client", "--json"],
        ["user", "add", ROUTER, "--role", "router", "--json"],
        ["pool", "add", "--user", CLIENT, "--range", POOL_START, str(POOL_SIZE)],
    ]
    client = json.loads(_cli(env, *commands[0]))["token"]
    router = json.loads(_cli(env, *commands[1]))["token"]
    _cli(env, *commands[2])
    return Credentials(client, router), [["callmask", *c] for c in commands]


def seed_route_maskings(url: str, token: str, count: int, pairs_file: Path) -> None:
    """Set `count` maskings over the API and write each party's (caller, mask) line."""
    lines = []
    with httpx.Client(base_url=url, timeout=10.0) as http:
        for index in range(count):
            customer = 919600000000 + index
            hub = 919500000000 + index % HUBS
            answer = http.post(
                "/api/v2/Masking/set",
                json={
                    "userId": CLIENT,
                    "token": token,
                    "m1": customer,
                    "m2": hub,
                    "expiry_duration": 1440,
                },
            ).json()
            if answer.get("status") != "success":
                raise RuntimeError(f"seeding masking {index} failed: {answer}")
            mask = str(answer["mask"]).lstrip("+")
            lines.append(f"{customer} {mask}")
            lines.append(f"{hub} {mask}")
    pairs_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
