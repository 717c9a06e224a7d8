"""The shipped Kamailio configuration: rendering, refusal of unsafe values, Kamailio's own check."""

from __future__ import annotations

import dataclasses
import grp
import os
import re
from dataclasses import replace
from pathlib import Path

import pytest

from callmask.sip.kamailio import (
    GROUP,
    KamailioError,
    KamailioOptions,
    check,
    group_readable,
    render,
    write,
)
from tests.support import self_signed

OPTIONS = KamailioOptions(
    router_user="sip",
    router_token="tok_EN-123",
    listen="udp:10.1.2.3:5080",
    gateways=("carrier.example.net:5060",),
    trusted_pai_sources=("192.0.2.10", "192.0.2.11"),
    mask_key="0123456789abcdef",
    events_queue="callmask:call-events",
)


def test_every_placeholder_is_filled() -> None:
    text = render(OPTIONS)
    assert re.search(r"@@[A-Z_]+@@", text) is None
    assert "listen=udp:10.1.2.3:5080" in text
    assert "userId=sip&token=tok_EN-123" in text
    assert '@carrier.example.net:5060"' in text
    assert 'modparam("topoh", "mask_key", "0123456789abcdef")' in text
    assert '(is_in_subnet("$si", "192.0.2.10/32") || is_in_subnet("$si", "192.0.2.11/32"))' in text
    # The DID is shown on the proxy's own address when no domain is given.
    assert '"sip:$var(shown)@10.1.2.3"' in text


def test_without_trusted_sources_the_asserted_identity_of_a_caller_is_never_believed() -> None:
    text = render(KamailioOptions(router_user="sip", router_token="t"))
    assert 'if (0 && is_present_hf("P-Asserted-Identity"))' in text


@pytest.mark.parametrize(
    "unsafe",
    [
        {"router_token": 'x"; exit; "'},
        {"router_user": "a b"},
        {"gateways": ("$ru",)},
        {"api_urls": ('http://x"; exit; "',)},
        {"trusted_sources": ("10.0.0.0/8 || 1",)},
        {"gateway_user": "u", "gateway_password": 'pa"ss'},
        {"gateway_user": "u", "gateway_password": "pa$ru"},
        {"events_queue": "q\nloadmodule"},
    ],
)
def test_values_that_could_break_out_of_the_script_are_refused(unsafe: dict[str, str]) -> None:
    fields = {"router_user": "sip", "router_token": "t", **unsafe}
    with pytest.raises(KamailioError):
        render(KamailioOptions(**fields))  # type: ignore[arg-type]


def test_kamailio_accepts_the_rendered_configuration(tmp_path: Path) -> None:
    config = write(OPTIONS, tmp_path / "kamailio.cfg")
    assert config.stat().st_mode & 0o777 == 0o600
    check(config)


def test_kamailio_check_reports_a_broken_configuration(tmp_path: Path) -> None:
    broken = tmp_path / "broken.cfg"
    broken.write_text(render(OPTIONS).replace("request_route {", "request_route {\n  nope();"))
    with pytest.raises(KamailioError, match="nope"):
        check(broken)


def _kamailio_gid() -> int | None:
    try:
        return grp.getgrnam(GROUP).gr_gid
    except KeyError:
        return None


@pytest.mark.skipif(_kamailio_gid() is None, reason="no group kamailio (Debian's package)")
def test_written_for_group_kamailio_it_is_0640_in_that_group_and_still_the_writers(
    tmp_path: Path,
) -> None:
    config = write(OPTIONS, tmp_path / "callmask.cfg", group=GROUP)
    info = config.stat()
    assert info.st_mode & 0o777 == 0o640
    assert (info.st_uid, info.st_gid) == (os.getuid(), _kamailio_gid())
    assert group_readable(config, GROUP)


def test_written_for_a_group_that_does_not_exist_it_stays_readable_by_its_writer_only(
    tmp_path: Path,
) -> None:
    config = write(OPTIONS, tmp_path / "callmask.cfg", group="callmask-no-such-group")
    assert config.stat().st_mode & 0o777 == 0o600
    assert not group_readable(config, "callmask-no-such-group")
    assert not group_readable(config, GROUP)


def test_a_rewrite_replaces_the_whole_file_with_its_own_mode_and_leaves_nothing_beside_it(
    tmp_path: Path,
) -> None:
    config = tmp_path / "callmask.cfg"
    config.write_text("old\n")
    config.chmod(0o644)
    before = config.stat().st_ino
    write(OPTIONS, config)
    assert config.read_text() == render(OPTIONS)
    # A new file renamed over the old one, not the old one rewritten in place.
    assert config.stat().st_ino != before
    assert config.stat().st_mode & 0o777 == 0o600
    assert [path.name for path in tmp_path.iterdir()] == ["callmask.cfg"]


def test_a_refused_value_leaves_the_existing_file_as_it_was(tmp_path: Path) -> None:
    config = tmp_path / "callmask.cfg"
    config.write_text("old\n")
    with pytest.raises(KamailioError):
        write(dataclasses.replace(OPTIONS, router_token='x"; exit; "'), config)
    assert config.read_text() == "old\n"
    assert [path.name for path in tmp_path.iterdir()] == ["callmask.cfg"]


def test_a_write_that_fails_at_the_rename_leaves_no_temporary_file(tmp_path: Path) -> None:
    (tmp_path / "callmask.cfg").mkdir()  # a folder where the file should go
    with pytest.raises(OSError):
        write(OPTIONS, tmp_path / "callmask.cfg")
    assert [path.name for path in tmp_path.iterdir()] == ["callmask.cfg"]


def test_every_gateway_and_api_host_is_rendered_in_order() -> None:
    text = render(
        replace(
            OPTIONS,
            gateways=("gw1.example.net:5060", "gw2.example.net:5080"),
            api_urls=("http://10.0.0.1:8080", "https://api.example.net/"),
        )
    )
    assert text.index('"@gw1.example.net:5060"') < text.index('"@gw2.example.net:5080"')
    assert 'httpcon", "callmask0=>http://10.0.0.1:8080;timeout=1"' in text
    assert 'httpcon", "callmask1=>https://api.example.net;timeout=1"' in text
    assert text.count('http_connect("callmask1"') == 2  # the lookup and the event post


def test_gateway_credentials_are_answered_only_when_both_are_set() -> None:
    text = render(replace(OPTIONS, gateway_user="trunk", gateway_password="p@ss!"))
    assert '$avp(auth_user) = "trunk";' in text and '$avp(auth_password) = "p@ss!";' in text
    assert "$avp(auth_user)" not in render(OPTIONS).split("route[CREDENTIALS]")[1][:80]
    with pytest.raises(KamailioError, match="both"):
        render(replace(OPTIONS, gateway_user="trunk"))


def test_sources_are_checked_as_networks_and_a_bad_one_is_refused() -> None:
    text = render(replace(OPTIONS, trusted_sources=("192.0.2.0/24", "2001:db8::1")))
    assert 'is_in_subnet("$si", "192.0.2.0/24") || is_in_subnet("$si", "2001:db8::1/128")' in text
    with pytest.raises(KamailioError, match="not an IP address"):
        render(replace(OPTIONS, trusted_sources=("carrier.example.net",)))
    with pytest.raises(KamailioError, match="http"):
        render(replace(OPTIONS, api_urls=("ftp://x",)))


def test_tls_is_rendered_only_with_a_certificate_and_a_key() -> None:
    assert 'loadmodule "tls.so"' not in render(OPTIONS)
    text = render(replace(OPTIONS, tls_cert="/etc/ssl/c.pem", tls_key="/etc/ssl/k.pem"))
    assert "enable_tls=yes\nlisten=tls:10.1.2.3:5061" in text
    assert 'modparam("tls", "private_key", "/etc/ssl/k.pem")' in text
    with pytest.raises(KamailioError, match="both a certificate and a key"):
        render(replace(OPTIONS, tls_cert="/etc/ssl/c.pem"))


def test_kamailio_accepts_a_configuration_with_every_option(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    full = replace(
        OPTIONS,
        gateways=("gw1.example.net:5060", "gw2.example.net:5060"),
        api_urls=("http://10.0.0.1:8080", "http://10.0.0.2:8080"),
        gateway_user="trunk",
        gateway_password="s3cret",
        trusted_sources=("192.0.2.0/24",),
        tls_cert=str(cert),
        tls_key=str(key),
        control_socket=str(tmp_path / "ctl"),
    )
    check(write(full, tmp_path / "kamailio.cfg"))


def test_gateways_named_by_address_are_trusted_sources_too() -> None:
    text = render(
        replace(
            OPTIONS,
            trusted_sources=("192.0.2.0/24",),
            gateways=("198.51.100.7:5060", "[2001:db8::5]:5060", "gw.example.net:5060"),
        )
    )
    line = next(line for line in text.splitlines() if line.startswith("    if (!(is_in_subnet"))
    assert 'is_in_subnet("$si", "198.51.100.7/32")' in line
    assert 'is_in_subnet("$si", "2001:db8::5/128")' in line
    assert "gw.example.net" not in line


def test_rtpengine_is_loaded_only_when_an_instance_is_named(tmp_path: Path) -> None:
    assert "rtpengine" not in render(OPTIONS).split("request_route")[0]
    anchored = replace(
        OPTIONS,
        rtpengine=("udp:127.0.0.1:2223", "udp:10.0.0.9:2223"),
        control_socket=str(tmp_path / "ctl"),
    )
    text = render(anchored)
    assert "#!define WITH_RTPENGINE" in text
    assert 'modparam("rtpengine", "rtpengine_sock", "udp:127.0.0.1:2223 udp:10.0.0.9:2223")' in text
    assert "if ($var(anchor_failed) == 1 && 1)" in text
    assert "if ($var(anchor_failed) == 1 && 0)" in render(
        replace(anchored, rtpengine_required=False)
    )
    check(write(anchored, tmp_path / "kamailio.cfg"))
