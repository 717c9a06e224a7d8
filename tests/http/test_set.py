"""Setting maskings: one live masking per pair, retries, and which pool number each one gets."""

from __future__ import annotations

from callmask.domain.errors import Code
from tests.support import (
    DID0,
    DID1,
    DID2,
    OTHER_DID,
    SET,
    A,
    B,
    C,
    Clock,
    D,
    E,
    F,
    G,
    H,
    Live,
    assert_error,
    count,
    database,
    post_as,
)

ALREADY_MASKED = (
    "Your masking request could not be expired until now. So you cannot make another request"
)


def test_set_answers_the_masking_in_deepcall_shape(live: Live) -> None:
    answer = live.set(m1=A, m2=B, eventId="order-42", expiry_duration=30)
    assert answer["status"] == "success"
    assert answer["code"] == 200
    assert answer["message"] == "Masking set successfully"
    assert set(answer) == {
        "status",
        "code",
        "message",
        "maskingId",
        "mask",
        "m1",
        "m2",
        "eventId",
        "expiry_time",
        "callTimeLimit",
        "record",
    }
    assert answer["mask"] == DID0
    assert (answer["m1"], answer["m2"], answer["eventId"]) == (A, B, "order-42")


def test_set_without_event_id_answers_null_event_id(live: Live) -> None:
    assert live.set(m1=A, m2=B)["eventId"] is None


def test_set_twice_for_active_pair_returns_1503(live: Live) -> None:
    first = live.set(m1=A, m2=B)
    answer = live.set(m1=A, m2=B)
    assert_error(answer, Code.ALREADY_MASKED)
    assert answer["message"] == ALREADY_MASKED
    assert live.route(A, DID0)["maskingId"] == first["maskingId"]
    assert count(live, "maskings") == 1


def test_set_for_active_pair_in_reverse_order_returns_1503(live: Live) -> None:
    live.set(m1=A, m2=B)
    assert_error(live.set(m1=B, m2=A), Code.ALREADY_MASKED)
    assert_error(live.set(m1="09812345678", m2=9876543210), Code.ALREADY_MASKED)


def test_retry_with_same_pair_and_event_id_answers_the_same_masking(live: Live) -> None:
    first = live.set(m1=A, m2=B, eventId="ride-7", expiry_duration=30)
    retry = live.set(m1=A, m2=B, eventId="ride-7", expiry_duration=30)
    assert retry["status"] == "success", retry
    assert retry["maskingId"] == first["maskingId"]
    assert retry["mask"] == first["mask"]
    assert retry["expiry_time"] == first["expiry_time"]
    reversed_retry = live.set(m1=B, m2=A, eventId="ride-7")
    assert reversed_retry["maskingId"] == first["maskingId"]
    assert count(live, "maskings") == 1


def test_retry_with_a_different_event_id_returns_1503(live: Live) -> None:
    live.set(m1=A, m2=B, eventId="ride-7")
    assert_error(live.set(m1=A, m2=B, eventId="ride-8"), Code.ALREADY_MASKED)
    assert_error(live.set(m1=A, m2=B), Code.ALREADY_MASKED)


def test_retry_without_event_id_is_not_idempotent(live: Live) -> None:
    live.set(m1=A, m2=B)
    assert_error(live.set(m1=A, m2=B, eventId=""), Code.ALREADY_MASKED)


def test_numeric_event_id_is_kept_as_text_and_matches_its_string_retry(live: Live) -> None:
    first = live.set(m1=A, m2=B, eventId=12345)
    assert first["eventId"] == "12345"
    assert live.set(m1=A, m2=B, eventId="12345")["maskingId"] == first["maskingId"]


def test_overlong_event_id_is_1000(live: Live) -> None:
    assert_error(live.set(m1=A, m2=B, eventId="x" * 256), Code.INVALID_PARAMETERS, "eventId")
    assert live.set(m1=A, m2=B, eventId="x" * 255)["status"] == "success"


def test_disjoint_pairs_share_the_lowest_pool_number(live: Live) -> None:
    masks = [live.set(m1=m1, m2=m2)["mask"] for m1, m2 in ((A, B), (C, D), (E, F), (G, H))]
    assert masks == [DID0] * 4
    for caller, other in ((A, B), (D, C), (E, F), (H, G)):
        assert live.route(caller, DID0)["to"] == other


def test_a_party_gets_a_different_pool_number_per_masking(live: Live) -> None:
    masks = [live.set(m1=A, m2=partner)["mask"] for partner in (B, C, D)]
    assert masks == [DID0, DID1, DID2]


def test_no_number_free_for_both_parties_returns_1505(live: Live) -> None:
    for partner in (B, C, D):
        assert live.set(m1=A, m2=partner)["status"] == "success"
    answer = live.set(m1=E, m2=A)
    assert answer == {"status": "error", "message": "Masking No not available", "code": 1505}
    assert count(live, "maskings") == 3
    # The pool is full only for A: a pair without A still gets the first number.
    assert live.set(m1=E, m2=F)["mask"] == DID0


def test_pool_exhaustion_is_per_party_pair_not_per_single_party(live: Live) -> None:
    live.set(m1=A, m2=B)  # DID0
    live.set(m1=C, m2=D)  # DID0
    live.set(m1=A, m2=E)  # DID1
    live.set(m1=C, m2=F)  # DID1
    live.set(m1=G, m2=H)  # DID0
    # A holds DID0 and DID1, C holds DID0 and DID1: only DID2 is free for both.
    assert live.set(m1=A, m2=C)["mask"] == DID2
    assert_error(live.set(m1=A, m2=F), Code.POOL_EXHAUSTED)


def test_pair_gets_its_previous_number_again_after_unset(live: Live) -> None:
    live.set(m1=A, m2=C)  # DID0
    first = live.set(m1=A, m2=B)  # DID1: DID0 is A's already
    assert first["mask"] == DID1
    live.unset(m1=A, m2=C)
    live.unset(m1=A, m2=B)
    # First fit alone would now give DID0; the pair keeps the number its people know.
    again = live.set(m1=B, m2=A)
    assert again["mask"] == DID1, again
    assert again["maskingId"] != first["maskingId"]


def test_pair_falls_back_to_first_fit_when_its_previous_number_is_taken(
    live: Live, clock: Clock
) -> None:
    live.set(m1=A, m2=C)  # DID0
    assert live.set(m1=A, m2=B)["mask"] == DID1
    live.unset(m1=A, m2=C)
    live.unset(m1=A, m2=B)
    clock.advance(3601)  # past the hour in which numbers just let go of are passed over
    live.set(m1=B, m2=D)  # DID0
    live.set(m1=B, m2=E)  # DID1: now B's
    assert live.set(m1=A, m2=B)["mask"] == DID2


def test_a_number_a_party_just_let_go_of_goes_to_someone_new_only_when_nothing_else_is_free(
    live: Live, clock: Clock
) -> None:
    assert live.set(m1=A, m2=B)["mask"] == DID0
    live.unset(m1=A, m2=B)
    # A called B on DID0 a moment ago: with C it gets another number, so a callback to
    # DID0 cannot reach C; D never used DID0, so D with E takes it as first fit would.
    assert live.set(m1=A, m2=C)["mask"] == DID1
    assert live.set(m1=D, m2=E)["mask"] == DID0
    clock.advance(3601)
    live.unset(m1=A, m2=C)
    assert live.set(m1=A, m2=F)["mask"] == DID0


def test_router_cannot_set(live: Live) -> None:
    answer = post_as(live, SET, live.router_token, "sip", m1=A, m2=B)
    assert_error(answer, Code.PERMISSION_DENIED)
    assert count(live, "maskings") == 0


def test_accounts_have_separate_pools_and_pairs(live: Live, other_token: str) -> None:
    theirs = post_as(live, SET, other_token, "other-api", m1=A, m2=B)
    assert theirs["mask"] == OTHER_DID
    ours = live.set(m1=A, m2=B)
    assert ours["status"] == "success", ours
    assert ours["mask"] == DID0
    # "other" has one number; A is on it already, so A with anyone else cannot be masked there.
    assert_error(post_as(live, SET, other_token, "other-api", m1=A, m2=C), Code.POOL_EXHAUSTED)


def _boom(live: Live, table: str) -> None:
    with database(live) as conn:
        conn.execute(
            f"CREATE TRIGGER boom BEFORE INSERT ON {table}"
            " BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
        )


def test_storage_failure_inserting_the_masking_returns_1504_and_writes_nothing(
    live: Live,
) -> None:
    _boom(live, "maskings")
    answer = live.set(m1=A, m2=B, eventId="e-1")
    assert answer == {"status": "error", "message": "Masking could not be inserted", "code": 1504}
    assert "disk says no" not in str(answer)
    assert count(live, "maskings") == 0
    assert count(live, "claims") == 0

    with database(live) as conn:
        conn.execute("DROP TRIGGER boom")
    retried = live.set(m1=A, m2=B, eventId="e-1")
    assert retried["status"] == "success", retried
    assert retried["mask"] == DID0


def test_storage_failure_inserting_the_claims_rolls_back_the_masking(live: Live) -> None:
    _boom(live, "claims")
    assert_error(live.set(m1=A, m2=B), Code.NOT_INSERTED)
    assert count(live, "maskings") == 0
    assert count(live, "claims") == 0
    with database(live) as conn:
        conn.execute("DROP TRIGGER boom")
    assert live.set(m1=A, m2=B)["status"] == "success"


def test_a_pool_number_cannot_be_a_party(live: Live) -> None:
    # A call to it would come back through the proxy; any account's pool number counts.
    for m1, m2, name in ((DID1, A, "m1"), (A, OTHER_DID, "m2")):
        answer = live.set(m1=m1, m2=m2)
        assert_error(answer, Code.INVALID_PARAMETERS)
        assert f"{name} is a pool number" in str(answer["message"])
    assert count(live, "maskings") == 0
