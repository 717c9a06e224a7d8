"""ssid revocation and listing, and token rotation with a grace period: CLI, service, storage."""

from __future__ import annotations

import asyncio
import json

import pytest

from callmask.bootstrap import build_services
from callmask.cli import main
from callmask.domain.errors import Code
from callmask.service.accounts import hash_secret
from callmask.storage.sqlite import SqliteStore
from tests.support import DID0, EPOCH, ROUTE, A, B, Live, listing, new_ssid


def cli(live: Live, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    status = main(list(argv), settings=live.settings)
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def with_ssid(live: Live, ssid: str) -> dict[str, object]:
    answer: dict[str, object] = live.post("/api/v2/Masking/list", json={"ssid": ssid}).json()
    return answer


def rotate_on_server_db(live: Live, user_id: str, grace_minutes: int) -> str:
    """`callmask user rotate` as it runs beside the server, on the server's clock."""

    async def rotate() -> str:
        store = SqliteStore.from_url(live.settings.database_url)
        try:
            token = await build_services(store, live.settings, live.clock).accounts.rotate_token(
                user_id, grace_minutes
            )
            assert token is not None
            return token
        finally:
            await store.close()

    return asyncio.run(rotate())


# -- ssids through the CLI, against a running server -----------------------------------------


def test_ssid_list_shows_a_fingerprint_and_expiry_never_the_ssid(
    live: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = new_ssid(live), new_ssid(live)
    status, out = cli(live, capsys, "ssid", "list", "--user", "acme", "--json")
    assert status == 0
    listed = json.loads(out)
    assert sorted(row["fingerprint"] for row in listed) == sorted(
        hash_secret(ssid)[:12] for ssid in (first, second)
    )
    ttl_s = live.settings.ssid_ttl_minutes * 60
    assert {row["expiry_time"] for row in listed} == {int(EPOCH) + ttl_s}
    status, out = cli(live, capsys, "ssid", "list", "--user", "acme")
    assert status == 0 and first not in out and second not in out
    assert hash_secret(first)[:12] in out and "2026-01-02T00:00:00.000Z" in out
    assert cli(live, capsys, "ssid", "list", "--user", "ghost")[0] == 1


def test_ssid_revoke_stops_it_on_the_running_server_at_once(
    live: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    doomed, kept = new_ssid(live), new_ssid(live)
    assert with_ssid(live, doomed)["status"] == "success"
    status, out = cli(live, capsys, "ssid", "revoke", doomed)
    assert status == 0 and "revoked" in out
    # ssids are looked up on every request (no 5 s memory as for tokens): refused at once.
    assert with_ssid(live, doomed)["code"] == Code.INVALID_TOKEN
    assert with_ssid(live, kept)["status"] == "success"
    status, out = cli(live, capsys, "ssid", "revoke", doomed)
    assert status == 1 and "no such ssid" in out


def test_ssid_revoke_user_ends_all_of_its_ssids_only(
    live: Live, capsys: pytest.CaptureFixture[str], other_token: str
) -> None:
    mine = [new_ssid(live), new_ssid(live)]
    theirs = new_ssid(live, "other-api", other_token)
    status, out = cli(live, capsys, "ssid", "revoke", "--user", "acme")
    assert status == 0 and "revoked 2 ssids of acme" in out
    assert [with_ssid(live, ssid)["code"] for ssid in mine] == [Code.INVALID_TOKEN] * 2
    assert with_ssid(live, theirs)["status"] == "success"
    assert cli(live, capsys, "ssid", "list", "--user", "acme")[1].strip() == ("acme has no ssid")
    # The token itself still works and can make a new ssid.
    assert with_ssid(live, new_ssid(live))["status"] == "success"
    assert cli(live, capsys, "ssid", "revoke")[0] == 1
    assert cli(live, capsys, "ssid", "revoke", "x", "--user", "acme")[0] == 1


def test_ssid_create_refuses_a_router(live: Live, capsys: pytest.CaptureFixture[str]) -> None:
    status, out = cli(live, capsys, "ssid", "create", "sip")
    assert status == 1 and "routers" in out


# -- token rotation against a running server -----------------------------------------------------


def test_rotated_token_keeps_working_until_the_grace_period_ends(live: Live) -> None:
    old = live.client_token
    assert listing(live, token=old).json()["status"] == "success"  # remembered by the server
    new = rotate_on_server_db(live, "acme", grace_minutes=10)
    assert listing(live, token=new).json()["status"] == "success"
    live.clock.advance(10 * 60 - 1)
    assert listing(live, token=old).json()["status"] == "success"
    live.clock.advance(1)  # the server's 5 s memory of the old token ends with its grace too
    assert listing(live, token=old).json()["code"] == Code.INVALID_TOKEN
    assert listing(live, token=new).json()["status"] == "success"


def test_rotated_router_token_keeps_routing_during_its_grace(live: Live) -> None:
    assert live.set(m1=A, m2=B)["status"] == "success"
    old = live.router_token
    new = rotate_on_server_db(live, "sip", grace_minutes=1)
    for token in (old, new):
        answer = live.get(
            ROUTE,
            params={"caller": A, "mask": DID0},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        assert answer["action"] == "connect", answer
    live.clock.advance(60)
    answer = live.get(
        ROUTE, params={"caller": A, "mask": DID0}, headers={"Authorization": f"Bearer {old}"}
    ).json()
    assert answer["code"] == Code.INVALID_TOKEN


def test_rotation_without_grace_stops_the_old_token_within_5_s_elsewhere(live: Live) -> None:
    old = live.client_token
    assert listing(live, token=old).json()["status"] == "success"
    rotate_on_server_db(live, "acme", grace_minutes=0)
    # The server remembers a verified token for 5 s; a token it had not seen is refused now.
    live.clock.advance(5)
    assert listing(live, token=old).json()["code"] == Code.INVALID_TOKEN


def test_user_rotate_cli_default_grace_and_zero(
    live: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    old = live.client_token
    status, out = cli(live, capsys, "user", "rotate", "acme", "--json")
    rotated = json.loads(out)
    assert status == 0 and rotated["token"] != old
    assert rotated["oldTokenUntil"] is not None  # 60 minutes on the CLI's own clock
    assert listing(live, token=old).json()["status"] == "success"
    status, out = cli(live, capsys, "user", "rotate", "acme", "--grace-minutes", "0")
    assert status == 0 and "no longer work" in out
    live.clock.advance(5)
    for token in (old, rotated["token"]):
        assert listing(live, token=token).json()["code"] == Code.INVALID_TOKEN
    status, out = cli(live, capsys, "user", "rotate", "acme", "--grace-minutes", "-1")
    assert status == 1


def test_rotation_ends_the_old_tokens_ssids_on_the_running_server_with_its_grace(
    live: Live,
) -> None:
    before = new_ssid(live)
    rotate_on_server_db(live, "acme", grace_minutes=10)
    during = new_ssid(live)  # the old token, during its grace
    assert with_ssid(live, before)["status"] == with_ssid(live, during)["status"] == "success"
    live.clock.advance(10 * 60)
    for ssid in (before, during):
        assert with_ssid(live, ssid)["code"] == Code.INVALID_TOKEN


def test_user_rotate_cli_says_and_does_that_the_old_tokens_ssids_end(
    live: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    made = new_ssid(live)
    status, out = cli(live, capsys, "user", "rotate", "acme")
    assert status == 0 and "the ssids made from it work until" in out
    assert with_ssid(live, made)["status"] == "success"
    status, out = cli(live, capsys, "user", "rotate", "acme", "--grace-minutes", "0")
    assert status == 0 and "the ssids made from it no longer work" in out
    assert with_ssid(live, made)["code"] == Code.INVALID_TOKEN
