"""The callmask command, driven as a user drives it, on a real SQLite file."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from callmask.bootstrap import build_services
from callmask.config import Settings
from callmask.domain.numbers import E164
from callmask.domain.permissions import Permission
from callmask.service.accounts import Credentials, Principal
from callmask.storage import open_store
from tests.support import run_cli


def test_user_add_prints_a_token_once_and_refuses_a_duplicate(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = run_cli(cli_settings, capsys, "user", "add", "acme", "--json")
    assert status == 0
    created = json.loads(out)
    assert created["userId"] == "acme" and len(created["token"]) >= 40
    status, out = run_cli(cli_settings, capsys, "user", "add", "acme")
    assert status == 1 and "exists" in out


def test_pool_add_range_list_and_remove(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(cli_settings, capsys, "user", "add", "acme")
    status, out = run_cli(
        cli_settings, capsys, "pool", "add", "--user", "acme", "--range", "08040000000", "3"
    )
    assert status == 0 and "added 3 of 3" in out
    status, out = run_cli(cli_settings, capsys, "pool", "list", "--user", "acme", "--json")
    assert [row["number"] for row in json.loads(out)] == [
        "+918040000000",
        "+918040000001",
        "+918040000002",
    ]
    status, out = run_cli(cli_settings, capsys, "pool", "remove", "+918040000001")
    assert status == 0 and "removed 1" in out
    _, out = run_cli(cli_settings, capsys, "pool", "list", "--json")
    assert len(json.loads(out)) == 2


def test_pool_remove_of_a_number_in_use_is_refused_without_force(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(cli_settings, capsys, "user", "add", "acme")
    run_cli(cli_settings, capsys, "pool", "add", "--user", "acme", "+918040000000")

    async def masking() -> None:
        store = open_store(cli_settings)
        try:
            who = Principal("acme", "acme", "client")
            await build_services(store, cli_settings).maskings.set_masking(
                who, "+919876543210", "+919812345678"
            )
        finally:
            await store.close()

    asyncio.run(masking())
    status, out = run_cli(cli_settings, capsys, "pool", "remove", "+918040000000")
    assert status == 1
    assert "nothing was removed: 1 live maskings use these numbers (--force ends" in out
    status, out = run_cli(cli_settings, capsys, "pool", "remove", "--force", "+918040000000")
    assert status == 0 and "removed 1" in out


def test_pool_add_from_file_and_rejects_a_bad_number(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run_cli(cli_settings, capsys, "user", "add", "acme")
    numbers = tmp_path / "dids.txt"
    numbers.write_text("# our DIDs\n+918040000000\n918040000005\n")
    status, out = run_cli(
        cli_settings, capsys, "pool", "add", "--user", "acme", "--file", str(numbers)
    )
    assert status == 0 and "added 2 of 2" in out
    status, out = run_cli(cli_settings, capsys, "pool", "add", "--user", "acme", "12ab")
    assert status == 1 and "'12ab'" in out


def test_pool_add_for_unknown_user_fails(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = run_cli(cli_settings, capsys, "pool", "add", "--user", "ghost", "+918040000000")
    assert status == 1 and "no user" in out


def test_ssid_create_for_a_user(cli_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli(cli_settings, capsys, "user", "add", "acme")
    status, out = run_cli(cli_settings, capsys, "ssid", "create", "acme", "--json")
    assert status == 0 and len(json.loads(out)["ssid"]) >= 40
    status, out = run_cli(cli_settings, capsys, "ssid", "create", "ghost")
    assert status == 1


async def _authenticate(settings: Settings, user_id: str, token: str) -> Principal:
    store = open_store(settings)
    try:
        return await build_services(store, settings).accounts.authenticate(
            Credentials(user_id, token)
        )
    finally:
        await store.close()


def test_demo_seeds_once_and_prints_a_curl_line(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(cli_settings, capsys, "demo")[0] == 0
    status, out = run_cli(cli_settings, capsys, "demo")
    assert status == 0 and "curl -s http://127.0.0.1:8080/api/v2/Masking/set" in out
    # The console line's credentials are the demo user's, and a second run's new token works.
    console = re.search(r"Console: (\S+)/console  \(sign in with userId demo, token (\S+)\)", out)
    assert console and console.group(1) == "http://127.0.0.1:8080"
    user = asyncio.run(_authenticate(cli_settings, "demo", console.group(2)))
    assert user.permissions == frozenset(Permission)
    _, out = run_cli(cli_settings, capsys, "pool", "list", "--json")
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
    _, out = run_cli(cli_settings, capsys, "user", "add", "acme", "--json")
    old = json.loads(out)["token"]
    status, out = run_cli(cli_settings, capsys, "user", "rotate", "acme", "--json")
    new = json.loads(out)["token"]
    assert status == 0 and new != old
    status, out = run_cli(cli_settings, capsys, "user", "rotate", "ghost")
    assert status == 1 and "no user" in out


def test_sip_config_needs_router_credentials(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = run_cli(cli_settings, capsys, "sip", "config")
    assert status == 2 and "CALLMASK_SIP_ROUTER_TOKEN" in out


def test_sip_config_renders_from_settings_and_dev_makes_a_working_router(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import dataclasses
    import re

    configured = dataclasses.replace(
        cli_settings, sip_router_user="sip", sip_router_token="abc", sip_mask_key="k1"
    )
    # Without the trunks' addresses there is nothing to trust but --dev's loopback.
    status, out = run_cli(configured, capsys, "sip", "config")
    assert status == 1 and "CALLMASK_SIP_TRUSTED" in out
    configured = dataclasses.replace(configured, sip_trusted="192.0.2.10")
    status, out = run_cli(configured, capsys, "sip", "config")
    assert status == 0 and "userId=sip&token=abc" in out and '"mask_key", "k1"' in out
    target = tmp_path / "kamailio.cfg"
    status, out = run_cli(cli_settings, capsys, "sip", "config", "--dev", "--out", str(target))
    assert status == 0 and "CALLMASK_SIP_MASK_KEY is not set" in out
    found = re.search(r"userId=(kamailio-dev)&token=([A-Za-z0-9_-]+)&", target.read_text())
    assert found is not None
    from callmask.storage import open_store

    async def authenticate() -> str:
        store = open_store(cli_settings)
        try:
            principal = await build_services(store, cli_settings).accounts.authenticate_bearer(
                found.group(2)
            )
            return principal.role
        finally:
            await store.close()

    import asyncio

    assert asyncio.run(authenticate()) == "router"


def test_user_add_grants_the_client_default_or_the_permissions_given(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = run_cli(cli_settings, capsys, "user", "add", "acme", "--json")
    assert json.loads(out)["permissions"] == ["LIST_MASKING", "LIST_WEBHOOK_LOG", "SET_MASKING"]
    _, out = run_cli(
        cli_settings,
        capsys,
        "user",
        "add",
        "ops",
        "--account",
        "acme",
        "--permissions",
        "list_call_log,LIST_MASKING",
        "--json",
    )
    assert json.loads(out)["permissions"] == ["LIST_CALL_LOG", "LIST_MASKING"]
    _, out = run_cli(cli_settings, capsys, "user", "add", "sip", "--role", "router", "--json")
    assert json.loads(out)["permissions"] == []
    status, out = run_cli(cli_settings, capsys, "user", "add", "x", "--permissions", "ALL")
    assert status == 1 and "unknown permission" in out


def test_user_grant_and_revoke_change_what_the_token_may_do(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = run_cli(cli_settings, capsys, "user", "add", "acme", "--json")
    token = json.loads(out)["token"]
    status, out = run_cli(cli_settings, capsys, "user", "grant", "acme", "LIST_CALL_LOG", "--json")
    assert status == 0 and "LIST_CALL_LOG" in json.loads(out)["permissions"]
    status, out = run_cli(cli_settings, capsys, "user", "revoke", "acme", "SET_MASKING", "--json")
    assert json.loads(out)["permissions"] == ["LIST_CALL_LOG", "LIST_MASKING", "LIST_WEBHOOK_LOG"]

    async def permissions() -> frozenset[Permission]:
        store = open_store(cli_settings)
        try:
            service = build_services(store, cli_settings)
            return (await service.accounts.authenticate(Credentials("acme", token))).permissions
        finally:
            await store.close()

    assert Permission.SET_MASKING not in asyncio.run(permissions())
    run_cli(cli_settings, capsys, "user", "add", "sip", "--role", "router")
    status, out = run_cli(cli_settings, capsys, "user", "grant", "sip", "LIST_CALL_LOG")
    assert status == 1 and "router" in out
    status, out = run_cli(cli_settings, capsys, "user", "grant", "ghost", "LIST_CALL_LOG")
    assert status == 1 and "no user" in out


def test_webhook_set_prints_the_secret_once_and_show_log_remove_follow(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(cli_settings, capsys, "user", "add", "acme")
    run_cli(cli_settings, capsys, "user", "add", "acme-ops", "--account", "acme")
    url = "https://hooks.example.com/callmask"
    status, out = run_cli(
        cli_settings, capsys, "webhook", "set", "--user", "acme-ops", url, "--json"
    )
    created = json.loads(out)
    assert status == 0 and created["account"] == "acme" and created["secret"].startswith("whsec_")
    status, out = run_cli(cli_settings, capsys, "webhook", "show", "--user", "acme", "--json")
    shown = json.loads(out)
    assert shown == {
        "account": "acme",
        "url": url,
        "notices": {"pending": 0, "delivered": 0, "failed": 0},
    }
    assert created["secret"] not in out
    status, out = run_cli(cli_settings, capsys, "webhook", "log", "--user", "acme")
    assert status == 0 and "no deliveries yet" in out
    status, out = run_cli(cli_settings, capsys, "webhook", "set", "--user", "acme", "ftp://x")
    assert status == 1 and "http" in out
    assert run_cli(cli_settings, capsys, "webhook", "remove", "--user", "acme")[0] == 0
    status, out = run_cli(cli_settings, capsys, "webhook", "remove", "--user", "acme")
    assert status == 1 and "no webhook" in out


def test_purge_deletes_past_retention_and_can_be_turned_off(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    async def old_masking() -> None:
        store = open_store(cli_settings)
        try:
            await store.migrate()
            service = build_services(store, cli_settings, clock=lambda: 1_700_000_000.0)
            await service.accounts.add_user("acme", "client")
            await store.add_pool_numbers("acme", [E164("+918040000000")], 0)
            who = Principal("acme", "acme", "client")
            await service.maskings.set_masking(who, "+919876543210", "+919812345678")
            await service.maskings.unset_masking(who, m1="+919876543210")
        finally:
            await store.close()

    asyncio.run(old_masking())
    status, out = run_cli(cli_settings, capsys, "purge", "--json")
    assert status == 0 and json.loads(out)["maskings"] == 1
    off = dataclasses.replace(cli_settings, retention_days=0)
    status, out = run_cli(off, capsys, "purge")
    assert status == 0 and "retention is off" in out


def test_account_set_changes_the_call_time_limit_and_show_reads_it_back(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(cli_settings, capsys, "user", "add", "api", "--account", "acme")
    status, out = run_cli(cli_settings, capsys, "account", "show", "acme", "--json")
    assert status == 0
    assert json.loads(out) == {
        "account": "acme",
        "outOfSession": "reject",
        "forwardTo": None,
        "rejectCode": 403,
        "callTimeLimit": None,
        "defaultCallTimeLimit": 0,
        "record": False,
    }
    status, out = run_cli(cli_settings, capsys, "account", "set", "acme", "--call-time-limit", "90")
    assert status == 0 and "call time limit 90 s" in out
    global_ten_minutes = dataclasses.replace(cli_settings, call_time_limit=600)
    status, out = run_cli(global_ten_minutes, capsys, "account", "show", "acme", "--json")
    assert json.loads(out)["callTimeLimit"] == 90
    assert json.loads(out)["defaultCallTimeLimit"] == 600
    run_cli(cli_settings, capsys, "account", "set", "acme", "--call-time-limit", "default")
    status, out = run_cli(global_ten_minutes, capsys, "account", "show", "acme")
    assert status == 0 and "600 s (CALLMASK_CALL_TIME_LIMIT)" in out


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--call-time-limit", "-1"], ["--call-time-limit", "0 to 86400"]),
        (["--call-time-limit", "86401"], ["--call-time-limit"]),
        (["--call-time-limit", "1.5"], ["--call-time-limit"]),
        (["--call-time-limit", "٩٠"], ["--call-time-limit"]),
        (["--call-time-limit", "soon"], ["--call-time-limit"]),
        ([], ["--out-of-session", "--call-time-limit"]),
        (["--out-of-session", "drop"], ["--out-of-session must be reject or forward:+E164"]),
        (["--out-of-session", "REJECT"], ["--out-of-session"]),
        (["--out-of-session", "forward"], ["--out-of-session"]),
        (["--out-of-session", "forward:"], ["forward number is required"]),
        (["--out-of-session", "forward:12ab"], ["forward number must be written in digits"]),
        (["--out-of-session", "forward:+91 12"], ["forward number is not a valid phone number"]),
        (["--out-of-session", "forward:+918040000000"], ["is a pool number"]),
        (["--out-of-session", "reject", "--reject-code", "500"], ["403, 404, 480"]),
        (["--out-of-session", "reject", "--reject-code", "soon"], ["--reject-code"]),
        (["--reject-code", "480"], ["--reject-code goes with --out-of-session reject"]),
        (
            ["--out-of-session", "forward:+918012345678", "--reject-code", "404"],
            ["--reject-code goes with"],
        ),
        (["--out-of-session", "forward:+918012345678", "--call-time-limit", "-5"], ["--call"]),
    ],
)
def test_account_set_with_a_bad_value_exits_2_and_changes_nothing(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str], argv: list[str], words: list[str]
) -> None:
    run_cli(cli_settings, capsys, "user", "add", "acme")
    run_cli(cli_settings, capsys, "pool", "add", "--user", "acme", "+918040000000")
    before = ["--call-time-limit", "90", "--out-of-session", "reject", "--reject-code", "480"]
    assert run_cli(cli_settings, capsys, "account", "set", "acme", *before)[0] == 0
    _, kept = run_cli(cli_settings, capsys, "account", "show", "acme", "--json")
    status, out = run_cli(cli_settings, capsys, "account", "set", "acme", *argv)
    assert status == 2
    assert out.startswith("callmask: ") and all(word in out for word in words), out
    _, shown = run_cli(cli_settings, capsys, "account", "show", "acme", "--json")
    assert json.loads(shown) == json.loads(kept)


def test_account_set_and_show_refuse_an_account_nobody_acts_for(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(cli_settings, capsys, "user", "add", "acme")
    status, out = run_cli(cli_settings, capsys, "account", "set", "acme2", "--call-time-limit", "9")
    assert status == 1 and "no account 'acme2'" in out
    status, out = run_cli(cli_settings, capsys, "account", "show", "acme2")
    assert status == 1 and "no account 'acme2'" in out


def test_account_set_out_of_session_reject_with_a_code_or_forward_to_a_normalised_number(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(cli_settings, capsys, "user", "add", "acme")
    status, out = run_cli(
        cli_settings,
        capsys,
        "account",
        "set",
        "acme",
        "--out-of-session",
        "reject",
        "--reject-code",
        "404",
        "--json",
    )
    assert status == 0
    assert (json.loads(out)["outOfSession"], json.loads(out)["rejectCode"]) == ("reject", 404)
    status, out = run_cli(
        cli_settings, capsys, "account", "set", "acme", "--out-of-session", "forward:08012345678"
    )
    assert status == 0 and "forwarded to +918012345678" in out
    _, shown = run_cli(cli_settings, capsys, "account", "show", "acme", "--json")
    assert json.loads(shown) == {
        "account": "acme",
        "outOfSession": "forward",
        "forwardTo": "+918012345678",
        "rejectCode": 403,
        "callTimeLimit": None,
        "defaultCallTimeLimit": 0,
        "record": False,
    }
    # Back to reject without a code: the default 403, and the fallback is forgotten.
    status, out = run_cli(
        cli_settings, capsys, "account", "set", "acme", "--out-of-session", "reject"
    )
    assert status == 0 and "rejected with 403" in out
    _, shown = run_cli(cli_settings, capsys, "account", "show", "acme", "--json")
    assert (json.loads(shown)["forwardTo"], json.loads(shown)["rejectCode"]) == (None, 403)
