"""Masking queries over the real socket: POST /api/v2/Masking/get and /api/v2/Masking/list."""

from __future__ import annotations

from callmask.domain.errors import Code
from callmask.domain.permissions import Permission
from tests.support import (
    DID0,
    MASKING_GET,
    MASKING_LIST,
    NOW,
    OTHER_DID,
    SET,
    A,
    B,
    C,
    D,
    Live,
    add_user,
    assert_error,
    post_as,
)


def _get(live: Live, **params: object) -> dict[str, object]:
    answer: dict[str, object] = live.post(MASKING_GET, json=live.auth(**params)).json()
    return answer


def _list(live: Live, **params: object) -> dict[str, object]:
    answer: dict[str, object] = live.post(MASKING_LIST, json=live.auth(**params)).json()
    return answer


def _ids(answer: dict[str, object]) -> list[str]:
    assert answer["status"] == "success", answer
    return [str(m["maskingId"]) for m in answer["maskings"]]  # type: ignore[attr-defined]


def test_get_by_masking_id_shows_it_live_then_how_it_ended(live: Live) -> None:
    made = live.set(m1=A, m2=B, eventId="ride-1", expiry_duration=30)
    answer = _get(live, maskingId=made["maskingId"])
    assert answer["count"] == 1
    assert answer["maskings"] == [
        {
            "maskingId": made["maskingId"],
            "mask": DID0,
            "m1": A,
            "m2": B,
            "eventId": "ride-1",
            "created_time": NOW,
            "expiry_time": NOW + 1800,
            "callTimeLimit": None,
            "record": None,
            "status": "active",
            "ended_time": None,
            "endReason": None,
        }
    ]
    live.clock.advance(60)
    live.unset(m1=A)
    [ended] = _get(live, maskingId=made["maskingId"])["maskings"]  # type: ignore[misc]
    assert (ended["status"], ended["endReason"], ended["ended_time"]) == (
        "ended",
        "unset",
        NOW + 60,
    )


def test_get_by_event_id_lists_every_masking_with_it_newest_first(live: Live) -> None:
    first = live.set(m1=A, m2=B, eventId="ride-1")
    live.unset(m1=A)
    live.clock.advance(1)
    second = live.set(m1=A, m2=B, eventId="ride-1")
    live.set(m1=C, m2=D, eventId="ride-2")
    assert _ids(_get(live, eventId="ride-1")) == [second["maskingId"], first["maskingId"]]


def test_a_lapsed_masking_shows_expired_at_its_expiry_without_a_sweep(live: Live) -> None:
    made = live.set(m1=A, m2=B, expiry_duration=1)
    live.clock.advance(61)
    [shown] = _get(live, maskingId=made["maskingId"])["maskings"]  # type: ignore[misc]
    assert (shown["status"], shown["endReason"], shown["ended_time"]) == (
        "ended",
        "expired",
        NOW + 60,
    )


def test_get_of_an_unknown_or_another_accounts_masking_is_1000(
    live: Live, other_token: str
) -> None:
    theirs = post_as(live, SET, other_token, "other-api", m1=A, m2=B, eventId="shared-id")
    assert theirs["mask"] == OTHER_DID
    assert_error(_get(live, maskingId=theirs["maskingId"]), Code.INVALID_PARAMETERS)
    assert_error(_get(live, eventId="shared-id"), Code.INVALID_PARAMETERS)
    assert_error(_get(live), Code.INVALID_PARAMETERS, "maskingId or eventId")
    mine = post_as(live, MASKING_GET, other_token, "other-api", maskingId=theirs["maskingId"])
    assert _ids(mine) == [theirs["maskingId"]]


def test_list_filters_by_status_party_and_windows(live: Live) -> None:
    ab = live.set(m1=A, m2=B, eventId="e1")
    live.clock.advance(10)
    ac = live.set(m1=A, m2=C, eventId="e2", expiry_duration=5)
    live.clock.advance(10)
    cd = live.set(m1=C, m2=D)
    live.unset(m1=C, m2=D)
    assert _ids(_list(live)) == [cd["maskingId"], ac["maskingId"], ab["maskingId"]]
    assert _ids(_list(live, status="active")) == [ac["maskingId"], ab["maskingId"]]
    assert _ids(_list(live, status="expired")) == [cd["maskingId"]]
    assert _ids(_list(live, party="09812345679")) == [cd["maskingId"], ac["maskingId"]]
    assert _ids(_list(live, party=C, status="active")) == [ac["maskingId"]]
    assert _ids(_list(live, eventId="e1")) == [ab["maskingId"]]
    assert _ids(_list(live, createdFrom=NOW + 5, createdTo=NOW + 15)) == [ac["maskingId"]]
    assert _ids(_list(live, expiryTo=NOW + 10 + 301)) == [cd["maskingId"], ac["maskingId"]]
    assert _ids(_list(live, mask=DID0, order="asc"))[0] == ab["maskingId"]


def test_list_pages_follow_next_cursor(live: Live) -> None:
    parties = [f"+9198765432{n:02d}" for n in range(10)]
    made = []
    for n in range(5):
        made.append(live.set(m1=parties[2 * n], m2=parties[2 * n + 1])["maskingId"])
        live.clock.advance(1)
    first = _list(live, limit=2)
    second = _list(live, limit=2, cursor=first["nextCursor"])
    third = _list(live, limit=2, cursor=second["nextCursor"])
    assert _ids(first) + _ids(second) + _ids(third) == list(reversed(made))
    assert third["nextCursor"] is None


def test_masking_queries_need_list_masking(live: Live) -> None:
    token = add_user(live, "acme-calls", "acme", Permission.LIST_CALL_LOG)
    for path in (MASKING_GET, MASKING_LIST):
        answer = post_as(live, path, token, "acme-calls", maskingId="x")
        assert_error(answer, Code.PERMISSION_DENIED, "LIST_MASKING")
    # The same user may not set maskings either: permissions are per user.
    assert_error(post_as(live, SET, token, "acme-calls", m1=A, m2=B), Code.PERMISSION_DENIED)
    assert _ids(_list(live)) == []
