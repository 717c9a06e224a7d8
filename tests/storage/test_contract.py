"""What every storage backend must do, checked against a real database."""

from __future__ import annotations

import dataclasses

import pytest

from callmask.domain.accounts import Session, User
from callmask.domain.calls import CallEvent
from callmask.domain.masking import Masking, pair_key
from callmask.domain.numbers import E164
from callmask.domain.recordings import Recording
from callmask.domain.rules import AccountRules
from callmask.storage.base import BeforeSet, ClaimTaken, PairTaken, Store, WriteFailed
from callmask.storage.migrations import latest_version
from tests.backends import Database

pytestmark = pytest.mark.anyio

A, B, C = E164("+919876543210"), E164("+919812345678"), E164("+919800000001")
X, Y = E164("+918040000000"), E164("+918040000001")
NOW = 1_767_225_600_000


def _masking(masking_id: str, m1: E164, m2: E164, mask: E164, expires: int = NOW + 60_000):
    return Masking(masking_id, "acme", m1, m2, mask, None, NOW, expires)


async def _pool(store: Store, *numbers: E164) -> None:
    await store.add_pool_numbers("acme", list(numbers), NOW)


async def test_migrate_twice_applies_nothing_the_second_time(store: Store) -> None:
    assert await store.migrate() == []
    assert latest_version("sqlite") == latest_version("postgresql") >= 1


async def test_first_free_walks_the_pool_in_order_skipping_party_claims(store: Store) -> None:
    await _pool(store, Y, X)
    async with store.transaction() as tx:
        assert await tx.first_free("acme", (A, B), NOW) == X
        await tx.insert(_masking("m1", A, C, X))
        assert await tx.first_free("acme", (A, B), NOW) == Y
        assert await tx.first_free("acme", (B, E164("+919800000002")), NOW) == X


async def test_lapsed_claims_do_not_block_and_are_released(store: Store) -> None:
    await _pool(store, X)
    async with store.transaction() as tx:
        await tx.insert(_masking("m1", A, B, X, expires=NOW + 1000))
    async with store.transaction() as tx:
        assert await tx.first_free("acme", (A, C), NOW + 1000) == X
        before = await tx.before_set("acme", pair_key(A, B), NOW + 1000)
        # Closed now and handed back once; its number, no longer held, is the pair's to reuse.
        assert before == BeforeSet([_masking("m1", A, B, X, NOW + 1000)], None, X, frozenset())
        await tx.insert(_masking("m2", A, C, X, expires=NOW + 5000))
    assert await store.route(X, A, NOW + 1000) == (
        _masking("m2", A, C, X, NOW + 5000),
        None,
        None,
    )
    async with store.transaction() as tx:
        again = await tx.before_set("acme", pair_key(A, B), NOW + 1000)
    # A holds X again (with C), so it is no longer the pair's to reuse.
    assert again == BeforeSet([], None, None, frozenset())


async def test_before_set_sees_the_open_masking_and_the_parties_in_a_pool(store: Store) -> None:
    await _pool(store, X)
    await store.add_pool_numbers("other", [Y], NOW)
    async with store.transaction() as tx:
        await tx.insert(_masking("ab", A, B, X))
    async with store.transaction() as tx:
        before = await tx.before_set("acme", pair_key(A, B), NOW)
        assert before == BeforeSet([], _masking("ab", A, B, X), None, frozenset())
        # A pool number of any account counts; the pair with it has no history.
        with_pooled = await tx.before_set("acme", pair_key(A, Y), NOW)
        assert with_pooled == BeforeSet([], None, None, frozenset({Y}))


async def test_database_refuses_a_second_live_claim_for_a_party_on_a_number(
    store: Store,
) -> None:
    await _pool(store, X)
    async with store.transaction() as tx:
        await tx.insert(_masking("m1", A, B, X))
    with pytest.raises(ClaimTaken):
        async with store.transaction() as tx:
            await tx.insert(_masking("m2", A, C, X))
    assert await store.route(X, C, NOW) is None


async def test_database_refuses_a_second_open_masking_for_a_pair(store: Store) -> None:
    await _pool(store, X, Y)
    async with store.transaction() as tx:
        await tx.insert(_masking("m1", A, B, X))
    with pytest.raises(PairTaken):
        async with store.transaction() as tx:
            await tx.insert(_masking("m2", B, A, Y))


async def test_route_finds_the_other_party_both_ways_and_stops_at_expiry(store: Store) -> None:
    await _pool(store, X)
    async with store.transaction() as tx:
        await tx.insert(_masking("m1", A, B, X, expires=NOW + 1000))
    forward, backward = await store.route(X, A, NOW), await store.route(X, B, NOW)
    assert forward is not None and forward[0].other_party(A) == B
    assert backward is not None and backward[0].other_party(B) == A
    assert await store.route(X, A, NOW + 999) is not None
    assert await store.route(X, A, NOW + 1000) is None
    assert await store.route(X, C, NOW) is None
    last = await store.last_masking(X, A)
    assert last is not None and last.masking_id == "m1"


async def test_change_expiry_to_now_ends_and_frees_the_claims(store: Store) -> None:
    await _pool(store, X)
    async with store.transaction() as tx:
        await tx.insert(_masking("m1", A, B, X))
        found = await tx.find_open("acme", (B,), X, NOW)
        assert [m.masking_id for m in found] == ["m1"]
        await tx.change_expiry(["m1"], NOW, NOW, "unset")
    assert await store.route(X, A, NOW) is None
    async with store.transaction() as tx:
        assert await tx.find_open("acme", (A,), None, NOW) == []
        assert await tx.first_free("acme", (A, B), NOW) == X
        before = await tx.before_set("acme", pair_key(A, B), NOW)
        assert before == BeforeSet([], None, X, frozenset())


async def test_find_open_combines_selectors_with_and(store: Store) -> None:
    await _pool(store, X, Y)
    async with store.transaction() as tx:
        await tx.insert(_masking("ab", A, B, X))
        await tx.insert(_masking("ac", A, C, Y))
        assert {m.masking_id for m in await tx.find_open("acme", (A,), None, NOW)} == {"ab", "ac"}
        assert [m.masking_id for m in await tx.find_open("acme", (C, A), None, NOW)] == ["ac"]
        assert [m.masking_id for m in await tx.find_open("acme", (A,), X, NOW)] == ["ab"]
        assert await tx.find_open("acme", (B,), Y, NOW) == []
        assert await tx.find_open("other", (A,), None, NOW) == []


async def _sweep(store: Store, now_ms: int) -> list[Masking]:
    async with store.transaction() as tx:
        closed = await tx.close_lapsed(now_ms, 100)
        await tx.drop_lapsed(now_ms)
    return closed


async def test_sweep_closes_lapsed_maskings_and_drops_their_claims(
    store: Store, tmp_path: object
) -> None:
    await _pool(store, X)
    async with store.transaction() as tx:
        await tx.insert(_masking("m1", A, B, X, expires=NOW + 1000))
    assert await _sweep(store, NOW + 999) == []
    assert [m.masking_id for m in await _sweep(store, NOW + 1000)] == ["m1"]
    pool = await store.pool("acme", NOW)
    assert [(p.number, p.active_maskings) for p in pool] == [(X, 0)]


async def test_pool_number_belongs_to_one_account(store: Store) -> None:
    await _pool(store, X)
    assert await store.add_pool_numbers("acme", [X, Y], NOW) == 1
    with pytest.raises(WriteFailed):
        await store.add_pool_numbers("other", [X], NOW)
    assert await store.pool_owner(X) == "acme"
    assert await store.pool_owner(E164("+918049999999")) is None


async def test_route_brings_the_maskings_own_call_time_limit_and_its_accounts(
    store: Store,
) -> None:
    await _pool(store, X, Y)
    limited = dataclasses.replace(_masking("m1", A, B, X), call_time_limit=30)
    unlimited = _masking("m2", A, C, Y)
    async with store.transaction() as tx:
        await tx.insert(limited)
        await tx.insert(unlimited)
        # The limit is part of the masking wherever it is read back.
        before = await tx.before_set("acme", pair_key(A, B), NOW)
        assert before.existing == limited
    assert await store.route(X, A, NOW) == (limited, None, None)
    await store.set_account_rules(AccountRules("acme", 90), NOW)
    await store.set_account_rules(AccountRules("other", 5), NOW)
    assert await store.route(X, B, NOW) == (limited, 90, None)
    assert await store.route(Y, C, NOW) == (unlimited, 90, None)


async def test_route_brings_the_maskings_recording_choice_and_its_accounts(
    store: Store,
) -> None:
    await _pool(store, X, Y)
    recorded = dataclasses.replace(_masking("m1", A, B, X), record=True)
    unsaid = _masking("m2", A, C, Y)
    async with store.transaction() as tx:
        await tx.insert(recorded)
        await tx.insert(unsaid)
    found = await store.route(X, A, NOW)
    assert found is not None and found[0].record is True and found[2] is None
    await store.set_account_rules(AccountRules("acme", record=False), NOW)
    assert await store.route(Y, C, NOW) == (unsaid, None, False)
    await store.set_account_rules(AccountRules("acme", record=True), NOW)
    assert await store.route(Y, C, NOW) == (unsaid, None, True)
    assert await store.account_rules("acme") == AccountRules("acme", record=True)


async def test_a_recording_is_noted_once_finished_once_listed_with_its_call_and_purged(
    store: Store,
) -> None:
    await _pool(store, X)
    skipping = "the consent prompt could not be played"
    async with store.transaction() as tx:
        await tx.insert(_masking("m1", A, B, X))
        await tx.record_call_event(CallEvent("start", "call-1", NOW, "m1", X, A, B), NOW)
        assert await tx.note_recording("call-1", "rec_1", "recording", None, NOW)
        # The proxy's event again (a replay): the first report stands.
        assert not await tx.note_recording("call-1", "rec_9", "skipped", "again", NOW + 5)
        # A call whose start has not arrived: its recording has no account yet.
        assert await tx.note_recording("call-2", "rec_2", "skipped", skipping, NOW + 10)
    under_way = Recording("rec_1", "call-1", "recording", None, None, None, None, NOW, NOW, "acme")
    skipped = Recording(
        "rec_2", "call-2", "skipped", skipping, None, None, None, NOW + 10, NOW + 10
    )
    assert await store.recording_of_call("call-1") == under_way
    assert await store.recording("rec_1") == under_way
    assert await store.recording("rec_2") == skipped
    assert await store.recording("rec_9") is None
    assert await store.recording_of_call("call-3") is None
    found = await store.recordings_of(["call-1", "call-2", "call-3"])
    assert found == {"call-1": under_way, "call-2": skipped}
    assert await store.recordings_of(["call-3"]) == {} and await store.recordings_of([]) == {}

    ready = dataclasses.replace(
        under_way, status="ready", file="acme/rec_1.wav", duration_ms=2500, size=40_044
    )
    failed = dataclasses.replace(under_way, status="failed", reason="the capture is missing")
    async with store.transaction() as tx:
        assert await tx.finish_recording(ready, NOW + 100)
        # Only a recording under way is finished, and only once.
        assert not await tx.finish_recording(failed, NOW + 200)
        assert not await tx.finish_recording(dataclasses.replace(skipped, status="failed"), NOW)
    assert await store.recording("rec_1") == dataclasses.replace(ready, updated_ms=NOW + 100)
    assert await store.recording("rec_2") == skipped

    async with store.transaction() as tx:
        await tx.note_recording("call-3", "rec_3", "recording", None, NOW + 1000)
    steps = [await store.purge_step(NOW + 1000, 1) for _ in range(3)]
    # Made before the cutoff: gone, one a step here, their files handed back to delete.
    assert [step.recordings for step in steps] == [1, 1, 0]
    assert sum((step.files for step in steps), ()) == ("acme/rec_1.wav",)
    assert await store.recordings_of(["call-1", "call-2", "call-3"]) == {
        "call-3": Recording(
            "rec_3", "call-3", "recording", None, None, None, None, NOW + 1000, NOW + 1000
        )
    }


async def test_account_rules_are_written_replaced_and_read_back(store: Store) -> None:
    assert await store.account_rules("acme") is None
    await store.set_account_rules(AccountRules("acme", 90), NOW)
    assert await store.account_rules("acme") == AccountRules("acme", 90)
    await store.set_account_rules(AccountRules("acme", None), NOW + 1)
    assert await store.account_rules("acme") == AccountRules("acme", None)
    assert await store.account_rules("other") is None


async def test_owner_rules_are_the_accounts_own_or_the_defaults_and_none_off_the_pool(
    store: Store,
) -> None:
    assert await store.owner_rules(X) is None
    await _pool(store, X)
    assert await store.owner_rules(X) == AccountRules("acme")
    forwarding = AccountRules("acme", 60, "forward", E164("+918012345678"))
    await store.set_account_rules(forwarding, NOW)
    assert await store.owner_rules(X) == forwarding
    rejecting = AccountRules("acme", None, "reject", None, 480)
    await store.set_account_rules(rejecting, NOW + 1)
    assert await store.owner_rules(X) == rejecting
    assert await store.account_rules("acme") == rejecting


@pytest.mark.parametrize(
    "bad",
    [
        AccountRules("acme", reject_code=500),
        AccountRules("acme", out_of_session="drop"),  # type: ignore[arg-type]
        AccountRules("acme", call_time_limit=86_401),
    ],
)
async def test_the_database_refuses_rules_outside_their_domain(
    store: Store, bad: AccountRules
) -> None:
    with pytest.raises(WriteFailed):
        await store.set_account_rules(bad, NOW)
    assert await store.account_rules("acme") is None


async def test_an_account_is_known_by_its_users_or_its_pool(store: Store) -> None:
    assert not await store.account_known("acme")
    await _pool(store, X)
    assert await store.account_known("acme")
    assert not await store.account_known("crew")
    await store.add_user(User("ops", "crew", "client", "h" * 64), NOW)
    assert await store.account_known("crew")


async def test_removing_a_number_with_live_maskings_needs_force(store: Store) -> None:
    await _pool(store, X)
    async with store.transaction() as tx:
        await tx.insert(_masking("m1", A, B, X))
    with pytest.raises(WriteFailed):
        async with store.transaction() as tx:
            await tx.remove_pool_numbers([X], NOW, force=False)
    async with store.transaction() as tx:
        removed, ended = await tx.remove_pool_numbers([X], NOW, force=True)
    assert (removed, [m.masking_id for m in ended]) == (1, ["m1"])
    assert await store.route(X, A, NOW) is None


async def test_users_by_id_token_and_session(store: Store) -> None:
    user = User("acme", "acme", "client", "h" * 64)
    await store.add_user(user, NOW)
    assert await store.user("acme") == user
    assert await store.user_by_token("h" * 64) == user
    await store.add_session(Session("s" * 64, "acme", NOW + 1000), "h" * 64, 100)
    assert await store.session_user("s" * 64, NOW + 999) == user
    assert await store.session_user("s" * 64, NOW + 1000) is None


async def test_a_session_works_only_while_the_token_it_was_made_from_does(store: Store) -> None:
    await store.add_user(User("acme", "acme", "client", "a" * 64), NOW)
    await store.add_session(Session("s" * 64, "acme", NOW + 10_000), "a" * 64, 100)
    await store.add_session(Session("t" * 64, "acme", NOW + 10_000), "x" * 64, 100)
    assert await store.session_user("t" * 64, NOW) is None  # no token of the user's made it
    assert await store.rotate_token("acme", "b" * 64, NOW + 500)
    # Inserted after the rotation, as a process that verified the old token just before it may.
    await store.add_session(Session("u" * 64, "acme", NOW + 10_000), "a" * 64, 100)
    for ssid_hash in ("s" * 64, "u" * 64):
        assert await store.session_user(ssid_hash, NOW + 499) is not None
        assert await store.session_user(ssid_hash, NOW + 500) is None
    assert await store.rotate_token("acme", "c" * 64, None)
    assert await store.session_user("u" * 64, NOW) is None
    assert await store.sessions_of("acme") == []


async def test_a_new_session_beyond_the_cap_revokes_the_one_that_expires_first(
    store: Store,
) -> None:
    await store.add_user(User("acme", "acme", "client", "a" * 64), NOW)
    await store.add_user(User("beta", "beta", "client", "b" * 64), NOW)
    await store.add_session(Session("z" * 64, "beta", NOW + 1), "b" * 64, 2)
    for n, ssid_hash in enumerate(("p" * 64, "q" * 64)):
        assert await store.add_session(Session(ssid_hash, "acme", NOW + n), "a" * 64, 2) == 0
    assert await store.add_session(Session("r" * 64, "acme", NOW + 5), "a" * 64, 2) == 1
    assert [s.ssid_hash for s in await store.sessions_of("acme")] == ["q" * 64, "r" * 64]
    assert len(await store.sessions_of("beta")) == 1


async def test_a_failed_transaction_leaves_nothing_behind(store: Store, tmp_path: object) -> None:
    await _pool(store, X)
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            await tx.insert(_masking("m1", A, B, X))
            raise RuntimeError("client went away")
    assert await store.route(X, A, NOW) is None
    assert await store.last_masking(X, A) is None


# The primary key's columns in key order, as each database's catalogue has them.
_PRIMARY_KEY = {
    "sqlite": "SELECT name FROM pragma_table_info('claims') WHERE pk > 0 ORDER BY pk",
    "postgresql": (
        "SELECT a.attname FROM pg_index i"
        " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
        " WHERE i.indrelid = 'claims'::regclass AND i.indisprimary"
        " ORDER BY array_position(i.indkey::int2[], a.attnum)"
    ),
}


async def test_the_claim_key_is_one_party_per_number_in_the_schema(
    backend: tuple[Store, Database],
) -> None:
    # The invariant (a party holds a number in one live masking at a time) is this key.
    _, database = backend
    key = await database.rows(_PRIMARY_KEY[database.kind])
    assert [row[0] for row in key] == ["mask", "party"]
    if database.kind == "postgresql":
        # The storage errors tell ClaimTaken and PairTaken apart by these names.
        names = await database.rows(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'claims'::regclass"
            " AND contype = 'p'"
        )
        assert names == [("claims_pkey",)]
        indexes = await database.rows(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
            " AND indexname = 'maskings_open_pair'"
        )
        assert indexes == [("maskings_open_pair",)]
