"""Render the shipped Kamailio configuration and run Kamailio on it."""

from __future__ import annotations

import grp
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
_PLACEHOLDER = re.compile(r"@@([A-Z_]+)@@")


class KamailioError(ValueError):
    """The options cannot make a safe configuration, or Kamailio is missing."""


@dataclass(frozen=True, slots=True)
class KamailioOptions:
    router_user: str
    router_token: str
    listen: str = "udp:127.0.0.1:5060"
    callmask_url: str = "http://127.0.0.1:8080"
    gateway: str = "127.0.0.1:5070"
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

    def values(self) -> dict[str, str]:
        redis = urlsplit(self.redis_url)
        domain = self.sip_domain or self.listen.split(":")[1]
        trusted = " || ".join(f'$si == "{source}"' for source in self.trusted_pai_sources)
        values = {
            "DEBUG": str(self.debug),
            "LOG_STDERR": "yes" if self.log_stderr else "no",
            "CHILDREN": str(self.children),
            "LISTEN": self.listen,
            "MODULES": self.modules,
            "MASK_KEY": self.mask_key,
            "MASK_IP": self.mask_ip,
            "HTTP_TIMEOUT": str(self.http_timeout_s),
            "CALLMASK_URL": self.callmask_url.rstrip("/"),
            "ROUTER_USER": self.router_user,
            "ROUTER_TOKEN": self.router_token,
            "SIP_DOMAIN": domain,
            "GATEWAY": self.gateway,
            "REDIS_HOST": redis.hostname or "127.0.0.1",
            "REDIS_PORT": str(redis.port or 6379),
            "EVENTS_QUEUE": self.events_queue,
        }
        for name, value in values.items():
            # Values land inside the script and its strings: refuse anything that could
            # close a string or start a pseudo-variable.
            if not _SAFE.fullmatch(value):
                raise KamailioError(f"{name.lower()} has characters a Kamailio script cannot hold")
        values["TRUSTED_PAI"] = f"({trusted})" if trusted else "0"
        return values


def render(options: KamailioOptions) -> str:
    template = resources.files(__package__).joinpath("kamailio.cfg").read_text(encoding="utf-8")
    values = options.values()
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


# Debian's kamailio package runs Kamailio as user and group kamailio.
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
