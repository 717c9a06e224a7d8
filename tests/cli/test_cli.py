"""The callmask command, driven as a user drives it, on a real SQLite file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from callmask.cli import main
from callmask.config import Settings


@pytest.fixture
def cli_settings(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'cli.db'}")


def run(settings: Settings, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    status = main(list(argv), settings=settings)
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def test_user_add_prints_a_token_once_and_refuses_a_duplicate(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = run(cli_settings, capsys, "user", "add", "acme", "--json")
    assert status == 0
    created = json.loads(out)
    assert created["userId"] == "acme" and len(created["token"]) >= 40
    status, out = run(cli_settings, capsys, "user", "add", "acme")
    assert status == 1 and "exists" in out


def test_pool_add_range_list_and_remove(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    run(cli_settings, capsys, "user", "add", "acme")
    status, out = run(
        cli_settings, capsys, "pool", "add", "--user", "acme", "--range", "08040000000", "3"
    )
    assert status == 0 and "added 3 of 3" in out
    status, out = run(cli_settings, capsys, "pool", "list", "--user", "acme", "--json")
    assert [row["number"] for row in json.loads(out)] == [
        "+918040000000",
        "+918040000001",
        "+918040000002",
    ]
    status, out = run(cli_settings, capsys, "pool", "remove", "+918040000001")
    assert status == 0 and "removed 1" in out
    _, out = run(cli_settings, capsys, "pool", "list", "--json")
    assert len(json.loads(out)) == 2


def test_pool_add_from_file_and_rejects_a_bad_number(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run(cli_settings, capsys, "user", "add", "acme")
    numbers = tmp_path / "dids.txt"
    numbers.write_text("# our DIDs\n+918040000000\n918040000005\n")
    status, out = run(cli_settings, capsys, "pool", "add", "--user", "acme", "--file", str(numbers))
    assert status == 0 and "added 2 of 2" in out
    status, out = run(cli_settings, capsys, "pool", "add", "--user", "acme", "12ab")
    assert status == 1 and "'12ab'" in out


def test_pool_add_for_unknown_user_fails(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = run(cli_settings, capsys, "pool", "add", "--user", "ghost", "+918040000000")
    assert status == 1 and "no user" in out


def test_ssid_create_for_a_user(cli_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    run(cli_settings, capsys, "user", "add", "acme")
    status, out = run(cli_settings, capsys, "ssid", "create", "acme", "--json")
    assert status == 0 and len(json.loads(out)["ssid"]) >= 40
    status, out = run(cli_settings, capsys, "ssid", "create", "ghost")
    assert status == 1


def test_demo_seeds_once_and_prints_a_curl_line(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(cli_settings, capsys, "demo")[0] == 0
    status, out = run(cli_settings, capsys, "demo")
    assert status == 0 and "curl -s http://127.0.0.1:8080/api/v2/Masking/set" in out
    _, out = run(cli_settings, capsys, "pool", "list", "--json")
    assert len(json.loads(out)) == 5


def test_console_script_reads_the_environment(tmp_path: Path) -> None:
    env = {"CALLMASK_DATABASE_URL": f"sqlite:///{tmp_path / 'env.db'}", "PATH": ""}
    done = subprocess.run(
        [sys.executable, "-m", "callmask.cli", "migrate"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "env.db").exists()
    bad = subprocess.run(
        [sys.executable, "-m", "callmask.cli", "migrate"],
        env={**env, "CALLMASK_DEFAULT_EXPIRY_MINUTES": "soon"},
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "CALLMASK_DEFAULT_EXPIRY_MINUTES" in bad.stderr


def test_user_rotate_replaces_the_token(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = run(cli_settings, capsys, "user", "add", "acme", "--json")
    old = json.loads(out)["token"]
    status, out = run(cli_settings, capsys, "user", "rotate", "acme", "--json")
    new = json.loads(out)["token"]
    assert status == 0 and new != old
    status, out = run(cli_settings, capsys, "user", "rotate", "ghost")
    assert status == 1 and "no user" in out


def test_sip_config_needs_router_credentials(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = run(cli_settings, capsys, "sip", "config")
    assert status == 2 and "CALLMASK_SIP_ROUTER_TOKEN" in out


def test_sip_config_renders_from_settings_and_dev_makes_a_working_router(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import dataclasses
    import re

    configured = dataclasses.replace(
        cli_settings, sip_router_user="sip", sip_router_token="abc", sip_mask_key="k1"
    )
    status, out = run(configured, capsys, "sip", "config")
    assert status == 0 and "userId=sip&token=abc" in out and '"mask_key", "k1"' in out
    target = tmp_path / "kamailio.cfg"
    status, out = run(cli_settings, capsys, "sip", "config", "--dev", "--out", str(target))
    assert status == 0 and "CALLMASK_SIP_MASK_KEY is not set" in out
    found = re.search(r"userId=(kamailio-dev)&token=([A-Za-z0-9_-]+)&", target.read_text())
    assert found is not None
    from callmask.service import MaskingService
    from callmask.storage import open_store

    async def authenticate() -> str:
        store = open_store(cli_settings)
        try:
            principal = await MaskingService(store, cli_settings).authenticate_bearer(
                found.group(2)
            )
            return principal.role
        finally:
            await store.close()

    import asyncio

    assert asyncio.run(authenticate()) == "router"
