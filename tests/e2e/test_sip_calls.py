"""Real calls: sipp → Kamailio (the shipped configuration) → callmask → sipp."""

from __future__ import annotations

import contextlib
import hashlib
import re
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from callmask.cli import main
from callmask.config import Settings
from tests.e2e import sipp
from tests.e2e.sip_stack import Stack, free_udp_port, sip_stack
from tests.support import free_port

M1, M2, STRANGER = "+919876543210", "+919812345678", "+919700000001"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with sip_stack(tmp_path_factory.mktemp("sip")) as running:
        yield running


def call(
    stack: Stack,
    caller: str,
    callee: str,
    did: str,
    final: int = 200,
    answer: int | None = 200,
    talk_ms: int = 300,
    hangup: str = "caller",
    from_user: str | None = None,
) -> None:
    """Place one call; the callee side runs only when the call should reach it."""
    folder = stack.folder
    uas = None
    if answer is not None:
        uas = sipp.start(
            sipp.callee(callee, did, caller, final=answer, hangup=hangup),
            folder,
            "callee",
            stack.gateway_port,
            free_udp_port() & ~1,
        )
    uac = sipp.start(
        sipp.caller(
            caller, did, callee, final=final, talk_ms=talk_ms, hangup=hangup, from_user=from_user
        ),
        folder,
        "caller",
        free_udp_port(),
        free_udp_port() & ~1,
        remote=f"127.0.0.1:{stack.sip_port}",
        call_id_prefix=caller,
    )
    caller_status = uac.wait()
    callee_status = uas.wait() if uas is not None else 0
    assert caller_status == 0, uac.errors() + (uas.errors() if uas else "")
    assert callee_status == 0, uas.errors() if uas else ""


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


def stored(stack: Stack, caller: str) -> list[dict[str, object]]:
    """Every call record of this caller: by its caller column, or by its Call-ID (which the
    caller's sipp starts with its number), whichever the consumer filled in."""
    path = stack.database_url.removeprefix("sqlite:///")
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        found = conn.execute(
            "SELECT * FROM calls WHERE caller = ? OR call_id LIKE ?", (caller, caller + "-%")
        )
        return [dict(row) for row in found]
    finally:
        conn.close()


def records(
    stack: Stack, caller: str, settled: str, seconds: float = 15
) -> list[dict[str, object]]:
    """The call records of this caller, once the consumer has stored one with this outcome;
    failing if it has not within seconds."""
    deadline = time.monotonic() + seconds
    while True:
        rows = stored(stack, caller)
        if any(row["outcome"] == settled for row in rows):
            return rows
        assert time.monotonic() < deadline, f"no {settled} call of {caller} stored: {rows}"
        time.sleep(0.1)


def queued(stack: Stack) -> tuple[int, int, int]:
    """Events waiting, being stored (or left there by a failed store), and refused as
    malformed: the lengths of the events queue, its processing list and its dead list."""
    client = redis.Redis(host="127.0.0.1", port=6379)
    try:
        queue = stack.events_queue
        return (
            int(client.llen(queue)),
            int(client.llen(queue + ":processing")),
            int(client.llen(queue + ":dead")),
        )
    finally:
        client.close()


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


# -- shapes real carrier trunks send: nothing of either number may cross ---------------------


def run_pair(stack: Stack, callee_xml: str, caller_xml: str) -> None:
    uas = sipp.start(callee_xml, stack.folder, "callee", stack.gateway_port, free_udp_port() & ~1)
    uac = sipp.start(
        caller_xml,
        stack.folder,
        "caller",
        free_udp_port(),
        free_udp_port() & ~1,
        remote=f"127.0.0.1:{stack.sip_port}",
    )
    caller_status, callee_status = uac.wait(), uas.wait()
    assert caller_status == 0, uac.errors() + uas.errors()
    assert callee_status == 0, uas.errors()


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


# -- who may use the proxy, and where calls go when a carrier or an API host fails -----------


def test_an_invite_from_an_untrusted_source_gets_403_without_a_lookup(tmp_path: Path) -> None:
    with sip_stack(tmp_path, kamailio={"trusted_sources": ("127.0.0.1/32",)}) as wary:
        did = str(wary.masking(M1, M2)["mask"])
        lookups = wary.route_lookups()
        caller = sipp.start(
            sipp.caller(M1, did, M2, final=403),
            wary.folder,
            "scanner",
            free_udp_port(),
            free_udp_port() & ~1,
            remote=f"127.0.0.1:{wary.sip_port}",
            local_ip="127.0.0.2",
        )
        assert caller.wait() == 0, caller.errors()
        assert wary.statistic("callmask_untrusted") == 1
        assert wary.route_lookups() == lookups
        # The trusted trunk is still served.
        call(wary, M1, M2, did)
        assert wary.route_lookups() == lookups + 1


def test_a_silent_first_gateway_fails_over_to_the_second(tmp_path: Path) -> None:
    silent = f"127.0.0.1:{free_udp_port()}"
    with sip_stack(tmp_path, first_gateway=silent, kamailio={"gateway_timeout_ms": 1500}) as stack:
        did = str(stack.masking(M1, M2)["mask"])
        started = time.monotonic()
        call(stack, M1, M2, did)
        assert time.monotonic() - started >= 1.5


def test_a_first_gateway_answering_503_fails_over_to_the_second(tmp_path: Path) -> None:
    refusing = free_udp_port()
    with sip_stack(tmp_path, first_gateway=f"127.0.0.1:{refusing}") as stack:
        did = str(stack.masking(M1, M2)["mask"])
        gateway = sipp.start(
            sipp.failing_gateway(), stack.folder, "refusing", refusing, free_udp_port() & ~1
        )
        call(stack, M1, M2, did)
        assert gateway.wait() == 0, gateway.errors()


def test_a_gateways_401_gets_a_correct_digest_answer(tmp_path: Path) -> None:
    credentials = {"gateway_user": "callmask-trunk", "gateway_password": "s3cret!pass"}
    with sip_stack(tmp_path, kamailio=credentials) as stack:
        did = str(stack.masking(M1, M2)["mask"])
        callee = sipp.challenging(
            sipp.callee(M2, did, M1), "callmask-trunk", "s3cret!pass", "carrier.example", 401
        )
        run_pair(stack, callee, sipp.caller(M1, did, M2))


def test_a_gateways_407_gets_a_correct_digest_answer(tmp_path: Path) -> None:
    user, password, realm = "callmask-trunk", "s3cret!pass", "carrier.example"
    with sip_stack(
        tmp_path, kamailio={"gateway_user": user, "gateway_password": password}
    ) as stack:
        did = str(stack.masking(M1, M2)["mask"])
        callee_xml = sipp.challenging(sipp.callee(M2, did, M1), user, password, realm, 407)
        uas = sipp.start(
            callee_xml,
            stack.folder,
            "callee",
            stack.gateway_port,
            free_udp_port() & ~1,
            extra=("-trace_msg",),
        )
        uac = sipp.start(
            sipp.caller(M1, did, M2),
            stack.folder,
            "caller",
            free_udp_port(),
            free_udp_port() & ~1,
            remote=f"127.0.0.1:{stack.sip_port}",
        )
        assert uac.wait() == 0 and uas.wait() == 0, uac.errors() + uas.errors()
        [trace] = stack.folder.glob("callee_*_messages.log")
        answer = re.search(r"Proxy-Authorization: Digest ([^\r\n]+)", trace.read_text())
        assert answer is not None
        fields = dict(re.findall(r'(\w+)="([^"]*)"', answer.group(1)))
        assert (fields["username"], fields["realm"]) == (user, realm)
        ha1 = hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()
        ha2 = hashlib.md5(f"INVITE:{fields['uri']}".encode()).hexdigest()
        expected = hashlib.md5(f"{ha1}:{fields['nonce']}:{ha2}".encode()).hexdigest()
        assert fields["response"] == expected


def test_a_wrong_gateway_password_does_not_connect(tmp_path: Path) -> None:
    credentials = {"gateway_user": "callmask-trunk", "gateway_password": "wrong"}
    with sip_stack(tmp_path, kamailio=credentials) as stack:
        did = str(stack.masking(M1, M2)["mask"])
        callee = sipp.start(
            sipp.challenging(sipp.callee(M2, did, M1), "callmask-trunk", "right", "c.example", 401),
            stack.folder,
            "callee",
            stack.gateway_port,
            free_udp_port() & ~1,
            seconds=5,
        )
        caller = sipp.start(
            sipp.caller(M1, did, M2, final=407),
            stack.folder,
            "caller",
            free_udp_port(),
            free_udp_port() & ~1,
            remote=f"127.0.0.1:{stack.sip_port}",
            seconds=5,
        )
        caller.wait()
        assert callee.wait() != 0


def test_a_dead_first_api_host_sends_lookups_to_the_second(tmp_path: Path) -> None:
    with sip_stack(tmp_path, first_api=f"http://127.0.0.1:{free_port()}") as stack:
        did = str(stack.masking(M1, M2)["mask"])
        lookups = stack.route_lookups()
        call(stack, M1, M2, did)
        assert stack.route_lookups() == lookups + 1


def test_with_redis_down_calls_route_and_their_records_arrive_over_http(tmp_path: Path) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}"
    with sip_stack(tmp_path, kamailio={"redis_url": nowhere}) as stack:
        for index in range(3):
            m1, m2 = f"+91987650002{index}", f"+91981230002{index}"
            did = str(stack.masking(m1, m2)["mask"])
            call(stack, m1, m2, did)
            [record] = records(stack, m1, "completed")
            assert record["masking_id"] is not None and record["duration_s"] is not None
        assert stack.statistic("callmask_events_http") == 9
        assert stack.statistic("callmask_events_lost") == 0
        # An outage is told once by the script; ndb_redis tries (and logs) once per SIP
        # worker and disable interval (10 s), not once for each of the 9 events.
        log = (stack.folder / "kamailio.log").read_text(errors="replace")
        assert log.count("Redis unreachable") == 1
        assert log.count("unable to reconnect to redis server") <= 4


# -- call rules: a time limit per masking, a fallback for callers outside a session -----------


def test_a_call_time_limit_ends_the_call_with_byes_that_carry_no_number(stack: Stack) -> None:
    m1, m2 = "+919876500030", "+919812300030"
    did = str(stack.masking(m1, m2, callTimeLimit=3)["mask"])
    # Both parties wait for a BYE: only the proxy sends one, when the limit is reached.
    uas = sipp.start(
        sipp.callee(m2, did, m1), stack.folder, "callee", stack.gateway_port, free_udp_port() & ~1
    )
    uac = sipp.start(
        sipp.caller(m1, did, m2, hangup="callee"),
        stack.folder,
        "caller",
        free_udp_port(),
        free_udp_port() & ~1,
        remote=f"127.0.0.1:{stack.sip_port}",
    )
    started = time.monotonic()
    caller_status, callee_status = uac.wait(), uas.wait()
    elapsed = time.monotonic() - started
    assert caller_status == 0 and callee_status == 0, uac.errors() + uas.errors()
    assert 2.5 <= elapsed <= 5.0
    [record] = records(stack, m1, "completed")
    assert record["ended_by"] == "limit" and record["duration_s"] in (2, 3, 4)


def account_rule(stack: Stack, *options: str) -> None:
    settings = Settings(database_url=stack.database_url)
    assert main(["account", "set", "acme", *options], settings=settings) == 0


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


def _options_answered(port: int, source: str, count: int, user_agent: str = "probe") -> int:
    """Send count OPTIONS from source as fast as they go; how many got an answer."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        local = sock.getsockname()[1]
        for index in range(count):
            sock.sendto(
                (
                    f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
                    f"Via: SIP/2.0/UDP {source}:{local};branch=z9hG4bKflood{index}\r\n"
                    f"From: <sip:probe@{source}>;tag=f{index}\r\nTo: <sip:127.0.0.1:{port}>\r\n"
                    f"Call-ID: flood-{index}@{source}\r\nCSeq: 1 OPTIONS\r\n"
                    f"User-Agent: {user_agent}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
                ).encode(),
                ("127.0.0.1", port),
            )
        sock.settimeout(1.0)
        answered = 0
        with contextlib.suppress(TimeoutError):
            while True:
                sock.recv(65536)
                answered += 1
        return answered


def test_a_flooding_untrusted_source_stops_getting_answers(tmp_path: Path) -> None:
    with sip_stack(tmp_path, kamailio={"trusted_sources": ("127.0.0.1/32",)}) as wary:
        answered = _options_answered(wary.sip_port, "127.0.0.3", 60)
        assert 1 <= answered < 40
        # The trunk is not held to the flood limit.
        assert _options_answered(wary.sip_port, "127.0.0.1", 60) == 60


def test_a_scanner_gets_no_answer_at_all(stack: Stack) -> None:
    before = stack.statistic("callmask_scanners")
    assert _options_answered(stack.sip_port, "127.0.0.1", 3, "friendly-scanner") == 0
    assert stack.statistic("callmask_scanners") == before + 3
