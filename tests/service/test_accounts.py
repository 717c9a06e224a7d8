"""Accounts: token rotation with a grace period, ssids listed and revoked (both backends)."""

from __future__ import annotations

import pytest

from callmask.domain.errors import InvalidToken
from callmask.service import Services
from callmask.service.accounts import Credentials, Principal, fingerprint, hash_secret
from callmask.storage.base import Store
from tests.support import Clock


@pytest.mark.anyio
async def test_a_rotated_token_works_until_its_grace_ends(
    services: Services, store: Store, clock: Clock
) -> None:
    first = await services.accounts.add_user("acme", "client")
    second = await services.accounts.rotate_token("acme", grace_minutes=30)
    assert second is not None
    for token in (first, second):
        assert (await services.accounts.authenticate(Credentials("acme", token))).user_id == "acme"
        assert (await services.accounts.authenticate_bearer(token)).user_id == "acme"
    assert await store.previous_token_until("acme") == int((clock.now + 30 * 60) * 1000)
    # A second rotation keeps only the token it replaced.
    third = await services.accounts.rotate_token("acme", grace_minutes=30)
    assert third is not None
    with pytest.raises(InvalidToken):
        await services.accounts.authenticate(Credentials("acme", first))
    clock.advance(30 * 60)
    with pytest.raises(InvalidToken):
        await services.accounts.authenticate(Credentials("acme", second))
    with pytest.raises(InvalidToken):
        await services.accounts.authenticate_bearer(second)
    # A previous token is the user's only: another userId with it is refused.
    await services.accounts.add_user("beta", "client")
    fourth = await services.accounts.rotate_token("acme", grace_minutes=30)
    assert fourth is not None
    with pytest.raises(InvalidToken):
        await services.accounts.authenticate(Credentials("beta", third))
    assert await services.accounts.rotate_token("ghost") is None


@pytest.mark.anyio
async def test_rotation_without_grace_stops_the_old_token_at_once(
    services: Services, store: Store
) -> None:
    old = await services.accounts.add_user("acme", "client")
    await services.accounts.authenticate(Credentials("acme", old))  # now remembered for 5 s
    new = await services.accounts.rotate_token("acme")
    assert new is not None
    with pytest.raises(InvalidToken):
        await services.accounts.authenticate(Credentials("acme", old))
    assert await store.previous_token_until("acme") is None


@pytest.mark.anyio
async def test_ssids_are_listed_by_fingerprint_and_revoked_at_once(
    services: Services, clock: Clock
) -> None:
    await services.accounts.add_user("acme", "client")
    await services.accounts.add_user("beta", "client")
    who = Principal("acme", "acme", "client")
    first, _ = await services.accounts.create_ssid(who)
    clock.advance(10)
    second, second_expiry = await services.accounts.create_ssid(who)
    theirs, _ = await services.accounts.create_ssid(Principal("beta", "beta", "client"))
    listed = await services.accounts.ssids("acme")
    assert [fingerprint(s) for s in listed] == [hash_secret(first)[:12], hash_secret(second)[:12]]
    assert listed[1].expires_ms == second_expiry
    assert await services.accounts.revoke_ssid(first)
    assert not await services.accounts.revoke_ssid(first)
    with pytest.raises(InvalidToken):
        await services.accounts.authenticate(Credentials(ssid=first))
    assert (await services.accounts.authenticate(Credentials(ssid=second))).user_id == "acme"
    assert await services.accounts.revoke_ssids("acme") == 1
    with pytest.raises(InvalidToken):
        await services.accounts.authenticate(Credentials(ssid=second))
    assert (await services.accounts.authenticate(Credentials(ssid=theirs))).user_id == "beta"
    assert await services.accounts.ssids("acme") == []
    clock.advance(3600)  # listed until the sweeper drops it, and refused meanwhile
    assert [s.user_id for s in await services.accounts.ssids("beta")] == ["beta"]
    with pytest.raises(InvalidToken):
        await services.accounts.authenticate(Credentials(ssid=theirs))
    await services.maskings.sweep()
    assert await services.accounts.ssids("beta") == []
