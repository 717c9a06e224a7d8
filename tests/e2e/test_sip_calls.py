"""Real calls: sipp → Kamailio (the shipped configuration) → callmask → sipp, and their records."""

from __future__ import annotations

import time
from pathlib import Path

from tests.e2e.calls import M1, M2, STRANGER, call, queued, records, stored
from tests.e2e.sip_stack import Stack, sip_stack


def test_m1_calling_the_did_reaches_m2_who_sees_only_the_did(stack: Stack) -> None:
    did = str(stack.masking(M1, M2)["mask"])
    call(stack, M1, M2, did)


def test_the_callee_hanging_up_reaches_the_caller_without_its_number(stack: Stack) -> None:
    m1, m2 = "+919876500008", "+919812300008"
    did = str(stack.masking(m1, m2)["mask"])
    call(stack, m1, m2, did, hangup="callee")
    [record] = records(stack, m1, "completed")
    assert record["outcome"] == "completed"


def test_m2_calling_the_did_reaches_m1(stack: Stack) -> None:
    m1, m2 = "+919876500001", "+919812300001"
    did = str(stack.masking(m1, m2)["mask"])
    call(stack, m2, m1, did)


def test_a_stranger_calling_the_did_gets_403(stack: Stack) -> None:
    did = str(stack.masking("+919876500002", "+919812300002")["mask"])
    call(stack, STRANGER, "+919812300002", did, final=403, answer=None)


def test_a_number_outside_the_pool_gets_404(stack: Stack) -> None:
    call(stack, M1, M2, "+918049999999", final=404, answer=None)


def test_an_unset_masking_no_longer_connects(stack: Stack) -> None:
    m1, m2 = "+919876500003", "+919812300003"
    did = str(stack.masking(m1, m2)["mask"])
    stack.unset(m1=m1, m2=m2)
    call(stack, m1, m2, did, final=403, answer=None)


def test_a_busy_callee_is_relayed_as_486(stack: Stack) -> None:
    m1, m2 = "+919876500004", "+919812300004"
    did = str(stack.masking(m1, m2)["mask"])
    call(stack, m1, m2, did, final=486, answer=486)


def test_callmask_down_answers_503_at_once(tmp_path: Path) -> None:
    with sip_stack(tmp_path, callmask_up=False) as down:
        started = time.monotonic()
        call(down, M1, M2, "+918040000000", final=503, answer=None)
        assert time.monotonic() - started < 5


def test_an_answered_call_is_recorded_with_its_masking_duration_and_status(stack: Stack) -> None:
    m1, m2 = "+919876500005", "+919812300005"
    masking = stack.masking(m1, m2)
    call(stack, m1, m2, str(masking["mask"]), talk_ms=1400)
    [record] = records(stack, m1, "completed")
    assert record["outcome"] == "completed" and record["sip_status"] == 200
    assert record["masking_id"] == masking["maskingId"]
    assert record["event_id"] == masking["eventId"] and record["account_id"] == "acme"
    assert (record["mask"], record["callee"]) == (masking["mask"], m2)
    assert record["duration_s"] in (1, 2)
    started, answered, ended = record["started_ms"], record["answered_ms"], record["ended_ms"]
    assert isinstance(started, int) and isinstance(answered, int) and isinstance(ended, int)
    assert started <= answered < ended


def test_a_busy_call_is_recorded_as_failed_with_486(stack: Stack) -> None:
    m1, m2 = "+919876500006", "+919812300006"
    masking = stack.masking(m1, m2)
    call(stack, m1, m2, str(masking["mask"]), final=486, answer=486)
    [record] = records(stack, m1, "failed")
    assert (record["outcome"], record["sip_status"]) == ("failed", 486)
    assert record["masking_id"] == masking["maskingId"] and record["answered_ms"] is None


def test_a_rejected_call_leaves_no_record(stack: Stack) -> None:
    m1, m2, stranger = "+919876500007", "+919812300007", "+919700000007"
    masking = stack.masking(m1, m2)
    did = str(masking["mask"])
    call(stack, stranger, m2, did, final=403, answer=None)
    # The proxy queues a call's events before it answers the INVITE, and the one consumer
    # (one worker) takes the queue in order: once a call placed after the rejected one is
    # stored, whatever the rejected call queued has been taken as well.
    call(stack, m1, m2, did)
    [later] = records(stack, m1, "completed")
    assert (later["masking_id"], later["callee"]) == (masking["maskingId"], m2)
    # Taken and not stored all the same would leave it in processing (a failed store) or in
    # dead (malformed): every list must drain.
    deadline = time.monotonic() + 10
    while (lengths := queued(stack)) != (0, 0, 0):
        assert time.monotonic() < deadline, f"events queue, processing, dead: {lengths}"
        time.sleep(0.05)
    assert stored(stack, stranger) == []


def test_asserted_identity_names_the_caller_only_from_a_trusted_source(tmp_path: Path) -> None:
    m1, m2 = "+919876500009", "+919812300009"
    (tmp_path / "trusting").mkdir()
    (tmp_path / "wary").mkdir()
    with sip_stack(tmp_path / "trusting", trusted=("127.0.0.1",)) as trusting:
        did = str(trusting.masking(m1, m2)["mask"])
        call(trusting, m1, m2, did, from_user="anonymous")
    with sip_stack(tmp_path / "wary") as wary:
        did = str(wary.masking(m1, m2)["mask"])
        call(wary, m1, m2, did, final=403, answer=None, from_user="anonymous")
