"""`callmask sip config|check`, driven as an operator drives them, with real Kamailio."""

from __future__ import annotations

import dataclasses
import grp
import os
import pwd
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from callmask.cli import main
from callmask.config import Settings
from tests.support import run_cli


@pytest.fixture
def configured(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'cli.db'}",
        sip_router_user="sip",
        sip_router_token="tok_EN-123",
        sip_mask_key="0123456789abcdef",
        sip_trusted="192.0.2.10,198.51.100.0/24",
    )


def _kamailio_gid() -> int | None:
    try:
        return grp.getgrnam("kamailio").gr_gid
    except KeyError:
        return None


@pytest.mark.skipif(_kamailio_gid() is None, reason="no group kamailio (Debian's package)")
def test_config_out_writes_a_file_that_group_kamailio_reads_and_nobody_else(
    configured: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "callmask.cfg"
    status, out = run_cli(configured, capsys, "sip", "config", "--out", str(target))
    assert status == 0, out
    info = target.stat()
    assert info.st_mode & 0o777 == 0o640
    assert (info.st_uid, info.st_gid) == (os.getuid(), _kamailio_gid())
    assert "userId=sip&token=tok_EN-123" in target.read_text()
    assert "readable by you only" not in out


@pytest.fixture
def nobodys_folder() -> Iterator[Path]:
    """A folder the unprivileged user nobody may write to (pytest's tmp_path is root's, 0700)."""
    nobody = pwd.getpwnam("nobody")
    folder = Path(tempfile.mkdtemp(prefix="callmask-nobody-"))
    os.chown(folder, nobody.pw_uid, nobody.pw_gid)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def _as_nobody(folder: Path, argv: list[str], settings: Settings) -> tuple[int, str]:
    """Run the command in a forked child that has become nobody, outside every group: an
    operator without root. (Forked rather than exec'd: the interpreter may live where nobody
    cannot reach it.)"""
    nobody = pwd.getpwnam("nobody")
    stderr = folder / "stderr"
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        status = 70
        try:
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            with open(stderr, "w") as sink:
                os.dup2(sink.fileno(), 2)
                sys.stderr = sink
                status = main(argv, settings=settings)
                sink.flush()
        finally:
            os._exit(status)
    _, wait = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(wait), stderr.read_text()


@pytest.mark.skipif(
    os.getuid() != 0 or _kamailio_gid() is None,
    reason="needs root (to become nobody) and group kamailio",
)
def test_config_out_by_a_user_outside_group_kamailio_stays_0600_and_says_how_to_share_it(
    configured: Settings, nobodys_folder: Path
) -> None:
    target = nobodys_folder / "callmask.cfg"
    status, err = _as_nobody(nobodys_folder, ["sip", "config", "--out", str(target)], configured)
    assert status == 0, err
    info = target.stat()
    assert info.st_uid == pwd.getpwnam("nobody").pw_uid
    assert info.st_mode & 0o777 == 0o600
    assert f"chgrp kamailio {target} && chmod 0640 {target}" in err


def test_config_out_into_a_missing_folder_fails_in_one_line(
    configured: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "missing" / "callmask.cfg"
    status, out = run_cli(configured, capsys, "sip", "config", "--out", str(target))
    assert status == 1
    assert out.startswith("callmask: ") and "No such file or directory" in out
    assert "Traceback" not in out


def test_config_refuses_a_value_kamailio_cannot_hold_without_writing(
    configured: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "callmask.cfg"
    unsafe = dataclasses.replace(configured, sip_router_token='x"; exit; "')
    status, out = run_cli(unsafe, capsys, "sip", "config", "--out", str(target))
    assert status == 1 and "router_token" in out
    assert not target.exists()


def test_check_renders_from_the_settings_and_kamailio_accepts_it(
    configured: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = run_cli(configured, capsys, "sip", "check")
    assert status == 0, out
    assert out == "ok: kamailio accepts the configuration rendered from the settings\n"


def test_check_reports_kamailios_complaint_about_what_the_settings_render(
    configured: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    # A value callmask lets through (its characters are safe) and only Kamailio refuses.
    negative = dataclasses.replace(configured, sip_children=-1)
    status, out = run_cli(negative, capsys, "sip", "check")
    assert status == 1
    assert out.startswith("callmask: kamailio rejected the configuration:\n")
    assert "number expected" in out and "ok:" not in out


def test_check_needs_router_credentials_like_config(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = run_cli(cli_settings, capsys, "sip", "check")
    assert status == 2 and "CALLMASK_SIP_ROUTER_TOKEN" in out


def test_check_dev_renders_with_a_local_router_user(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = run_cli(cli_settings, capsys, "sip", "check", "--dev")
    assert status == 0, out
    assert "ok: kamailio accepts the configuration rendered from the settings\n" in out


def test_check_file_accepts_what_config_out_wrote_without_credentials(
    configured: Settings, cli_settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "callmask.cfg"
    assert run_cli(configured, capsys, "sip", "config", "--out", str(target))[0] == 0
    status, out = run_cli(cli_settings, capsys, "sip", "check", "--file", str(target))
    assert (status, out) == (0, f"ok: kamailio accepts {target}\n")


def test_check_file_prints_kamailios_complaint_and_fails(
    configured: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "callmask.cfg"
    run_cli(configured, capsys, "sip", "config", "--out", str(target))
    target.write_text(target.read_text().replace("request_route {", "request_route {\n  nope();"))
    status, out = run_cli(configured, capsys, "sip", "check", "--file", str(target))
    assert status == 1 and out.startswith(f"callmask: {target}: kamailio rejected")
    # Kamailio's own words, naming the culprit, without its start-up chatter.
    assert "failed to find command nope" in out
    assert "loading modules under" not in out


def test_check_file_that_is_missing_fails_with_kamailios_reason(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, out = run_cli(
        cli_settings, capsys, "sip", "check", "--file", str(tmp_path / "none.cfg")
    )
    assert status == 1 and "No such file or directory" in out


def test_check_takes_either_dev_or_a_file(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["sip", "check", "--dev", "--file", str(tmp_path / "x.cfg")], settings=cli_settings)
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
