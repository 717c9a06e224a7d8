"""docs/clients/: the corrected client samples work against a live server, as written."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from callmask.bootstrap import session
from callmask.config import Settings
from callmask.domain.numbers import E164
from tests.e2e.servers import Served, serve

CLIENTS = Path(__file__).resolve().parent.parent / "docs" / "clients"
POOL = [E164("+918040000100"), E164("+918040000101")]


async def _seed(settings: Settings) -> str:
    async with session(settings) as services:
        token = await services.accounts.add_user("acme", "client")
        await services.pool.add("acme", POOL)
        return token


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, str]]:
    database_url = f"sqlite:///{tmp_path_factory.mktemp('clients') / 'clients.db'}"
    token = asyncio.run(_seed(Settings(database_url=database_url)))
    with serve(database_url) as served:
        yield served, token


@pytest.mark.parametrize(
    ("command", "m1", "m2"),
    [
        (["sh", str(CLIENTS / "set.sh")], "9876543210", "9812345678"),
        ([sys.executable, str(CLIENTS / "set_http_client.py")], "9876543211", "9812345679"),
        ([sys.executable, str(CLIENTS / "set_requests.py")], "+919876543212", "09812345670"),
    ],
    ids=["curl", "http.client", "requests"],
)
def test_the_sample_sets_a_masking(
    server: tuple[Served, str], command: list[str], m1: str, m2: str
) -> None:
    served, token = server
    env = {**os.environ, "CALLMASK_URL": served.url, "CALLMASK_USER": "acme"}
    env["CALLMASK_TOKEN"] = token
    done = subprocess.run(
        [*command, m1, m2], capture_output=True, text=True, timeout=30, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["status"], answer["code"]) == ("success", 200), answer
    assert answer["mask"] in POOL
