"""Per-call rules through the proxy: a call time limit, and the account's rule for callers
outside a session."""

from __future__ import annotations

import time
from pathlib import Path

from tests.e2e import sipp
from tests.e2e.calls import STRANGER, account_rule, call, records
from tests.e2e.sip_stack import Stack, free_media_port, free_udp_port, sip_stack


def test_a_call_time_limit_ends_the_call_with_byes_that_carry_no_number(stack: Stack) -> None:
    m1, m2 = "+919876500030", "+919812300030"
    did = str(stack.masking(m1, m2, callTimeLimit=3)["mask"])
    # Both parties wait for a BYE: only the proxy sends one, when the limit is reached.
    uas = sipp.start(
        sipp.callee(m2, did, m1), stack.folder, "callee", stack.gateway_port, free_media_port()
    )
    uac = sipp.start(
        sipp.caller(m1, did, m2, hangup="callee"),
        stack.folder,
        "caller",
        free_udp_port(),
        free_media_port(),
        remote=f"127.0.0.1:{stack.sip_port}",
    )
    dropped = stack.statistic("drop_replies")
    started = time.monotonic()
    caller_status, callee_status = uac.wait(), uas.wait()
    elapsed = time.monotonic() - started
    assert caller_status == 0 and callee_status == 0, uac.errors() + uas.errors()
    assert 2.5 <= elapsed <= 5.0
    # The first answer to each BYE was held back (reply_route), so that the dialog module
    # sent both before either could end the dialog; each BYE's repeat was answered.
    assert stack.statistic("drop_replies") - dropped == 2
    [record] = records(stack, m1, "completed")
    assert record["ended_by"] == "limit" and record["duration_s"] in (2, 3, 4)


def test_an_out_of_session_caller_reaches_the_fallback_seeing_only_the_did(
    tmp_path: Path,
) -> None:
    fallback, stranger = "+919900000042", "+919700000042"
    with sip_stack(tmp_path) as stack:
        did = str(stack.masking("+919876500040", "+919812300040")["mask"])
        account_rule(stack, "--out-of-session", f"forward:{fallback}")
        call(stack, stranger, fallback, did)
        [record] = records(stack, stranger, "completed")
        assert (record["action"], record["callee"], record["masking_id"]) == (
            "forward",
            fallback,
            None,
        )


def test_an_out_of_session_caller_gets_the_accounts_reject_code(tmp_path: Path) -> None:
    with sip_stack(tmp_path) as stack:
        did = str(stack.masking("+919876500041", "+919812300041")["mask"])
        account_rule(stack, "--out-of-session", "reject", "--reject-code", "480")
        call(stack, STRANGER, "+919812300041", did, final=480, answer=None)
