"""Accounts: token rotation with a grace period, ssids listed and revoked (both backends)."""

from __future__ import annotations

import pytest

from callmask.bootstrap import build_services
from callmask.config import Settings
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


async def _ssid_from(services: Services, token: str) -> str:
    """An ssid as auth/ssid makes one: from the principal that token authenticates."""
    principal = await services.accounts.authenticate(Credentials("acme", token))
    ssid, _ = await services.accounts.create_ssid(principal)
    return ssid


async def _works(services: Services, ssid: str) -> bool:
    try:
        await services.accounts.authenticate(Credentials(ssid=ssid))
    except InvalidToken:
        return False
    return True


@pytest.mark.anyio
async def test_rotation_without_grace_ends_the_old_tokens_ssids_at_once(
    services: Services,
) -> None:
    old = await services.accounts.add_user("acme", "client")
    stale = await services.accounts.authenticate(Credentials("acme", old))
    made = await _ssid_from(services, old)
    new = await services.accounts.rotate_token("acme")
    assert new is not None
    assert not await _works(services, made)
    assert await services.accounts.ssids("acme") == []
    # A process that verified the old token just before the rotation still makes an ssid
    # from it (its 5 s memory); that ssid is born dead.
    late, _ = await services.accounts.create_ssid(stale)
    assert not await _works(services, late)
    assert await _works(services, await _ssid_from(services, new))


@pytest.mark.anyio
async def test_rotation_with_grace_ends_the_old_tokens_ssids_with_the_grace(
    services: Services, clock: Clock
) -> None:
    old = await services.accounts.add_user("acme", "client")
    before = await _ssid_from(services, old)
    new = await services.accounts.rotate_token("acme", grace_minutes=30)
    assert new is not None
    grace_end = int((clock.now + 30 * 60) * 1000)
    during = await _ssid_from(services, old)  # made from the old token during the grace
    fresh = await _ssid_from(services, new)
    assert all([await _works(services, s) for s in (before, during, fresh)])
    ending = {s.ssid_hash: s.expires_ms for s in await services.accounts.ssids("acme")}
    assert ending[hash_secret(before)] == ending[hash_secret(during)] == grace_end
    assert ending[hash_secret(fresh)] > grace_end
    clock.advance(30 * 60)
    assert not await _works(services, before)
    assert not await _works(services, during)
    assert await _works(services, fresh)


@pytest.mark.anyio
async def test_a_second_rotation_ends_the_first_old_tokens_ssids_at_once(
    services: Services, clock: Clock
) -> None:
    first = await services.accounts.add_user("acme", "client")
    from_first = await _ssid_from(services, first)
    second = await services.accounts.rotate_token("acme", grace_minutes=30)
    assert second is not None
    from_second = await _ssid_from(services, second)
    assert await services.accounts.rotate_token("acme", grace_minutes=30) is not None
    assert not await _works(services, from_first)  # its token stopped with this rotation
    assert await _works(services, from_second)  # its token is in its grace now
    clock.advance(30 * 60)
    assert not await _works(services, from_second)


@pytest.mark.anyio
async def test_rotation_ends_ssids_made_by_the_cli_from_the_current_token(
    services: Services,
) -> None:
    await services.accounts.add_user("acme", "client")
    made, _ = await services.accounts.create_ssid(Principal("acme", "acme", "client"))
    assert await _works(services, made)
    assert await services.accounts.rotate_token("acme") is not None
    assert not await _works(services, made)


@pytest.mark.anyio
async def test_a_new_ssid_beyond_the_cap_revokes_the_users_oldest(
    store: Store, clock: Clock
) -> None:
    services = build_services(store, Settings(ssid_ttl_minutes=60, ssid_max_per_user=3), clock)
    token = await services.accounts.add_user("acme", "client")
    await services.accounts.add_user("beta", "client")
    theirs, _ = await services.accounts.create_ssid(Principal("beta", "beta", "client"))
    made = []
    for _ in range(5):
        made.append(await _ssid_from(services, token))
        clock.advance(1)
    assert [await _works(services, s) for s in made] == [False, False, True, True, True]
    listed = await services.accounts.ssids("acme")
    assert [s.ssid_hash for s in listed] == [hash_secret(s) for s in made[2:]]
    assert await _works(services, theirs)  # another user's ssids are not counted
