"""The proxy's edge: who it serves, and where calls and lookups go when a gateway, an API
host or Redis fails."""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

from tests.e2e import sipp
from tests.e2e.calls import M1, M2, call, options_answered, records, run_pair
from tests.e2e.sip_stack import Stack, free_media_port, free_udp_port, sip_stack
from tests.support import free_port


def test_an_invite_from_an_untrusted_source_gets_403_without_a_lookup(tmp_path: Path) -> None:
    with sip_stack(tmp_path, kamailio={"trusted_sources": ("127.0.0.1/32",)}) as wary:
        did = str(wary.masking(M1, M2)["mask"])
        lookups = wary.route_lookups()
        caller = sipp.start(
            sipp.caller(M1, did, M2, final=403),
            wary.folder,
            "scanner",
            free_udp_port(),
            free_media_port(),
            remote=f"127.0.0.1:{wary.sip_port}",
            local_ip="127.0.0.2",
        )
        assert caller.wait() == 0, caller.errors()
        assert wary.statistic("callmask_untrusted") == 1
        assert wary.route_lookups() == lookups
        # The trusted trunk is still served.
        call(wary, M1, M2, did)
        assert wary.route_lookups() == lookups + 1


def test_a_flooding_untrusted_source_stops_getting_answers(tmp_path: Path) -> None:
    with sip_stack(tmp_path, kamailio={"trusted_sources": ("127.0.0.1/32",)}) as wary:
        answered = options_answered(wary.sip_port, "127.0.0.3", 60)
        assert 1 <= answered < 40
        # The trunk is not held to the flood limit.
        assert options_answered(wary.sip_port, "127.0.0.1", 60) == 60


def test_a_scanner_gets_no_answer_at_all(stack: Stack) -> None:
    before = stack.statistic("callmask_scanners")
    assert options_answered(stack.sip_port, "127.0.0.1", 3, "friendly-scanner") == 0
    assert stack.statistic("callmask_scanners") == before + 3


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
            sipp.failing_gateway(), stack.folder, "refusing", refusing, free_media_port()
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
            free_media_port(),
            extra=("-trace_msg",),
        )
        uac = sipp.start(
            sipp.caller(M1, did, M2),
            stack.folder,
            "caller",
            free_udp_port(),
            free_media_port(),
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
            free_media_port(),
            seconds=5,
        )
        caller = sipp.start(
            sipp.caller(M1, did, M2, final=407),
            stack.folder,
            "caller",
            free_udp_port(),
            free_media_port(),
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
