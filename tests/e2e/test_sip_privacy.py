"""Shapes real carrier trunks send (SIP-I bodies, redirects, CANCEL reasons, preloaded
Routes): neither party's number crosses."""

from __future__ import annotations

from tests.e2e import sipp
from tests.e2e.calls import run_pair
from tests.e2e.sip_stack import Stack


def test_a_sip_i_invite_reaches_the_callee_with_its_sdp_alone(stack: Stack) -> None:
    m1, m2 = "+919876500010", "+919812300010"
    did = str(stack.masking(m1, m2)["mask"])
    run_pair(stack, sipp.callee(m2, did, m1), sipp.caller(m1, did, m2, multipart=True))


def test_a_route_to_the_proxy_preloaded_by_the_caller_is_consumed(stack: Stack) -> None:
    m1, m2 = "+919876500011", "+919812300011"
    did = str(stack.masking(m1, m2)["mask"])
    caller = sipp.caller(m1, did, m2, route_to=f"127.0.0.1:{stack.sip_port}")
    run_pair(stack, sipp.callee(m2, did, m1), caller)


def test_a_redirect_reaches_the_caller_as_480_without_its_contacts(stack: Stack) -> None:
    m1, m2 = "+919876500012", "+919812300012"
    did = str(stack.masking(m1, m2)["mask"])
    run_pair(stack, sipp.redirecting_callee(m2, did, m1), sipp.caller(m1, did, m2, final=480))


def test_the_callers_cancel_reason_does_not_reach_the_callee(stack: Stack) -> None:
    m1, m2 = "+919876500013", "+919812300013"
    did = str(stack.masking(m1, m2)["mask"])
    run_pair(stack, sipp.ringing_callee(m2, did, m1), sipp.cancelling_caller(m1, did, m2))


def test_a_callee_answering_with_a_broken_via_does_not_reach_the_caller(stack: Stack) -> None:
    # Without the proxy's Via below its own, topoh cannot decode such a reply, and tm would
    # relay it with the callee's Contact in clear.
    m1, m2 = "+919876500014", "+919812300014"
    did = str(stack.masking(m1, m2)["mask"])
    # -nd: a caller that gave up waiting sends nothing more (sipp's default would BYE).
    run_pair(
        stack,
        sipp.ringing_callee(m2, did, m1, broken_via=True),
        sipp.cancelling_caller(m1, did, m2, final_may_not_come=True),
        caller_options=("-nd",),
    )
