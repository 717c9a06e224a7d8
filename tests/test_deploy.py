"""deploy/: the systemd units and the settings file an operator installs, held to the code."""

from __future__ import annotations

import configparser
import dataclasses
import os
import pwd
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from callmask.cli import main
from callmask.config import Settings
from callmask.sip import kamailio

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
CONFIG = Path("/etc/kamailio/callmask.cfg")  # where deploy/README.md renders it
ENV_FILE = "/etc/callmask/callmask.env"
# Settings the SIP rework adds (CALLMASK_SIP_TRUSTED, ...): the example documents them ahead
# of Settings. Once Settings has a field, its name needs no place here.
ANNOUNCED = {"CALLMASK_CALL_TIME_LIMIT"}


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string((DEPLOY / name).read_text(encoding="utf-8"))
    return parser


def example() -> list[tuple[str, str, bool, list[str]]]:
    """(name, value, whether set, the comment above it) for each CALLMASK_ line of the example.

    A comment covers the assignments right below it (CALLMASK_HOST and CALLMASK_PORT share one).
    """
    found: list[tuple[str, str, bool, list[str]]] = []
    comments: list[str] = []
    below_comment = False
    for line in (DEPLOY / "callmask.env.example").read_text(encoding="utf-8").splitlines():
        assignment = re.fullmatch(r"(#?)(CALLMASK_[A-Z0-9_]+)=(.*)", line)
        if assignment:
            found.append((assignment[2], assignment[3], not assignment[1], comments))
            below_comment = False
        elif line.startswith("#"):
            comments = [*comments, line] if below_comment else [line]
            below_comment = True
        else:
            comments, below_comment = [], False
    return found


def test_the_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze is missing: make system-deps installs systemd"
    # verify also checks that each command exists: point the one at /opt/callmask (where
    # deploy/README.md installs callmask) at this checkout's.
    ours = Path(sys.executable).parent / "callmask"
    text = (
        (DEPLOY / "callmask.service").read_text().replace("/opt/callmask/bin/callmask", str(ours))
    )
    (tmp_path / "callmask.service").write_text(text)
    shutil.copy(DEPLOY / "callmask-kamailio.service", tmp_path)
    shutil.copy(DEPLOY / "callmask-rtpengine.service", tmp_path)
    units = ["callmask.service", "callmask-kamailio.service", "callmask-rtpengine.service"]
    done = subprocess.run(
        [analyze, "verify", "--man=no", *units],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    # An unknown or misspelt key is only a warning: any output fails too.
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_the_kamailio_unit_runs_and_checks_the_rendered_file_as_callmask_sip_does() -> None:
    service = unit("callmask-kamailio.service")["Service"]
    start, check = shlex.split(service["ExecStart"]), shlex.split(service["ExecStartPre"])
    # Debian's path, whatever PATH finds here.
    assert start[0] == check[0] == "/usr/sbin/kamailio"
    assert start[1:] == kamailio.command(CONFIG)[1:]
    assert check[1:] == kamailio.check_command(CONFIG)[1:]
    # As the user and group that `sip config --out` gives the file to.
    assert service["User"] == service["Group"] == kamailio.GROUP
    readme = (DEPLOY / "README.md").read_text()
    assert f"callmask sip config --out {CONFIG}" in readme


def test_kamailio_is_started_with_callmask_but_never_needs_it() -> None:
    units = unit("callmask-kamailio.service")["Unit"]
    assert "callmask.service" in units["Wants"].split()
    assert "callmask.service" in units["After"].split()
    for binding in ("Requires", "Requisite", "BindsTo", "PartOf"):
        assert "callmask.service" not in units.get(binding, "")
    assert "kamailio.service" in units["Conflicts"].split()


def test_the_callmask_unit_serves_as_its_own_user_from_the_settings_file_hardened() -> None:
    service = unit("callmask.service")["Service"]
    command = shlex.split(service["ExecStart"])
    assert command[1:] == ["serve"]
    # The virtualenv deploy/README.md makes.
    venv = str(Path(command[0]).parent.parent)
    assert f"python3 -m venv {venv}\n" in (DEPLOY / "README.md").read_text()
    assert (service["User"], service["EnvironmentFile"]) == ("callmask", ENV_FILE)
    assert service["Restart"] == "on-failure"
    hardening = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes"}
    assert {key: service.get(key) for key in hardening} == hardening


def test_the_example_database_lies_where_the_callmask_unit_may_write() -> None:
    service = unit("callmask.service")["Service"]
    writable = [Path(path.lstrip("-")) for path in service["ReadWritePaths"].split()]
    url = dict((name, value) for name, value, _, _ in example())["CALLMASK_DATABASE_URL"]
    assert url.startswith("sqlite:////")
    database = Path(url.removeprefix("sqlite:///"))
    assert any(database.parent == folder for folder in writable), (database, writable)
    assert f"/var/lib/{service['StateDirectory']}" == str(database.parent)


def test_the_env_example_names_every_setting_each_under_a_comment() -> None:
    entries = example()
    named = {name for name, _, _, _ in entries}
    settings = {f"CALLMASK_{field.name.upper()}" for field in dataclasses.fields(Settings)}
    assert settings - named == set(), "add these to deploy/callmask.env.example"
    assert named - settings - ANNOUNCED == set(), "not settings callmask reads"
    assert len(named) == len(entries), "a setting named twice"
    assert [name for name, _, _, comments in entries if not comments] == []


def test_the_values_the_env_example_sets_are_settings_callmask_accepts() -> None:
    values = {name: value for name, value, on, _ in example() if on}
    assert values["CALLMASK_SIP_ROUTER_TOKEN"] == ""  # no secret ships
    settings = Settings.from_env(values)  # ConfigError if one is not
    assert settings.database_url == values["CALLMASK_DATABASE_URL"]


@pytest.fixture
def etc_kamailio() -> Iterator[Path]:
    """A folder like /etc/kamailio: root's, 0755 (pytest's tmp_path is 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="callmask-etc-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def _kamailio_user_exists() -> bool:
    try:
        pwd.getpwnam("kamailio")
    except KeyError:
        return False
    return True


@pytest.mark.skipif(
    os.getuid() != 0 or not _kamailio_user_exists(),
    reason="needs root (to become kamailio) and Debian's kamailio user",
)
def test_the_units_check_as_user_kamailio_accepts_what_sip_config_out_wrote_as_root(
    etc_kamailio: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(
        sip_router_user="sip",
        sip_router_token="tok_EN-123",
        sip_mask_key="0123456789abcdef",
        sip_trusted="192.0.2.10",
    )
    config = etc_kamailio / "callmask.cfg"
    assert main(["sip", "config", "--out", str(config)], settings=settings) == 0
    capsys.readouterr()
    service = unit("callmask-kamailio.service")["Service"]
    check = [
        str(config) if arg == str(CONFIG) else arg for arg in shlex.split(service["ExecStartPre"])
    ]
    as_kamailio = ["setpriv", "--reuid=kamailio", "--regid=kamailio", "--init-groups"]
    done = subprocess.run(as_kamailio + check, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # What the unit would meet if the file were left readable by root only.
    config.chmod(0o600)
    done = subprocess.run(as_kamailio + check, capture_output=True, text=True)
    assert done.returncode != 0 and "Permission denied" in done.stderr


def rtpengine_conf() -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.read_string((DEPLOY / "rtpengine.conf").read_text(encoding="utf-8"))
    return dict(parser["rtpengine"])


def test_rtpengine_writes_captures_where_callmask_collects_them() -> None:
    conf = rtpengine_conf()
    examples = {name: value for name, value, _, _ in example()}
    assert conf["recording-method"] == "pcap"
    assert conf["recording-dir"] == examples["CALLMASK_RECORDINGS_SPOOL"]
    assert Path(examples["CALLMASK_RECORDINGS_SPOOL"]).parent == Path(
        examples["CALLMASK_RECORDINGS_DIR"]
    )
    service = unit("callmask-rtpengine.service")["Service"]
    assert service["ReadWritePaths"].split() == [conf["recording-dir"]]
    assert "callmask" in service["SupplementaryGroups"].split()
    assert f"udp:{conf['listen-ng']}" == examples["CALLMASK_SIP_RTPENGINE"]
    assert "--config-file=/etc/callmask/rtpengine.conf" in shlex.split(service["ExecStart"])
    assert "rtpengine-daemon.service" in unit("callmask-rtpengine.service")["Unit"]["Conflicts"]


def test_the_shipped_rtpengine_conf_starts_rtpengine(tmp_path: Path) -> None:
    # The file as shipped, with ports and folders of this test's own.
    from bench.rtpengine import answers_ping, free_udp_port

    control = free_udp_port()
    text = (DEPLOY / "rtpengine.conf").read_text(encoding="utf-8")
    conf = rtpengine_conf()
    text = text.replace(conf["listen-ng"], f"127.0.0.1:{control}")
    text = text.replace(conf["recording-dir"], str(tmp_path / "spool"))
    text = text.replace(f"port-min = {conf['port-min']}", "port-min = 41000")
    text = text.replace(f"port-max = {conf['port-max']}", "port-max = 41099")
    (tmp_path / "rtpengine.conf").write_text(text, encoding="utf-8")
    log = (tmp_path / "rtpengine.log").open("wb")
    command = shlex.split(unit("callmask-rtpengine.service")["Service"]["ExecStart"])
    command = [arg for arg in command if not arg.startswith("--config-file")]
    process = subprocess.Popen(
        [*command, f"--config-file={tmp_path / 'rtpengine.conf'}"], stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 10
        while not answers_ping(control):
            assert process.poll() is None, (tmp_path / "rtpengine.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "rtpengine.log").read_text()
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
