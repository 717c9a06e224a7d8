"""sipp scenarios for calls through Kamailio, written out per test with the numbers inlined.

The caller puts its real number in every header it can (From, To's display name, Contact,
Call-ID, P-Asserted-Identity, P-Preferred-Identity, Remote-Party-ID, Diversion, User-Agent,
X-*, Subject) and in the SDP; the callee does the same with its own number in its replies.
Each side fails its scenario if the other's real number appears anywhere in a message it
receives (search_in="msg" with check_it_inverse), and the callee checks that the DID is
what it is shown.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

HEADER = '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<!DOCTYPE scenario SYSTEM "sipp.dtd">\n'


def _digits(number: str) -> str:
    """What must never be seen: the national significant part, in any spelling around it."""
    return number.removeprefix("+")[-10:]


def _forbid(number: str) -> str:
    return (
        f'<ereg regexp="{_digits(number)}" search_in="msg" check_it_inverse="true" '
        'assign_to="leak"/>'
    )


def _forbid_address(ip: str) -> str:
    """Fail on any sight of this IP address (the other party's, when media is anchored)."""
    if not ip:
        return ""
    pattern = ip.replace(".", "[.]")
    return f'<ereg regexp="{pattern}" search_in="msg" check_it_inverse="true" assign_to="leak"/>'


def _expect_header(header: str, number: str) -> str:
    value = escape(number.replace("+", "\\+"))
    return (
        f'<ereg regexp="sip:{value}@" search_in="hdr" header="{header}:" check_it="true" '
        f'assign_to="shown"/>'
    )


def _shown(did: str) -> str:
    """The callee's checks on a new call: the DID is the caller it is shown, the body is SDP
    alone, and no Route header a caller preloaded has come through."""
    return (
        _expect_header("From", did)
        + _expect_header("P-Asserted-Identity", did)
        + '<ereg regexp="^ *application/sdp *$" search_in="hdr" header="Content-Type:" '
        'check_it="true" assign_to="shown"/>'
        + '<ereg regexp="[^-]Route:" search_in="msg" check_it_inverse="true" '
        'assign_to="leak"/>'
    )


def _sdp(owner: str, media_port: str = "[media_port]") -> str:
    return (
        "v=0\n"
        f"o={owner} 53655765 2353687637 IN IP[local_ip_type] [local_ip]\n"
        f"s=call of {owner}\n"
        f"i=phone {owner}\n"
        f"u=tel:{owner}\n"
        f"e=user{_digits(owner)}@example.com\n"
        f"p={owner}\n"
        "c=IN IP[media_ip_type] [media_ip]\n"
        "t=0 0\n"
        f"k=clear:{owner}\n"
        f"m=audio {media_port} RTP/AVP 0\n"
        "a=rtpmap:0 PCMU/8000\n"
        "a=sendrecv\n"
        f"a=ssrc:1234 cname:sip:{owner}@[local_ip]\n"
        f"a=label:{owner}\n"
        f"a=x-owner:{owner}\n"
    )


BOUNDARY = "callmask-boundary"


def _multipart(owner: str) -> str:
    """SIP-I/SIP-T's body: the SDP and an ISUP part that carries the calling number (as text
    here, so a leak is visible)."""
    return (
        f"--{BOUNDARY}\n"
        "Content-Type: application/sdp\n\n"
        f"{_sdp(owner)}"
        f"--{BOUNDARY}\n"
        "Content-Type: application/ISUP;version=itu-t92+\n"
        "Content-Disposition: signal;handling=optional\n\n"
        f"IAM calling={owner} generic-number={owner}\n"
        f"--{BOUNDARY}--\n"
    )


def _identity(number: str) -> str:
    return (
        f"P-Asserted-Identity: <sip:{number}@[local_ip]>\n"
        f"P-Preferred-Identity: <sip:{number}@[local_ip]>\n"
        f"Remote-Party-ID: <sip:{number}@[local_ip]>;party=calling;screen=yes\n"
        f"Diversion: <sip:{number}@[local_ip]>;reason=unconditional\n"
        f"X-Real-Number: {number}\n"
    )


def _message(text: str, retrans: bool = False) -> str:
    attribute = ' retrans="500"' if retrans else ""
    return f"<send{attribute}><![CDATA[\n{text}\n]]></send>\n"


def caller(
    number: str,
    did: str,
    callee: str,
    final: int = 200,
    talk_ms: int = 300,
    hangup: str = "caller",
    from_user: str | None = None,
    multipart: bool = False,
    route_to: str = "",
    other_ip: str = "",
    play: str = "",
) -> str:
    """The calling party's scenario: INVITE the DID; on 200, re-INVITE, then BYE (sent, or
    received when the callee hangs up). from_user puts someone else in From (a carrier
    that withholds it) while P-Asserted-Identity still names the caller; multipart sends
    the INVITE's SDP inside a SIP-I body with an ISUP part; route_to names the proxy in a
    Route header (a phone with an outbound proxy); other_ip, the callee's address, must not
    be seen either (media anchored); play, a pcap of RTP sent once the call is answered."""
    shown_from = from_user or number
    dialog_from = (
        f'From: "{shown_from}" <sip:{shown_from}@[local_ip]:[local_port]>'
        ";tag=[pid]SIPpTag00[call_number]"
    )
    contact = f'Contact: "{number}" <sip:{number}@[local_ip]:[local_port]>'
    invite = (
        f"INVITE sip:{did}@[remote_ip]:[remote_port] SIP/2.0\n"
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
        f"{dialog_from}\n"
        f'To: "{number} calling" <sip:{did}@[remote_ip]:[remote_port]>\n'
        "Call-ID: [call_id]\n"
        "CSeq: 1 INVITE\n"
        f"{contact}\n"
        "Max-Forwards: 70\n"
        f"{_identity(number)}"
        f"User-Agent: phone of {number}\n"
        f"Subject: call from {number}\n"
        + (f"Route: <sip:{route_to};lr>\n" if route_to else "")
        + (
            f"Content-Type: multipart/mixed;boundary={BOUNDARY}\nMIME-Version: 1.0\n"
            if multipart
            else "Content-Type: application/sdp\n"
        )
        + "Content-Length: [len]\n\n"
        + (_multipart(number) if multipart else _sdp(number))
    )
    forbid = _forbid(callee) + _forbid_address(other_ip)
    parts = [HEADER, f'<scenario name="caller {_digits(number)[-4:]}">\n', _message(invite, True)]
    parts.append(f'<recv response="100" optional="true"><action>{forbid}</action></recv>\n')
    parts.append(f'<recv response="180" optional="true"><action>{forbid}</action></recv>\n')
    if final != 200:
        parts.append(f'<recv response="{final}"><action>{forbid}</action></recv>\n')
        parts.append(
            _message(
                f"ACK sip:{did}@[remote_ip]:[remote_port] SIP/2.0\n"
                "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-4]\n"
                f"{dialog_from}\n"
                f'To: "{number} calling" <sip:{did}@[remote_ip]:[remote_port]>[peer_tag_param]\n'
                "Call-ID: [call_id]\n"
                "CSeq: 1 ACK\n"
                "Max-Forwards: 70\n"
                "Content-Length: 0\n"
            )
        )
        parts.append("</scenario>\n")
        return "".join(parts)

    def in_dialog(method: str, cseq: int, body: str = "") -> str:
        content = "Content-Type: application/sdp\n" if body else ""
        return (
            f"{method} [next_url] SIP/2.0\n"
            "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
            f"{dialog_from}\n"
            f'To: "{number} calling" <sip:{did}@[remote_ip]:[remote_port]>[peer_tag_param]\n'
            "Call-ID: [call_id]\n"
            f"CSeq: {cseq} {method}\n"
            f"{contact}\n"
            "[routes]\n"
            "Max-Forwards: 70\n"
            f"{_identity(number)}"
            f"User-Agent: phone of {number}\n"
            f"{content}"
            "Content-Length: [len]\n" + (f"\n{body}" if body else "")
        )

    parts.append(f'<recv response="200" rrs="true"><action>{forbid}</action></recv>\n')
    parts.append(_message(in_dialog("ACK", 1)))
    if play:
        parts.append(f'<nop><action><exec play_pcap_audio="{play}"/></action></nop>\n')
    parts.append(f'<pause milliseconds="{talk_ms // 2}"/>\n')
    parts.append(_message(in_dialog("INVITE", 2, _sdp(number)), True))
    parts.append(f'<recv response="100" optional="true"><action>{forbid}</action></recv>\n')
    parts.append(f'<recv response="200"><action>{forbid}</action></recv>\n')
    parts.append(_message(in_dialog("ACK", 2)))
    if hangup == "callee":
        parts.append(f'<recv request="BYE"><action>{forbid}</action></recv>\n')
        parts.append(
            _message(
                "SIP/2.0 200 OK\n[last_Via:]\n[last_From:]\n[last_To:]\n[last_Call-ID:]\n"
                f"[last_CSeq:]\n{contact}\n{_identity(number)}Content-Length: 0\n"
            )
        )
        parts.append('<timewait milliseconds="500"/>\n</scenario>\n')
        return "".join(parts)
    parts.append(f'<pause milliseconds="{talk_ms // 2}"/>\n')
    parts.append(_message(in_dialog("BYE", 3), True))
    parts.append(f'<recv response="200" crlf="true"><action>{forbid}</action></recv>\n')
    parts.append("</scenario>\n")
    return "".join(parts)


def callee(
    number: str,
    did: str,
    caller_number: str,
    final: int = 200,
    hangup: str = "caller",
    other_ip: str = "",
    media_port: str = "[media_port]",
) -> str:
    """The called party's scenario: answer (or refuse with final), take a re-INVITE, then
    take the caller's BYE or hang up itself."""
    forbid = _forbid(caller_number) + _forbid_address(other_ip)
    shown = _shown(did)
    # To hang up, the callee needs the dialog's From and To as it saw them.
    # (sipp refuses a scenario that assigns a variable it never uses.)
    remember = (
        '<ereg regexp=".*" search_in="hdr" header="From:" assign_to="their_from"/>'
        '<ereg regexp=".*" search_in="hdr" header="To:" assign_to="our_to"/>'
        if hangup == "callee"
        else ""
    )

    def reply(status: str, body: str = "") -> str:
        content = "Content-Type: application/sdp\n" if body else ""
        return (
            f"SIP/2.0 {status}\n"
            "[last_Via:]\n"
            "[last_From:]\n"
            "[last_To:];tag=[pid]SIPpTag01[call_number]\n"
            "[last_Call-ID:]\n"
            "[last_CSeq:]\n"
            "[last_Record-Route:]\n"
            f'Contact: "{number}" <sip:{number}@[local_ip]:[local_port]>\n'
            f"{_identity(number)}"
            f"Server: phone of {number}\n"
            f"{content}"
            "Content-Length: [len]\n" + (f"\n{body}" if body else "")
        )

    parts = [HEADER, f'<scenario name="callee {_digits(number)[-4:]}">\n']
    parts.append(
        f'<recv request="INVITE" crlf="true" rrs="true"><action>{forbid}{shown}{remember}'
        "</action></recv>\n"
    )
    if final != 200:
        parts.append(_message(reply(f"{final} Busy Here")))
        parts.append(f'<recv request="ACK"><action>{forbid}</action></recv>\n</scenario>\n')
        return "".join(parts)
    parts.append(_message(reply("180 Ringing")))
    parts.append(_message(reply("200 OK", _sdp(number, media_port)), True))
    parts.append(f'<recv request="ACK" crlf="true"><action>{forbid}</action></recv>\n')
    parts.append(f'<recv request="INVITE"><action>{forbid}</action></recv>\n')
    parts.append(_message(reply("200 OK", _sdp(number, media_port)), True))
    parts.append(f'<recv request="ACK"><action>{forbid}</action></recv>\n')
    if hangup == "callee":
        parts.append('<pause milliseconds="100"/>\n')
        parts.append(
            _message(
                "BYE [next_url] SIP/2.0\n"
                "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
                "From: [$our_to];tag=[pid]SIPpTag01[call_number]\n"
                "To: [$their_from]\n"
                "Call-ID: [call_id]\n"
                "CSeq: 10 BYE\n"
                f'Contact: "{number}" <sip:{number}@[local_ip]:[local_port]>\n'
                "[routes]\n"
                "Max-Forwards: 70\n"
                f"{_identity(number)}"
                "Content-Length: 0\n",
                True,
            )
        )
        parts.append(f'<recv response="200"><action>{forbid}</action></recv>\n</scenario>\n')
        return "".join(parts)
    parts.append(f'<recv request="BYE"><action>{forbid}</action></recv>\n')
    parts.append(_message(reply("200 OK")))
    parts.append('<timewait milliseconds="500"/>\n</scenario>\n')
    return "".join(parts)


def _header_reply(
    status: str, number: str, cseq: str = "[last_CSeq:]", via: str = "[last_Via:]"
) -> str:
    return (
        f"SIP/2.0 {status}\n{via}\n[last_From:]\n"
        "[last_To:];tag=[pid]SIPpTag01[call_number]\n[last_Call-ID:]\n"
        f"{cseq}\n"
        f'Contact: "{number}" <sip:{number}@[local_ip]:[local_port]>\n'
        f"{_identity(number)}Content-Length: 0\n"
    )


def redirecting_callee(number: str, did: str, caller_number: str) -> str:
    """A callee whose carrier forwards the call: 302 naming the forward target and the
    voicemail, several Contacts in one header and another in a header of its own."""
    forbid = _forbid(caller_number)
    contacts = (
        f'Contact: "{number}" <sip:{number}@[local_ip]:[local_port]>;q=0.9, '
        f'"voicemail {number}" <sip:vm-{number}@[local_ip]:[local_port]>;q=0.5\n'
        f"Contact: <tel:{number}>;q=0.1\n"
    )
    redirect = (
        "SIP/2.0 302 Moved Temporarily\n[last_Via:]\n[last_From:]\n"
        "[last_To:];tag=[pid]SIPpTag01[call_number]\n[last_Call-ID:]\n[last_CSeq:]\n"
        f"{contacts}{_identity(number)}Content-Length: 0\n"
    )
    return (
        HEADER
        + f'<scenario name="redirecting callee {_digits(number)[-4:]}">\n'
        + f'<recv request="INVITE"><action>{forbid}{_shown(did)}</action></recv>\n'
        + _message(redirect)
        + f'<recv request="ACK"><action>{forbid}</action></recv>\n</scenario>\n'
    )


def cancelling_caller(
    number: str, did: str, callee_number: str, final_may_not_come: bool = False
) -> str:
    """A caller who gives up while the callee rings, with its number in the CANCEL's Reason."""
    forbid = _forbid(callee_number)
    dialog = (
        f'From: "{number}" <sip:{number}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]\n'
        f'To: "{number} calling" <sip:{did}@[remote_ip]:[remote_port]>\n'
        "Call-ID: [call_id]\n"
    )
    invite = (
        f"INVITE sip:{did}@[remote_ip]:[remote_port] SIP/2.0\n"
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
        f"{dialog}CSeq: 1 INVITE\n"
        f"Contact: <sip:{number}@[local_ip]:[local_port]>\nMax-Forwards: 70\n"
        "Content-Type: application/sdp\nContent-Length: [len]\n\n"
        f"{_sdp(number)}"
    )
    # A CANCEL and the ACK of a final failure carry the INVITE's branch (message 0).
    cancel = (
        f"CANCEL sip:{did}@[remote_ip]:[remote_port] SIP/2.0\n"
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-3]\n"
        f"{dialog}CSeq: 1 CANCEL\nMax-Forwards: 70\n"
        f'Reason: SIP;cause=200;text="answered elsewhere by {number}"\n'
        f'Reason: Q.850;cause=16;text="{number} hung up"\n'
        "Content-Length: 0\n"
    )
    ack = (
        f"ACK sip:{did}@[remote_ip]:[remote_port] SIP/2.0\n"
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-6]\n"
        f'From: "{number}" <sip:{number}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]\n'
        f'To: "{number} calling" <sip:{did}@[remote_ip]:[remote_port]>[peer_tag_param]\n'
        "Call-ID: [call_id]\nCSeq: 1 ACK\nMax-Forwards: 70\nContent-Length: 0\n"
    )
    return (
        HEADER
        + f'<scenario name="cancelling caller {_digits(number)[-4:]}">\n'
        + _message(invite, True)
        + f'<recv response="100" optional="true"><action>{forbid}</action></recv>\n'
        + f'<recv response="180"><action>{forbid}</action></recv>\n'
        + _message(cancel, True)
        + f'<recv response="200"><action>{forbid}</action></recv>\n'
        + (
            # No final answer may come: any message in these 3 s fails the call.
            '<pause milliseconds="3000"/>\n'
            if final_may_not_come
            else f'<recv response="487"><action>{forbid}</action></recv>\n' + _message(ack)
        )
        + "</scenario>\n"
    )


def ringing_callee(number: str, did: str, caller_number: str, broken_via: bool = False) -> str:
    """A callee that rings until the caller cancels. broken_via: it answers the INVITE with
    the CANCEL's Via alone (the proxy's), as a broken phone might."""
    forbid = _forbid(caller_number)
    # The 487 answers the INVITE: its Via and CSeq, not the CANCEL's.
    keep = '<ereg regexp=".*" search_in="hdr" header="CSeq:" assign_to="invite_cseq"/>'
    if not broken_via:
        # Every Via of the INVITE (the proxy's CANCEL carries only its own).
        keep += (
            '<ereg regexp="Via:[^[:cntrl:]]*([[:cntrl:]]+Via:[^[:cntrl:]]*)*" search_in="msg" '
            'check_it="true" assign_to="invite_vias"/>'
        )
    return (
        HEADER
        + f'<scenario name="ringing callee {_digits(number)[-4:]}">\n'
        + f'<recv request="INVITE"><action>{forbid}{_shown(did)}{keep}</action></recv>\n'
        + _message(_header_reply("180 Ringing", number))
        + f'<recv request="CANCEL"><action>{forbid}</action></recv>\n'
        + _message(_header_reply("200 OK", number))
        + _message(
            _header_reply(
                "487 Request Terminated",
                number,
                "CSeq:[$invite_cseq]",
                "[last_Via:]" if broken_via else "[$invite_vias]",
            )
        )
        + (
            '<pause milliseconds="3000"/>\n'
            if broken_via
            else f'<recv request="ACK"><action>{forbid}</action></recv>\n'
        )
        + "</scenario>\n"
    )


def failing_gateway(status: str = "503 Service Unavailable") -> str:
    """A carrier gateway that refuses every call."""
    return (
        HEADER
        + '<scenario name="failing gateway">\n<recv request="INVITE"/>\n'
        + _message(
            f"SIP/2.0 {status}\n[last_Via:]\n[last_From:]\n"
            "[last_To:];tag=[pid]SIPpTag01[call_number]\n[last_Call-ID:]\n[last_CSeq:]\n"
            "Content-Length: 0\n"
        )
        + '<recv request="ACK"/>\n</scenario>\n'
    )


def challenging(callee_xml: str, user: str, password: str, realm: str, status: int) -> str:
    """callee_xml behind a carrier that first answers 401 or 407 with a digest challenge.
    After a 401 the call is taken only with a correct answer for user and password (sipp's
    verifyauth reads Authorization only: a 407's Proxy-Authorization is checked by the test
    from the message trace)."""
    header, reason = {
        401: ("WWW-Authenticate", "Unauthorized"),
        407: ("Proxy-Authenticate", "Proxy Authentication Required"),
    }[status]
    challenge = (
        '<recv request="INVITE"/>\n'
        + _message(
            f"SIP/2.0 {status} {reason}\n[last_Via:]\n[last_From:]\n"
            "[last_To:];tag=[pid]SIPpTag09[call_number]\n[last_Call-ID:]\n[last_CSeq:]\n"
            f'{header}: Digest realm="{realm}", nonce="[pid]n[call_number]", '
            "algorithm=MD5\nContent-Length: 0\n"
        )
        + '<recv request="ACK"/>\n'
    )
    first = callee_xml.index('<recv request="INVITE"')
    if status == 407:
        return callee_xml[:first] + challenge + callee_xml[first:]
    action = callee_xml.index("</action>", first)
    end = callee_xml.index("</recv>", action) + len("</recv>\n")
    verify = f'<verifyauth assign_to="authvalid" username="{user}" password="{password}"/>'
    # A wrong answer waits for a request that never comes: the call fails on that timeout.
    check = (
        '<nop hide="true" test="authvalid" next="authorised"/>\n'
        '<recv request="UNAUTHORISED" timeout="500"/>\n<label id="authorised"/>\n'
    )
    return (
        callee_xml[:first]
        + challenge
        + callee_xml[first:action]
        + verify
        + callee_xml[action:end]
        + check
        + callee_xml[end:]
    )


@dataclass
class Sipp:
    """One sipp run: its scenario file, its process, and where its errors are written."""

    scenario: Path
    process: subprocess.Popen[str]
    output: str = ""

    def wait(self, seconds: float = 30) -> int:
        try:
            self.output, _ = self.process.communicate(timeout=seconds)
        except subprocess.TimeoutExpired:
            # sipp runs under timeout(1) in a session of its own: end both, not just the wrapper.
            os.killpg(self.process.pid, signal.SIGKILL)
            self.output, _ = self.process.communicate()
            return -9
        return self.process.returncode

    def errors(self) -> str:
        logs = sorted(self.scenario.parent.glob(self.scenario.stem + "_*_errors.log"))
        text = "\n".join(log.read_text(errors="replace") for log in logs)
        return (text + "\n" + self.output)[-6000:]


def start(
    scenario_xml: str,
    folder: Path,
    name: str,
    local_port: int,
    media_port: int,
    remote: str | None = None,
    call_id_prefix: str = "",
    calls: int = 1,
    rate: float | None = None,
    seconds: int = 20,
    local_ip: str = "127.0.0.1",
    extra: tuple[str, ...] = (),
) -> Sipp:
    scenario = folder / f"{name}.xml"
    scenario.write_text(scenario_xml, encoding="iso-8859-1")
    command = [
        "timeout",
        str(seconds + 5),
        "sipp",
        "-sf",
        str(scenario),
        "-i",
        local_ip,
        "-p",
        str(local_port),
        "-mp",
        str(media_port),
        "-m",
        str(calls),
        "-nostdin",
        "-timeout",
        f"{seconds}s",
        "-timeout_error",
        "-trace_err",
        "-aa",
    ]
    if call_id_prefix:
        # The caller's number in its Call-ID too: the callee must not see it there either.
        command += ["-cid_str", call_id_prefix + "-%u-%p@%s"]
    if rate is not None:
        command += ["-r", str(rate), "-l", str(max(calls, 1))]
    command += extra
    if remote is not None:
        command.append(remote)
    process = subprocess.Popen(
        command,
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    return Sipp(scenario, process)
