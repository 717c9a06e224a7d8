"""Render the shipped Kamailio configuration and run Kamailio on it."""

from __future__ import annotations

import grp
import ipaddress
import os
import re
import secrets
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules"
_SAFE = re.compile(r"[A-Za-z0-9_.:\-+/\[\]]+")
# A password goes into a double-quoted script string: no quote, backslash, dollar (a
# pseudo-variable's start), space or control character.
_SECRET = re.compile(r'[^"\\$\x00-\x20\x7f]+')
_PLACEHOLDER = re.compile(r"@@([A-Z_]+)@@")
LOOPBACK = ("127.0.0.0/8", "::1/128")


class KamailioError(ValueError):
    """The options cannot make a safe configuration, or Kamailio is missing."""


@dataclass(frozen=True, slots=True)
class KamailioOptions:
    router_user: str
    router_token: str
    listen: str = "udp:127.0.0.1:5060"
    # callmask API hosts (or load balancers), tried in order for each lookup.
    api_urls: tuple[str, ...] = ("http://127.0.0.1:8080",)
    # Carrier gateways, tried in order: the next on a timeout, a 408 or a 5xx.
    gateways: tuple[str, ...] = ("127.0.0.1:5070",)
    gateway_user: str = ""
    gateway_password: str = ""
    # How long a gateway may stay silent before the next is tried.
    gateway_timeout_ms: int = 5000
    # Addresses (or networks) whose requests the proxy serves; everyone else gets 403.
    trusted_sources: tuple[str, ...] = LOOPBACK
    sip_domain: str = ""
    trusted_pai_sources: tuple[str, ...] = ()
    mask_key: str = field(default_factory=lambda: secrets.token_hex(16))
    mask_ip: str = "127.0.0.8"
    redis_url: str = "redis://127.0.0.1:6379"
    events_queue: str = "callmask:call-events"
    http_timeout_s: int = 1
    children: int = 8
    debug: int = 1
    log_stderr: bool = True
    modules: str = MODULES
    control_socket: str = "/run/kamailio/kamailio_ctl"
    # A TLS listener beside the others when both are set (Debian kamailio-tls-modules).
    tls_listen: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    # rtpengine control addresses (udp:host:port): media anchored through them when set.
    rtpengine: tuple[str, ...] = ()
    # A call rtpengine cannot anchor fails (503) rather than connect with addresses exposed.
    rtpengine_required: bool = True
    # The consent prompt rtpengine plays to both parties of a recorded call at answer: a file
    # on rtpengine's host (empty: the one shipped beside this module).
    recording_prompt: str = ""

    def values(self) -> dict[str, str]:
        redis = urlsplit(self.redis_url)
        domain = self.sip_domain or self.listen.split(":")[1]
        values = {
            "DEBUG": str(self.debug),
            "LOG_STDERR": "yes" if self.log_stderr else "no",
            "CHILDREN": str(self.children),
            "LISTEN": self.listen,
            "MODULES": self.modules,
            "MASK_KEY": self.mask_key,
            "MASK_IP": self.mask_ip,
            "HTTP_TIMEOUT": str(self.http_timeout_s),
            "GATEWAY_TIMEOUT_MS": str(self.gateway_timeout_ms),
            "ROUTER_USER": self.router_user,
            "ROUTER_TOKEN": self.router_token,
            "SIP_DOMAIN": domain,
            "REDIS_HOST": redis.hostname or "127.0.0.1",
            "REDIS_PORT": str(redis.port or 6379),
            "EVENTS_QUEUE": self.events_queue,
            "CONTROL_SOCKET": self.control_socket,
        }
        listed = {
            "api_urls": self.api_urls,
            "gateways": self.gateways,
            "trusted_sources": self.trusted_sources,
            "trusted_pai_sources": self.trusted_pai_sources,
            "gateway_user": (self.gateway_user,),
            "rtpengine": self.rtpengine,
            "recording_prompt": (self.recording_prompt,),
        }
        tls = (self.tls_listen, self.tls_cert, self.tls_key)
        for name, value in [*values.items(), *_items(listed), *_items({"tls": tls})]:
            # Values land inside the script and its strings: refuse anything that could
            # close a string or start a pseudo-variable.
            if value and not _SAFE.fullmatch(value):
                raise KamailioError(f"{name.lower()} has characters a Kamailio script cannot hold")
        if self.gateway_password and not _SECRET.fullmatch(self.gateway_password):
            raise KamailioError("gateway_password has characters a Kamailio script cannot hold")
        if not self.api_urls or not self.gateways:
            raise KamailioError("at least one API URL and one gateway are needed")
        if any(not value for value in (*self.api_urls, *self.gateways)):
            raise KamailioError("an API URL or gateway is empty")
        # A callee's BYE, re-INVITE or CANCEL comes from the gateway the call went out by:
        # gateways named by address are trusted along with the listed sources.
        trusted = (*self.trusted_sources, *_addresses(self.gateways))
        values["TRUSTED_SOURCES"] = _subnets("$si", trusted, "trusted_sources")
        values["TRUSTED_PAI"] = (
            f"({_subnets('$si', self.trusted_pai_sources, 'trusted_pai_sources')})"
            if self.trusted_pai_sources
            else "0"
        )
        values.update(_api(self.api_urls))
        values.update(self._gateways())
        values.update(self._tls(tls))
        values.update(self._rtpengine())
        return values

    def _rtpengine(self) -> dict[str, str]:
        if not self.rtpengine:
            return {"RTPENGINE_MODULE": "", "ANCHOR_REQUIRED": "0", "RECORDING_PROMPT": ""}
        return {
            "RECORDING_PROMPT": self.recording_prompt or str(default_prompt()),
            "RTPENGINE_MODULE": (
                "#!define WITH_RTPENGINE\n"
                'loadmodule "rtpengine.so"\n'
                f'modparam("rtpengine", "rtpengine_sock", "{" ".join(self.rtpengine)}")\n'
                # An unanswered offer costs the call's worker 2 x 500 ms at most, then the
                # instance is left alone for 10 s.
                'modparam("rtpengine", "rtpengine_tout_ms", 500)\n'
                'modparam("rtpengine", "rtpengine_retr", 1)\n'
                'modparam("rtpengine", "rtpengine_disable_tout", 10)\n'
                # The SDP goes to rtpengine from a variable and comes back into one, so the
                # whitelist runs on what rtpengine wrote and the body is set once.
                'modparam("rtpengine", "read_sdp_pv", "$var(sdp)")\n'
                'modparam("rtpengine", "write_sdp_pv", "$var(anchored)")\n'
                # How long the consent prompt plays (ms), as rtpengine answers play_media.
                'modparam("rtpengine", "media_duration", "$avp(prompt_ms)")\n'
                # The calls whose parties are held apart while the prompt plays, looked at
                # every 100 ms (route[PROMPTS_ENDED]); an item left behind expires after a
                # minute, which lets its parties hear each other too.
                'loadmodule "rtimer.so"\n'
                'modparam("htable", "htable", "prompts=>size=10;autoexpire=60;")\n'
                'modparam("htable", "timer_interval", 10)\n'
                'modparam("rtimer", "timer", "name=prompts;interval=100000u;mode=1;")\n'
                'modparam("rtimer", "exec", "timer=prompts;route=PROMPTS_ENDED")'
            ),
            "ANCHOR_REQUIRED": "1" if self.rtpengine_required else "0",
        }

    def _gateways(self) -> dict[str, str]:
        choice = "\n".join(
            f"    if ($avp(gateway) == {index}) {{\n"
            f'        $ru = "sip:" + $avp(callee) + "@{gateway}";\n'
            "        return(1);\n    }"
            for index, gateway in enumerate(self.gateways)
        )
        if bool(self.gateway_user) != bool(self.gateway_password):
            raise KamailioError("set both the gateway user and password, or neither")
        auth = "    return(-1);"
        if self.gateway_user:
            auth = (
                f'    $avp(auth_user) = "{self.gateway_user}";\n'
                f'    $avp(auth_password) = "{self.gateway_password}";\n'
                "    return(1);"
            )
        return {"GATEWAY_CHOICE": choice, "GATEWAY_AUTH": auth}

    def _tls(self, tls: tuple[str, str, str]) -> dict[str, str]:
        listen, cert, key = tls
        if not any(tls):
            return {"TLS_LISTEN": "", "TLS_MODULE": ""}
        if not (cert and key):
            raise KamailioError("TLS needs both a certificate and a key")
        if not listen:
            host = self.listen.split(":")[1]
            listen = f"tls:{host}:5061"
        return {
            "TLS_LISTEN": f"enable_tls=yes\nlisten={listen}",
            "TLS_MODULE": (
                'loadmodule "tls.so"\n'
                f'modparam("tls", "certificate", "{cert}")\n'
                f'modparam("tls", "private_key", "{key}")\n'
                'modparam("tls", "tls_method", "TLSv1.2+")\n'
                'modparam("tls", "verify_certificate", 0)\n'
                'modparam("tls", "require_certificate", 0)'
            ),
        }


def _items(lists: dict[str, tuple[str, ...]]) -> list[tuple[str, str]]:
    return [(name, value) for name, values in lists.items() for value in values]


def _addresses(endpoints: tuple[str, ...]) -> tuple[str, ...]:
    """The IP addresses among host[:port] endpoints (host names are left out)."""
    found = []
    for endpoint in endpoints:
        host = endpoint[1:].split("]")[0] if endpoint.startswith("[") else endpoint.split(":")[0]
        try:
            found.append(str(ipaddress.ip_address(host)))
        except ValueError:
            continue
    return tuple(found)


def _subnets(variable: str, sources: tuple[str, ...], name: str) -> str:
    """A script condition true when variable (an address) is in one of sources."""
    tests = []
    for source in sources:
        try:
            network = ipaddress.ip_network(source, strict=False)
        except ValueError as error:
            raise KamailioError(f"{name}: {source!r} is not an IP address or network") from error
        tests.append(f'is_in_subnet("{variable}", "{network}")')
    return " || ".join(tests) if tests else "0"


def _api(urls: tuple[str, ...]) -> dict[str, str]:
    """One kept-alive connection per API host, and the lookup and event post tried on each
    in turn until one answers (a refused connection, a timeout or a 5xx moves on)."""
    connections, lookups, posts = [], [], []
    for index, url in enumerate(urls):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise KamailioError(f"api url {url!r} is not an http(s) URL")
        name = f"callmask{index}"
        base = url.rstrip("/")
        connections.append(
            f'modparam("http_client", "httpcon", "{name}=>{base};timeout=@@HTTP_TIMEOUT@@")'
        )
        retry = "($var(code) < 200 || $var(code) >= 500)"
        lookups.append(
            f"    if {retry} {{\n"
            f'        $var(code) = http_connect("{name}", "$var(path)", "$var(response)");\n'
            "    }"
        )
        posts.append(
            f"    if {retry} {{\n"
            f'        $var(code) = http_connect("{name}", "$var(path)", "application/json",'
            ' "$var(json)", "$var(posted)");\n'
            "    }"
        )
    return {
        "HTTP_CONNECTIONS": "\n".join(connections),
        "LOOKUP_TRIES": "\n".join(lookups),
        "EVENT_TRIES": "\n".join(posts),
    }


def render(options: KamailioOptions) -> str:
    template = resources.files(__package__).joinpath("kamailio.cfg").read_text(encoding="utf-8")
    values = options.values()
    text = _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)
    # Rendered blocks may hold placeholders of their own (the API connections' timeout).
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


# Debian's kamailio package runs Kamailio as user and group kamailio.
def default_prompt() -> Path:
    """The consent prompt shipped with callmask ("This call is recorded", 8 kHz WAV)."""
    return Path(str(resources.files(__package__).joinpath("recording-prompt.wav")))


GROUP = "kamailio"


def write(options: KamailioOptions, path: Path, group: str | None = None) -> Path:
    """Write the rendered configuration to path: mode 0600, or 0640 owned by group when one
    is given and this user may hand the file to it (see `group_readable`).

    It holds the router token and topoh's secret, so it is never readable by others, not even
    for a moment: it is written to a new file (0600) in the same folder, given its group and
    mode, then renamed over path. A reader sees the old file or the whole new one.
    """
    text = render(options)  # refused values leave path untouched
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
            if group is not None and _hand_to(file.fileno(), group):
                os.fchmod(file.fileno(), 0o640)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def _hand_to(fd: int, group: str) -> bool:
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:  # no such group here: Kamailio runs as someone else
        return False
    try:
        os.fchown(fd, -1, gid)  # the owner stays whoever rendered it
    except PermissionError:  # not root, and not a member of the group
        return False
    return True


def group_readable(path: Path, group: str = GROUP) -> bool:
    """Whether members of group may read path: the group owns it and has the read bit."""
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        return False
    info = path.stat()
    return info.st_gid == gid and bool(info.st_mode & stat.S_IRGRP)


def binary() -> str:
    found = shutil.which("kamailio") or (
        "/usr/sbin/kamailio" if Path("/usr/sbin/kamailio").exists() else None
    )
    if found is None:
        raise KamailioError("kamailio is not installed (apt-get install kamailio ...)")
    return found


def command(config: Path, shared_mb: int = 512, private_mb: int = 8) -> list[str]:
    """Kamailio in the foreground, logging to stderr (shared memory below ~512 MB ran out
    at 300 calls/s here)."""
    return [binary(), "-f", str(config), "-DD", "-E", "-m", str(shared_mb), "-M", str(private_mb)]


def check_command(config: Path) -> list[str]:
    """Kamailio parsing config and loading its modules, then exiting (`kamailio -c`)."""
    return [binary(), "-c", "-f", str(config)]


_PROCESS = re.compile(r"^\s*\d+\(\d+\)\s*")  # " 0(18631) " before each log line


def check(config: Path) -> None:
    """Return if Kamailio accepts config; else KamailioError with Kamailio's complaint."""
    done = subprocess.run(check_command(config), capture_output=True, text=True)
    if done.returncode == 0:
        return
    output = done.stderr + done.stdout
    # Kamailio prints its module path and listeners too; the complaint is in its error lines.
    complaint = [
        _PROCESS.sub("", line).strip()
        for line in output.splitlines()
        if re.search(r"\b(ERROR|CRITICAL|ALERT|BUG)\b", line)
    ]
    detail = "\n".join(complaint) if complaint else output.strip()[-2000:]
    raise KamailioError(f"kamailio rejected the configuration:\n{detail}")


def wait_ready(port: int, host: str = "127.0.0.1", seconds: float = 15.0) -> None:
    """Wait until the proxy answers an OPTIONS ping with 200 on host:port (UDP)."""
    deadline = time.monotonic() + seconds
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        sock.settimeout(0.2)
        local = sock.getsockname()[1]
        while time.monotonic() < deadline:
            tag = secrets.token_hex(6)
            ping = (
                f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {host}:{local};branch=z9hG4bK{tag}\r\n"
                f"From: <sip:ping@{host}:{local}>;tag={tag}\r\n"
                f"To: <sip:{host}:{port}>\r\nCall-ID: {tag}@ping\r\n"
                "CSeq: 1 OPTIONS\r\nMax-Forwards: 5\r\nContent-Length: 0\r\n\r\n"
            )
            sock.sendto(ping.encode(), (host, port))
            try:
                if sock.recv(4096).startswith(b"SIP/2.0 200"):
                    return
            except TimeoutError:
                continue
    raise KamailioError(f"no SIP answer on {host}:{port} after {seconds:.0f} s")
